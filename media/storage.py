"""Storage figures: snapshots from `GET /v1/media/storage` and fresh headers.

A snapshot row is written only when the figure changes; the same figure seen again
moves `taken_at` forward. That keeps the trend exact while a quiet workspace stores a
few rows a month instead of one every 15 minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.models import Workspace
from dashboard.upstream import upstream, upstream_ok
from media.forecast import (
    GROWTH_FIELDS,
    growth_due,
    growth_fields,
    soon_since_next,
    storage_growth_measure,
)
from media.models import MediaLibrary, StorageSnapshot
from socialapi import FreshFigures

log = logging.getLogger(__name__)

# Snapshots older than this are pruned: the trend shows 30 days, support may look further.
RETENTION_DAYS = 90
# Fresh headers arrive on many calls (every DELETE of a bulk deletion): while the newest
# row came from headers less than this long ago, and the figure keeps moving the same way,
# it is updated in place (remembering the figure it began with).
HEADER_MERGE_SECONDS = 60
# And at most one header write per workspace this often per process: during a bulk
# deletion every DELETE answer carries a new figure, and a write each would slow it down.
HEADER_WRITE_SECONDS = 2.0
_header_writes: dict[int, float] = {}
_header_lock = threading.Lock()
_monotonic = time.monotonic  # patched by tests
# A person pressing Refresh, or a burst of quota errors, asks for at most one snapshot
# per this many seconds.
REQUEST_DEBOUNCE_SECONDS = 30


# The "nearly full" line of the storage banner (events.banner_rules.STORAGE_WARN_PERCENT).
WARN_PERCENT = 80


def _run_since(
    previous: StorageSnapshot | None, *, line: str, over: bool, now: datetime
) -> datetime | None:
    """Where the run of figures over a line (`warn_since` / `full_since`) started, for a
    figure stored now after `previous`: carried on while the figures stay over it."""
    if not over:
        return None
    if previous is not None and _over(previous.used_bytes, previous.limit_bytes, line):
        return getattr(previous, line) or previous.since
    return now


def _over(used: int, limit: int, line: str) -> bool:
    if limit < 0:
        return False  # unlimited
    if line == "full_since":
        return used >= limit
    return used * 100 >= limit * WARN_PERCENT


def _same_direction(latest: StorageSnapshot, used: int) -> bool:
    """Whether a figure continues the row's run (down during a deletion, up during
    uploads): a row merges one run only, so a peak or a low is never merged away."""
    if latest.first_bytes is None:
        return True
    went = latest.used_bytes - latest.first_bytes
    goes = used - latest.used_bytes
    return went * goes >= 0


def storage_latest(*, workspace: Workspace) -> StorageSnapshot | None:
    return StorageSnapshot.objects.filter(workspace=workspace).order_by("-taken_at", "-id").first()


def _record(
    *,
    workspace_id: int,
    used: int,
    limit: int,
    count: int | None,
    source: str,
    now: datetime,
) -> StorageSnapshot:
    """Store one figure: extend the latest row when it is the same, else add a row."""
    with transaction.atomic():
        latest = (
            StorageSnapshot.objects.select_for_update()
            .filter(workspace_id=workspace_id)
            .order_by("-taken_at", "-id")
            .first()
        )
        if latest is not None and latest.taken_at > now:
            now = latest.taken_at  # clocks of two workers disagree: never go back in time
        same = latest is not None and (latest.used_bytes, latest.limit_bytes) == (used, limit)
        recent_header = (
            latest is not None
            and source == "header"
            and latest.source == "header"
            and now - latest.since < timedelta(seconds=HEADER_MERGE_SECONDS)
            and _same_direction(latest, used)
        )
        runs = {
            line: _run_since(latest, line=line, over=_over(used, limit, line), now=now)
            for line in ("warn_since", "full_since")
        }
        if latest is not None and (same or recent_header):
            # Kept as they are for the same figure; a header figure merged in may cross a
            # line (then `warn_since` / `full_since` are saved, which alerts listen for).
            fields = ["used_bytes", "limit_bytes", "taken_at", "count"]
            if not same and latest.first_bytes is None:
                # The row now spans a change (a deletion's figures): keep where it began,
                # so the trend draws the drop instead of losing the figure before it.
                latest.first_bytes = latest.used_bytes
                fields.append("first_bytes")
            for line in ("warn_since", "full_since"):
                if getattr(latest, line) != runs[line]:
                    setattr(latest, line, runs[line])
                    fields.append(line)
            latest.used_bytes, latest.limit_bytes, latest.taken_at = used, limit, now
            if count is not None:
                latest.count = count
            if not same and source != latest.source:
                latest.source = source
                fields.append("source")
            _forecast_carry(latest, previous=latest.forecast_since, now=now, fields=fields)
            latest.save(update_fields=fields)
            _growth_refresh(latest, now=now)
            return latest
        carried = {name: getattr(latest, name) for name in GROWTH_FIELDS} if latest else {}
        row = StorageSnapshot(
            workspace_id=workspace_id,
            used_bytes=used,
            limit_bytes=limit,
            count=count if count is not None else (latest.count if latest else None),
            since=now,
            taken_at=now,
            source=source,
            **runs,
            **carried,
        )
        _forecast_carry(row, previous=latest.forecast_since if latest else None, now=now)
        row.save(force_insert=True)
        _growth_refresh(row, now=now)
        return row


def _forecast_carry(
    row: StorageSnapshot,
    *,
    previous: datetime | None,
    now: datetime,
    fields: list[str] | None = None,
) -> None:
    """Set the row's run of forecasts under the threshold from the growth it holds (the
    run of the row before it carries on while the forecast stays close)."""
    since = soon_since_next(previous=previous, forecast=row.forecast, now=now)
    if since != row.forecast_since:
        row.forecast_since = since
        if fields is not None:
            fields.append("forecast_since")


def _growth_refresh(row: StorageSnapshot, *, now: datetime) -> None:
    """Measure the growth again when the row's is older than the refresh interval (at
    most hourly: two small queries), and the run of forecasts with it."""
    if not growth_due(row.growth_at, now):
        return
    week, month = storage_growth_measure(
        workspace_id=row.workspace_id, latest=(row.taken_at, row.used_bytes), now=now
    )
    fields = list(GROWTH_FIELDS)
    for name, value in growth_fields(week, month, now).items():
        setattr(row, name, value)
    _forecast_carry(row, previous=row.forecast_since, now=now, fields=fields)
    row.save(update_fields=fields)


def storage_history_load(
    *, workspace: Workspace, figures: Sequence[tuple[datetime, datetime, int, int, int | None]]
) -> int:
    """Store past figures — (first seen, last confirmed, used, limit, count), oldest
    first — for a workspace with none yet, as the watch would have stored them: the demo
    loader's month of history. No alert goes out for the past; the next figure taken
    measures the growth. Returns how many rows were stored."""
    if StorageSnapshot.objects.filter(workspace=workspace).exists():
        return 0
    rows: list[StorageSnapshot] = []
    for since, taken_at, used, limit, count in figures:
        previous = rows[-1] if rows else None
        runs = {
            line: _run_since(previous, line=line, over=_over(used, limit, line), now=since)
            for line in ("warn_since", "full_since")
        }
        rows.append(
            StorageSnapshot(
                workspace=workspace,
                used_bytes=used,
                limit_bytes=limit,
                count=count,
                since=since,
                taken_at=max(taken_at, since),
                **runs,
            )
        )
    StorageSnapshot.objects.bulk_create(rows)
    return len(rows)


def storage_snapshot_take(*, workspace: Workspace, source: str = "api") -> StorageSnapshot:
    """Ask SocialAPI for the storage figure and store it. Raises SocialAPIError."""
    # Reference: https://docs.social-api.ai/api-reference — GET /v1/media/storage
    figure = upstream(workspace).media_storage()
    upstream_ok(workspace)
    now = timezone.now()
    snapshot = _record(
        workspace_id=workspace.pk,
        used=figure.used_bytes,
        limit=figure.limit_bytes,
        count=figure.count,
        source=source,
        now=now,
    )
    StorageSnapshot.objects.filter(
        workspace=workspace, taken_at__lt=now - timedelta(days=RETENTION_DAYS)
    ).delete()
    Workspace.objects.filter(pk=workspace.pk).update(storage_synced_at=now)
    MediaLibrary.objects.filter(workspace=workspace, snapshot_failed_at__isnull=False).update(
        snapshot_failed_at=None, snapshot_error_code="", snapshot_error_request_id=""
    )
    return snapshot


def storage_snapshot_failed(*, workspace: Workspace, exc: Exception) -> None:
    """No fresh figure: note what SocialAPI said (code, request id), so a person who
    pressed Refresh is told, instead of waiting for a figure that is not coming."""
    code = str(getattr(exc, "code", "") or type(exc).__name__)
    MediaLibrary.objects.get_or_create(workspace=workspace)
    MediaLibrary.objects.filter(workspace=workspace).update(
        snapshot_failed_at=timezone.now(),
        snapshot_error_code=code[:100],
        snapshot_error_request_id=str(getattr(exc, "request_id", "") or "")[:64],
    )


def storage_figures_apply(*, workspace_id: int, figures: FreshFigures) -> None:
    """Fresh X-Storage-* headers: a new snapshot when the figure moved."""
    if figures.storage_used is None or figures.storage_limit is None:
        return
    moment = _monotonic()
    with _header_lock:
        last = _header_writes.get(workspace_id)
        if last is not None and moment - last < HEADER_WRITE_SECONDS:
            return  # a burst: the figure written moments ago is fresh enough
        _header_writes[workspace_id] = moment
    latest = (
        StorageSnapshot.objects.filter(workspace_id=workspace_id)
        .order_by("-taken_at", "-id")
        .only("used_bytes", "limit_bytes", "taken_at")
        .first()
    )
    now = timezone.now()
    unchanged = latest is not None and (latest.used_bytes, latest.limit_bytes) == (
        figures.storage_used,
        figures.storage_limit,
    )
    if (
        unchanged
        and latest is not None
        and now - latest.taken_at < timedelta(seconds=HEADER_MERGE_SECONDS)
    ):
        return  # the same figure, confirmed moments ago: not worth a write
    _record(
        workspace_id=workspace_id,
        used=figures.storage_used,
        limit=figures.storage_limit,
        count=None,
        source="header",
        now=now,
    )


def storage_snapshot_request(*, workspace: Workspace, force: bool = False) -> bool:
    """Enqueue a snapshot after this transaction commits; debounced unless `force`.

    True when a snapshot was enqueued. The debounce is a conditional UPDATE, so two
    processes asking at once enqueue one snapshot.
    """
    from media.tasks import storage_snapshot_take as task

    now = timezone.now()
    MediaLibrary.objects.get_or_create(workspace=workspace)
    rows = MediaLibrary.objects.filter(workspace=workspace)
    if not force:
        cutoff = now - timedelta(seconds=REQUEST_DEBOUNCE_SECONDS)
        rows = rows.filter(
            Q(snapshot_requested_at__isnull=True) | Q(snapshot_requested_at__lt=cutoff)
        )
    if not rows.update(snapshot_requested_at=now):
        return False
    workspace_id = workspace.pk
    transaction.on_commit(lambda: task.delay(workspace_id))
    return True


def storage_snapshot_requested_at(*, workspace: Workspace) -> datetime | None:
    """When a snapshot was last asked for (by a person or a quota error)."""
    return (
        MediaLibrary.objects.filter(workspace=workspace)
        .values_list("snapshot_requested_at", flat=True)
        .first()
    )
