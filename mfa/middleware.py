"""`request.user.is_verified()` for every request, and support staff held at setup.

django-otp's own OTPMiddleware loads the session's device on every request of a
verified person (one query per page, on pages pinned at ≤ 10 queries). This one answers
`is_verified()` only when something asks: the workspace gate of a workspace that
requires two-factor sign-in, the staff gate below, the two-factor pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from mfa.gate import EXEMPT_URL_NAMES, two_factor_gate
from mfa.selectors import session_device


def _is_verified(request: HttpRequest, user: Any) -> bool:
    # `django_otp.login` sets `otp_device` when a code is accepted during this request.
    if not hasattr(user, "otp_device"):
        user.otp_device = session_device(request)
    return user.otp_device is not None


def _with_is_verified(request: HttpRequest, user: Any) -> Any:
    user.is_verified = functools.partial(_is_verified, request, user)
    return user


class TwoFactorMiddleware:
    """After AuthenticationMiddleware: `is_verified()`, and the staff requirement."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        request.user = SimpleLazyObject(  # type: ignore[assignment]
            functools.partial(_with_is_verified, request, user)
        )
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        """With MFA_REQUIRED_FOR_STAFF (on in production) support staff reach nothing but
        the two-factor pages and sign-out until their session is verified: they read every
        workspace, and the Django admin."""
        if not settings.MFA_REQUIRED_FOR_STAFF:
            return None
        match = request.resolver_match
        if match is not None and (match.namespace == "mfa" or match.view_name in EXEMPT_URL_NAMES):
            return None
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return None
        return two_factor_gate(request)
