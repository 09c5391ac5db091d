"""The storage forecast: the growth maths, when a forecast is honest, how it is measured
from the stored figures (cheaply, deletions left out), and what the pages say."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from media import forecast as fc
from media import storage
from media.forecast import (
    Forecast,
    Growth,
    days_phrase,
    forecast_for,
    growth_of,
    soon_since_next,
    storage_growth_measure,
    window_growth,
    window_start,
)
from media.models import StorageSnapshot
from tests.media.conftest import MB, storage_history

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

daily_rises = st.lists(st.integers(min_value=0, max_value=50 * MB), min_size=1, max_size=40)


def series(start: int, changes: list[int], *, at: datetime = T0) -> list[tuple[datetime, int]]:
    """One point a day: `start`, then each day's change applied."""
    points = [(at, start)]
    for change in changes:
        points.append((points[-1][0] + DAY, points[-1][1] + change))
    return points


# --- the maths ------------------------------------------------------------------------


@given(start=st.integers(min_value=0, max_value=10**12), pace=st.integers(0, 10**9))
def test_a_steady_climb_gives_its_own_pace(start, pace):
    growth = growth_of(series(start, [pace] * 6))
    assert growth.grown_bytes == 6 * pace
    assert growth.days == 6
    assert growth.per_day == pytest.approx(pace)


@given(start=st.integers(0, 10**10), rises=daily_rises)
def test_a_series_that_only_grows_gives_last_minus_first_over_the_time(start, rises):
    points = series(start, rises)
    growth = growth_of(points)
    assert growth.grown_bytes == points[-1][1] - points[0][1]
    assert growth.per_day == pytest.approx(growth.grown_bytes / len(rises))


@given(
    start=st.integers(0, 10**10),
    changes=st.lists(st.integers(-(10**9), 10**9), min_size=0, max_size=40),
)
def test_growth_is_never_negative_and_never_less_than_the_net_rise(start, changes):
    points = series(start, changes)
    growth = growth_of(points)
    assert growth.grown_bytes >= 0
    assert growth.grown_bytes >= points[-1][1] - points[0][1]
    assert growth.grown_bytes <= sum(abs(change) for change in changes)


@given(
    rises=daily_rises,
    where=st.integers(min_value=0),
    freed=st.integers(min_value=1, max_value=10**11),
)
def test_a_deletion_counts_as_a_day_without_uploads_never_as_negative_growth(rises, where, freed):
    """A bulk deletion frees space; it does not slow uploads down: the pace is exactly
    what it would be had that day only been quiet."""
    at = where % (len(rises) + 1)
    quiet = growth_of(series(10**12, [*rises[:at], 0, *rises[at:]]))
    deleted = growth_of(series(10**12, [*rises[:at], -freed, *rises[at:]]))
    assert deleted == quiet


@given(start=st.integers(0, 10**12), days=st.integers(1, 40))
def test_a_flat_series_does_not_grow(start, days):
    growth = growth_of(series(start, [0] * days))
    assert growth.grown_bytes == 0 and growth.per_day == 0


def test_too_few_points_say_nothing():
    assert growth_of([]) == Growth(0, 0, 0)
    assert growth_of([(T0, 5 * MB)]) == Growth(0, 0, 1)


def test_the_window_starts_from_the_figure_standing_at_its_start():
    start = window_start(T0, 7)
    assert start == datetime(2026, 2, 22, tzinfo=UTC)
    # A close two weeks earlier still stands at the start; later closes follow.
    closes = [
        (T0 - 14 * DAY, T0 - 3 * DAY - timedelta(hours=1), 40 * MB),
        (T0 - 3 * DAY, T0 - DAY, 45 * MB),
        (T0 - DAY, T0, 50 * MB),
    ]
    growth = window_growth(closes=closes, baseline=None, latest=(T0, 50 * MB), start=start)
    assert growth.grown_bytes == 10 * MB
    assert growth.seconds == int((T0 - start).total_seconds())
    # The figure standing since two weeks ago was confirmed every day until 3 days before.
    assert growth.figures == 8


def test_only_days_a_figure_was_seen_on_count_as_figures():
    """Figures a week apart (the dashboard was off in between) cover the days they were
    seen on, not the week between."""
    start = window_start(T0, 7)
    closes = [(start + timedelta(hours=2), start + timedelta(hours=3), 40 * MB)]
    growth = window_growth(closes=closes, baseline=None, latest=(T0, 60 * MB), start=start)
    assert growth.grown_bytes == 20 * MB
    assert growth.figures == 2


# --- honest or not --------------------------------------------------------------------

WEEK = Growth(grown_bytes=35 * MB, seconds=7 * 86_400, figures=8)


def test_it_forecasts_the_days_left_at_the_week_s_pace():
    forecast = forecast_for(used=75 * MB, limit=100 * MB, taken_at=T0, week=WEEK, month=None)
    assert forecast.state == "forecast" and forecast.shown
    assert forecast.days_left == pytest.approx(5)
    assert forecast.full_on == T0 + 5 * DAY
    assert forecast.sentence == "Full in about 5 days at this rate."


@pytest.mark.parametrize(
    ("used", "limit", "week", "state", "reason"),
    [
        (5 * MB, -1, WEEK, "unlimited", "Unlimited plan: storage never fills up."),
        (100 * MB, 100 * MB, WEEK, "full", "Storage is full now."),
        (5 * MB, 100 * MB, None, "unmeasured", "No forecast yet"),
        (
            5 * MB,
            100 * MB,
            Growth(9 * MB, 2 * 86_400 + 3600, 3),
            "history",
            "Not enough history yet: 2 days of figures; a forecast needs 3.",
        ),
        (
            5 * MB,
            100 * MB,
            Growth(9 * MB, 6 * 86_400, 2),
            "figures",
            "Too few figures yet: 2 days with a figure in the last 7; a forecast needs 3.",
        ),
        (
            5 * MB,
            100 * MB,
            Growth(0, 7 * 86_400, 8),
            "flat",
            "Not growing: storage did not grow over the last 7 days.",
        ),
    ],
)
def test_it_says_why_when_the_figures_cannot_honestly_forecast(used, limit, week, state, reason):
    forecast = forecast_for(used=used, limit=limit, taken_at=T0, week=week, month=None)
    assert forecast.state == state and not forecast.shown and forecast.days_left is None
    assert forecast.sentence.startswith(reason)


def test_the_honesty_thresholds_are_settings(settings):
    settings.STORAGE_FORECAST_MIN_DAYS = 10
    forecast = forecast_for(used=75 * MB, limit=100 * MB, taken_at=T0, week=WEEK, month=None)
    assert forecast.sentence == "Not enough history yet: 7 days of figures; a forecast needs 10."
    settings.STORAGE_FORECAST_MIN_DAYS = 3
    settings.STORAGE_FORECAST_MIN_FIGURES = 9
    forecast = forecast_for(used=75 * MB, limit=100 * MB, taken_at=T0, week=WEEK, month=None)
    assert forecast.state == "figures"


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (0.2, "less than a day"),
        (1.2, "about a day"),
        (4.5, "about 5 days"),
        (4.49, "about 4 days"),
        (200, "about 200 days"),
        (400, "more than a year"),
    ],
)
def test_days_are_said_roughly(days, words):
    assert days_phrase(days) == words


def _in(days: float) -> Forecast:
    return Forecast("forecast", WEEK, None, days_left=days)


@pytest.mark.parametrize(
    ("previous", "days", "run"),
    [
        (None, 6.5, "now"),  # under 7 days: a run starts
        (None, 8, None),  # between 7 and 9 days, nothing running: none starts
        ("before", 8, "before"),  # …and a run already going goes on (no flapping)
        ("before", 5, "before"),
        ("before", 9.5, None),  # over 7 + 2 days: the run ends
        ("before", None, None),  # no forecast any more (flat, full…): it ends
    ],
)
def test_the_run_under_the_threshold_has_hysteresis(previous, days, run):
    before, now = T0 - 3 * DAY, T0
    forecast = _in(days) if days is not None else Forecast("flat", WEEK)
    started = soon_since_next(previous=before if previous else None, forecast=forecast, now=now)
    assert started == {"now": now, "before": before, None: None}[run]


def test_the_threshold_and_hysteresis_are_settings(settings):
    settings.STORAGE_FORECAST_DAYS = 14
    settings.STORAGE_FORECAST_HYSTERESIS_DAYS = 0
    assert soon_since_next(previous=None, forecast=_in(10), now=T0) == T0
    assert soon_since_next(previous=T0 - DAY, forecast=_in(14.5), now=T0) is None


# --- measured from the stored figures ---------------------------------------------------


def last_noon() -> datetime:
    """Noon UTC today, or yesterday before noon: windows then hold a known share of a day."""
    now = timezone.now().astimezone(UTC)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon <= now else noon - DAY


@pytest.mark.django_db
def test_a_week_of_growth_stored_by_the_watch_forecasts_when_storage_fills(workspace):
    latest = storage_history(workspace, [40, 45, 50, 55, 60, 65, 70, 75])
    forecast = latest.forecast
    assert forecast.week is not None
    assert forecast.week.grown_bytes == 35 * MB
    assert forecast.week.per_day == pytest.approx(5 * MB)
    assert forecast.days_left == pytest.approx(5)
    assert forecast.soon and latest.forecast_since is not None


@pytest.mark.django_db
def test_files_uploaded_and_deleted_the_same_day_are_not_growth(workspace):
    now = timezone.now()
    for days_ago in range(6, 0, -1):
        day = (now - days_ago * DAY).replace(hour=9, minute=0, second=0, microsecond=0)
        # Every day: 50 MB, a 10 MB upload, deleted again once posted.
        for minutes, used in ((0, 50), (10, 60), (20, 50)):
            storage._record(
                workspace_id=workspace.pk, used=used * MB, limit=100 * MB, count=None,
                source="api", now=day + timedelta(minutes=minutes),
            )  # fmt: skip
    latest = storage.storage_latest(workspace=workspace)
    assert latest is not None
    week, month = storage_growth_measure(
        workspace_id=workspace.pk, latest=(latest.taken_at, latest.used_bytes), now=now
    )
    assert week.grown_bytes == 0 and month.grown_bytes == 0
    assert week.figures == 6


@pytest.mark.django_db
def test_a_bulk_deletion_lowers_the_figure_but_not_the_pace(workspace):
    # 10 MB a day; on the fourth day 40 MB were deleted, and uploads went on.
    latest = storage_history(workspace, [20, 30, 40, 50, 20, 30, 40, 50])
    forecast = latest.forecast
    assert forecast.week is not None
    assert forecast.week.grown_bytes == 60 * MB  # the deletion's day counts as quiet
    assert forecast.shown and forecast.week.per_day > 0
    assert forecast.days_left == pytest.approx(50 * 7 / 60)


@pytest.mark.django_db
def test_the_30_days_reach_further_back_than_the_7(workspace):
    latest = storage_history(workspace, [10 + day for day in range(31)])
    forecast = latest.forecast
    assert forecast.week and forecast.month
    assert forecast.month.grown_bytes == 30 * MB and forecast.month.days == pytest.approx(30)
    # The figure standing at the window's start (32 MB, from the day before) rose 8 times.
    assert forecast.week.grown_bytes == 8 * MB
    assert forecast.month_is_longer


@pytest.mark.django_db
def test_another_workspace_s_figures_never_count(workspace, other_workspace):
    storage_history(other_workspace, [10, 90, 10, 90, 10, 90, 10, 90])
    latest = storage_history(workspace, [40] * 8)
    assert latest.forecast.state == "flat"


@pytest.mark.django_db
def test_measuring_costs_two_queries_whatever_the_number_of_figures(
    workspace, django_assert_num_queries
):
    now = timezone.now()
    storage_history(workspace, [40 + i * 0.01 for i in range(400)], step=timedelta(hours=1))
    latest = storage.storage_latest(workspace=workspace)
    assert latest is not None
    with django_assert_num_queries(2):
        week, _ = storage_growth_measure(
            workspace_id=workspace.pk, latest=(latest.taken_at, latest.used_bytes), now=now
        )
    assert week.grown_bytes > 0


@pytest.mark.django_db
def test_the_growth_is_measured_at_most_once_per_refresh_interval(workspace, monkeypatch):
    calls = []
    real = fc.storage_growth_measure

    def counted(**kwargs):
        calls.append(kwargs["now"])
        return real(**kwargs)

    monkeypatch.setattr(storage, "storage_growth_measure", counted)
    # A figure every minute for three hours (the watch), some of them new.
    storage_history(workspace, [40 + (i // 30) for i in range(180)], step=timedelta(minutes=1))
    assert len(calls) == 3  # on the first figure, then once an hour
    assert StorageSnapshot.objects.filter(workspace=workspace).count() == 6
    # Every row carries the growth measured before it.
    assert not StorageSnapshot.objects.filter(workspace=workspace, growth_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_deletion_moves_the_forecast_at_once_without_measuring_again(workspace, monkeypatch):
    latest = storage_history(workspace, [40, 45, 50, 55, 60, 65, 70, 75])
    assert latest.forecast.soon
    monkeypatch.setattr(storage, "storage_growth_measure", None)  # must not be called
    freed = storage_history(workspace, [30], end=latest.taken_at + timedelta(minutes=5))
    assert freed.forecast.days_left == pytest.approx(14)
    assert freed.forecast_since is None and not freed.forecast.soon


# --- on the pages ----------------------------------------------------------------------


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.django_db
def test_the_storage_page_shows_the_growth_and_the_forecast(as_member, workspace):
    # A month at 1 MB a day, then a week at 5 MB a day; the last figure at noon.
    storage_history(
        workspace, [10 + day for day in range(24)] + [40, 45, 50, 55, 60, 65, 70], end=last_noon()
    )
    html = as_member.get(reverse("media:storage", args=[workspace.slug])).content.decode()
    facts = _text(html.split('id="forecast-h"', 1)[1].split("</dl>", 1)[0])
    # 7 days and a half since the figure standing at midnight, 32 MB, grew to 70 MB.
    assert "Last 7 days grew 38 MB, 5.1 MB a day" in facts
    assert "Last 30 days grew 60 MB, 2 MB a day" in facts
    assert "Forecast Full in about 6 days at the last 7 days' rate (around" in facts


@pytest.mark.django_db
def test_the_storage_page_says_why_there_is_no_forecast_yet(as_member, workspace):
    storage_history(workspace, [40, 45, 50])
    html = as_member.get(reverse("media:storage", args=[workspace.slug])).content.decode()
    assert "Not enough history yet: 2 days of figures; a forecast needs 3." in html
    storage_history(workspace, [60], limit_mb=-1, end=timezone.now() + timedelta(minutes=1))
    html = as_member.get(reverse("media:storage", args=[workspace.slug])).content.decode()
    assert "Unlimited plan: storage never fills up." in html


@pytest.mark.django_db
def test_the_overview_card_and_the_storage_page_say_the_same_forecast(as_member, workspace):
    storage_history(workspace, [40, 45, 50, 55, 60, 65, 70, 75])
    page = as_member.get(reverse("media:storage", args=[workspace.slug])).content.decode()
    card = as_member.get(reverse("overview", args=[workspace.slug])).content.decode()
    card = card.split('id="storage-card"', 1)[1].split("</section>", 1)[0]
    assert "Full in about 5 days</strong> at the last 7 days' rate" in page
    assert "Full in about 5 days</strong> at this rate (5 MB a day)" in card
    assert 'href="/w/acme/storage/#forecast-h"' in card


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["media:storage", "overview"])
def test_a_forecast_costs_the_pages_no_query(
    as_admin, workspace, django_assert_max_num_queries, name
):
    url = reverse(name, args=[workspace.slug])
    storage_history(workspace, [40, 45, 50, 55, 60, 65, 70, 75])
    as_admin.get(url)
    with django_assert_max_num_queries(50) as forecast:
        assert "Full in about 5 days" in as_admin.get(url).content.decode()
    StorageSnapshot.objects.update(**dict.fromkeys(fc.GROWTH_FIELDS))
    with django_assert_max_num_queries(50) as none:
        assert "Full in about" not in as_admin.get(url).content.decode()
    assert len(forecast.captured_queries) == len(none.captured_queries)


@pytest.mark.django_db
def test_a_loaded_history_sends_no_alert_for_the_past_and_the_next_figure_forecasts(
    workspace, admin, django_capture_on_commit_callbacks
):
    """The demo loader's month of figures: as the watch would have stored them."""
    from django.core import mail

    from events.models import AlertSent
    from media.storage import storage_history_load

    now = timezone.now()
    figures = [
        (now - (30 - day) * DAY, now - (29 - day) * DAY - timedelta(minutes=1), *figure)
        for day, figure in enumerate(((60 + day) * MB, 100 * MB, 10 + day) for day in range(30))
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert storage_history_load(workspace=workspace, figures=figures) == 30
    assert mail.outbox == [] and not AlertSent.objects.exists()
    rows = list(StorageSnapshot.objects.filter(workspace=workspace).order_by("since"))
    assert rows[19].warn_since is None and rows[20].warn_since == rows[20].since
    assert rows[29].warn_since == rows[20].since  # the run over 80 % carries on
    assert storage_history_load(workspace=workspace, figures=figures) == 0  # once only
    latest = storage_history(workspace, [90])
    forecast = latest.forecast
    assert forecast.shown and forecast.week and forecast.month_is_longer
    assert forecast.week.per_day == pytest.approx(MB, rel=0.15)
