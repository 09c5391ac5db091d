"""The runner: works through one bulk deletion with bounded concurrency, resumably.

SocialAPI has no bulk delete, so a job sends one `DELETE /v1/media/{id}` per item. The
rows are the source of truth, so a runner can be killed at any line:

- A runner holds the job's lease (token + heartbeat). Only one runner works a job, and
  only one job per workspace runs at a time; the sweeper hands a job whose heartbeat
  went stale to a new runner.
- Each item is claimed before its DELETE and recorded after it, guarded by the runner's
  token. An in_flight item whose runner died is sent again by the next runner: a DELETE
  that already happened answers 404, which counts as deleted, so nothing is ever
  deleted twice and nothing is lost.
- A final item is never claimed again (except by an explicit "retry failed"), and a job
  that is no longer active has nothing to claim: it sends no further calls.
- Each sending thread checks that the job still runs under its runner's lease right
  before its DELETE, so a cancel stops new DELETEs at once; only the ones already on the
  wire complete.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dashboard.audit import audit_record
from dashboard.crypto import SECRETS_UNREADABLE, SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured, upstream
from events.fixes import fix_for
from media.deletion_lease import lease_acquire, lease_seconds, lease_step
from media.deletion_senders import Claimed, Outcome, Senders
from media.library import media_library_summarise
from media.models import CANCELLED_CODE, BulkDeletion, BulkDeletionItem
from media.storage import storage_snapshot_take
from socialapi import SocialAPIError

log = logging.getLogger(__name__)

Status = BulkDeletion.Status
State = BulkDeletionItem.State

# A runner hands the job back and re-enqueues itself after this long, well inside the
# Celery time limit, so a 200,000-item job never hits it.
SLICE_SECONDS = 300


@dataclass
class RunResult:
    """What one runner did (for logs and tests)."""

    outcome: str  # busy | lease_lost | sliced | finished | cancelled | stopped
    sent: int = 0


def bulk_deletion_run(
    *,
    job_id: int,
    concurrency: int | None = None,
    slice_seconds: float | None = None,
) -> RunResult:
    """Work through a job until it is done, cancelled, stopped or its time slice ends.

    The runner thread does all the bookkeeping, in one short transaction per step;
    `concurrency` threads do nothing but send DELETEs, fed from a small queue of claimed
    items so they never wait for the database.
    """
    token = secrets.token_hex(16)
    job, orphans = lease_acquire(job_id, token, timezone.now())
    if job is None:
        return RunResult("busy")
    workspace = Workspace.objects.get(pk=job.workspace_id)
    try:
        client = upstream(workspace)
    except WorkspaceNotConfigured:
        fix = fix_for(family="api_key", code="auth.missing_header")
        return _stop(
            job, token, "auth.missing_header", f"This workspace has no API key. {fix.action}"
        )
    except SecretDecryptionError:
        # Pending items are kept: Retry resumes the job once the key can be read again.
        return _stop(job, token, "secrets_unreadable", SECRETS_UNREADABLE)
    size = max(1, concurrency or int(settings.BULK_DELETE_CONCURRENCY))
    queue_depth = 2 * size  # on the wire + waiting for a free thread
    batch = max(1, size // 2)  # outcomes recorded together
    deadline = time.monotonic() + (slice_seconds if slice_seconds is not None else SLICE_SECONDS)
    beat_every = max(0.2, lease_seconds() / 3)
    last_write = time.monotonic()

    def still_ours() -> bool:
        return BulkDeletion.objects.filter(
            pk=job_id, lease_token=token, status=Status.RUNNING
        ).exists()

    senders = Senders(client, size, still_ours)
    outstanding: dict[int, Claimed] = {}
    unrecorded: list[Outcome] = []
    stop: Outcome | None = None
    status: str | None = job.status
    exhausted = False  # nothing pending is left to claim
    sent = 0
    try:
        for item in orphans:
            outstanding[item.id] = item
            senders.submit(item)
        while True:
            now = time.monotonic()
            # Keep sending while the job runs under this lease, nothing refused us and
            # the time slice lasts; otherwise queued items come back unsent.
            if status != Status.RUNNING or stop is not None or now >= deadline:
                senders.halt.set()
            claiming = not senders.halt.is_set() and not exhausted
            if outstanding:
                flush_at = last_write + (0.25 if unrecorded else beat_every)
                for outcome in senders.take(timeout=flush_at - now):
                    outstanding.pop(outcome.item.id, None)
                    unrecorded.append(outcome)
                    sent += outcome.state != State.PENDING
                    if outcome.stops_job and stop is None:
                        stop = outcome
                        claiming = False
            # Refill once the queue ran low, in one go; record outcomes in batches; renew
            # the lease at least every `beat_every` even when nothing happens.
            want = queue_depth - len(outstanding) if claiming and len(outstanding) <= size else 0
            since = time.monotonic() - last_write
            due = len(unrecorded) >= batch or (unrecorded and since >= 0.25) or since >= beat_every
            if want or due or (unrecorded and not outstanding):
                status, claimed = lease_step(job, token, unrecorded, want)
                unrecorded = []
                last_write = time.monotonic()
                if status is None:
                    senders.halt.set()
                    log.warning("bulk deletion %s: lease lost, another runner has it", job.pk)
                    return RunResult("lease_lost", sent)
                for item in claimed:
                    outstanding[item.id] = item
                    senders.submit(item)
                if want and not claimed and status == Status.RUNNING:
                    exhausted = True
            if not outstanding and not unrecorded and not claiming:
                break
    finally:
        senders.close(wait=None if not outstanding else 0.1)
    if stop is not None:
        fix = fix_for(family=stop.family, code=stop.code)
        # stop.reason: our meaning with upstream's own message beside it.
        reason = f"{fix.title}: {stop.reason or fix.meaning} {fix.action}"
        if stop.request_id:
            reason += f" (request id {stop.request_id})"
        result = _stop(job, token, stop.code, reason)
        result.sent = sent
        return result
    if status == Status.CANCELLING:
        return RunResult(_end(job, token, Status.CANCELLED), sent)
    if BulkDeletionItem.objects.filter(
        job=job, state__in=[State.PENDING, State.IN_FLIGHT]
    ).exists():
        _release(job, token)
        return RunResult("sliced", sent)
    return RunResult(_end(job, token, Status.FINISHED), sent)


def _release(job: BulkDeletion, token: str) -> None:
    """Hand the job back (time slice over) and enqueue the next runner."""
    from media.tasks import bulk_deletion_run as run_task

    with transaction.atomic():
        if BulkDeletion.objects.filter(pk=job.pk, lease_token=token).update(
            lease_token="", heartbeat_at=None
        ):
            job_id = job.pk
            transaction.on_commit(lambda: run_task.delay(job_id))


def _stop(job: BulkDeletion, token: str, code: str, reason: str) -> RunResult:
    """Upstream refuses every call (API key, billing): stop, keep pending items for a resume.

    Like a job that ends: the figures are refreshed when files were deleted, and the
    workspace's next waiting job starts (it says why if it is refused too).
    """
    with transaction.atomic():
        stopped = BulkDeletion.objects.filter(
            pk=job.pk, lease_token=token, status__in=BulkDeletion.ACTIVE_STATUSES
        ).update(
            status=Status.STOPPED,
            stop_code=code[:100],
            stop_reason=reason,
            finished_at=timezone.now(),
            lease_token="",
            heartbeat_at=None,
        )
        if stopped:
            job.refresh_from_db()
            job_finish_audit(job)
            next_job_start(job.workspace_id)
    workspace = Workspace.objects.get(pk=job.workspace_id)
    media_library_summarise(workspace=workspace)
    if stopped and job.deleted_count:
        _snapshot_after(job, workspace)
    return RunResult("stopped")


def _snapshot_after(job: BulkDeletion, workspace: Workspace) -> None:
    """A fresh storage figure once a job deleted files (a failure is recorded by the hook)."""
    try:
        storage_snapshot_take(workspace=workspace, source="bulk_deletion")
    except (SocialAPIError, WorkspaceNotConfigured, SecretDecryptionError) as exc:
        log.info("bulk deletion %s: storage snapshot failed: %s", job.pk, exc)


def _end(job: BulkDeletion, token: str, final: str) -> str:
    """The last steps: skip what a cancel left, refresh the figures, close and audit."""
    now = timezone.now()
    workspace = Workspace.objects.get(pk=job.workspace_id)
    if final == Status.CANCELLED:
        with transaction.atomic():
            skipped = BulkDeletionItem.objects.filter(job=job, state=State.PENDING).update(
                state=State.SKIPPED,
                family="",
                code=CANCELLED_CODE,
                reason="Not sent: the deletion was cancelled.",
                finished_at=now,
            )
            BulkDeletion.objects.filter(pk=job.pk).update(
                skipped_count=F("skipped_count") + skipped
            )
    media_library_summarise(workspace=workspace)
    job.refresh_from_db()
    if job.deleted_count:
        _snapshot_after(job, workspace)
    with transaction.atomic():
        ended = BulkDeletion.objects.filter(
            pk=job.pk, lease_token=token, status__in=BulkDeletion.ACTIVE_STATUSES
        ).update(status=final, finished_at=timezone.now(), lease_token="", heartbeat_at=None)
        if ended:
            job.refresh_from_db()
            job_finish_audit(job)
            next_job_start(job.workspace_id)
    return str(final)


def job_finish_audit(job: BulkDeletion) -> None:
    audit_record(
        action="media.bulk_delete.finish",
        workspace=job.workspace,
        actor_label="system",
        target=job,
        target_label=job.description,
        detail={
            "status": job.status,
            "deleted": job.deleted_count,
            "skipped": job.skipped_count,
            "failed": job.failed_count,
            "bytes_freed": job.bytes_freed,
            "stop_code": job.stop_code,
        },
    )


def next_job_start(workspace_id: int) -> None:
    """Start the workspace's next waiting job (jobs of one workspace run one at a time)."""
    from media.tasks import bulk_deletion_run as run_task

    waiting = (
        BulkDeletion.objects.filter(
            workspace_id=workspace_id, status__in=BulkDeletion.ACTIVE_STATUSES, lease_token=""
        )
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        transaction.on_commit(lambda: run_task.delay(waiting))
