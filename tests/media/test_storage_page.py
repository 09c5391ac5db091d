"""The storage page: gauge, trend, breakdown, suggestions, deletions, refresh."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone

from media import tasks
from media.bulk_deletion import bulk_deletion_create
from media.filters import MediaFilter, Selection
from media.library import media_library_summarise
from media.models import MediaLibrary, StorageSnapshot
from tests.media.conftest import MB

pytestmark = pytest.mark.django_db


def storage_url(workspace):
    return reverse("media:storage", args=[workspace.slug])


def gauge_class(html: str) -> str:
    match = re.search(r'<svg class="gauge ([^"]+)"', html)
    assert match, "no gauge on the page"
    return match.group(1)


@pytest.mark.parametrize(
    ("used_mb", "level"),
    [
        (0, "level-ok"),
        (79.9, "level-ok"),
        (80, "level-warn"),
        (94.9, "level-warn"),
        (95, "level-high"),
        (99.9, "level-high"),
        (100, "level-full"),
        (130, "level-full"),
    ],
)
def test_the_gauge_colour_changes_at_80_95_and_100_percent(
    as_member, workspace, make_snapshot, used_mb, level
):
    make_snapshot(int(used_mb * MB), 100 * MB)
    html = as_member.get(storage_url(workspace)).content.decode()
    assert gauge_class(html) == level


def test_the_gauge_shows_used_of_limit_with_units_and_percent(as_member, workspace, make_snapshot):
    make_snapshot(int(90.5 * MB), 100 * MB, count=312)
    html = as_member.get(storage_url(workspace)).content.decode()
    assert "<strong>90.5 MB</strong>" in html and "of 100 MB" in html
    assert ">91%<" in html  # rounded, inside the gauge
    assert "9.5 MB left" in html and "312 files" in html
    assert 'stroke-dasharray="90.5 200"' in html  # the coloured arc


def test_a_full_storage_says_uploads_fail_and_by_how_much(as_member, workspace, make_snapshot):
    make_snapshot(103 * MB, 100 * MB)
    html = as_member.get(storage_url(workspace)).content.decode()
    assert "Storage full." in html and "3 MB over the limit" in html
    assert 'stroke-dasharray="100.0 200"' in html  # the arc never overflows


def test_an_unlimited_plan_says_so_and_draws_no_fill(as_member, workspace, make_snapshot):
    make_snapshot(5 * 1024 * MB, -1)
    html = as_member.get(storage_url(workspace)).content.decode()
    assert "unlimited plan" in html and "<strong>5 GB</strong>" in html
    assert (
        "gauge-fill" not in html
        and "trend-limit" not in html.split('class="trend"')[1].split("</svg>")[0]
    )


def test_with_no_figure_yet_the_page_says_when_one_comes(as_admin, workspace):
    html = as_admin.get(storage_url(workspace)).content.decode()
    assert "No storage figure yet" in html
    assert "No figures in the last 30 days yet" in html
    assert '<svg class="trend"' not in html


def test_the_trend_with_one_figure_is_a_dot(as_member, workspace, make_snapshot):
    make_snapshot(10 * MB)
    html = as_member.get(storage_url(workspace)).content.decode()
    assert 'class="trend-dot"' in html and 'class="trend-line"' not in html
    assert "Only one figure so far" in html


def test_the_trend_with_many_figures_is_a_line_over_30_days(as_member, workspace, make_snapshot):
    now = timezone.now()
    make_snapshot(5 * MB, at=now - timedelta(days=60))  # too old for the trend
    for day in range(20, 0, -1):
        make_snapshot((60 - day) * MB, at=now - timedelta(days=day))
    html = as_member.get(storage_url(workspace)).content.decode()
    line = re.search(r'class="trend-line" points="([^"]+)"', html).group(1)
    points = [tuple(map(float, pair.split(","))) for pair in line.split()]
    assert len(points) == 20
    assert [x for x, _ in points] == sorted(x for x, _ in points)  # oldest to newest
    assert points[0][1] > points[-1][1]  # growing usage goes up the chart (smaller y)
    assert "peak 59 MB" in html and "20 figures" in html
    assert 'class="trend-limit"' in html


def test_breakdown_largest_and_unused_files_come_from_the_summary(as_admin, workspace, make_media):
    make_media(3, size=2 * MB, content_type="video/mp4", in_use=True)
    make_media(5, size=1 * MB, content_type="image/png", in_use=False)
    media_library_summarise(workspace=workspace)
    html = as_admin.get(storage_url(workspace)).content.decode()
    assert "<code>video/mp4</code>" in html and "<code>image/png</code>" in html
    assert html.index("video/mp4") < html.index("image/png")  # biggest first
    assert "?type=video/mp4" in html  # "select these"
    assert "<strong>5</strong> files (5 MB)" in html
    assert "Review and delete all 5…" in html
    assert "Review and delete these 8…" in html  # the largest files, via the confirm step


def test_members_and_support_see_no_buttons_that_change_anything(
    as_member, as_support, workspace, make_media
):
    make_media(4)
    media_library_summarise(workspace=workspace)
    for client in (as_member, as_support):
        html = client.get(storage_url(workspace)).content.decode()
        assert "Refresh</button>" not in html
        assert "Review and delete" not in html
        assert reverse("media:delete", args=[workspace.slug]) not in html


def test_free_up_space_suggestions_show_near_the_limit(
    as_admin, workspace, make_media, make_snapshot
):
    make_snapshot(88 * MB)
    make_media(10, size=8 * MB, in_use=False)
    media_library_summarise(workspace=workspace)
    html = as_admin.get(storage_url(workspace)).content.decode()
    assert "Free up space" in html
    assert "free at least <strong>8 MB</strong>" in html  # 88 MB - 80 % of 100 MB


def test_a_running_deletion_shows_live_progress_on_the_page(
    as_admin, workspace, make_media, monkeypatch
):
    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", lambda job_id: None)
    make_media(5)
    job = bulk_deletion_create(workspace=workspace, selection=Selection(filter=MediaFilter()))
    html = as_admin.get(storage_url(workspace)).content.decode()
    job_url = reverse("media:job", args=[workspace.slug, job.pk])
    assert f'hx-get="{job_url}?compact=1" hx-trigger="every 2s"' in html
    assert "0</strong> of 5 files done" in html


def test_refresh_enqueues_a_snapshot_and_the_gauge_polls_for_it(
    as_admin, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(
            reverse("media:refresh", args=[workspace.slug]), HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert sent == [workspace.pk]
    html = response.content.decode()
    assert html.startswith('\n<div id="gauge"') or html.lstrip().startswith('<div id="gauge"')
    assert "load delay:2s" in html and "Asking SocialAPI for a fresh figure" in html
    # Pressing again at once is debounced: one snapshot, not two.
    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(reverse("media:refresh", args=[workspace.slug]), HTTP_HX_REQUEST="true")
    assert sent == [workspace.pk]


def test_refresh_again_once_the_figure_arrived_says_when_to_ask_again(
    as_admin, workspace, make_snapshot, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", sent.append)
    refresh = reverse("media:refresh", args=[workspace.slug])
    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(refresh, HTTP_HX_REQUEST="true")
    make_snapshot(10 * MB, at=timezone.now() - timedelta(seconds=12))  # it landed
    MediaLibrary.objects.filter(workspace=workspace).update(
        snapshot_requested_at=timezone.now() - timedelta(seconds=13)
    )
    with django_capture_on_commit_callbacks(execute=True):
        html = as_admin.post(refresh, HTTP_HX_REQUEST="true").content.decode()
    assert sent == [workspace.pk]  # nothing new asked
    assert re.search(r"A figure was taken 1[23] s ago; refresh again in 1[78] s\.", html)
    assert "load delay" not in html and "Asking SocialAPI" not in html
    # Without JavaScript, the same words as a message.
    page = as_admin.post(refresh, follow=True).content.decode()
    assert "refresh again in" in page


def test_refresh_again_before_the_figure_arrived_keeps_waiting_for_it(
    as_admin, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", lambda workspace_id: None)
    refresh = reverse("media:refresh", args=[workspace.slug])
    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(refresh, HTTP_HX_REQUEST="true")
    requested = timezone.now() - timedelta(seconds=10)  # pressed 10 s ago
    MediaLibrary.objects.filter(workspace=workspace).update(snapshot_requested_at=requested)
    html = as_admin.post(refresh, HTTP_HX_REQUEST="true").content.decode()
    assert "load delay:2s" in html and "Asking SocialAPI for a fresh figure" in html
    # It watches for the figure asked for the first time, not for one after this press.
    after = re.search(r"\?after=([^&]+)&amp;polls=1", html).group(1)
    asked = datetime.fromisoformat(unquote(after))
    assert asked <= requested
    # Which lands a few seconds later: the next poll shows it and stops.
    StorageSnapshot.objects.create(workspace=workspace, used_bytes=MB, limit_bytes=100 * MB)
    poll = as_admin.get(
        storage_url(workspace),
        {"after": asked.isoformat(), "polls": "2"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gauge",
    ).content.decode()
    assert "load delay" not in poll and "1 MB" in poll


def test_refresh_without_javascript_redirects_back(as_admin, workspace, monkeypatch):
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", lambda workspace_id: None)
    response = as_admin.post(reverse("media:refresh", args=[workspace.slug]))
    assert response.status_code == 302 and response.url == storage_url(workspace)


def test_the_gauge_poll_stops_once_the_new_figure_arrived(as_admin, workspace, make_snapshot):
    asked = timezone.now() - timedelta(seconds=5)
    make_snapshot(10 * MB)
    response = as_admin.get(
        storage_url(workspace),
        {"after": asked.isoformat(), "polls": "3"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gauge",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="gauge"')
    assert "load delay" not in html and "10 MB" in html


def test_the_gauge_poll_gives_up_after_a_while(as_admin, workspace):
    response = as_admin.get(
        storage_url(workspace),
        {"after": timezone.now().isoformat(), "polls": "15"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gauge",
    )
    html = response.content.decode()
    assert "load delay" not in html and "No answer from SocialAPI yet" in html


@pytest.mark.parametrize(
    "after",
    [
        "2024-01-01T00:00:00",  # naive
        "2024-02-30T10:00:00+00:00",  # no such day
        "2024-01-01T10:00:00+25:00",  # no such offset
        "9999-12-31T23:59:59-01:00",  # past the end of the calendar in UTC
        "yesterday",
    ],
)
def test_a_gauge_poll_with_an_unusable_time_shows_the_gauge_without_polling(
    as_admin, workspace, make_snapshot, after
):
    make_snapshot(10 * MB)
    response = as_admin.get(
        storage_url(workspace),
        {"after": after, "polls": "1"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gauge",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="gauge"') and "10 MB" in html
    assert "load delay" not in html and "No answer from SocialAPI yet" not in html


def test_the_refresh_is_for_admins_only(as_member, as_support, workspace):
    for client in (as_member, as_support):
        assert client.post(reverse("media:refresh", args=[workspace.slug])).status_code == 403


def test_the_pages_never_call_upstream(as_admin, workspace, make_snapshot, make_media, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a page called SocialAPI while rendering")

    monkeypatch.setattr("dashboard.upstream.upstream", refuse)
    monkeypatch.setattr("media.storage.upstream", refuse)
    monkeypatch.setattr("media.library.upstream", refuse)
    monkeypatch.setattr("media.deletion_runner.upstream", refuse)
    make_snapshot(1 * MB)
    make_media(3)
    media_library_summarise(workspace=workspace)
    for name in ("media:storage", "media:library", "media:jobs"):
        assert as_admin.get(reverse(name, args=[workspace.slug])).status_code == 200


@pytest.mark.parametrize(
    ("used_mb", "limit", "expected"),
    [
        (50, 100 * MB, "50 MB</strong> of 100 MB (50%)"),
        (96, 100 * MB, "4 MB left"),
        (100, 100 * MB, "Storage full:"),
        (7, -1, "used · unlimited plan"),
    ],
)
def test_the_overview_shows_the_small_gauge(
    as_member, workspace, make_snapshot, used_mb, limit, expected
):
    make_snapshot(used_mb * MB, limit)
    html = as_member.get(reverse("overview", args=[workspace.slug])).content.decode()
    assert expected in html


def test_the_scheduled_tasks_exist_under_the_names_the_dispatcher_uses(workspace, monkeypatch):
    from celery import current_app

    from dashboard.scheduling import SYNCS
    from dashboard.tasks import workspace_syncs_dispatch

    for name in (
        "media.tasks.storage_snapshot_take",
        "media.tasks.media_library_sync",
        "media.tasks.bulk_deletion_sweep",
    ):
        assert name in current_app.tasks
    current_app.loader.import_default_modules()  # every app's tasks
    sent: list[tuple[str, int]] = []
    for sync in SYNCS:
        monkeypatch.setattr(
            current_app.tasks[sync.task], "delay", lambda pk, n=sync.task: sent.append((n, pk))
        )
    workspace_syncs_dispatch()
    # The storage figure comes with the watch (every few seconds), the mirror on its own.
    assert ("dashboard.tasks.workspace_watch", workspace.pk) in sent
    assert ("media.tasks.media_library_sync", workspace.pk) in sent


def test_refresh_during_an_outage_ends_with_the_failure_the_request_id_and_what_to_do(
    as_admin, workspace, make_snapshot, django_capture_on_commit_callbacks, respx_mock
):
    import httpx

    make_snapshot(40 * MB, at=timezone.now() - timedelta(minutes=20))
    respx_mock.get("https://api.social-api.ai/v1/media/storage").mock(
        return_value=httpx.Response(
            503,
            json={
                "error": {"code": "system.internal", "message": "down", "meta": {}},
                "request_id": "req_outage_1",
            },
        )
    )
    refresh = reverse("media:refresh", args=[workspace.slug])
    with django_capture_on_commit_callbacks(execute=True):  # the task runs (eagerly) at commit
        html = as_admin.post(refresh, HTTP_HX_REQUEST="true").content.decode()
    after = re.search(r"\?after=([^&]+)&amp;polls=1", html).group(1)
    poll = as_admin.get(
        storage_url(workspace),
        {"after": unquote(after), "polls": "2"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gauge",
    ).content.decode()
    assert "load delay" not in poll  # no spinner waiting for a figure that is not coming
    assert "No fresh figure: SocialAPI did not give one." in poll
    assert "<code>req_outage_1</code>" in poll
    assert "40 MB" in poll and "20\xa0minutes ago" in poll  # the figure it still shows


def test_a_refresh_that_got_its_figure_says_so(as_admin, workspace, make_snapshot):
    asked = timezone.now() - timedelta(seconds=5)
    make_snapshot(12 * MB)
    html = as_admin.get(
        storage_url(workspace),
        {"after": asked.isoformat(), "polls": "3"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gauge",
    ).content.decode()
    assert "Fresh figure from SocialAPI" in html and "load delay" not in html


def test_a_deletion_within_the_day_shows_as_a_drop_in_the_trend(as_member, workspace):
    """90 MB, then a deletion down to 20 MB within the same clock hour: the trend keeps
    the 90 MB figure (its peak) and ends on 20 MB."""
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    if now - hour < timedelta(minutes=10):
        hour -= timedelta(hours=1)  # all four moments in one clock hour, in the past
    StorageSnapshot.objects.create(
        workspace=workspace,
        used_bytes=90 * MB,
        limit_bytes=100 * MB,
        since=hour + timedelta(minutes=1),
        taken_at=hour + timedelta(minutes=3),
    )
    StorageSnapshot.objects.create(
        workspace=workspace,
        used_bytes=20 * MB,
        limit_bytes=100 * MB,
        since=hour + timedelta(minutes=4),
        taken_at=hour + timedelta(minutes=5),
        source="bulk_deletion",
    )
    html = as_member.get(storage_url(workspace)).content.decode()
    assert "peak 90 MB" in html
    line = re.search(r'class="trend-line" points="([^"]+)"', html).group(1)
    heights = [float(pair.split(",")[1]) for pair in line.split()]
    assert len(heights) == 4  # 90 MB from first seen to last confirmed, then 20 MB
    assert heights[0] == heights[1] < heights[2] == heights[3]  # high, then the drop


def test_refresh_right_after_a_figure_but_during_an_outage_says_socialapi_failed(
    as_admin, workspace, make_snapshot, monkeypatch
):
    """A figure 4 s ago, SocialAPI failing since: "taken 4 s ago, refresh again in 26 s"
    would hide the outage from whoever pressed Refresh."""
    monkeypatch.setattr(tasks.storage_snapshot_take, "delay", lambda workspace_id: None)
    now = timezone.now()
    make_snapshot(30 * MB, at=now - timedelta(seconds=4))
    MediaLibrary.objects.create(
        workspace=workspace,
        snapshot_requested_at=now - timedelta(seconds=6),  # debounced: asked moments ago
        snapshot_failed_at=now - timedelta(seconds=2),
        snapshot_error_code="system.internal",
        snapshot_error_request_id="req_down_2",
    )
    html = as_admin.post(
        reverse("media:refresh", args=[workspace.slug]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "refresh again in" not in html and "load delay" not in html
    assert "No fresh figure: SocialAPI did not give one." in html and "req_down_2" in html
