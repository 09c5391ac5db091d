"""Template helpers for failed posts and their retries."""

from __future__ import annotations

from django import template

from posts.models import PostRetryItem, PostRetryJob
from posts.selectors import RetryProgress

register = template.Library()

JOB_BADGES: dict[str, str] = {
    PostRetryJob.Status.QUEUED: "info",
    PostRetryJob.Status.RUNNING: "info",
    PostRetryJob.Status.STOPPED: "danger",
    PostRetryJob.Status.FINISHED: "ok",
}
State = PostRetryItem.State
ITEM_BADGES: dict[str, str] = {
    State.PENDING: "",
    State.SENDING: "info",
    State.SENT: "info",
    State.PUBLISHED: "ok",
    State.FAILED_AGAIN: "danger",
    State.REFUSED: "warn",
    State.NOT_SENT: "warn",
    State.UNKNOWN: "danger",
}


@register.filter
def retry_job_badge(status: str) -> str:
    return JOB_BADGES.get(status, "")


@register.filter
def retry_item_badge(state: str) -> str:
    return ITEM_BADGES.get(state, "")


@register.filter
def retry_count(progress: RetryProgress, states: str) -> int:
    """How many items of a retry are in one of these comma-separated states."""
    return sum(progress.count(state.strip()) for state in states.split(","))
