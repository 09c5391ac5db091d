"""What became of a retry once it was sent: published, or failed again (and why).

Learned three ways, whichever comes first: the runner's own check (`GET /v1/posts/{pid}`
after sending), a `post.published` webhook, or a failure event naming the post after the
retry was sent (`posts.collect`). Every change is conditional on the state it moves from,
so the three can arrive in any order, any number of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from dashboard.models import Workspace
from events.fixes import reason_text
from events.models import ErrorEvent
from posts.models import FailedPost, PostRetryItem
from socialapi.values import as_str

AUTH_FAMILIES = ("reconnect", "credentials")
Item = PostRetryItem.State
Failed = FailedPost.State


def to_second(moment: datetime) -> datetime:
    """Upstream writes times to the second: compare ours at the same precision."""
    return moment.replace(microsecond=0)


def item_published(*, item: PostRetryItem, at: datetime | None = None) -> bool:
    """A sent retry published; its failed post is done."""
    now = at or timezone.now()
    late = item.scheduled_at is None or (
        item.sending_at is not None and item.scheduled_at <= item.sending_at
    )
    reason = (
        "Published after the retry: it went out when retried, not at its original time."
        if late
        else "Published after the retry, at its scheduled time."
    )
    if not PostRetryItem.objects.filter(pk=item.pk, state=Item.SENT).update(
        state=Item.PUBLISHED, reason=reason, finished_at=now
    ):
        return False
    if item.failed_post_id:
        FailedPost.objects.filter(
            pk=item.failed_post_id, state__in=[Failed.RETRYING, Failed.RETRIED, Failed.UNKNOWN]
        ).update(state=Failed.RETRIED, outcome=reason, state_changed_at=now)
    return True


def item_failed_again(
    *,
    item: PostRetryItem,
    family: str,
    code: str,
    message: str,
    request_id: str = "",
    at: datetime | None = None,
) -> bool:
    """A sent retry failed again on the job's account.

    A token or credentials failure lists the post again (the account broke again, or was
    never fixed); any other reason settles it (retrying again would not help).
    """
    now = timezone.now()
    reason = reason_text(family=family, code=code, message=message)[:2000]
    if not PostRetryItem.objects.filter(pk=item.pk, state=Item.SENT).update(
        state=Item.FAILED_AGAIN,
        family=family[:30],
        code=code[:100],
        reason=reason,
        request_id=request_id[:64],
        finished_at=now,
    ):
        return False
    if not item.failed_post_id:
        return True
    settled = FailedPost.objects.filter(
        pk=item.failed_post_id, state__in=[Failed.RETRYING, Failed.RETRIED]
    )
    if family in AUTH_FAMILIES:
        settled.update(
            state=Failed.OPEN,
            state_changed_at=now,
            retried_at=None,
            outcome="",
            failed_at=at or now,
            family=family[:30],
            code=code[:100],
            message=message,
            request_id=request_id[:64],
        )
    else:
        settled.update(
            state=Failed.CLOSED,
            state_changed_at=now,
            outcome=f"Failed again after the retry, for another reason: {reason}",
        )
    return True


def retries_failed_again(
    *, workspace: Workspace, failures: Sequence[tuple[ErrorEvent, str]]
) -> int:
    """Failure events naming a post after its retry was sent: that retry failed again."""
    items = PostRetryItem.objects.filter(
        workspace=workspace, post_id__in={post_id for _, post_id in failures}, state=Item.SENT
    ).select_related("job")
    settled = 0
    for item in items:
        if item.sending_at is None:
            continue
        since = to_second(item.sending_at)
        later = [
            event
            for event, post_id in failures
            if post_id == item.post_id
            and event.account_id == item.job.account_id
            and event.occurred_at >= since
        ]
        if not later:
            continue
        event = max(later, key=lambda e: e.occurred_at)
        settled += item_failed_again(
            item=item,
            family=event.family,
            code=event.code,
            message=event.message,
            request_id=event.request_id,
            at=event.occurred_at,
        )
    return settled


def post_published_apply(*, workspace: Workspace, data: dict[str, Any]) -> str:
    """A `post.published` webhook: every target published, so nothing of it is left to retry."""
    post_id = as_str(data.get("id") or data.get("post_id"))[:100]
    if not post_id:
        return "ignored: no post id"
    now = timezone.now()
    items = PostRetryItem.objects.filter(workspace=workspace, post_id=post_id, state=Item.SENT)
    published = sum(item_published(item=item, at=now) for item in items)
    closed = FailedPost.objects.filter(
        workspace=workspace, post_id=post_id, state__in=[Failed.OPEN, Failed.UNKNOWN]
    ).update(state=Failed.CLOSED, state_changed_at=now, outcome="Published: nothing left to retry.")
    if not (published or closed):
        return "ignored: not a post the dashboard is retrying"
    return f"{published} retry(s) published, {closed} failed post(s) settled"
