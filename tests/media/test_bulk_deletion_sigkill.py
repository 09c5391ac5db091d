"""THE reliability test: a real Celery worker is SIGKILLed mid-job, another one finishes it.

The sandbox is served over real HTTP by `live_server` with added latency, so the job is
slow enough to kill half way. The proof is the sandbox's own call log: every media id was
answered 204 at most once, and every item of the job ends in a final state.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings

from media import tasks
from media.bulk_deletion import bulk_deletion_create, bulk_deletion_recount
from media.filters import MediaFilter, Selection
from media.library import media_library_sync
from media.models import BulkDeletion, BulkDeletionItem
from sandbox.models import SandboxMedia
from sandbox.services import faults_set, sandbox_tenant_create
from tests.media.conftest import delete_calls, sandbox_media
from tests.workers import wait_for

ITEMS = 240


def _filesystem_broker_folders() -> None:
    """Locally the broker is kombu's filesystem transport: its folders must exist."""
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if isinstance(folder, str):
            Path(folder).mkdir(parents=True, exist_ok=True)


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_a_job_survives_sigkill_of_its_worker(
    celery_worker_process, live_server, workspace, monkeypatch
):
    tenant = sandbox_tenant_create(name="Killed Worker Co")
    workspace.base_url = f"{live_server.url}/sandbox/v1"
    workspace.api_key = tenant.api_key
    workspace.save()
    sandbox_media(tenant, ITEMS, size=1000)
    assert media_library_sync(workspace=workspace)
    # Slow DELETEs: 100 ms each, 4 at a time -> about 6 s for the whole job.
    faults_set(tenant=tenant, latency_ms=100, scope="DELETE /media")
    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", lambda job_id: None)  # the worker runs it
    job = bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter()))

    _filesystem_broker_folders()
    worker = celery_worker_process
    worker.extra_env = {"BULK_DELETE_LEASE_SECONDS": "2", "BULK_DELETE_CONCURRENCY": "4"}
    worker.start()
    worker.enqueue(tasks.bulk_deletion_run, job.pk)

    def deleted() -> int:
        return BulkDeletion.objects.get(pk=job.pk).deleted_count

    wait_for(
        lambda: deleted() >= ITEMS // 4,
        timeout=90,
        message=lambda: "the first worker to delete a quarter\n" + worker.log()[-3000:],
    )
    worker.kill()  # SIGKILL, mid-job: no cleanup, DELETEs possibly in flight
    killed_at = deleted()
    assert killed_at < ITEMS, "the job finished before the kill: make it slower"
    job.refresh_from_db()
    assert job.status == BulkDeletion.Status.RUNNING and job.lease_token  # the dead runner's lease

    time.sleep(2.5)  # the lease goes stale
    worker.start()  # another worker on the same queue
    worker.enqueue(tasks.bulk_deletion_sweep)
    wait_for(
        lambda: BulkDeletion.objects.get(pk=job.pk).status == BulkDeletion.Status.FINISHED,
        timeout=120,
        message=lambda: "the second worker to finish the job\n" + worker.log()[-3000:],
    )

    job.refresh_from_db()
    assert job.runs >= 2
    assert (
        not BulkDeletionItem.objects.filter(job=job)
        .exclude(state__in=["deleted", "skipped", "failed"])
        .exists()
    )
    assert job.deleted_count == ITEMS and job.failed_count == 0 and job.skipped_count == 0
    assert bulk_deletion_recount(job=job)["by_state"] == {"deleted": ITEMS}
    # Never deleted twice: each media id was answered 204 at most once...
    answered_204 = delete_calls(tenant, status=204)
    assert max(answered_204.values()) == 1
    # ...and every one of them is gone upstream, deleted exactly once (or found gone: 404).
    assert not SandboxMedia.objects.filter(tenant=tenant, deleted_at__isnull=True).exists()
    assert len(answered_204) == ITEMS
    # Any extra DELETE was the new runner re-sending the dead one's items in flight, which
    # upstream answered 404 (already deleted): counted as deleted, never deleted twice.
    answered_404 = delete_calls(tenant, status=404)
    assert sum(delete_calls(tenant).values()) == ITEMS + sum(answered_404.values())
    assert all(media_id in answered_204 for media_id in answered_404)
