"""A job's lease and the state of its items: the only code that changes item rows.

A runner holds the job's lease (token + heartbeat); items are claimed (pending →
in_flight, stamped with the token) before their DELETE and recorded after it, guarded
by that token, so a runner that lost the lease can change nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F
from django.utils import timezone

from dashboard.models import Workspace
from media.deletion_senders import Claimed, Outcome
from media.models import BulkDeletion, BulkDeletionItem, MediaItem

Status = BulkDeletion.Status
State = BulkDeletionItem.State

# An item sent this many times without ever getting an answer recorded (its runner kept
# dying) is failed instead of being sent again.
MAX_SENDS = 5


def lease_seconds() -> int:
    """How long a runner may stay silent before its job is handed to another one."""
    return max(1, int(settings.BULK_DELETE_LEASE_SECONDS))


def lease_acquire(
    job_id: int, token: str, now: datetime
) -> tuple[BulkDeletion | None, list[Claimed]]:
    """Take the job if it is active, free (or its runner is dead) and no other job of the
    workspace is running. Returns the job and the orphaned in-flight items, re-claimed."""
    stale = now - timedelta(seconds=lease_seconds())
    with transaction.atomic():
        job = BulkDeletion.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_active:
            return None, []
        # Serialise lease changes per workspace (PostgreSQL row lock; SQLite locks anyway).
        Workspace.objects.select_for_update().filter(pk=job.workspace_id).first()
        if job.lease_token and job.heartbeat_at is not None and job.heartbeat_at >= stale:
            return None, []
        busy = (
            BulkDeletion.objects.filter(
                workspace_id=job.workspace_id, status__in=BulkDeletion.ACTIVE_STATUSES
            )
            .exclude(pk=job.pk)
            .exclude(lease_token="")
            .filter(heartbeat_at__gte=stale)
            .exists()
        )
        if busy:
            return None, []
        items = BulkDeletionItem.objects.filter(job=job, state=State.IN_FLIGHT)
        # Items sent too often without an answer being recorded: give up on them.
        given_up = list(items.filter(attempts__gte=MAX_SENDS).values_list("pk", flat=True))
        if given_up:
            reason = (
                f"Sent {MAX_SENDS} times without an answer being recorded (the worker kept "
                "stopping). It may already be gone; the next library sync will tell."
            )
            BulkDeletionItem.objects.filter(pk__in=given_up).update(
                state=State.FAILED,
                code="dashboard.gave_up",
                family="unknown",
                reason=reason,
                finished_at=now,
            )
            BulkDeletion.objects.filter(pk=job.pk).update(
                failed_count=F("failed_count") + len(given_up)
            )
        # The dead runner's items in flight: their DELETE may or may not have happened.
        # Send them again (404 = it had) under this runner's token.
        items.update(claimed_by=token, claimed_at=now, attempts=F("attempts") + 1)
        orphans = [
            Claimed(*row)
            for row in items.filter(claimed_by=token).values_list(
                "pk", "media_upstream_id", "size_bytes"
            )
        ]
        BulkDeletion.objects.filter(pk=job.pk).update(
            lease_token=token,
            heartbeat_at=now,
            status=Status.RUNNING if job.status == Status.QUEUED else job.status,
            started_at=job.started_at or now,
            runs=F("runs") + 1,
        )
        job.refresh_from_db()
    return job, orphans


def _claim(job_id: int, token: str, limit: int) -> list[Claimed]:
    """Mark up to `limit` pending items in flight, only while the job runs under this lease."""
    candidates = list(
        BulkDeletionItem.objects.filter(job_id=job_id, state=State.PENDING)
        .order_by("id")
        .values_list("pk", "media_upstream_id", "size_bytes")[:limit]
    )
    if not candidates:
        return []
    still_ours = BulkDeletion.objects.filter(pk=job_id, lease_token=token, status=Status.RUNNING)
    claimed = (
        BulkDeletionItem.objects.filter(pk__in=[row[0] for row in candidates], state=State.PENDING)
        .filter(Exists(still_ours))
        .update(
            state=State.IN_FLIGHT,
            claimed_by=token,
            claimed_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    )
    if claimed == len(candidates):
        return [Claimed(*row) for row in candidates]
    if not claimed:
        return []
    mine = set(
        BulkDeletionItem.objects.filter(
            pk__in=[row[0] for row in candidates], state=State.IN_FLIGHT, claimed_by=token
        ).values_list("pk", flat=True)
    )
    return [Claimed(*row) for row in candidates if row[0] in mine]


def _finalise(job: BulkDeletion, token: str, outcomes: list[Outcome]) -> None:
    """Record outcomes, the job's counters and the mirror (inside the caller's transaction)."""
    now = timezone.now()
    counts: Counter[str] = Counter()
    freed = 0
    gone: list[str] = []
    mine = BulkDeletionItem.objects.filter(state=State.IN_FLIGHT, claimed_by=token)
    unsent = [outcome.item.id for outcome in outcomes if outcome.state == State.PENDING]
    if unsent:
        # Claimed but never sent (the runner stopped first): back in the queue.
        mine.filter(pk__in=unsent).update(
            state=State.PENDING, claimed_by="", claimed_at=None, attempts=F("attempts") - 1
        )
    for outcome in outcomes:
        if outcome.state == State.PENDING:
            continue
        updated = mine.filter(pk=outcome.item.id).update(
            state=outcome.state,
            family=outcome.family,
            code=outcome.code,
            reason=outcome.reason,
            request_id=outcome.request_id,
            finished_at=now,
        )
        if not updated:
            continue  # another runner took this item over; it will record it
        counts[outcome.state] += 1
        if outcome.state == State.DELETED:
            gone.append(outcome.item.media_upstream_id)
        if outcome.freed:
            freed += outcome.item.size_bytes
    if counts:
        BulkDeletion.objects.filter(pk=job.pk).update(
            deleted_count=F("deleted_count") + counts[State.DELETED],
            skipped_count=F("skipped_count") + counts[State.SKIPPED],
            failed_count=F("failed_count") + counts[State.FAILED],
            bytes_freed=F("bytes_freed") + freed,
        )
    if gone:
        MediaItem.objects.filter(workspace_id=job.workspace_id, upstream_id__in=gone).delete()


def lease_step(
    job: BulkDeletion, token: str, outcomes: list[Outcome], want: int
) -> tuple[str | None, list[Claimed]]:
    """One transaction: renew the lease, record what came back, claim what to send next.

    Returns the job's status (None when the lease was lost) and the items claimed.
    """
    with transaction.atomic():
        if not BulkDeletion.objects.filter(pk=job.pk, lease_token=token).update(
            heartbeat_at=timezone.now()
        ):
            return None, []
        if outcomes:
            _finalise(job, token, outcomes)
        status = BulkDeletion.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        claimed = _claim(job.pk, token, want) if want > 0 and status == Status.RUNNING else []
        return status, claimed
