"""How fast storage fills, and when it would be full at that pace.

Measured where figures are stored (`media.storage._record`), at most once per
STORAGE_FORECAST_REFRESH_SECONDS, and kept on the latest snapshot row: the pages, the
banners and the alerts read it with the figure they read anyway (no query of its own,
never a scan of the snapshots per page view). The days left are worked out from that
row when it is read, so a deletion moves the forecast the moment its figure lands.

**The rate.** The points of a window are the figure standing when it starts, the close
of each UTC day in it (the last figure first seen that day) and the latest figure. The
growth is the sum of the rises from one point to the next; a fall counts as no growth,
never as negative growth. The rate is that growth divided by the time the points cover.

Why this estimate:
- Daily closes, not every figure: a file uploaded and deleted the same day (posting
  tools do it all the time) nets out, so churn is not mistaken for growth.
- Falls left out: a bulk deletion frees space, it does not slow uploads down. With a
  plain (last - first) / elapsed, or a least-squares slope, one big deletion would make
  the rate negative (or flat) for the whole window, and the forecast would vanish while
  storage kept filling as fast as before. Here a deletion lowers the figure (more days
  left, at once) and the pace stays what uploads make it.
- A day that both uploaded and deleted counts as no growth, so the rate leans low
  rather than high: a forecast that cries wolf gets ignored.
- It reads like a sentence a person can check on the trend chart: "grew 70 MB over the
  last 7 days (deletions left out): 10 MB a day".

**Honest or not.** A forecast is shown only for a limited plan that is not full yet,
with figures covering at least STORAGE_FORECAST_MIN_DAYS days and at least
STORAGE_FORECAST_MIN_FIGURES days with a figure in the 7-day window, and growth above
zero; otherwise the page says which of these is missing. The forecast uses the 7-day
rate (what is happening now); the 30-day rate is shown beside it for context.

**Soon.** Under STORAGE_FORECAST_DAYS days a run starts (`forecast_since` on the row,
carried by the next rows like `warn_since`): it drives the banner and the alert (once per
run), and ends only once the forecast is over STORAGE_FORECAST_DAYS +
STORAGE_FORECAST_HYSTERESIS_DAYS days (or there is no forecast), so a rate wobbling
around the threshold never flaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.db.models.functions import TruncDate

DAY = 86_400.0
WEEK_DAYS = 7
MONTH_DAYS = 30
LONG_DAYS = 365  # beyond this, "more than a year"

Point = tuple[datetime, int]  # (moment, bytes used)
Close = tuple[datetime, datetime, int]  # a day's last figure: (first seen, last confirmed, used)


def threshold_days() -> float:
    """Under this many days left, the forecast warns (banner, alert)."""
    return float(getattr(settings, "STORAGE_FORECAST_DAYS", 7))


def hysteresis_days() -> float:
    """A warning that started ends only above threshold + this many days."""
    return float(getattr(settings, "STORAGE_FORECAST_HYSTERESIS_DAYS", 2))


def min_days() -> int:
    return int(getattr(settings, "STORAGE_FORECAST_MIN_DAYS", 3))


def min_figures() -> int:
    return int(getattr(settings, "STORAGE_FORECAST_MIN_FIGURES", 3))


def refresh_seconds() -> int:
    return int(getattr(settings, "STORAGE_FORECAST_REFRESH_SECONDS", 3600))


# --- the maths (pure) ----------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    """How much storage grew over a window, deletions left out."""

    grown_bytes: int
    seconds: int  # the time the window's figures cover
    figures: int  # UTC days with a figure in the window

    @property
    def days(self) -> float:
        return self.seconds / DAY

    @property
    def whole_days(self) -> int:
        return int(self.days)

    @property
    def per_day(self) -> float:
        """Bytes a day (0 when the figures cover no time)."""
        return self.grown_bytes / self.days if self.seconds > 0 else 0.0


NO_GROWTH = Growth(0, 0, 0)


def growth_of(points: Sequence[Point]) -> Growth:
    """The growth over points oldest first: the rises between consecutive points (a fall
    counts as none), over the time from the first point to the last; `figures` counts
    the UTC days the points fall on."""
    if not points:
        return NO_GROWTH
    grown = sum(max(0, after - before) for (_, before), (_, after) in pairwise(points))
    seconds = max(0, int((points[-1][0] - points[0][0]).total_seconds()))
    days = {moment.astimezone(UTC).date() for moment, _ in points}
    return Growth(grown_bytes=grown, seconds=seconds, figures=len(days))


def window_start(now: datetime, days: int) -> datetime:
    """UTC midnight `days` days before today: windows start where a daily close ends, so
    the figure standing at the start is the close of the day before."""
    day = now.astimezone(UTC).date() - timedelta(days=days)
    return datetime.combine(day, time.min, tzinfo=UTC)


def window_growth(
    *,
    closes: Sequence[Close],
    baseline: Close | None,
    latest: Point,
    start: datetime,
) -> Growth:
    """The growth over the window starting at `start`.

    Its points: the figure standing then (the last close before it, else `baseline`,
    the figure standing before every close), each day's close inside it, and the latest
    figure at its own moment. Its figures: the UTC days on which one of those figures
    was seen (from when it was first seen to when it was last confirmed).
    """
    before = [close for close in closes if close[0] < start]
    standing = before[-1] if before else baseline
    inside = [close for close in closes if close[0] >= start]
    points: list[Point] = [(start, standing[2])] if standing is not None else []
    points += [(first, used) for first, _, used in inside]
    if not points or latest[0] >= points[-1][0]:
        points.append(latest)
    growth = growth_of(points)
    seen = {latest[0].astimezone(UTC).date()}
    for first, last, _ in ([standing] if standing is not None else []) + inside:
        day = max(first, start).astimezone(UTC).date()
        end = min(max(last, first), latest[0]).astimezone(UTC).date()
        while day <= end:
            seen.add(day)
            day += timedelta(days=1)
    return Growth(growth.grown_bytes, growth.seconds, len(seen))


def days_phrase(days: float) -> str:
    """ "about 5 days", "less than a day", "more than a year"."""
    if days < 1:
        return "less than a day"
    if days < 1.5:
        return "about a day"
    if days > LONG_DAYS:
        return "more than a year"
    return f"about {int(days + 0.5)} days"  # half up, not Python's half to even


@dataclass(frozen=True)
class Forecast:
    """What the stored figures say about when storage fills, for the pages and banners.

    `state` is one of: forecast (days_left is set), unlimited, full, unmeasured,
    history (figures cover too few days), figures (too few days with a figure), flat
    (not growing).
    """

    state: str
    week: Growth | None = None
    month: Growth | None = None
    days_left: float | None = None
    full_on: datetime | None = None
    # When the current run under the threshold started (the banner and alert), if on.
    soon_since: datetime | None = None

    @property
    def shown(self) -> bool:
        return self.state == "forecast"

    @property
    def soon(self) -> bool:
        return self.shown and self.soon_since is not None

    @property
    def in_days(self) -> str:
        return days_phrase(self.days_left) if self.days_left is not None else ""

    @property
    def week_shown(self) -> bool:
        """The 7-day growth covers at least a day (a rate over less says nothing)."""
        return self.week is not None and self.week.seconds >= DAY

    @property
    def on_card(self) -> bool:
        """Worth a line on the overview's storage card (its figure line already says
        "unlimited" or "full")."""
        return self.state not in ("unlimited", "full", "unmeasured")

    @property
    def month_is_longer(self) -> bool:
        """The 30-day figures reach further back than the 7-day ones (else they are the
        same days and not worth a second line)."""
        if self.week is None or self.month is None:
            return False
        return self.month.seconds > self.week.seconds + DAY / 2

    @property
    def reason(self) -> str:
        """Why there is no forecast, in words (empty when there is one)."""
        need_days, need_figures = min_days(), min_figures()
        week = self.week or NO_GROWTH
        if self.state == "unlimited":
            return "Unlimited plan: storage never fills up."
        if self.state == "full":
            return "Storage is full now."
        if self.state == "unmeasured":
            return "No forecast yet: it is worked out from the stored figures."
        if self.state == "history":
            have = int(week.days)
            return (
                f"Not enough history yet: {have} day{'s' if have != 1 else ''} of figures; "
                f"a forecast needs {need_days}."
            )
        if self.state == "figures":
            return (
                f"Too few figures yet: {week.figures} day{'s' if week.figures != 1 else ''} "
                f"with a figure in the last {WEEK_DAYS}; a forecast needs {need_figures}."
            )
        if self.state == "flat":
            return f"Not growing: storage did not grow over the last {WEEK_DAYS} days."
        return ""

    @property
    def sentence(self) -> str:
        """The forecast, or why there is none, in one sentence."""
        if self.shown:
            return f"Full in {self.in_days} at this rate."
        return self.reason


def forecast_for(
    *,
    used: int,
    limit: int,
    taken_at: datetime | None,
    week: Growth | None,
    month: Growth | None,
    soon_since: datetime | None = None,
) -> Forecast:
    """The forecast of one stored figure and the growth stored with it."""
    if limit < 0:
        return Forecast("unlimited", week, month)
    if used >= limit:
        return Forecast("full", week, month)
    if week is None:
        return Forecast("unmeasured")
    if week.days < min_days():
        return Forecast("history", week, month)
    if week.grown_bytes <= 0:
        return Forecast("flat", week, month)
    if week.figures < min_figures():
        return Forecast("figures", week, month)
    days_left = (limit - used) / week.per_day
    full_on = None
    if taken_at is not None and days_left <= LONG_DAYS:
        full_on = taken_at + timedelta(days=days_left)
    return Forecast("forecast", week, month, days_left, full_on, soon_since)


def soon_since_next(
    *, previous: datetime | None, forecast: Forecast, now: datetime
) -> datetime | None:
    """Where the run of forecasts under the threshold started, for a figure stored now
    after a row whose run started at `previous` (None: no run)."""
    days = forecast.days_left if forecast.shown else None
    if days is None:
        return None
    if previous is not None and days <= threshold_days() + hysteresis_days():
        return previous
    if days < threshold_days():
        return now
    return None


# --- on a snapshot row -----------------------------------------------------------------

GROWTH_FIELDS = (
    "growth_at",
    "grown_7d_bytes",
    "grown_7d_seconds",
    "grown_7d_figures",
    "grown_30d_bytes",
    "grown_30d_seconds",
    "grown_30d_figures",
)


def growths_of(values: Any) -> tuple[Growth | None, Growth | None]:
    """The 7- and 30-day growth stored on a snapshot (or its values as a dict)."""

    def read(name: str) -> Any:
        return values.get(name) if isinstance(values, dict) else getattr(values, name, None)

    found: list[Growth | None] = []
    for days in (WEEK_DAYS, MONTH_DAYS):
        grown, seconds = read(f"grown_{days}d_bytes"), read(f"grown_{days}d_seconds")
        if grown is None or seconds is None:
            found.append(None)
            continue
        figures = read(f"grown_{days}d_figures")
        found.append(Growth(int(grown), int(seconds), int(figures or 0)))
    return found[0], found[1]


def growth_fields(week: Growth, month: Growth, now: datetime) -> dict[str, Any]:
    return {
        "growth_at": now,
        "grown_7d_bytes": week.grown_bytes,
        "grown_7d_seconds": week.seconds,
        "grown_7d_figures": week.figures,
        "grown_30d_bytes": month.grown_bytes,
        "grown_30d_seconds": month.seconds,
        "grown_30d_figures": month.figures,
    }


def growth_due(growth_at: datetime | None, now: datetime) -> bool:
    return growth_at is None or (now - growth_at).total_seconds() >= refresh_seconds()


def storage_growth_measure(
    *, workspace_id: int, latest: Point, now: datetime
) -> tuple[Growth, Growth]:
    """The 7- and 30-day growth from the stored figures up to `latest` (the figure just
    stored, at its moment), in two indexed queries: the close of each UTC day of the last
    30 (at most 31 rows), and the figure standing before them."""
    from media.models import StorageSnapshot

    start = window_start(now, MONTH_DAYS)
    rows = StorageSnapshot.objects.filter(workspace_id=workspace_id)
    # Each row's `since` is when its figure was first seen; a figure confirmed in the
    # window was confirmed (taken_at) after it started, which lets the index narrow it.
    recent = rows.filter(taken_at__gte=start, since__gte=start)
    day_ends = (
        recent.annotate(day=TruncDate("since", tzinfo=UTC))
        .order_by()
        .values("day")
        .annotate(last=Max("since"))
        .values("last")
    )
    closes: list[Close] = []
    for since, taken_at, used in (
        recent.filter(since__in=day_ends)
        .order_by("since", "id")
        .values_list("since", "taken_at", "used_bytes")
    ):
        if closes and closes[-1][0] == since:
            closes[-1] = (since, taken_at, used)  # two figures first seen at one instant
        else:
            closes.append((since, taken_at, used))
    baseline = (
        rows.filter(since__lt=start)
        .order_by("-taken_at", "-id")
        .values_list("since", "taken_at", "used_bytes")
        .first()
    )
    found = [
        window_growth(
            closes=closes, baseline=baseline, latest=latest, start=window_start(now, days)
        )
        for days in (WEEK_DAYS, MONTH_DAYS)
    ]
    return found[0], found[1]
