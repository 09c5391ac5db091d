"""Query counts of the storage pages: constant however many rows, and pinned.

Every workspace page pays 4 queries to get in (session, user, workspace, membership) and
full pages 1 for the workspace switcher. Banners belong to events/ and are stubbed in
the pinned tests so these numbers only move when media/ changes; the last test checks
the real total, banners included, against the ≤ 10 budget.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from media import tasks
from media.bulk_deletion import bulk_deletion_create
from media.filters import MediaFilter, Selection
from media.library import media_library_summarise
from media.models import BulkDeletion, BulkDeletionItem
from media.selectors import bulk_deletion_get, bulk_deletion_problems, bulk_deletion_progress
from tests.media.conftest import MB

pytestmark = pytest.mark.django_db

ACCESS = 2  # user, membership joined with its workspace (the session comes from the cache)
SWITCHER = 1  # the workspace switcher in the sidebar


@pytest.fixture
def no_banners(monkeypatch):
    """No banner query: the pages then read the storage figure themselves."""
    from events.banners import BannerView

    monkeypatch.setattr(
        "events.banners.banners_view",
        lambda **kwargs: BannerView(inputs=None, visible=[], hidden=[]),
    )


@pytest.fixture
def held_jobs(monkeypatch):
    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", lambda job_id: None)


def fill(workspace, make_media, make_snapshot, rows, problems=0):
    make_media(rows, size=MB)
    for day in range(min(rows, 30)):
        make_snapshot((10 + day) * MB, at=timezone.now() - timedelta(days=day, hours=1))
    media_library_summarise(workspace=workspace)
    job = None
    for _ in range(min(rows, 5)):
        job = bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter()))
    assert job is not None
    items = list(BulkDeletionItem.objects.filter(job=job)[:problems])
    BulkDeletionItem.objects.filter(pk__in=[i.pk for i in items]).update(
        state="failed",
        code="system.internal",
        reason="SocialAPI failed",
        finished_at=timezone.now(),
    )
    BulkDeletion.objects.filter(pk=job.pk).update(
        failed_count=len(items), status="running", started_at=timezone.now()
    )
    return job


def count_queries(client, url, django_assert_max_num_queries, **headers):
    client.get(url, **headers)  # warm up: the first visit stores the workspace in the session
    with django_assert_max_num_queries(50) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.usefixtures("no_banners", "held_jobs")
@pytest.mark.parametrize(
    ("name", "mine"),
    [
        # latest figure, hourly trend, the last day's figures, library summary, recent jobs
        ("media:storage", 5),
        ("media:library", 4),  # latest figure, library summary, count, one page
        ("media:jobs", 2),  # count, one page
    ],
)
def test_pages_cost_the_same_for_1_row_and_for_many(
    as_admin, workspace, make_media, make_snapshot, django_assert_max_num_queries, name, mine
):
    fill(workspace, make_media, make_snapshot, rows=1)
    url = reverse(name, args=[workspace.slug])
    few = count_queries(as_admin, url, django_assert_max_num_queries)
    fill(workspace, make_media, make_snapshot, rows=120)
    many = count_queries(as_admin, url, django_assert_max_num_queries)
    assert few == many == ACCESS + SWITCHER + mine


@pytest.mark.usefixtures("no_banners", "held_jobs")
def test_the_job_page_costs_the_same_with_1_problem_or_many(
    as_admin, workspace, make_media, make_snapshot, django_assert_num_queries
):
    job = fill(workspace, make_media, make_snapshot, rows=60, problems=1)
    url = reverse("media:job", args=[workspace.slug, job.pk])
    as_admin.get(url)
    with django_assert_num_queries(ACCESS + SWITCHER + 2):  # the job, its latest problems
        assert b"Skipped and failed" in as_admin.get(url).content
    BulkDeletionItem.objects.filter(job=job).update(
        state="failed", reason="x", finished_at=timezone.now()
    )
    with django_assert_num_queries(ACCESS + SWITCHER + 2):
        assert as_admin.get(url).status_code == 200


@pytest.mark.usefixtures("held_jobs")
def test_the_progress_poll_costs_two_queries_beyond_getting_in(
    as_admin, workspace, make_media, make_snapshot, django_assert_num_queries
):
    job = fill(workspace, make_media, make_snapshot, rows=80, problems=40)
    url = reverse("media:job", args=[workspace.slug, job.pk])
    as_admin.get(url)
    with django_assert_num_queries(ACCESS + 2):
        response = as_admin.get(
            url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"job-{job.pk}-progress"
        )
    assert response.status_code == 200
    assert b'hx-trigger="every 2s"' in response.content and b"<html" not in response.content
    # The poll's own reads, on their own: the job row and the latest problems.
    with django_assert_num_queries(2):
        polled = bulk_deletion_get(workspace=workspace, job_id=job.pk)
        bulk_deletion_progress(job=polled)
        assert len(bulk_deletion_problems(job=polled)) == 20


@pytest.mark.usefixtures("held_jobs")
def test_the_progress_poll_of_a_job_without_problems_costs_one(
    as_admin, workspace, make_media, make_snapshot, django_assert_num_queries
):
    job = fill(workspace, make_media, make_snapshot, rows=10)
    url = reverse("media:job", args=[workspace.slug, job.pk])
    as_admin.get(url)
    with django_assert_num_queries(ACCESS + 1):
        as_admin.get(url, HTTP_HX_REQUEST="true")


@pytest.mark.usefixtures("held_jobs")
@pytest.mark.parametrize("name", ["media:storage", "media:library", "media:jobs"])
def test_every_storage_page_stays_within_ten_queries_banners_included(
    as_admin, workspace, make_media, make_snapshot, django_assert_max_num_queries, name
):
    fill(workspace, make_media, make_snapshot, rows=50)
    url = reverse(name, args=[workspace.slug])
    as_admin.get(url)
    with django_assert_max_num_queries(10):
        assert as_admin.get(url).status_code == 200
