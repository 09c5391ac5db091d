"""Request hygiene shared by every view."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


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
