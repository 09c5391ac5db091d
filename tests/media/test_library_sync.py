"""The media library mirror: every page, bulk upserts, removals, in-use marks, failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import upstream
from media.library import media_library_sync
from media.models import MediaItem, MediaLibrary
from socialapi import ServerError

pytestmark = pytest.mark.django_db
BASE = "https://api.social-api.ai/v1"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with (
        respx.MockRouter(base_url=BASE, assert_all_called=False) as mock,
        upstream.transport_override(httpx.MockTransport(mock.handler)),
    ):
        yield mock


def item(
    n: int, *, size: int = 1000, ctype: str = "image/jpeg", name: str | None = None
) -> dict[str, object]:
    return {
        "id": f"m-{n:04d}",
        "filename": name or f"photo-{n:04d}.jpg",
        "content_type": ctype,
        "size_bytes": size,
        "status": "ready",
        "url": f"{BASE}/files/m-{n:04d}",
        "created_at": "2026-10-01T12:00:00Z",
    }


def serve_library(
    router: respx.MockRouter, items: list[dict[str, object]], *, page_size: int = 100
) -> respx.Route:
    """GET /media answering `items` in pages; the cursor is the index of the next page."""

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        chunk = items[start : start + page_size]
        body = {"count": len(chunk), "data": chunk}
        if start + page_size < len(items):
            body["next_cursor"] = str(start + page_size)
        return httpx.Response(200, json=body)

    return router.get("/media").mock(side_effect=answer)


def serve_posts(
    router: respx.MockRouter, media_ids: list[str], *, status: int = 200
) -> respx.Route:
    posts = [
        {"id": "p_1", "status": "scheduled", "media": [{"source_type": "media_id", "source": mid}]}
        for mid in media_ids[:1]
    ] + [{"id": "p_2", "status": "scheduled", "media_ids": media_ids[1:]}]
    body = (
        {"data": posts, "pagination": {"has_more": False}}
        if status == 200
        else {"error": {"code": "system.internal"}}
    )
    return router.get("/posts").mock(return_value=httpx.Response(status, json=body))


def test_it_mirrors_every_page_in_one_insert_per_page(workspace, router):
    route = serve_library(router, [item(n) for n in range(250)])
    serve_posts(router, [])
    with CaptureQueriesContext(connection) as queries:
        assert media_library_sync(workspace=workspace)
    assert route.call_count == 3
    inserts = [
        q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "media_mediaitem"')
    ]
    # Bulk: one upsert per page of 100 (SQLite's parameter limit splits a page in two),
    # never one per file.
    assert 3 <= len(inserts) <= 6
    assert MediaItem.objects.filter(workspace=workspace).count() == 250
    library = MediaLibrary.objects.get(workspace=workspace)
    assert library.item_count == 250 and library.total_bytes == 250_000 and library.synced_at


def test_the_query_count_does_not_grow_with_the_page_size(workspace, router):
    serve_posts(router, [])
    serve_library(router, [item(1)])
    media_library_sync(workspace=workspace)  # creates the library row
    counts = []
    for size in (5, 90):
        MediaItem.objects.all().delete()
        serve_library(router, [item(n) for n in range(size)])
        with CaptureQueriesContext(connection) as queries:
            media_library_sync(workspace=workspace)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_it_updates_changed_files_and_removes_those_gone_upstream(workspace, router, make_media):
    make_media(2, prefix="gone")
    serve_library(router, [item(1, size=1000)])
    serve_posts(router, [])
    media_library_sync(workspace=workspace)
    serve_library(router, [item(1, size=5555, name="renamed.jpg"), item(2)])
    media_library_sync(workspace=workspace)
    rows = {m.upstream_id: m for m in MediaItem.objects.filter(workspace=workspace)}
    assert set(rows) == {"m-0001", "m-0002"}  # the "gone-*" rows left with the first sync
    assert (rows["m-0001"].filename, rows["m-0001"].size_bytes) == ("renamed.jpg", 5555)


def test_it_marks_files_used_by_scheduled_posts(workspace, router):
    serve_library(router, [item(n) for n in range(5)])
    posts = serve_posts(router, ["m-0001", "m-0003"])
    media_library_sync(workspace=workspace)
    assert posts.calls.last.request.url.params["status"] == "scheduled"
    in_use = set(
        MediaItem.objects.filter(workspace=workspace, in_use=True).values_list(
            "upstream_id", flat=True
        )
    )
    assert in_use == {"m-0001", "m-0003"}
    assert MediaItem.objects.filter(workspace=workspace, in_use=False).count() == 3
    library = MediaLibrary.objects.get(workspace=workspace)
    assert library.in_use_known and (library.in_use_count, library.unused_count) == (2, 3)


def test_when_posts_cannot_be_listed_use_is_unknown_not_false(workspace, router, settings):
    settings.SOCIALAPI_MAX_ATTEMPTS = 1
    serve_library(router, [item(n) for n in range(3)])
    serve_posts(router, [], status=500)
    assert media_library_sync(workspace=workspace)
    assert set(MediaItem.objects.values_list("in_use", flat=True)) == {None}
    assert not MediaLibrary.objects.get(workspace=workspace).in_use_known


def test_a_failed_sync_removes_nothing_and_notes_the_error(workspace, router, make_media, settings):
    settings.SOCIALAPI_MAX_ATTEMPTS = 1
    make_media(4, prefix="kept")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor"):
            return httpx.Response(
                500, json={"error": {"code": "system.internal"}, "request_id": "req_boom"}
            )
        return httpx.Response(200, json={"data": [item(1)], "next_cursor": "2"})

    router.get("/media").mock(side_effect=answer)
    with pytest.raises(ServerError):
        media_library_sync(workspace=workspace)
    assert (
        MediaItem.objects.filter(workspace=workspace, upstream_id__startswith="kept").count() == 4
    )
    library = MediaLibrary.objects.get(workspace=workspace)
    assert (library.sync_error_code, library.sync_error_request_id) == (
        "system.internal",
        "req_boom",
    )
    assert library.sync_started_at is None  # the lock is released


def test_a_cursor_that_loops_stops_the_sync_without_removing_anything(
    workspace, router, make_media
):
    make_media(2, prefix="kept")
    router.get("/media").mock(
        return_value=httpx.Response(200, json={"data": [item(1)], "next_cursor": "same"})
    )
    assert media_library_sync(workspace=workspace) is False
    assert MediaItem.objects.filter(upstream_id__startswith="kept").count() == 2
    assert MediaLibrary.objects.get(workspace=workspace).sync_error_code == "sync.cursor_loop"


def test_two_syncs_of_one_workspace_never_overlap(workspace, router):
    route = serve_library(router, [item(1)])
    MediaLibrary.objects.create(workspace=workspace, sync_started_at=timezone.now())
    assert media_library_sync(workspace=workspace) is False
    assert route.call_count == 0
    # A lock left by a dead worker expires.
    MediaLibrary.objects.filter(workspace=workspace).update(
        sync_started_at=timezone.now() - timedelta(hours=1)
    )
    serve_posts(router, [])
    assert media_library_sync(workspace=workspace) is True


def test_the_sync_task_swallows_upstream_failures_after_recording_them(workspace, router, settings):
    from events.models import ErrorEvent
    from media.tasks import media_library_sync as task

    settings.SOCIALAPI_MAX_ATTEMPTS = 1
    router.get("/media").mock(
        return_value=httpx.Response(401, json={"error": {"code": "auth.invalid_key"}})
    )
    task(workspace.pk)  # no exception escapes the worker
    assert ErrorEvent.objects.filter(workspace=workspace, code="auth.invalid_key").count() == 1
