"""Geometry for the server-rendered SVG gauge and trend (no chart library, no inline style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from media.models import StorageSnapshot

TREND_WIDTH = 600
TREND_HEIGHT = 150
PAD = 6
# Above this many points the line is thinned to one point per pixel column (peak kept).
MAX_POINTS = TREND_WIDTH


@dataclass(frozen=True)
class Gauge:
    """A half-ring gauge: `fill` is the share of the arc (0 to 100) drawn in colour."""

    percent: float | None  # None: unlimited plan
    fill: float
    level: str  # ok | warn | high | full (the same bands as includes/_meter.html)


def level_for(percent: float | None) -> str:
    if percent is None:
        return "ok"
    if percent >= 100:
        return "full"
    if percent >= 95:
        return "high"
    if percent >= 80:
        return "warn"
    return "ok"


def gauge_for(snapshot: StorageSnapshot | None) -> Gauge | None:
    if snapshot is None:
        return None
    percent = snapshot.percent
    fill = 0.0 if percent is None else max(0.0, min(100.0, percent))
    return Gauge(percent=percent, fill=round(fill, 2), level=level_for(percent))


@dataclass(frozen=True)
class Trend:
    """The trend line in SVG user units (viewBox 0 0 TREND_WIDTH TREND_HEIGHT)."""

    width: int = TREND_WIDTH
    height: int = TREND_HEIGHT
    line: str = ""  # polyline points "x,y x,y"
    area: str = ""  # polygon points: the line closed down to the axis
    dot: tuple[float, float] | None = None  # the latest figure
    limit_y: float | None = None  # where the plan limit sits, when it fits the scale
    grid: list[float] = field(default_factory=list)
    scale_max: int = 0  # bytes at the top of the chart
    peak: int = 0
    limit: int | None = None  # None: unlimited
    points: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None


def _thin(points: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """One point per pixel column, keeping each column's peak (never hides a spike)."""
    if len(points) <= MAX_POINTS:
        return points
    columns: dict[int, tuple[float, int, int]] = {}
    for point in points:
        column = int(point[0])
        if column not in columns or point[1] > columns[column][1]:
            columns[column] = point
    return [columns[key] for key in sorted(columns)]


def trend_for(points: list[tuple[datetime, int, int]], *, now: datetime, days: int = 30) -> Trend:
    """Lay out (moment, used, limit) points over the last `days`, oldest first."""
    start = now - timedelta(days=days)
    if not points:
        return Trend(start=start, end=now)
    latest_limit = points[-1][2]
    peak = max(used for _, used, _ in points)
    limited = latest_limit >= 0
    scale_max = max(peak, latest_limit if limited else 0, 1)
    scale_max = int(scale_max * 1.08)  # headroom so the line never touches the top
    inner_w = TREND_WIDTH - 2 * PAD
    inner_h = TREND_HEIGHT - 2 * PAD
    span = (now - start).total_seconds() or 1.0

    def x_of(moment: datetime) -> float:
        share = (moment - start).total_seconds() / span
        return PAD + max(0.0, min(1.0, share)) * inner_w

    def y_of(value: int) -> float:
        return PAD + inner_h - (max(0, value) / scale_max) * inner_h

    laid = _thin([(x_of(moment), used, limit) for moment, used, limit in points])
    coords = [(round(x, 1), round(y_of(used), 1)) for x, used, _ in laid]
    line = " ".join(f"{x},{y}" for x, y in coords)
    base = round(PAD + inner_h, 1)
    area = ""
    if len(coords) > 1:
        area = f"{coords[0][0]},{base} {line} {coords[-1][0]},{base}"
    return Trend(
        line=line if len(coords) > 1 else "",
        area=area,
        dot=coords[-1],
        limit_y=round(y_of(latest_limit), 1) if limited else None,
        grid=[round(PAD + inner_h * share, 1) for share in (0.0, 0.25, 0.5, 0.75)],
        scale_max=scale_max,
        peak=peak,
        limit=latest_limit if limited else None,
        points=len(points),
        first_at=points[0][0],
        last_at=points[-1][0],
        start=start,
        end=now,
    )
