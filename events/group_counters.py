"""The counters kept next to the events: group totals, per-day counts, affected accounts,
banner episodes and the regression reopen. Raw SQL sent in bulk (executemany): a batch
spread over many groups stays fast, and rows are touched in a fixed order so concurrent
batches queue instead of deadlocking."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from dashboard.models import Workspace
from events.banner_rules import burst_minutes, throttle_minutes
from events.models import (
    SOURCE_BITS,
    ErrorDailyCount,
    ErrorEpisode,
    ErrorEvent,
    ErrorGroup,
    ErrorGroupAccount,
    ErrorGroupActivity,
)


def _group_update_sql() -> str:
    table = connection.ops.quote_name(ErrorGroup._meta.db_table)
    # In an UPDATE every right-hand side reads the row as it was: `last_seen` below is the
    # stored value, so each condition compares against the same moment, and relative
    # updates (count + n, sources | bits) cannot lose a concurrent writer's work.
    # The table name comes from the model; every value is a parameter.
    return (
        f"UPDATE {table} SET "  # noqa: S608
        "event_count = event_count + %s, "
        "account_count = account_count + %s, "
        "sources = sources | %s, "
        "last_request_id = CASE WHEN last_seen <= %s THEN %s ELSE last_request_id END, "
        "title = CASE WHEN last_seen <= %s THEN %s ELSE title END, "
        "last_retry_after = "
        "CASE WHEN %s = 1 AND last_seen <= %s THEN %s ELSE last_retry_after END, "
        "first_seen = CASE WHEN first_seen > %s THEN %s ELSE first_seen END, "
        "last_seen = CASE WHEN last_seen < %s THEN %s ELSE last_seen END "
        "WHERE id = %s"
    )


def groups_update(
    groups: dict[str, ErrorGroup], rows: Sequence[ErrorEvent], new_accounts: dict[int, int]
) -> None:
    """Counts, first/last seen, latest request id and sources: one statement per group,
    sent together (executemany), so a batch spread over many groups stays fast."""
    at = connection.ops.adapt_datetimefield_value
    resolved = {g.pk for g in groups.values() if g.state == ErrorGroup.State.RESOLVED}
    per_group: dict[int, list[ErrorEvent]] = defaultdict(list)
    for row in rows:
        per_group[row.group_id].append(row)
    params = []
    newest_of: dict[int, ErrorEvent] = {}
    # Rows are updated in id order: concurrent batches lock shared groups in the same
    # order, so they queue behind each other instead of deadlocking.
    for group_id, members in sorted(per_group.items()):
        newest = max(members, key=lambda r: r.occurred_at)
        newest_of[group_id] = newest
        oldest = min(r.occurred_at for r in members)
        bits = 0
        for member in members:
            bits |= SOURCE_BITS.get(member.source, 0)
        throttled = [m for m in members if m.retry_after is not None]
        latest = max(throttled, key=lambda r: r.occurred_at) if throttled else newest
        params.append(
            [
                len(members),
                new_accounts.get(group_id, 0),
                bits,
                at(newest.occurred_at),
                newest.request_id,
                at(newest.occurred_at),
                (newest.message or newest.code)[:300],
                1 if throttled else 0,
                at(latest.occurred_at),
                at(latest.retry_after),
                at(oldest),
                at(oldest),
                at(newest.occurred_at),
                at(newest.occurred_at),
                group_id,
            ]
        )
    with connection.cursor() as cursor:
        cursor.executemany(_group_update_sql(), params)
    _reopen_regressions({gid: newest_of[gid] for gid in resolved if gid in newest_of})


def _reopen_regressions(newest_of: dict[int, ErrorEvent]) -> None:
    """A resolved group that gets an event newer than its resolution reopens."""
    now = timezone.now()
    regressions: list[ErrorGroupActivity] = []
    for group_id, newest in newest_of.items():
        reopened = ErrorGroup.objects.filter(
            Q(state_changed_at__lt=newest.occurred_at) | Q(state_changed_at__isnull=True),
            pk=group_id,
            state=ErrorGroup.State.RESOLVED,
        ).update(
            state=ErrorGroup.State.OPEN,
            regressed_at=now,
            state_changed_at=now,
            state_changed_by=None,
        )
        if reopened:
            regressions.append(
                ErrorGroupActivity(
                    group_id=group_id,
                    kind=ErrorGroupActivity.Kind.REGRESSED,
                    actor_label="system",
                    body=f"New event at {newest.occurred_at:%Y-%m-%d %H:%M} UTC"
                    + (f" (request id {newest.request_id})" if newest.request_id else ""),
                    created_at=now,
                )
            )
    if regressions:
        ErrorGroupActivity.objects.bulk_create(regressions)


def daily_counts_update(workspace: Workspace, rows: Sequence[ErrorEvent]) -> None:
    """Per group and UTC day: one upsert per pair, sent together."""
    counts: dict[tuple[int, date], int] = defaultdict(int)
    for row in rows:
        counts[(row.group_id, row.occurred_at.astimezone(UTC).date())] += 1
    table = connection.ops.quote_name(ErrorDailyCount._meta.db_table)
    # The table name comes from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {table} (workspace_id, group_id, day, count) "  # noqa: S608
        "VALUES (%s, %s, %s, %s) "
        f"ON CONFLICT (group_id, day) DO UPDATE SET count = {table}.count + excluded.count"
    )
    day = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            sql, [[workspace.pk, g, day(d), n] for (g, d), n in sorted(counts.items())]
        )


def affected_accounts_update(workspace: Workspace, rows: Sequence[ErrorEvent]) -> dict[int, int]:
    """Remember which accounts each group's events named; returns, per group, how many
    accounts are new to it (the increment of its `account_count`)."""
    pairs: dict[tuple[int, str], ErrorEvent] = {}
    for row in rows:
        if not row.account_upstream_id:
            continue
        key = (row.group_id, row.account_upstream_id)
        if key not in pairs or row.occurred_at < pairs[key].occurred_at:
            pairs[key] = row
    added: dict[int, int] = defaultdict(int)
    if not pairs:
        return added
    table = connection.ops.quote_name(ErrorGroupAccount._meta.db_table)
    at = connection.ops.adapt_datetimefield_value
    ordered = sorted(pairs.items())  # a fixed order: concurrent batches cannot deadlock
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), 200):
            chunk = ordered[start : start + 200]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            # The table name comes from the model; every value is a parameter. RETURNING
            # lists only the rows actually inserted, i.e. the accounts new to their group.
            cursor.execute(
                f"INSERT INTO {table} "  # noqa: S608
                "(workspace_id, group_id, account_upstream_id, account_id, first_seen) "
                f"VALUES {values} ON CONFLICT (group_id, account_upstream_id) DO NOTHING "
                "RETURNING group_id",
                [
                    value
                    for (group_id, account), row in chunk
                    for value in (
                        workspace.pk,
                        group_id,
                        account,
                        row.account_id,
                        at(row.occurred_at),
                    )
                ],
            )
            for (group_id,) in cursor.fetchall():
                added[group_id] += 1
    return added


def _episode_gaps() -> dict[str, timedelta]:
    """The families whose banners need a cause start, and the pause that ends a run: the
    banner's own window (it disappears after that long without a new event)."""
    return {
        "platform_throttle": timedelta(minutes=throttle_minutes()),
        "server": timedelta(minutes=burst_minutes()),
    }


def _run_start(moments: list[datetime], gap: timedelta) -> datetime:
    """The first of the moments in the run that ends with the newest one."""
    ordered = sorted(moments)
    first = ordered[-1]
    for moment in reversed(ordered[:-1]):
        if first - moment > gap:
            break
        first = moment
    return first


def episodes_update(workspace: Workspace, rows: Sequence[ErrorEvent]) -> None:
    """Extend or restart the banner families' runs (platform throttling per platform, 5xx
    per workspace): one upsert per run, sent together, in a fixed order.

    A batch whose run starts more than the gap after the stored run's last event, or
    after the stored run ended, starts a new run; one that reaches back into the stored
    run (late events from the sync) can only move its start earlier.
    """
    gaps = _episode_gaps()
    moments: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for row in rows:
        if row.family in gaps:
            platform = row.platform if row.family == "platform_throttle" else ""
            moments[(row.family, platform)].append(row.occurred_at)
    if not moments:
        return
    table = connection.ops.quote_name(ErrorEpisode._meta.db_table)
    # The table name comes from the model; every value is a parameter. In the UPDATE every
    # right-hand side reads the stored row as it was.
    # A run that ended (a later call succeeded: events.recovery) restarts with the first
    # event after its end, so a dismissed banner shows again for the new outage.
    sql = (
        f"INSERT INTO {table} "  # noqa: S608
        "(workspace_id, family, platform, started_at, last_seen) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (workspace_id, family, platform) DO UPDATE SET "
        f"started_at = CASE WHEN {table}.last_seen < %s THEN excluded.started_at "
        f"WHEN {table}.ended_at IS NOT NULL AND {table}.ended_at >= {table}.last_seen "
        f"AND excluded.last_seen > {table}.ended_at THEN excluded.started_at "
        f"WHEN {table}.started_at <= %s AND excluded.started_at < {table}.started_at "
        f"THEN excluded.started_at ELSE {table}.started_at END, "
        f"last_seen = CASE WHEN {table}.last_seen < excluded.last_seen "
        f"THEN excluded.last_seen ELSE {table}.last_seen END"
    )
    at = connection.ops.adapt_datetimefield_value
    params: list[list[Any]] = []
    for (family, platform), found in sorted(moments.items()):
        gap = gaps[family]
        first, last = _run_start(found, gap), max(found)
        params.append(
            [workspace.pk, family, platform, at(first), at(last), at(first - gap), at(last + gap)]
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
