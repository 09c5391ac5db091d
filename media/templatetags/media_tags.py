"""Template helpers for the storage pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import template

from media.models import BulkDeletion, media_kind
from media.selectors import Progress, bulk_deletion_progress

register = template.Library()

STATUS_BADGES: dict[str, str] = {
    BulkDeletion.Status.QUEUED: "info",
    BulkDeletion.Status.RUNNING: "info",
    BulkDeletion.Status.CANCELLING: "warn",
    BulkDeletion.Status.CANCELLED: "warn",
    BulkDeletion.Status.STOPPED: "danger",
    BulkDeletion.Status.FINISHED: "ok",
}
STATE_BADGES = {"deleted": "ok", "skipped": "warn", "failed": "danger", "in_flight": "info"}


@register.filter
def same_origin_url(url: str, request: Any) -> str:
    """The URL when it is served by this very site (the sandbox's files), else "".

    Thumbnails are shown only then: the page never loads anything from the internet.
    """
    if not url or request is None:
        return ""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    if parts.scheme == request.scheme and parts.netloc == request.get_host():
        return url
    return ""


@register.filter
def kind_icon(content_type: str) -> str:
    """The icon name for a content type: image, video or file."""
    kind = media_kind(content_type)
    return kind if kind in ("image", "video") else "file"


@register.filter
def job_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "")


@register.filter
def state_badge(state: str) -> str:
    return STATE_BADGES.get(state, "")


@register.filter
def job_progress(job: BulkDeletion) -> Progress:
    return bulk_deletion_progress(job=job)


@register.filter
def duration(value: timedelta | None) -> str:
    """A short human duration: "45 s", "3 min", "1 h 20 min"."""
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def share_of(part: int | None, whole: int | None) -> float:
    """Percent of `whole` that `part` is (0 when whole is 0)."""
    if not whole or part is None:
        return 0.0
    return 100.0 * part / whole
