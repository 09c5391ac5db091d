"""Passkeys (WebAuthn) as another way through the code step, with django-otp-webauthn.

The library does the WebAuthn ceremonies (py_webauthn: challenges, signatures, origin
and relying-party checks, sign counts) and ships the browser script as a static file.
What is ours: the relying party is the dashboard's own host (SITE_URL), passkeys are a
second factor only (never a sign-in without the password), they are added once the
authenticator app is on (so recovery codes exist and a person without a passkey-capable
device still signs in), and the authentication views work on the half-finished sign-in
(`mfa.views`), where nobody is signed in yet, instead of a signed-in session.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, JsonResponse
from django.middleware import csrf
from django.shortcuts import resolve_url
from django.urls import reverse
from django_otp import login as otp_login
from django_otp_webauthn import exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from mfa import selectors
from mfa.services import audit_person

PASSKEY_NAME = "Passkey"


def relying_party_id(request: HttpRequest | None = None) -> str:
    """Passkeys are bound to this host name (read per request: SITE_URL may change)."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def passkeys_available() -> bool:
    """Browsers create passkeys only for a host name (not an IP address) over https, or
    for localhost: `make run`'s default http://127.0.0.1 gets none (use localhost)."""
    host = relying_party_id()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return settings.SITE_URL.startswith("https://") or host == "localhost"
    return False


class PasskeyHelper(WebAuthnHelper):  # type: ignore[misc]
    """The library's helper with the origin taken from SITE_URL, like every link we build."""

    def get_allowed_origins(self) -> list[str]:
        return [settings.SITE_URL]

    def create_credential(self, *args: Any, **kwargs: Any) -> Any:
        device = super().create_credential(*args, **kwargs)
        device.name = PASSKEY_NAME
        return device


def passkey_config(request: HttpRequest) -> str:
    """What the library's script reads from `#otp_webauthn_config` (a hidden element, not
    the library's inline <script> block: the CSP allows no inline script)."""
    return json.dumps(
        {
            "autocompleteLoginFieldSelector": None,
            "nextFieldSelector": "input[name='next']",
            "csrfToken": csrf.get_token(request),
            "beginAuthenticationUrl": reverse("mfa:passkey_sign_in_begin"),
            "completeAuthenticationUrl": reverse("mfa:passkey_sign_in_complete"),
            "beginRegistrationUrl": reverse("mfa:passkey_add_begin"),
            "completeRegistrationUrl": reverse("mfa:passkey_add_complete"),
        }
    )


class AuthenticatorFirst(exceptions.OTPWebAuthnApiError):  # type: ignore[misc]
    status_code = 403
    default_detail = "Turn on two-factor sign-in with an authenticator app first."
    default_code = "authenticator_first"


class SignInLocked(exceptions.OTPWebAuthnApiError):  # type: ignore[misc]
    status_code = 429
    default_detail = "Too many sign-in attempts: wait, then sign in again."
    default_code = "locked_out"


class _Adding:
    request: HttpRequest

    def check_can_register(self) -> None:
        if not selectors.two_factor_enabled(user=self.request.user):
            raise AuthenticatorFirst()


class PasskeyAddBegin(_Adding, BeginCredentialRegistrationView):  # type: ignore[misc]
    pass


class PasskeyAddComplete(_Adding, CompleteCredentialRegistrationView):  # type: ignore[misc]
    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        response: JsonResponse = super().post(*args, **kwargs)
        if response.status_code == 200:
            audit_person(action="mfa.passkey_add", user=self.request.user, request=self.request)
        return response


class _SignInStep:
    """The code step's person: half-signed-in (pending) or signed in, unverified."""

    request: HttpRequest

    def _step(self) -> tuple[Any, str, str | None] | None:
        from mfa.views import code_step_person

        return code_step_person(self.request)

    def get_user(self) -> Any:
        step = self._step()
        return step[0] if step is not None else None

    def check_can_authenticate(self) -> None:
        user = self.get_user()
        if user is None or not selectors.two_factor_enabled(user=user):
            raise exceptions.PasswordlessLoginDisabled()
        if AxesProxyHandler.is_locked(self.request, {"username": user.get_username()}):
            raise SignInLocked()


class PasskeySignInBegin(_SignInStep, BeginCredentialAuthenticationView):  # type: ignore[misc]
    pass


class PasskeySignInComplete(_SignInStep, CompleteCredentialAuthenticationView):  # type: ignore[misc]
    def complete_auth(self, device: Any) -> None:
        from mfa.views import PENDING

        step = self._step()
        assert step is not None  # checked before the ceremony
        user, next_url, backend = step
        if backend is not None:
            self.request.session.pop(PENDING, None)
            login(self.request, user, backend=backend)
        otp_login(self.request, device)
        self._next = next_url

    def get_success_url(self) -> str:
        return getattr(self, "_next", "") or resolve_url(settings.LOGIN_REDIRECT_URL)
