"""Bulk deletion end to end against the sandbox (in-process, real threads, real DELETEs)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from dashboard.models import AuditEvent
from media import tasks
from media.bulk_deletion import (
    bulk_deletion_cancel,
    bulk_deletion_create,
    bulk_deletion_recount,
    bulk_deletion_retry,
    bulk_deletion_run,
    bulk_deletion_sweep,
)
from media.filters import MediaFilter, Selection
from media.library import media_library_sync
from media.models import BulkDeletion, BulkDeletionItem, MediaItem, StorageSnapshot
from sandbox.models import SandboxCall, SandboxMedia
from sandbox.services import api_key_revoke, faults_clear, faults_set
from tests.media.conftest import delete_calls, sandbox_media
from tests.sandbox.conftest import account_make, post_make

pytestmark = pytest.mark.usefixtures("no_sandbox_sleep")


@pytest.fixture
def hold_runs(monkeypatch):
    """Jobs are not run when created: the test runs them itself."""
    queued: list[int] = []
    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", queued.append)
    return queued


def live_upstream(tenant):
    return SandboxMedia.objects.filter(tenant=tenant, deleted_at__isnull=True)


def assert_counters_match_items(job):
    job.refresh_from_db()
    recount = bulk_deletion_recount(job=job)
    assert recount["by_state"].get("deleted", 0) == job.deleted_count
    assert recount["by_state"].get("skipped", 0) == job.skipped_count
    assert recount["by_state"].get("failed", 0) == job.failed_count
    assert recount["bytes_freed"] == job.bytes_freed


def test_deleting_300_of_350_leaves_exactly_the_other_50_upstream(sandbox_ws, tenant, admin):
    doomed = sandbox_media(tenant, 300, size=2000)
    for media in doomed:
        media.filename = f"old-{media.filename}"
    SandboxMedia.objects.bulk_update(doomed, ["filename"])
    kept = sandbox_media(tenant, 50, size=3000, kind="image/png")
    assert media_library_sync(workspace=sandbox_ws)
    assert MediaItem.objects.filter(workspace=sandbox_ws).count() == 350

    job = bulk_deletion_create(
        workspace=sandbox_ws,
        selection=Selection(filter=MediaFilter(q="old-")),
        user=admin,
        expected_count=300,
    )  # enqueued on commit: the eager test worker runs it right here

    job.refresh_from_db()
    assert job.status == BulkDeletion.Status.FINISHED
    assert (job.deleted_count, job.skipped_count, job.failed_count) == (300, 0, 0)
    assert job.bytes_freed == 300 * 2000
    assert set(live_upstream(tenant).values_list("id", flat=True)) == {m.id for m in kept}
    # Every DELETE answered 204 exactly once per media id: nothing sent twice.
    deleted_once = delete_calls(tenant, status=204)
    assert len(deleted_once) == 300 and set(deleted_once.values()) == {1}
    assert not BulkDeletionItem.objects.filter(job=job).exclude(state="deleted").exists()
    # The mirror, the storage figure and the audit log follow.
    assert set(
        MediaItem.objects.filter(workspace=sandbox_ws).values_list("upstream_id", flat=True)
    ) == {str(m.id) for m in kept}
    latest = StorageSnapshot.objects.filter(workspace=sandbox_ws).latest("taken_at")
    assert latest.used_bytes == 50 * 3000 and latest.count == 50
    actions = list(AuditEvent.objects.filter(workspace=sandbox_ws).values_list("action", flat=True))
    assert (
        actions.count("media.bulk_delete.request") == 1
        and actions.count("media.bulk_delete.finish") == 1
    )
    assert_counters_match_items(job)


def test_media_already_gone_upstream_counts_as_deleted(sandbox_ws, tenant, hold_runs):
    media = sandbox_media(tenant, 6)
    media_library_sync(workspace=sandbox_ws)
    SandboxMedia.objects.filter(pk__in=[m.pk for m in media[:2]]).update(deleted_at=timezone.now())
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))

    assert bulk_deletion_run(job_id=job.pk).outcome == "finished"

    job.refresh_from_db()
    assert (job.deleted_count, job.failed_count) == (6, 0)
    gone = BulkDeletionItem.objects.filter(job=job, code="media.not_found")
    assert set(gone.values_list("media_upstream_id", flat=True)) == {str(m.id) for m in media[:2]}
    assert not live_upstream(tenant).exists()
    assert not MediaItem.objects.filter(workspace=sandbox_ws).exists()
    # Only the four this job deleted freed space now.
    assert job.bytes_freed == 4 * 1000
    assert_counters_match_items(job)


def test_media_used_by_a_scheduled_post_is_skipped_with_the_reason(sandbox_ws, tenant, hold_runs):
    media = sandbox_media(tenant, 5)
    post_make(tenant, [account_make(tenant)], media=media[:2])
    media_library_sync(workspace=sandbox_ws)
    # The library sync marks them from the scheduled posts.
    in_use = set(
        MediaItem.objects.filter(workspace=sandbox_ws, in_use=True).values_list(
            "upstream_id", flat=True
        )
    )
    assert in_use == {str(m.id) for m in media[:2]}

    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))
    bulk_deletion_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == BulkDeletion.Status.FINISHED
    assert (job.deleted_count, job.skipped_count, job.failed_count) == (3, 2, 0)
    skipped = list(BulkDeletionItem.objects.filter(job=job, state="skipped"))
    assert {item.media_upstream_id for item in skipped} == {str(m.id) for m in media[:2]}
    for item in skipped:
        assert item.code == "media.in_use"
        assert "scheduled post" in item.reason
        assert item.reason.endswith("SocialAPI said: “Media is attached to a scheduled post”")
        assert item.request_id
    assert set(live_upstream(tenant).values_list("id", flat=True)) == {m.id for m in media[:2]}
    # Still there upstream, so still in the mirror.
    assert MediaItem.objects.filter(workspace=sandbox_ws).count() == 2
    assert_counters_match_items(job)


def test_files_in_use_can_be_left_out_at_creation(sandbox_ws, tenant, hold_runs):
    media = sandbox_media(tenant, 4)
    post_make(tenant, [account_make(tenant)], media=media[:1])
    media_library_sync(workspace=sandbox_ws)

    job = bulk_deletion_create(
        workspace=sandbox_ws,
        selection=Selection(filter=MediaFilter(), leave_out_in_use=True),
        expected_count=3,
    )
    bulk_deletion_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.total_items, job.deleted_count, job.skipped_count) == (3, 3, 0)
    assert str(media[0].id) not in delete_calls(tenant)


def test_injected_server_errors_are_retried(sandbox_ws, tenant, hold_runs, settings):
    media = sandbox_media(tenant, 20)
    media_library_sync(workspace=sandbox_ws)
    faults_set(tenant=tenant, next_5xx=3, scope="DELETE /media")
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))

    bulk_deletion_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.deleted_count, job.failed_count) == (20, 0)
    assert SandboxCall.objects.filter(tenant=tenant, method="DELETE", status=500).count() == 3
    assert set(delete_calls(tenant, status=204).values()) == {1}
    assert len(delete_calls(tenant, status=204)) == len(media)


def test_persistent_server_errors_fail_with_code_and_request_id_then_retry_succeeds(
    sandbox_ws, tenant, hold_runs, admin
):
    sandbox_media(tenant, 3)
    media_library_sync(workspace=sandbox_ws)
    faults_set(tenant=tenant, rate_5xx=1.0, scope="DELETE /media")
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))

    bulk_deletion_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == BulkDeletion.Status.FINISHED
    assert job.failed_count == 3
    for item in BulkDeletionItem.objects.filter(job=job):
        assert item.state == "failed" and item.code == "system.internal" and item.request_id
    # Bounded: each item was tried max_attempts times by the client, no more.
    assert SandboxCall.objects.filter(tenant=tenant, method="DELETE").count() == 3 * 4

    faults_clear(tenant=tenant)
    assert bulk_deletion_retry(job=job, user=admin) == 3
    bulk_deletion_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.deleted_count, job.failed_count) == ("finished", 3, 0)
    assert not live_upstream(tenant).exists()
    assert (
        AuditEvent.objects.filter(action="media.bulk_delete.retry", workspace=sandbox_ws).count()
        == 1
    )
    assert_counters_match_items(job)


def test_a_revoked_api_key_stops_the_job_and_says_why(sandbox_ws, tenant, hold_runs, admin):
    sandbox_media(tenant, 30)
    media_library_sync(workspace=sandbox_ws)
    api_key_revoke(tenant=tenant)
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))

    assert bulk_deletion_run(job_id=job.pk, concurrency=2).outcome == "stopped"

    job.refresh_from_db()
    assert job.status == BulkDeletion.Status.STOPPED
    assert "API key" in job.stop_reason
    assert "SocialAPI said: “Invalid or revoked API key”" in job.stop_reason  # upstream's words
    sent = SandboxCall.objects.filter(tenant=tenant, method="DELETE").count()
    assert sent <= 2  # the calls already in flight when the first refusal came back
    assert BulkDeletionItem.objects.filter(job=job, state="pending").count() == 30 - sent
    # Nothing was deleted: no storage figure is asked for.
    assert not SandboxCall.objects.filter(tenant=tenant, path="/v1/media/storage").exists()
    # A stopped job sends nothing more, even when swept.
    bulk_deletion_sweep()
    assert SandboxCall.objects.filter(tenant=tenant, method="DELETE").count() == sent

    api_key_revoke(tenant=tenant, revoked=False)
    assert bulk_deletion_retry(job=job, user=admin) == 30
    assert bulk_deletion_run(job_id=job.pk).outcome == "finished"
    job.refresh_from_db()
    assert job.deleted_count == 30
    assert not live_upstream(tenant).exists()


def test_a_job_stopped_after_deleting_files_refreshes_the_figure_and_starts_the_next_job(
    sandbox_ws, tenant, hold_runs
):
    media = sandbox_media(tenant, 6)
    media_library_sync(workspace=sandbox_ws)
    first = bulk_deletion_create(
        workspace=sandbox_ws, selection=Selection(filter=MediaFilter(q="file-000"))
    )
    second = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))
    # The first job's earlier run deleted two files; then the key was revoked.
    done = list(BulkDeletionItem.objects.filter(job=first).order_by("id")[:2])
    BulkDeletionItem.objects.filter(pk__in=[i.pk for i in done]).update(
        state="deleted", finished_at=timezone.now()
    )
    BulkDeletion.objects.filter(pk=first.pk).update(deleted_count=2, bytes_freed=2000)
    SandboxMedia.objects.filter(pk__in=[i.media_upstream_id for i in done]).update(
        deleted_at=timezone.now()
    )
    api_key_revoke(tenant=tenant)
    hold_runs.clear()

    assert bulk_deletion_run(job_id=first.pk, concurrency=1).outcome == "stopped"

    first.refresh_from_db()
    assert first.status == BulkDeletion.Status.STOPPED
    # A fresh figure was asked for (refused here, like every call with a revoked key) ...
    assert SandboxCall.objects.filter(tenant=tenant, path="/v1/media/storage").count() == 1
    # ... and the waiting job was handed to a runner.
    assert hold_runs == [second.pk]
    assert len(media) == 6


def test_a_job_cancelled_halfway_stops_sending(sandbox_ws, tenant, hold_runs, admin, monkeypatch):
    from sandbox import faults

    monkeypatch.setattr(faults, "sleep", time.sleep)  # real latency: the job takes a while
    faults_set(tenant=tenant, latency_ms=20, scope="DELETE /media")
    sandbox_media(tenant, 200)
    media_library_sync(workspace=sandbox_ws)
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))

    def run() -> None:
        try:
            bulk_deletion_run(job_id=job.pk, concurrency=4)
        finally:
            connections.close_all()  # this thread's own connection: never left open

    runner = threading.Thread(target=run)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while BulkDeletion.objects.get(pk=job.pk).deleted_count < 40:
            assert time.monotonic() < deadline, "the job never got going"
            time.sleep(0.02)
        assert bulk_deletion_cancel(job=job, user=admin)
        sent_at_cancel = SandboxCall.objects.filter(tenant=tenant, method="DELETE").count()
    finally:
        runner.join(timeout=60)

    job.refresh_from_db()
    assert job.status == BulkDeletion.Status.CANCELLED
    sent = SandboxCall.objects.filter(tenant=tenant, method="DELETE").count()
    # Only the DELETEs already in flight (at most the concurrency) finished after the cancel.
    assert sent - sent_at_cancel <= 4
    assert sent < 200
    assert job.deleted_count == sent
    assert job.skipped_count == 200 - sent
    assert (
        BulkDeletionItem.objects.filter(job=job, code="dashboard.cancelled").count() == 200 - sent
    )
    assert live_upstream(tenant).count() == 200 - sent
    # Nothing more, ever: the sweeper and a stray runner find nothing to do.
    bulk_deletion_sweep()
    assert bulk_deletion_run(job_id=job.pk).outcome == "busy"
    assert SandboxCall.objects.filter(tenant=tenant, method="DELETE").count() == sent
    assert_counters_match_items(job)
    assert AuditEvent.objects.filter(action="media.bulk_delete.cancel").count() == 1


def test_a_dead_runners_items_in_flight_are_sent_again_and_never_deleted_twice(
    sandbox_ws, tenant, hold_runs, settings
):
    media = sandbox_media(tenant, 10)
    media_library_sync(workspace=sandbox_ws)
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))
    # A runner claimed four items and died; its DELETE reached upstream for two of them.
    stale = timezone.now() - timedelta(seconds=settings.BULK_DELETE_LEASE_SECONDS + 5)
    BulkDeletion.objects.filter(pk=job.pk).update(
        status="running", lease_token="dead", heartbeat_at=stale, started_at=stale, runs=1
    )
    claimed = list(BulkDeletionItem.objects.filter(job=job).order_by("id")[:4])
    BulkDeletionItem.objects.filter(pk__in=[i.pk for i in claimed]).update(
        state="in_flight", claimed_by="dead", attempts=1
    )
    reached = [i.media_upstream_id for i in claimed[:2]]
    SandboxMedia.objects.filter(pk__in=reached).update(deleted_at=timezone.now())

    assert bulk_deletion_sweep() == [job.pk]  # hands it to a new runner (here, eagerly)
    bulk_deletion_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "finished" and job.deleted_count == 10 and job.runs == 2
    assert set(delete_calls(tenant, status=204).values()) == {1}
    assert set(delete_calls(tenant, status=404)) == set(reached)
    assert not live_upstream(tenant).exists()
    assert len(media) == 10


def test_a_job_held_by_a_live_runner_is_not_run_twice(sandbox_ws, tenant, hold_runs):
    sandbox_media(tenant, 3)
    media_library_sync(workspace=sandbox_ws)
    job = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))
    BulkDeletion.objects.filter(pk=job.pk).update(
        status="running", lease_token="alive", heartbeat_at=timezone.now()
    )

    assert bulk_deletion_run(job_id=job.pk).outcome == "busy"
    assert bulk_deletion_sweep() == []
    assert not SandboxCall.objects.filter(tenant=tenant, method="DELETE").exists()


def test_jobs_of_one_workspace_run_one_at_a_time(sandbox_ws, tenant, hold_runs):
    sandbox_media(tenant, 4)
    media_library_sync(workspace=sandbox_ws)
    first = bulk_deletion_create(
        workspace=sandbox_ws, selection=Selection(filter=MediaFilter(q="file-0000"))
    )
    second = bulk_deletion_create(workspace=sandbox_ws, selection=Selection(filter=MediaFilter()))
    BulkDeletion.objects.filter(pk=first.pk).update(
        status="running", lease_token="alive", heartbeat_at=timezone.now()
    )

    assert bulk_deletion_run(job_id=second.pk).outcome == "busy"

    BulkDeletion.objects.filter(pk=first.pk).update(lease_token="", heartbeat_at=None)
    hold_runs.clear()
    assert bulk_deletion_run(job_id=first.pk).outcome == "finished"
    assert hold_runs == [second.pk]  # the finished job starts the next one
    assert bulk_deletion_run(job_id=second.pk).outcome == "finished"
    second.refresh_from_db()
    assert second.deleted_count + second.skipped_count + second.failed_count == second.total_items
