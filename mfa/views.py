"""Signing in with a second factor, and each person's "Two-factor sign-in" page.

Sign-in: the password form (Django's LoginView, throttled by axes) signs in a person
without an authenticator at once. For one with an authenticator nobody is signed in yet:
the session only remembers who passed the password (for 5 minutes, bound to that
password), and the code step signs them in once a code from the app or a recovery code
is accepted. A wrong code counts as a failed sign-in for the axes lock-out, and the
devices throttle themselves (django-otp).
"""

from __future__ import annotations

import time
from base64 import b32encode
from typing import Any
from urllib.parse import quote, urlencode

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from dashboard.services import ServiceRefused
from mfa import selectors, services
from mfa.forms import DisableForm, PasswordCheckForm, SetupConfirmForm, SignInCodeForm
from mfa.models import AuthenticatorDevice
from mfa.passkeys import passkey_config, passkeys_available

PENDING = "mfa_pending"  # session key: who passed the password step, waiting for a code
PENDING_SECONDS = 5 * 60


def _next_url(request: HttpRequest, candidate: str | None) -> str:
    """`candidate` when it is a page of this site, else ""."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _no_store(response: HttpResponse) -> HttpResponse:
    """Pages showing a seed, recovery codes or a code form: kept in no cache, no history."""
    add_never_cache_headers(response)  # no-store among them
    return response


# --- signing in ----------------------------------------------------------------------


class SignInView(auth_views.LoginView):
    """The password step. With an authenticator, it hands over to the code step."""

    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if not selectors.two_factor_enabled(user=user):
            return super().form_valid(form)
        session = self.request.session
        session.cycle_key()
        session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            # A password changed meanwhile ends the half-finished sign-in.
            "hash": user.get_session_auth_hash(),
            "since": int(time.time()),
            "next": self.get_success_url(),
        }
        return redirect("mfa:sign_in_code")


def _pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    data = request.session.get(PENDING)
    if not isinstance(data, dict):
        return None
    since = data.get("since")
    if not isinstance(since, int) or time.time() - since > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    pk = data.get("user")
    user = User.objects.filter(pk=pk, is_active=True).first() if isinstance(pk, int) else None
    if user is None or not constant_time_compare(
        str(data.get("hash", "")), user.get_session_auth_hash()
    ):
        request.session.pop(PENDING, None)
        return None
    return user, data


def _sign_in_again(request: HttpRequest, *, expired: bool) -> HttpResponse:
    if expired:
        messages.info(request, "Sign in again: the code step is only open for 5 minutes.")
    return redirect("login")


def _code_refused(request: HttpRequest, *, user: Any, form: Any, check: services.CodeCheck) -> None:
    """A wrong code: a failed sign-in for axes (it locks username + IP), audited, explained."""
    credentials = {"username": user.get_username()}
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    services.two_factor_code_failed(
        user=user, request=request, throttled=check.wait_until is not None
    )
    if check.wait_until is not None:
        wait = max(1, int(check.wait_until.timestamp() - time.time()) + 1)
        form.add_error(
            "code",
            f"Too many wrong codes: wait {wait} second{'s' if wait != 1 else ''}, "
            "then type the code showing now.",
        )
    else:
        form.add_error(
            "code",
            "That code is not right. Type the code your app shows now, or a recovery code "
            "(each works once).",
        )


def _signed_in(request: HttpRequest, check: services.CodeCheck) -> None:
    assert check.device is not None
    otp_login(request, check.device)
    if check.is_recovery_code:
        left = services.recovery_codes_left(device=check.device)
        messages.warning(
            request,
            f"You signed in with a recovery code; it will not work again. {left} left: "
            "make new ones on your Two-factor sign-in page.",
        )


def code_step_person(request: HttpRequest) -> tuple[Any, str, str | None] | None:
    """Who the code step is for: the person, where they go next, and the backend to sign
    them in with (None: already signed in, only unverified). None when it is for nobody."""
    if request.user.is_authenticated:
        user = request.user
        if user.is_verified() or not selectors.two_factor_enabled(user=user):  # type: ignore[attr-defined]
            return None
        return user, _next_url(request, request.POST.get("next") or request.GET.get("next")), None
    pending = _pending(request)
    if pending is None:
        return None
    user, data = pending
    return user, _next_url(request, data.get("next")), str(data.get("backend"))


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second step; also asks a signed-in person whose session was never verified."""
    started = PENDING in request.session
    step = code_step_person(request)
    if step is None:
        if request.user.is_authenticated:
            next_url = _next_url(request, request.POST.get("next") or request.GET.get("next"))
            return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
        return _sign_in_again(request, expired=started)
    user, next_url, backend = step

    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        request.session.pop(PENDING, None)
        locked: HttpResponse = get_lockout_response(request, None, credentials)
        return locked
    form = SignInCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = services.sign_in_code_check(user=user, code=form.cleaned_data["code"])
        if check.device is not None:
            if backend is not None:
                request.session.pop(PENDING, None)
                login(request, user, backend=backend)
            _signed_in(request, check)
            return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
        _code_refused(request, user=user, form=form, check=check)
        if getattr(request, "axes_locked_out", False):
            # AxesMiddleware answers with its lock-out page; afterwards, start over.
            request.session.pop(PENDING, None)
    ctx = {
        "form": form,
        "next": next_url,
        "signed_in": backend is None,
        "passkeys": selectors.passkeys_of(user),
        "passkeys_available": passkeys_available(),
        "passkey_config": passkey_config(request),
    }
    return _no_store(render(request, "mfa/sign_in_code.html", ctx))


# --- the person's own page -----------------------------------------------------------


def _reasons(user: Any) -> dict[str, Any]:
    return {
        "requiring": selectors.workspaces_requiring_two_factor(user=user),
        "staff_required": selectors.staff_must_use_two_factor(user),
    }


def _manage_page(request: HttpRequest, status: int = 200, **overrides: Any) -> HttpResponse:
    ctx: dict[str, Any] = {
        "status": selectors.two_factor_status(user=request.user),
        "regenerate_form": PasswordCheckForm(request=request),
        "disable_form": DisableForm(request=request),
        "passkey_config": passkey_config(request),
        "passkeys_available": passkeys_available(),
        **_reasons(request.user),
    }
    ctx.update(overrides)
    return render(request, "mfa/manage.html", ctx, status=status)


@require_GET
@login_required
def manage(request: HttpRequest) -> HttpResponse:
    return _manage_page(request)


def otpauth_url(device: AuthenticatorDevice) -> str:
    """What the QR code holds (Google's Key URI format, read by every authenticator app)."""
    issuer = settings.MFA_ISSUER.replace(":", "")
    label = quote(f"{issuer}:{device.user.get_username()}")
    params = urlencode(
        {
            "secret": b32encode(device.seed).decode(),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{params}"


def _setup_page(
    request: HttpRequest, *, next_url: str, form: SetupConfirmForm | None = None, status: int = 200
) -> HttpResponse:
    device = selectors.authenticator_pending(user=request.user)
    ctx: dict[str, Any] = {"next": next_url, "device": device, **_reasons(request.user)}
    if device is not None:
        secret = b32encode(device.seed).decode()
        ctx.update(
            qr=segno.make(otpauth_url(device), error="m").svg_data_uri(
                scale=5, border=4, dark="#000", light="#fff"
            ),
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            form=form or SetupConfirmForm(),
        )
    # The seed is on this page: never cached anywhere.
    return _no_store(render(request, "mfa/setup.html", ctx, status=status))


@require_http_methods(["GET", "POST"])
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """GET: why and how (and the QR code once started). POST: start with a new seed."""
    next_url = _next_url(request, request.POST.get("next") or request.GET.get("next"))
    if selectors.two_factor_enabled(user=request.user):
        if next_url:
            return redirect(next_url)
        messages.info(request, "Two-factor sign-in is already on for your account.")
        return redirect("mfa:manage")
    if request.method == "POST":
        services.authenticator_setup_start(user=request.user)
        url = reverse("mfa:setup")
        return redirect(url + ("?" + urlencode({"next": next_url}) if next_url else ""))
    return _setup_page(request, next_url=next_url)


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, next_url: str) -> HttpResponse:
    ctx = {"codes": codes, "codes_text": "\n".join(codes), "next": next_url}
    return _no_store(render(request, "mfa/recovery_codes.html", ctx))


@require_POST
@login_required
def setup_confirm(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request, request.POST.get("next"))
    form = SetupConfirmForm(request.POST)
    if not form.is_valid():
        return _setup_page(request, next_url=next_url, form=form, status=400)
    try:
        codes = services.authenticator_setup_confirm(
            user=request.user, code=form.cleaned_data["code"], request=request
        )
    except ServiceRefused as refused:
        form.add_error("code", str(refused))
        return _setup_page(request, next_url=next_url, form=form, status=400)
    messages.success(request, "Two-factor sign-in is on.")
    return _recovery_codes_page(request, codes, next_url=next_url)


@require_POST
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    form = PasswordCheckForm(request.POST, request=request)
    if not form.is_valid():
        return _manage_page(request, 400, regenerate_form=form)
    try:
        codes = services.recovery_codes_regenerate(user=request.user, request=request)
    except ServiceRefused as refused:
        messages.error(request, str(refused))
        return redirect("mfa:manage")
    messages.success(request, "New recovery codes: the old ones no longer work.")
    return _recovery_codes_page(request, codes, next_url="")


@require_POST
@login_required
def disable(request: HttpRequest) -> HttpResponse:
    """Turn it off: the password and a code, so a session left open is not enough."""
    form = DisableForm(request.POST, request=request)
    if not form.is_valid():
        return _manage_page(request, 400, disable_form=form)
    check = services.sign_in_code_check(user=request.user, code=form.cleaned_data["code"])
    if check.device is None:
        _code_refused(request, user=request.user, form=form, check=check)
        return _manage_page(request, 400, disable_form=form)
    services.two_factor_disable(user=request.user, request=request)
    messages.success(request, "Two-factor sign-in is off: signing in asks for your password only.")
    return redirect("mfa:manage")


@require_POST
@login_required
def passkey_remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    """Remove one of your passkeys (the authenticator app and recovery codes stay)."""
    passkey = selectors.passkey_of(user=request.user, passkey_id=passkey_id)
    if passkey is None:
        raise Http404("No such passkey of yours")
    services.passkey_remove(user=request.user, passkey=passkey, request=request)
    messages.success(request, "Passkey removed: it no longer signs you in.")
    return redirect(reverse("mfa:manage") + "#passkeys")
