"""Request hygiene shared by every view."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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
        is_form = request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
        if request.method == "POST" and is_form and _has_nul(request.POST.lists()):
            return HttpResponseBadRequest(
                "The form contains a NUL byte.", content_type="text/plain"
            )
        return self.get_response(request)


def _has_nul(items: Iterable[tuple[str, list[str]]]) -> bool:
    for key, values in items:
        if "\x00" in key or any("\x00" in value for value in values):
            return True
    return False
