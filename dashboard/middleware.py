"""Request hygiene shared by every view."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from dashboard.crypto import SECRETS_UNREADABLE, SecretDecryptionError

log = logging.getLogger(__name__)


class RejectNulBytesMiddleware:
    """Answer 400 to a path, query or form field containing a NUL byte.

    No legitimate input has one, and PostgreSQL refuses NUL in text: without this, a
    `?q=%00` in any search box would reach the database and fail there.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _has_nul(request.GET.lists()):
            return HttpResponseBadRequest(
                "The request contains a NUL byte.", content_type="text/plain"
            )
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        # Views exempt from CSRF (webhook receiver, ingest API) read the raw body and
        # authenticate it; parsing it as a form here would leave them nothing to read.
        if request.method != "POST" or getattr(view, "csrf_exempt", False):
            return None
        is_form = request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
        if is_form and _has_nul(request.POST.lists()):
            return HttpResponseBadRequest(
                "The form contains a NUL byte.", content_type="text/plain"
            )
        return None


def _has_nul(items: Iterable[tuple[str, list[str]]]) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in items)


class SecretsUnreadableMiddleware:
    """A stored secret no configured key decrypts: explain it instead of answering 500.

    Reading the secret is what raises (dashboard.crypto), so this only meets requests that
    needed one: an action that calls SocialAPI. Inside a workspace the person goes back
    where they were with the explanation as a message (every workspace page also shows
    it as a banner); anywhere else they get a page saying so. Nothing was changed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SecretDecryptionError):
            return None
        workspace = getattr(request, "workspace", None)
        match = request.resolver_match
        log.warning(  # the view's name, never the path: some paths carry tokens
            "stored secrets of workspace %s cannot be decrypted (%s): %s",
            getattr(workspace, "pk", "?"),
            match.view_name if match else "?",
            exception,
        )
        member = workspace is not None and getattr(request, "membership", None) is not None
        if workspace is not None and request.method == "POST":
            messages.error(request, SECRETS_UNREADABLE)
            target = _back(request, default=reverse("overview", args=[workspace.slug]))
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(target)
            return HttpResponseRedirect(target)
        show_why = member or bool(getattr(request.user, "is_staff", False))
        ctx = {"explanation": SECRETS_UNREADABLE if show_why else ""}
        response = render(request, "secrets_unreadable.html", ctx, status=503)
        response["Retry-After"] = "3600"
        return response


def _back(request: HttpRequest, *, default: str) -> str:
    """Where the person pressed the button: the form's `next`, else the Referer (same site)."""
    for candidate in (request.POST.get("next", ""), request.headers.get("Referer", "")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return default
