"""The two-step bulk delete (select → confirm page → confirm → job) and the job pages."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import AuditEvent
from media import tasks
from media.bulk_deletion import bulk_deletion_create
from media.filters import MediaFilter, Selection
from media.models import BulkDeletion, BulkDeletionItem, MediaItem, StorageSnapshot
from tests.dashboard.test_exports import HOSTILE, formula_cells
from tests.media.conftest import MB

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", sent.append)
    return sent


def delete_url(workspace):
    return reverse("media:delete", args=[workspace.slug])


def test_step_one_shows_count_bytes_and_changes_nothing(as_admin, workspace, make_media, enqueued):
    items = make_media(3, size=2 * MB)
    response = as_admin.post(
        delete_url(workspace), {"scope": "ids", "media_ids": [i.pk for i in items]}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Delete 3 files?" in html and "6 MB" in html and "3 files picked by hand" in html
    assert not BulkDeletion.objects.exists() and enqueued == []
    assert 'name="confirm" value="all"' in html and 'name="expected_count" value="3"' in html


def test_confirming_creates_the_job_and_redirects_to_its_progress(
    as_admin, workspace, make_media, enqueued, django_capture_on_commit_callbacks
):
    items = make_media(3, size=2 * MB)
    data = {
        "scope": "ids",
        "media_ids": [i.pk for i in items],
        "confirm": "all",
        "expected_count": "3",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(delete_url(workspace), data)
    job = BulkDeletion.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "media:job", args=[workspace.slug, job.pk]
    )
    assert (job.total_items, job.total_bytes, job.status) == (3, 6 * MB, "queued")
    assert enqueued == [job.pk]  # after commit
    assert (
        AuditEvent.objects.filter(action="media.bulk_delete.request", workspace=workspace).count()
        == 1
    )
    assert "Deleting 3 files (6 MB)" in as_admin.get(response.url).content.decode()


def test_select_all_matching_stores_the_filter_not_ids(as_admin, workspace, make_media, enqueued):
    make_media(70, content_type="image/png", age_days=40)
    make_media(5, content_type="image/png", age_days=1)
    make_media(5, content_type="video/mp4", age_days=40)
    filters = {"scope": "all", "type": "image", "older_than": "30"}
    confirm = as_admin.post(delete_url(workspace), filters).content.decode()
    assert "Delete 70 files?" in confirm and "All 70 images older than 30 days" in confirm
    assert '<input type="hidden" name="type" value="image">' in confirm
    as_admin.post(delete_url(workspace), {**filters, "confirm": "all", "expected_count": "70"})
    job = BulkDeletion.objects.get()
    assert job.selection == {
        "leave_out_in_use": False,
        "filter": {"type": "image", "older_than_days": 30, "q": "", "usage": ""},
    }
    assert job.total_items == 70 == BulkDeletionItem.objects.filter(job=job).count()


def test_the_confirm_step_warns_about_files_used_by_scheduled_posts(
    as_admin, workspace, make_media, enqueued
):
    make_media(4, in_use=False)
    make_media(2, in_use=True, prefix="busy")
    html = as_admin.post(delete_url(workspace), {"scope": "all"}).content.decode()
    assert "2 of these files are attached to scheduled posts" in html
    assert 'value="without_in_use">Delete 4 files, leaving out the 2 in use' in html
    as_admin.post(
        delete_url(workspace),
        {
            "scope": "all",
            "confirm": "without_in_use",
            "expected_count": "6",
            "expected_without_in_use": "4",
        },
    )
    job = BulkDeletion.objects.get()
    assert job.total_items == 4
    assert not BulkDeletionItem.objects.filter(
        job=job, media_upstream_id__startswith="busy"
    ).exists()


def test_the_confirm_step_warns_about_files_already_in_a_running_deletion(
    as_admin, workspace, make_media, enqueued
):
    make_media(5)
    bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter(q="file")))
    make_media(2, prefix="new")
    html = as_admin.post(delete_url(workspace), {"scope": "all"}).content.decode()
    assert "5 of these files are already in a running deletion." in html
    html = as_admin.post(delete_url(workspace), {"scope": "all", "q": "file"}).content.decode()
    assert "All 5 files are already in a running deletion." in html
    # Once that deletion has ended, nothing to say.
    BulkDeletion.objects.update(status="finished")
    html = as_admin.post(delete_url(workspace), {"scope": "all"}).content.decode()
    assert "already in a running deletion" not in html


def test_a_selection_that_changed_since_the_confirm_page_is_shown_again(
    as_admin, workspace, make_media, enqueued
):
    make_media(5)
    response = as_admin.post(
        delete_url(workspace), {"scope": "all", "confirm": "all", "expected_count": "4"}
    )
    assert response.status_code == 409
    assert (
        "The selection changed" in response.content.decode()
        and "now holds 5 files" in response.content.decode()
    )
    assert not BulkDeletion.objects.exists()


def test_a_big_selection_is_written_in_chunks_largest_first(
    workspace, make_media, enqueued, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from media import bulk_deletion

    monkeypatch.setattr(bulk_deletion, "CREATE_CHUNK", 7)
    items = make_media(23)
    for index, item in enumerate(items):
        item.size_bytes = (index % 4 + 1) * 1000  # ties: order within a size by id
    MediaItem.objects.bulk_update(items, ["size_bytes"])
    with CaptureQueriesContext(connection) as queries:
        job = bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter()))
    expected = [i.upstream_id for i in sorted(items, key=lambda i: (-i.size_bytes, i.pk))]
    written = BulkDeletionItem.objects.filter(job=job).order_by("id")
    assert list(written.values_list("media_upstream_id", flat=True)) == expected
    assert (job.total_items, job.total_bytes) == (23, sum(i.size_bytes for i in items))
    # The files are read a chunk at a time (4 pages of at most 7), never all at once.
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"media_mediaitem"."upstream_id"' in q["sql"]
    ]
    assert len(reads) == 4 and all("LIMIT 7" in sql for sql in reads)


def test_a_selection_over_the_limit_is_refused_before_anything_is_written(
    workspace, make_media, enqueued, monkeypatch
):
    from media import bulk_deletion

    assert bulk_deletion.MAX_ITEMS >= 200_000  # "select all" on a 200,000-file library
    monkeypatch.setattr(bulk_deletion, "MAX_ITEMS", 10)
    make_media(11)
    with pytest.raises(bulk_deletion.SelectionError, match="at most 10 files"):
        bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter()))
    assert not BulkDeletion.objects.exists() and not BulkDeletionItem.objects.exists()


def test_ids_of_another_workspace_are_never_selected(
    as_admin, workspace, other_workspace, make_media, enqueued
):
    mine = make_media(1)[0]
    theirs = make_media(2, ws=other_workspace, prefix="theirs")
    data = {"scope": "ids", "media_ids": [mine.pk, *[t.pk for t in theirs]]}
    assert "Delete 1 file?" in as_admin.post(delete_url(workspace), data).content.decode()
    as_admin.post(delete_url(workspace), {**data, "confirm": "all", "expected_count": "1"})
    assert list(BulkDeletionItem.objects.values_list("media_upstream_id", flat=True)) == [
        mine.upstream_id
    ]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"scope": "ids"},
        {"scope": "everything"},
        {"scope": "ids", "media_ids": ["1; DROP TABLE"]},
        {"scope": "ids", "media_ids": [str(n) for n in range(1, 600)]},
        {"scope": "all", "older_than": "-1"},
        {"scope": "all", "type": "../../etc"},
        {"scope": "all", "confirm": "all"},
        {"scope": "all", "confirm": "maybe", "expected_count": "1"},
    ],
)
def test_bad_input_deletes_nothing_and_says_so(as_admin, workspace, make_media, enqueued, data):
    make_media(3)
    response = as_admin.post(delete_url(workspace), data)
    assert response.status_code == 302
    assert not BulkDeletion.objects.exists()
    page = as_admin.get(response.url).content.decode()
    assert "Nothing was deleted" in page


def test_an_empty_selection_creates_no_job(as_admin, workspace, enqueued):
    response = as_admin.post(
        delete_url(workspace), {"scope": "all", "confirm": "all", "expected_count": "0"}
    )
    assert response.status_code == 302
    assert not BulkDeletion.objects.exists()


def test_only_admins_may_delete(
    as_member, as_support, as_outsider, workspace, make_media, enqueued
):
    items = make_media(2)
    data = {
        "scope": "ids",
        "media_ids": [i.pk for i in items],
        "confirm": "all",
        "expected_count": "2",
    }
    assert as_member.post(delete_url(workspace), data).status_code == 403
    assert as_support.post(delete_url(workspace), data).status_code == 403
    assert as_outsider.post(delete_url(workspace), data).status_code == 404
    assert as_member.get(delete_url(workspace)).status_code == 405  # never on GET
    assert not BulkDeletion.objects.exists() and MediaItem.objects.count() == 2


def make_job(workspace, make_media, n=4):
    make_media(n)
    return bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter()))


def test_the_job_page_shows_counts_bytes_and_problems(as_member, workspace, make_media, enqueued):
    job = make_job(workspace, make_media)
    items = list(BulkDeletionItem.objects.filter(job=job).order_by("id"))
    BulkDeletionItem.objects.filter(pk=items[0].pk).update(
        state="deleted", finished_at=timezone.now()
    )
    BulkDeletionItem.objects.filter(pk=items[1].pk).update(
        state="skipped",
        family="conflict",
        code="media.in_use",
        reason="Used by a post.",
        request_id="req_9",
        finished_at=timezone.now(),
    )
    BulkDeletion.objects.filter(pk=job.pk).update(
        status="running",
        deleted_count=1,
        skipped_count=1,
        bytes_freed=1000,
        started_at=timezone.now(),
    )
    html = as_member.get(reverse("media:job", args=[workspace.slug, job.pk])).content.decode()
    assert "2</strong> of 4 files done (50%)" in html
    assert "Used by a post." in html and "req_9" in html and "Remove it from the post" in html
    assert 'aria-valuenow="2"' in html
    assert "Cancel deletion" not in html  # a member sees no buttons


def test_cancel_and_retry_are_for_admins_and_audited(
    as_admin, as_member, workspace, make_media, enqueued
):
    job = make_job(workspace, make_media)
    cancel = reverse("media:job_cancel", args=[workspace.slug, job.pk])
    assert as_member.post(cancel).status_code == 403
    assert (
        "Cancel deletion"
        in as_admin.get(reverse("media:job", args=[workspace.slug, job.pk])).content.decode()
    )
    response = as_admin.post(cancel)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled" and job.skipped_count == 4
    assert AuditEvent.objects.filter(action="media.bulk_delete.cancel").count() == 1
    assert AuditEvent.objects.filter(action="media.bulk_delete.finish").count() == 1
    # Cancelling twice is harmless.
    as_admin.post(cancel)
    assert AuditEvent.objects.filter(action="media.bulk_delete.cancel").count() == 1


def test_retry_sends_the_failed_items_again(
    as_admin, workspace, make_media, enqueued, django_capture_on_commit_callbacks
):
    job = make_job(workspace, make_media)
    BulkDeletionItem.objects.filter(job=job).update(
        state="failed", code="system.internal", finished_at=timezone.now()
    )
    BulkDeletion.objects.filter(pk=job.pk).update(
        status="finished", failed_count=4, finished_at=timezone.now()
    )
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(reverse("media:job_retry", args=[workspace.slug, job.pk]))
    job.refresh_from_db()
    assert (job.status, job.failed_count) == ("queued", 0)
    assert BulkDeletionItem.objects.filter(job=job, state="pending").count() == 4
    assert enqueued == [job.pk]


def test_the_progress_poll_ends_with_an_event_for_the_gauge(
    as_member, workspace, make_media, enqueued
):
    job = make_job(workspace, make_media)
    url = reverse("media:job", args=[workspace.slug, job.pk])
    running = as_member.get(url, HTTP_HX_REQUEST="true")
    assert b"every 2s" in running.content and "HX-Trigger" not in running.headers
    BulkDeletion.objects.filter(pk=job.pk).update(
        status="finished", deleted_count=4, finished_at=timezone.now()
    )
    done = as_member.get(url, HTTP_HX_REQUEST="true")
    assert b"every 2s" not in done.content
    assert "storage-changed" in done.headers["HX-Trigger"]


def test_a_finished_job_sums_up_what_it_freed_and_the_storage_figure_now(
    as_member, workspace, make_media, enqueued
):
    job = make_job(workspace, make_media)
    BulkDeletion.objects.filter(pk=job.pk).update(
        status="finished",
        deleted_count=4,
        bytes_freed=70 * 1024 * 1024,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    StorageSnapshot.objects.create(
        workspace=workspace, used_bytes=20 * 1024 * 1024, limit_bytes=100 * 1024 * 1024
    )
    html = as_member.get(reverse("media:job", args=[workspace.slug, job.pk])).content.decode()
    summary = re.search(r'<p class="job-summary" role="status">(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub("<[^>]+>", "", summary)).strip() == (
        "Freed 70 MB — storage now 20&nbsp;% (20 MB of 100 MB)."
    )


def test_a_cancelled_job_looks_cancelled_not_done(
    as_admin, workspace, make_media, enqueued, django_capture_on_commit_callbacks
):
    job = make_job(workspace, make_media)
    first = BulkDeletionItem.objects.filter(job=job).order_by("id").first()
    BulkDeletionItem.objects.filter(pk=first.pk).update(state="deleted", finished_at=timezone.now())
    BulkDeletion.objects.filter(pk=job.pk).update(
        deleted_count=1, bytes_freed=1000, started_at=timezone.now()
    )
    url = reverse("media:job", args=[workspace.slug, job.pk])
    # The page was opened while it ran (with its "Deleting…" message), then cancelled.
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(reverse("media:job_cancel", args=[workspace.slug, job.pk]))
    page = as_admin.get(response.url).content.decode()
    assert "Cancelled." in page and "Cancelling:" not in page
    poll = as_admin.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "of 4 files done (100%)" not in poll  # it did not do them: it stopped
    assert "<strong>1</strong> of 4 files deleted before the cancel; 3 not sent" in poll
    assert "<strong>Cancelled</strong> after deleting 1 of 4 files" in poll
    assert "3 files were not sent." in poll
    assert "Not sent: the deletion was cancelled." not in poll  # not listed as problems
    assert 'badge badge-warn">Cancelled<' in poll
    # The flash messages of the run ("Deleting…", "Cancelling…") go once it has ended.
    cleared = re.search(r'<div id="messages"[^>]*hx-swap-oob="true"></div>', poll)
    assert cleared


def test_problems_download_as_csv_safe_for_spreadsheets(as_member, workspace, make_media, enqueued):
    job = make_job(workspace, make_media, n=2)
    BulkDeletionItem.objects.filter(job=job).update(
        state="failed",
        filename="=HYPERLINK(evil)",
        reason="boom",
        request_id="r1",
        finished_at=timezone.now(),
    )
    response = as_member.get(reverse("media:job_problems_csv", args=[workspace.slug, job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["media_id", "filename"] and len(rows) == 3
    assert rows[1][1] == "'=HYPERLINK(evil)"


def test_jobs_of_other_workspaces_are_not_found(
    as_outsider, as_admin, workspace, other_workspace, make_media, enqueued
):
    job = make_job(workspace, make_media)
    for name in ("media:job", "media:job_problems_csv"):
        assert (
            as_outsider.get(reverse(name, args=[other_workspace.slug, job.pk])).status_code == 404
        )
        assert as_outsider.get(reverse(name, args=[workspace.slug, job.pk])).status_code == 404
    # Even an admin of this workspace cannot reach it through another workspace's URL.
    assert (
        as_admin.get(reverse("media:job", args=[other_workspace.slug, job.pk])).status_code == 404
    )


def test_every_url_refuses_anonymous_and_outsiders(
    client, as_outsider, workspace, make_media, enqueued
):
    job = make_job(workspace, make_media)
    gets = ["media:storage", "media:library", "media:jobs"]
    for name in gets:
        url = reverse(name, args=[workspace.slug])
        assert client.get(url).status_code == 302
        assert as_outsider.get(url).status_code == 404
    posts = [
        reverse("media:refresh", args=[workspace.slug]),
        reverse("media:library_sync", args=[workspace.slug]),
        delete_url(workspace),
        reverse("media:job_cancel", args=[workspace.slug, job.pk]),
        reverse("media:job_retry", args=[workspace.slug, job.pk]),
    ]
    for url in posts:
        assert client.post(url).status_code == 302
        assert as_outsider.post(url).status_code == 404
    job.refresh_from_db()
    assert job.status == "queued"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_column_of_the_problems_csv_opens_as_a_formula(
    as_member, workspace, make_media, enqueued, hostile
):
    job = make_job(workspace, make_media, n=1)
    BulkDeletionItem.objects.filter(job=job).update(
        media_upstream_id=hostile[:100],
        filename=hostile,
        state="failed",
        code=hostile[:100],
        reason=hostile,
        request_id=hostile[:64],
        finished_at=timezone.now(),
    )
    response = as_member.get(reverse("media:job_problems_csv", args=[workspace.slug, job.pk]))
    text = response.content.decode()
    assert formula_cells(text) == []
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2 and rows[1][3] == "failed"
