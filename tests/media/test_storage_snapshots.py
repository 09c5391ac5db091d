"""Storage snapshots: from the API, from headers, debounced requests, quota-error refreshes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from dashboard import upstream
from dashboard.models import Workspace
from events.recording import EventInput, error_events_record
from media import storage, tasks
from media.charts import MAX_POINTS, gauge_for, level_for, trend_for
from media.models import StorageSnapshot
from media.storage import storage_figures_apply, storage_snapshot_request, storage_snapshot_take
from socialapi import FreshFigures
from tests.media.conftest import MB

pytestmark = pytest.mark.django_db
BASE = "https://api.social-api.ai/v1"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with (
        respx.MockRouter(base_url=BASE, assert_all_called=False) as mock,
        upstream.transport_override(httpx.MockTransport(mock.handler)),
    ):
        yield mock


def serve_storage(router, used, limit=100 * MB, count=10):
    return router.get("/media/storage").mock(
        return_value=httpx.Response(
            200, json={"used_bytes": used, "limit_bytes": limit, "count": count}
        )
    )


def test_a_snapshot_stores_used_limit_and_count(workspace, router):
    serve_storage(router, 42 * MB, count=7)
    snapshot = storage_snapshot_take(workspace=workspace)
    assert (snapshot.used_bytes, snapshot.limit_bytes, snapshot.count, snapshot.source) == (
        42 * MB,
        100 * MB,
        7,
        "api",
    )


def test_the_same_figure_again_moves_the_row_forward_instead_of_adding_one(workspace, router):
    serve_storage(router, 42 * MB)
    first = storage_snapshot_take(workspace=workspace)
    StorageSnapshot.objects.filter(pk=first.pk).update(taken_at=timezone.now() - timedelta(hours=2))
    second = storage_snapshot_take(workspace=workspace)
    assert second.pk == first.pk and StorageSnapshot.objects.count() == 1
    assert second.taken_at > second.since  # confirmed again now, first seen earlier
    serve_storage(router, 43 * MB)
    third = storage_snapshot_take(workspace=workspace)
    assert third.pk != first.pk and StorageSnapshot.objects.count() == 2


def test_old_snapshots_are_pruned(workspace, router, make_snapshot):
    make_snapshot(1 * MB, at=timezone.now() - timedelta(days=120))
    kept = make_snapshot(2 * MB, at=timezone.now() - timedelta(days=20))
    serve_storage(router, 3 * MB)
    storage_snapshot_take(workspace=workspace)
    assert set(StorageSnapshot.objects.values_list("used_bytes", flat=True)) == {
        kept.used_bytes,
        3 * MB,
    }


def test_a_successful_snapshot_lifts_an_api_key_pause(workspace, router):
    Workspace.objects.filter(pk=workspace.pk).update(
        paused_family="api_key", paused_at=timezone.now()
    )
    workspace.refresh_from_db()
    serve_storage(router, 1)
    storage_snapshot_take(workspace=workspace)
    workspace.refresh_from_db()
    assert workspace.paused_family == ""


@pytest.fixture
def clock(monkeypatch):
    """The header throttle's clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(storage, "_monotonic", lambda: now[0])
    monkeypatch.setattr(storage, "_header_writes", {})
    return now


def headers(workspace, used, limit=100):
    storage_figures_apply(
        workspace_id=workspace.pk, figures=FreshFigures(storage_used=used, storage_limit=limit)
    )


def test_fresh_headers_become_a_figure_and_bursts_cost_no_queries(
    workspace, clock, django_assert_num_queries
):
    headers(workspace, 10)
    snapshot = StorageSnapshot.objects.get()
    assert (snapshot.used_bytes, snapshot.source) == (10, "header")
    with django_assert_num_queries(0):  # a bulk deletion's DELETEs, each with a header
        for used in (9, 8, 7):
            headers(workspace, used)
    clock[0] += storage.HEADER_WRITE_SECONDS
    headers(workspace, 6)
    rows = list(StorageSnapshot.objects.all())
    # Still one row: header figures less than a minute apart are merged in place.
    assert len(rows) == 1 and rows[0].used_bytes == 6


def test_header_figures_a_minute_apart_are_separate_points(workspace, clock):
    headers(workspace, 10)
    StorageSnapshot.objects.update(
        since=timezone.now() - timedelta(minutes=2), taken_at=timezone.now() - timedelta(minutes=2)
    )
    clock[0] += 120
    headers(workspace, 6)
    assert list(
        StorageSnapshot.objects.order_by("taken_at").values_list("used_bytes", flat=True)
    ) == [10, 6]


def test_an_unchanged_header_costs_one_read_and_no_write(
    workspace, clock, django_assert_num_queries
):
    headers(workspace, 10)
    clock[0] += 10
    with django_assert_num_queries(1):
        headers(workspace, 10)
    headers(workspace, None, None)
    assert StorageSnapshot.objects.count() == 1


def test_snapshot_requests_are_debounced_unless_forced(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert storage_snapshot_request(workspace=workspace) is True
        assert storage_snapshot_request(workspace=workspace) is False
        assert storage_snapshot_request(workspace=workspace, force=True) is True
    assert sent == [workspace.pk, workspace.pk]


def quota_error(family: str = "storage_quota") -> EventInput:
    return EventInput(
        occurred_at=timezone.now(),
        source="ingest",
        code="billing.storage_quota" if family == "storage_quota" else "system.internal",
        family=family,
        http_status=413,
        endpoint="POST /v1/media/upload",
    )


def test_a_storage_quota_error_from_any_source_refreshes_the_figure(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        error_events_record(workspace=workspace, events=[quota_error("server")])
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        error_events_record(workspace=workspace, events=[quota_error(), quota_error()])
        error_events_record(workspace=workspace, events=[quota_error()])  # debounced
    assert sent == [workspace.pk]


def test_the_snapshot_task_survives_an_upstream_failure(workspace, router, settings):
    settings.SOCIALAPI_MAX_ATTEMPTS = 1
    router.get("/media/storage").mock(return_value=httpx.Response(503, text="<html>down</html>"))
    tasks.storage_snapshot_take(workspace.pk)
    tasks.storage_snapshot_take(999_999)  # a deleted workspace is ignored
    assert not StorageSnapshot.objects.exists()


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (None, "ok"),
        (0.0, "ok"),
        (79.99, "ok"),
        (80.0, "warn"),
        (94.99, "warn"),
        (95.0, "high"),
        (100.0, "full"),
        (250.0, "full"),
    ],
)
def test_the_gauge_bands(percent, level):
    assert level_for(percent) == level


def test_the_gauge_of_a_zero_limit_and_of_no_figure(workspace, make_snapshot):
    assert gauge_for(None) is None
    gauge = gauge_for(make_snapshot(5, limit=0))
    assert gauge is not None and (gauge.level, gauge.fill) == ("full", 100.0)
    unlimited = gauge_for(make_snapshot(5, limit=-1))
    assert unlimited is not None and (unlimited.percent, unlimited.fill) == (None, 0.0)


def test_the_trend_thins_thousands_of_points_but_keeps_the_peak():
    now = timezone.now()
    points = [(now - timedelta(minutes=n), 10 * MB, 100 * MB) for n in range(5000, 0, -1)]
    points[2500] = (points[2500][0], 99 * MB, 100 * MB)
    trend = trend_for(points, now=now)
    coords = [tuple(map(float, pair.split(","))) for pair in trend.line.split()]
    assert len(coords) <= MAX_POINTS
    assert min(y for _, y in coords) < 20  # the 99 MB spike is still drawn near the top
    assert trend.peak == 99 * MB and trend.points == 5000


def test_the_trend_with_nothing_is_empty():
    trend = trend_for([], now=timezone.now())
    assert (trend.line, trend.dot, trend.points) == ("", None, 0)


def test_header_figures_merged_into_one_row_keep_where_it_began_for_the_trend(
    workspace, monkeypatch
):
    """A full figure from headers, then a deletion's figures within the minute: one row,
    which still remembers the full figure, so the trend draws the drop."""
    from media import storage
    from media.selectors import storage_figures

    monkeypatch.setattr(storage, "_header_writes", {})
    moments = iter([0.0, 5.0, 10.0])
    monkeypatch.setattr(storage, "_monotonic", lambda: next(moments))
    for used in (100 * MB, 60 * MB, 5 * MB):
        storage_figures_apply(
            workspace_id=workspace.pk,
            figures=FreshFigures(storage_used=used, storage_limit=100 * MB),
        )
    row = StorageSnapshot.objects.get(workspace=workspace)
    assert (row.first_bytes, row.used_bytes) == (100 * MB, 5 * MB)
    values = [used for _, used, _ in storage_figures(workspace=workspace).points]
    assert values[0] == 100 * MB and values[-1] == 5 * MB


def test_a_rise_then_a_fall_within_the_minute_keeps_the_peak_as_its_own_row(workspace, monkeypatch):
    from media.selectors import storage_figures

    monkeypatch.setattr(storage, "_header_writes", {})
    moments = iter([0.0, 5.0, 10.0, 15.0])
    monkeypatch.setattr(storage, "_monotonic", lambda: next(moments))
    for used in (90 * MB, 100 * MB, 40 * MB, 10 * MB):  # filled up, then a deletion
        storage_figures_apply(
            workspace_id=workspace.pk,
            figures=FreshFigures(storage_used=used, storage_limit=100 * MB),
        )
    rows = list(
        StorageSnapshot.objects.filter(workspace=workspace)
        .order_by("since", "id")
        .values_list("first_bytes", "used_bytes")
    )
    assert rows == [(90 * MB, 100 * MB), (40 * MB, 10 * MB)]  # one row per direction
    values = [used for _, used, _ in storage_figures(workspace=workspace).points]
    assert max(values) == 100 * MB and values[-1] == 10 * MB
