"""Reads for the errors pages: groups with filters, keyset pages and sparklines, one
group's events, history and accounts. Always scoped to a workspace, except the support
selector, which reads every workspace and is only called from staff views."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import (
    Count,
    F,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.models import Workspace
from events.models import (
    SOURCE_BITS,
    ErrorDailyCount,
    ErrorEvent,
    ErrorGroup,
    ErrorGroupAccount,
    ErrorGroupActivity,
    EventSyncState,
)

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
PERIODS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "14d": timedelta(days=14),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
SPARK_DAYS = 14


def event_sync_state(*, workspace: Workspace) -> EventSyncState | None:
    """Where the upstream events log sync stands (None before its first run)."""
    return EventSyncState.objects.filter(workspace=workspace).first()


def error_groups_recent(*, workspace: Workspace, limit: int = 5) -> list[ErrorGroup]:
    """The most recently seen open groups."""
    return list(
        ErrorGroup.objects.filter(workspace=workspace, state=ErrorGroup.State.OPEN).order_by(
            "-last_seen", "-id"
        )[:limit]
    )


# --- Triage list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupFilters:
    """What the errors page is filtered by; every field already validated."""

    family: str = ""
    code: str = ""
    platform: str = ""
    account: str = ""
    source: str = ""
    state: str = ErrorGroup.State.OPEN  # or "all"
    period: str = ""  # a key of PERIODS, "" for any time
    q: str = ""
    workspace: str = ""  # support only: a workspace slug

    @property
    def is_default(self) -> bool:
        return self == GroupFilters(workspace=self.workspace)


@dataclass
class GroupPage:
    groups: list[ErrorGroup]
    next_cursor: str | None = None  # older groups
    prev_cursor: str | None = None  # newer groups
    sparks: dict[int, list[int]] = field(default_factory=dict)
    # How many groups and events match the filters: known on the first page (read in the
    # same query, as window aggregates), None on the pages after it.
    total_groups: int | None = None
    total_events: int | None = None


def _cursor_encode(group: ErrorGroup) -> str:
    raw = f"{group.last_seen.astimezone(UTC).isoformat()}|{group.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> tuple[datetime, int] | None:
    """A keyset position from a cursor; None for anything that is not one of ours."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        moment = parse_datetime(stamp)
        pk = int(ident)
        if moment is None or timezone.is_naive(moment) or pk <= 0:
            return None
        # In UTC here, as the database gets it: a time at the edge of the calendar
        # (9999-12-31T23:59:59-01:00) has no UTC equivalent.
        moment = moment.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        return None
    return moment, pk


def _filtered(
    groups: QuerySet[ErrorGroup],
    filters: GroupFilters,
    *,
    now: datetime,
    workspace: Workspace | None = None,
) -> QuerySet[ErrorGroup]:
    """The groups matching the filters; `workspace` scopes the subqueries on events and
    affected accounts (None: support staff searching every workspace)."""
    if filters.state and filters.state != "all":
        groups = groups.filter(state=filters.state)
    if filters.family:
        groups = groups.filter(family=filters.family)
    if filters.code:
        groups = groups.filter(code=filters.code)
    if filters.platform:
        groups = groups.filter(platform=filters.platform)
    if filters.source in SOURCE_BITS:
        groups = groups.alias(source_bit=F("sources").bitand(SOURCE_BITS[filters.source])).filter(
            source_bit__gt=0
        )
    if filters.period in PERIODS:
        groups = groups.filter(last_seen__gte=now - PERIODS[filters.period])
    scope = {"workspace": workspace} if workspace is not None else {}
    if filters.account:
        affected = ErrorGroupAccount.objects.filter(account_upstream_id=filters.account, **scope)
        groups = groups.filter(pk__in=affected.values("group_id"))
    if filters.q:
        q = filters.q
        match = Q(title__icontains=q) | Q(code__icontains=q) | Q(endpoint__icontains=q)
        if REQUEST_ID.match(q):
            # Index event_request_ws (request id, workspace).
            with_id = ErrorEvent.objects.filter(request_id=q, **scope)
            match |= Q(last_request_id=q) | Q(pk__in=with_id.values("group_id"))
        groups = groups.filter(match)
    return groups


def _page(
    groups: QuerySet[ErrorGroup], *, after: str | None, before: str | None, limit: int
) -> GroupPage:
    position = cursor_decode(before)
    if position is not None:
        moment, pk = position
        rows = list(
            groups.filter(Q(last_seen__gt=moment) | Q(last_seen=moment, pk__gt=pk)).order_by(
                "last_seen", "id"
            )[: limit + 1]
        )
        has_newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return GroupPage(
            groups=rows,
            next_cursor=_cursor_encode(rows[-1]) if rows else None,
            prev_cursor=_cursor_encode(rows[0]) if rows and has_newer else None,
        )
    position = cursor_decode(after)
    ordered = groups.order_by("-last_seen", "-id")
    if position is not None:
        moment, pk = position
        ordered = ordered.filter(Q(last_seen__lt=moment) | Q(last_seen=moment, pk__lt=pk))
    else:
        # Window aggregates run before LIMIT: the totals of the whole filter, same query.
        ordered = ordered.annotate(
            total_groups=Window(Count("id")), total_events=Window(Sum("event_count"))
        )
    rows = list(ordered[: limit + 1])
    has_older = len(rows) > limit
    rows = rows[:limit]
    page = GroupPage(
        groups=rows,
        next_cursor=_cursor_encode(rows[-1]) if rows and has_older else None,
        prev_cursor=_cursor_encode(rows[0]) if rows and position is not None else None,
    )
    if position is None:
        first = rows[0] if rows else None
        page.total_groups = int(getattr(first, "total_groups", 0) or 0)
        page.total_events = int(getattr(first, "total_events", 0) or 0)
    return page


def error_groups_page(
    *,
    workspace: Workspace,
    filters: GroupFilters,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> GroupPage:
    """One keyset page of a workspace's groups, newest activity first, with sparklines."""
    now = now or timezone.now()
    groups = _filtered(
        ErrorGroup.objects.filter(workspace=workspace), filters, now=now, workspace=workspace
    )
    page = _page(groups, after=after, before=before, limit=limit)
    page.sparks = error_group_sparklines(group_ids=[g.pk for g in page.groups], today=now.date())
    return page


def error_groups_page_all(
    *,
    filters: GroupFilters,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> GroupPage:
    """Support staff: one keyset page of every workspace's groups (workspace filter optional)."""
    now = now or timezone.now()
    groups = ErrorGroup.objects.select_related("workspace")
    if filters.workspace:
        groups = groups.filter(workspace__slug=filters.workspace)
    groups = _filtered(groups, filters, now=now)
    page = _page(groups, after=after, before=before, limit=limit)
    page.sparks = error_group_sparklines(group_ids=[g.pk for g in page.groups], today=now.date())
    return page


def error_group_sparklines(
    *, group_ids: Sequence[int], days: int = SPARK_DAYS, today: date | None = None
) -> dict[int, list[int]]:
    """Per group, its event count for each of the last `days` days (oldest first)."""
    today = today or timezone.now().date()
    first = today - timedelta(days=days - 1)
    sparks = {pk: [0] * days for pk in group_ids}
    if not group_ids:
        return sparks
    rows = ErrorDailyCount.objects.filter(
        group_id__in=group_ids, day__gte=first, day__lte=today
    ).values_list("group_id", "day", "count")
    for group_id, day, count in rows:
        sparks[group_id][(day - first).days] = count
    return sparks


# --- Group detail --------------------------------------------------------------------------


def error_group_get(*, workspace: Workspace, group_id: int) -> ErrorGroup:
    """One group of this workspace (404 otherwise), with who last changed its state."""
    groups = ErrorGroup.objects.filter(workspace=workspace).select_related("state_changed_by")
    return get_object_or_404(groups, pk=group_id)


def _event_cursor(event: ErrorEvent) -> str:
    raw = f"{event.occurred_at.astimezone(UTC).isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def error_group_events(
    *, workspace: Workspace, group_id: int, before: str | None = None, limit: int = 20
) -> tuple[ErrorGroup, list[ErrorEvent], str | None]:
    """A group of this workspace (404 otherwise), its events newest first, and the cursor
    of the next (older) page. The group rides along with its events (one query); only a
    group without stored events (all pruned) is read on its own."""
    events = ErrorEvent.objects.filter(workspace=workspace, group_id=group_id).select_related(
        "account", "group", "group__state_changed_by"
    )
    position = cursor_decode(before)
    if position is not None:
        moment, pk = position
        events = events.filter(Q(occurred_at__lt=moment) | Q(occurred_at=moment, pk__lt=pk))
    rows: list[ErrorEvent] = list(events.order_by("-occurred_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    group = rows[0].group if rows else error_group_get(workspace=workspace, group_id=group_id)
    return group, rows, (_event_cursor(rows[-1]) if more and rows else None)


def error_group_activity(*, group: ErrorGroup, limit: int = 100) -> list[ErrorGroupActivity]:
    """State changes and notes, oldest first (the newest `limit`)."""
    rows = list(group.activity.select_related("actor").order_by("-created_at", "-id")[:limit])
    return list(reversed(rows))


def error_group_accounts(*, group: ErrorGroup, limit: int = 200) -> list[ErrorGroupAccount]:
    """Accounts the group's events named, with our record of them when we have one."""
    return list(
        group.affected_accounts.select_related("account").order_by("-first_seen", "-id")[:limit]
    )
