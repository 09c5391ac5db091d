"""A retry job's lease and its items' states: the only code the runner changes rows with.

A runner holds the job's lease (token + heartbeat). Before each retry it marks the item
`sending` (committed before the call), after it records the outcome, both guarded by its
token, so a runner that lost the lease changes nothing. An item a dead runner left
`sending` may have been retried: the next runner re-claims it to check it, never to send
it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from posts.models import FailedPost, PostRetryItem, PostRetryJob
from posts.outcomes import to_second

Status = PostRetryJob.Status
Item = PostRetryItem.State
Failed = FailedPost.State


@dataclass(frozen=True)
class Outcome:
    """What one retry came to, and whether the job must stop sending."""

    state: str
    family: str = ""
    code: str = ""
    reason: str = ""
    request_id: str = ""
    stops: bool = False


class LeaseLost(Exception):
    """Another runner holds the job now: stop without touching anything."""


def lease_seconds() -> int:
    """How long a runner may stay silent before its job is handed to another one."""
    return max(1, int(settings.POST_RETRY_LEASE_SECONDS))


def lease_acquire(
    job_id: int, token: str, now: datetime | None = None
) -> tuple[PostRetryJob | None, list[PostRetryItem]]:
    """Take the job when it is active and free (or its runner is silent); returns it and
    the items a dead runner left `sending`, now claimed by this token (to be checked)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    with transaction.atomic():
        job = PostRetryJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_active:
            return None, []
        if job.lease_token and job.heartbeat_at is not None and job.heartbeat_at >= stale:
            return None, []
        orphans = PostRetryItem.objects.filter(job=job, state=Item.SENDING)
        orphans.update(claimed_by=token)
        PostRetryJob.objects.filter(pk=job.pk).update(
            lease_token=token,
            heartbeat_at=now,
            status=Status.RUNNING,
            started_at=job.started_at or now,
            runs=F("runs") + 1,
        )
        job.refresh_from_db()
        return job, list(orphans.filter(claimed_by=token).order_by("id"))


def lease_beat(job: PostRetryJob, token: str) -> None:
    """Renew the lease; LeaseLost when another runner has it."""
    if not PostRetryJob.objects.filter(pk=job.pk, lease_token=token, status=Status.RUNNING).update(
        heartbeat_at=timezone.now()
    ):
        raise LeaseLost(job.pk)


def item_claim(job: PostRetryJob, token: str) -> PostRetryItem | None:
    """Mark the next waiting item `sending` (committed before its call); None when none."""
    with transaction.atomic():
        lease_beat(job, token)
        item = PostRetryItem.objects.filter(job=job, state=Item.PENDING).order_by("id").first()
        if item is None:
            return None
        now = timezone.now()
        if not PostRetryItem.objects.filter(pk=item.pk, state=Item.PENDING).update(
            state=Item.SENDING, claimed_by=token, sending_at=now
        ):
            return None
        if item.failed_post_id:
            FailedPost.objects.filter(pk=item.failed_post_id, state=Failed.RETRYING).update(
                retried_at=to_second(now)
            )
        item.state, item.claimed_by, item.sending_at = Item.SENDING, token, now
        return item


# What an item's outcome makes of its failed post (which is `retrying` while in a job).
def _failed_post_after(item: PostRetryItem, outcome: Outcome, now: datetime) -> None:
    if not item.failed_post_id:
        return
    mine = FailedPost.objects.filter(pk=item.failed_post_id, state=Failed.RETRYING)
    if outcome.state in (Item.SENT, Item.PUBLISHED):
        mine.update(state=Failed.RETRIED, state_changed_at=now, outcome=outcome.reason)
    elif outcome.state == Item.REFUSED:
        mine.update(state=Failed.CLOSED, state_changed_at=now, outcome=outcome.reason)
    elif outcome.state == Item.UNKNOWN:
        mine.update(state=Failed.UNKNOWN, state_changed_at=now, outcome=outcome.reason)
    else:  # not sent: listed again, to be retried later
        mine.update(state=Failed.OPEN, state_changed_at=now, retried_at=None, outcome="")


def item_record(job: PostRetryJob, token: str, item: PostRetryItem, outcome: Outcome) -> bool:
    """Record a `sending` item's outcome under this lease; False when another runner has
    taken the item over (it records it instead). LeaseLost when the lease is gone."""
    with transaction.atomic():
        lease_beat(job, token)
        now = timezone.now()
        if not PostRetryItem.objects.filter(
            pk=item.pk, state=Item.SENDING, claimed_by=token
        ).update(
            state=outcome.state,
            family=outcome.family[:30],
            code=outcome.code[:100],
            reason=outcome.reason[:2000],
            request_id=outcome.request_id[:64],
            finished_at=now,
        ):
            return False
        _failed_post_after(item, outcome, now)
        return True


def items_not_sent(job: PostRetryJob, token: str, outcome: Outcome) -> int:
    """The job stops: every waiting item is not sent (its post listed again), with why."""
    with transaction.atomic():
        lease_beat(job, token)
        now = timezone.now()
        waiting = list(PostRetryItem.objects.filter(job=job, state=Item.PENDING))
        PostRetryItem.objects.filter(pk__in=[i.pk for i in waiting], state=Item.PENDING).update(
            state=Item.NOT_SENT,
            family=outcome.family[:30],
            code=outcome.code[:100],
            reason=outcome.reason[:2000],
            finished_at=now,
        )
        FailedPost.objects.filter(
            pk__in=[i.failed_post_id for i in waiting if i.failed_post_id],
            state=Failed.RETRYING,
        ).update(state=Failed.OPEN, state_changed_at=now, retried_at=None, outcome="")
        return len(waiting)


def lease_release(job: PostRetryJob, token: str) -> bool:
    """Hand the job back (time slice over) for the next runner."""
    return bool(
        PostRetryJob.objects.filter(pk=job.pk, lease_token=token).update(
            lease_token="", heartbeat_at=None
        )
    )


def job_close(
    job: PostRetryJob, token: str, status: str, *, code: str = "", reason: str = ""
) -> bool:
    """End the job under this lease (finished, or stopped with why)."""
    return bool(
        PostRetryJob.objects.filter(
            pk=job.pk, lease_token=token, status__in=PostRetryJob.ACTIVE_STATUSES
        ).update(
            status=status,
            stop_code=code[:100],
            stop_reason=reason,
            finished_at=timezone.now(),
            lease_token="",
            heartbeat_at=None,
        )
    )
