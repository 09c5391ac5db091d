"""Bulk deletion jobs: what people do with them (create, cancel, retry) and the sweeper.

A job freezes a selection into one row per media file; the runner
(`media.deletion_runner`, re-exported here as `bulk_deletion_run`) works through it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import HttpRequest
from django.utils import timezone

from dashboard.audit import audit_record
from dashboard.models import Workspace
from media.deletion_lease import lease_seconds
from media.deletion_runner import (
    RunResult,
    bulk_deletion_run,
    job_finish_audit,
    next_job_start,
)
from media.deletion_senders import ALREADY_GONE_CODE
from media.filters import Selection
from media.models import CANCELLED_CODE, BulkDeletion, BulkDeletionItem, MediaItem
from media.selectors import media_selection
from media.storage import storage_snapshot_request

__all__ = [
    "MAX_ITEMS",
    "RunResult",
    "SelectionChanged",
    "SelectionError",
    "bulk_deletion_cancel",
    "bulk_deletion_create",
    "bulk_deletion_recount",
    "bulk_deletion_retry",
    "bulk_deletion_run",
    "bulk_deletion_sweep",
]

log = logging.getLogger(__name__)

Status = BulkDeletion.Status
State = BulkDeletionItem.State

# One job holds at most this many items: "select all" over a 200,000-file library is one
# job. Its item rows are written CREATE_CHUNK at a time, so memory stays flat.
MAX_ITEMS = 250_000
CREATE_CHUNK = 5_000


class SelectionError(Exception):
    """The selection cannot become a job (empty, too big, or not what was confirmed)."""


class SelectionChanged(SelectionError):
    def __init__(self, count: int) -> None:
        super().__init__(f"the selection now holds {count} files")
        self.count = count


# --- creating -------------------------------------------------------------------------


def bulk_deletion_create(
    *,
    workspace: Workspace,
    selection: Selection,
    user: AbstractBaseUser | AnonymousUser | None = None,
    expected_count: int | None = None,
    request: HttpRequest | None = None,
) -> BulkDeletion:
    """Freeze the selection into a job with one row per file and enqueue its runner.

    `expected_count` is the count the person confirmed: when the mirror changed since,
    SelectionChanged is raised instead of deleting something they did not see.
    """
    from media.tasks import bulk_deletion_run as run_task

    with transaction.atomic():
        chosen = media_selection(workspace=workspace, selection=selection)
        count = chosen.count()
        _check_count(count, expected_count)
        job = BulkDeletion.objects.create(
            workspace=workspace,
            created_by=user if isinstance(user, User) else None,
            description=selection.describe(count),
            selection=selection.as_json(),
        )
        _items_write(job, chosen)
        # The totals are what was written: the mirror may have changed since the count
        # (a library sync commits between two chunks).
        totals = BulkDeletionItem.objects.filter(job=job).aggregate(
            n=Count("id"), b=Sum("size_bytes", default=0)
        )
        count, total_bytes = int(totals["n"]), int(totals["b"])
        _check_count(count, expected_count)
        job.total_items, job.total_bytes = count, total_bytes
        job.description = selection.describe(count)
        job.save(update_fields=["total_items", "total_bytes", "description"])
        audit_record(
            action="media.bulk_delete.request",
            workspace=workspace,
            actor=user,
            request=request,
            target=job,
            target_label=job.description,
            detail={"items": count, "bytes": total_bytes, "selection": selection.as_json()},
        )
        job_id = job.pk
        transaction.on_commit(lambda: run_task.delay(job_id))
    return job


def _check_count(count: int, expected_count: int | None) -> None:
    if not count:
        raise SelectionError("Nothing to delete: no file matches this selection any more.")
    if count > MAX_ITEMS:
        raise SelectionError(
            f"A deletion can hold at most {MAX_ITEMS:,} files. "
            "Narrow the filter and delete in parts."
        )
    if expected_count is not None and count != expected_count:
        raise SelectionChanged(count)


def _items_write(job: BulkDeletion, chosen: QuerySet[MediaItem]) -> None:
    """One item row per selected file, largest first (space comes back soonest), read and
    written CREATE_CHUNK at a time: keyset pages over (size, id), never the whole list."""
    ordered = chosen.order_by("-size_bytes", "id").values_list(
        "id", "upstream_id", "filename", "content_type", "size_bytes"
    )
    after: tuple[int, int] | None = None
    while True:
        page = ordered
        if after is not None:
            size, last_id = after
            # `size_bytes <= size` lets the index on (workspace, -size_bytes) start there.
            page = page.filter(size_bytes__lte=size).filter(
                Q(size_bytes__lt=size) | Q(id__gt=last_id)
            )
        rows = list(page[:CREATE_CHUNK])
        if not rows:
            return
        # ignore_conflicts: a file whose size changed between two chunks can come twice.
        BulkDeletionItem.objects.bulk_create(
            [
                BulkDeletionItem(
                    job=job,
                    media_upstream_id=upstream_id,
                    filename=filename,
                    content_type=ctype,
                    size_bytes=size,
                )
                for _, upstream_id, filename, ctype, size in rows
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        if len(rows) < CREATE_CHUNK:
            return
        after = (rows[-1][4], rows[-1][0])


# --- people's actions and the sweeper -------------------------------------------------


def bulk_deletion_cancel(
    *,
    job: BulkDeletion,
    user: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """Stop sending DELETEs for this job. False when it had already ended.

    With a live runner the job turns `cancelling` (the runner lets the DELETEs in flight
    finish and closes it); with none it is closed here.
    """
    from media.tasks import bulk_deletion_run as run_task

    now = timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    with transaction.atomic():
        locked = (
            BulkDeletion.objects.select_for_update()
            .filter(pk=job.pk, workspace_id=job.workspace_id)
            .first()
        )
        if locked is None or locked.status not in (Status.QUEUED, Status.RUNNING):
            return False
        live_runner = (
            bool(locked.lease_token)
            and locked.heartbeat_at is not None
            and locked.heartbeat_at >= stale
        )
        orphans = BulkDeletionItem.objects.filter(job=locked, state=State.IN_FLIGHT).exists()
        audit_record(
            action="media.bulk_delete.cancel",
            workspace=locked.workspace,
            actor=user,
            request=request,
            target=locked,
            target_label=locked.description,
            detail={"done": locked.done_count, "total": locked.total_items},
        )
        if live_runner or orphans:
            # A runner (live, or the next one for a dead one's items in flight) closes it.
            BulkDeletion.objects.filter(pk=locked.pk).update(status=Status.CANCELLING)
            if not live_runner:
                job_id = locked.pk
                transaction.on_commit(lambda: run_task.delay(job_id))
        else:
            skipped = BulkDeletionItem.objects.filter(job=locked, state=State.PENDING).update(
                state=State.SKIPPED,
                code=CANCELLED_CODE,
                reason="Not sent: the deletion was cancelled.",
                finished_at=now,
            )
            BulkDeletion.objects.filter(pk=locked.pk).update(
                status=Status.CANCELLED,
                skipped_count=F("skipped_count") + skipped,
                finished_at=now,
                lease_token="",
                heartbeat_at=None,
                started_at=locked.started_at or now,
            )
            locked.refresh_from_db()
            job_finish_audit(locked)
            if locked.deleted_count:
                storage_snapshot_request(workspace=locked.workspace, force=True)
            next_job_start(locked.workspace_id)
    job.refresh_from_db()
    return True


def bulk_deletion_retry(
    *,
    job: BulkDeletion,
    user: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> int:
    """Send the failed items again (and resume a stopped job). Returns how many will be sent."""
    from media.tasks import bulk_deletion_run as run_task

    with transaction.atomic():
        locked = (
            BulkDeletion.objects.select_for_update()
            .filter(pk=job.pk, workspace_id=job.workspace_id)
            .first()
        )
        if locked is None or locked.is_active:
            return 0
        failed = BulkDeletionItem.objects.filter(job=locked, state=State.FAILED).update(
            state=State.PENDING,
            attempts=0,
            claimed_by="",
            claimed_at=None,
            finished_at=None,
            family="",
            code="",
            reason="",
            request_id="",
        )
        waiting = BulkDeletionItem.objects.filter(job=locked, state=State.PENDING).count()
        if not waiting:
            return 0
        BulkDeletion.objects.filter(pk=locked.pk).update(
            status=Status.QUEUED,
            failed_count=F("failed_count") - failed,
            finished_at=None,
            stop_code="",
            stop_reason="",
        )
        audit_record(
            action="media.bulk_delete.retry",
            workspace=locked.workspace,
            actor=user,
            request=request,
            target=locked,
            target_label=locked.description,
            detail={"failed_retried": failed, "items": waiting},
        )
        job_id = locked.pk
        transaction.on_commit(lambda: run_task.delay(job_id))
    job.refresh_from_db()
    return waiting


def bulk_deletion_sweep(*, now: datetime | None = None) -> list[int]:
    """Enqueue a runner for every unfinished job nobody is working on (dead or never started).

    Running a job twice is harmless: the lease lets one runner in.
    """
    from media.tasks import bulk_deletion_run as run_task

    now = now or timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    orphaned = list(
        BulkDeletion.objects.filter(status__in=BulkDeletion.ACTIVE_STATUSES)
        .filter(Q(lease_token="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    # One per workspace is enough (they run one at a time), but each run call is cheap.
    for job_id in orphaned:
        run_task.delay(job_id)
    if orphaned:
        log.info("bulk deletion sweep: handed %d job(s) to a runner", len(orphaned))
    return orphaned


def bulk_deletion_recount(*, job: BulkDeletion) -> dict[str, Any]:
    """The counters recomputed from the items (for tests and support): they must match.

    Bytes freed count the files this job deleted, not the ones already gone (404)."""
    rows = (
        BulkDeletionItem.objects.filter(job=job)
        .values("state")
        .annotate(n=Count("id"), b=Sum("size_bytes", filter=~Q(code=ALREADY_GONE_CODE), default=0))
    )
    by_state = {row["state"]: row["n"] for row in rows}
    freed = sum(int(row["b"] or 0) for row in rows if row["state"] == State.DELETED)
    return {"by_state": by_state, "bytes_freed": freed}
