"""The one query banners are computed from (see events.banners)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    IntegerField,
    JSONField,
    Max,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, JSONObject
from django.utils.dateparse import parse_datetime

from dashboard.models import UsageSnapshot, Workspace
from events.models import (
    BannerDismissal,
    ErrorEpisode,
    ErrorEvent,
    ErrorGroup,
    EventSyncState,
)

# --- Banner inputs ---------------------------------------------------------------------------


class JSONArrayAgg(Aggregate):
    """The rows' values as one JSON array (SQLite's json_group_array, PostgreSQL's jsonb_agg)."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_AGG", **extra)


# Families whose newest group a banner reads, and how far back it looks.
LONG_FAMILIES = ("api_key", "billing", "storage_quota", "monthly_limit")
SHORT_FAMILIES = ("platform_throttle", "server")
LONG_LOOKBACK = timedelta(days=40)  # a billing period is at most 31 days


@dataclass(frozen=True)
class BannerGroup:
    family: str
    code: str
    platform: str
    last_seen: datetime
    last_request_id: str
    title: str
    last_retry_after: datetime | None


@dataclass(frozen=True)
class BannerInputs:
    """Everything banners are computed from, read in one query."""

    now: datetime
    storage: dict[str, Any] | None
    usage: dict[str, Any] | None
    reconnect_count: int
    credentials_count: int
    unhealthy_changed_at: datetime | None
    sync_ok_at: datetime | None
    server_recent: int
    server_request_ids: tuple[str, ...]  # of the newest server errors in the burst window
    groups: list[BannerGroup]
    # When the recent runs of throttling (per platform) and 5xx ("server", "") started.
    episodes: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # The person's dismissals in this workspace, by banner key (empty without a person).
    dismissals: dict[str, Dismissal] = field(default_factory=dict)


@dataclass(frozen=True)
class Dismissal:
    level: int
    cause_started_at: datetime | None
    snoozed_until: datetime | None


def _moment(value: Any) -> datetime | None:
    """A datetime from a JSON value (text in SQLite, ISO text in PostgreSQL)."""
    if isinstance(value, datetime):
        moment: datetime | None = value
    elif isinstance(value, str) and value:
        moment = parse_datetime(value.replace(" ", "T", 1))
    else:
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _snapshot(raw: Any, moments: Sequence[str]) -> dict[str, Any] | None:
    if isinstance(raw, str):  # some backends hand back JSON text
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        return None
    data = dict(raw)
    for name in moments:
        data[name] = _moment(data.get(name))
    return data


def _banner_query(
    *,
    workspace_id: int,
    user_id: int,
    long_since: datetime,
    short_since: datetime,
    burst_since: datetime,
) -> QuerySet[Any, Any]:
    """The one query behind the banners, for one workspace and three moments."""
    from accounts.models import UNHEALTHY_STATUSES, AccountStatus, SocialAccount
    from media.models import StorageSnapshot

    storage = (
        StorageSnapshot.objects.filter(workspace_id=workspace_id)
        .order_by("-taken_at", "-id")
        .values(
            j=JSONObject(
                used="used_bytes",
                limit="limit_bytes",
                taken_at="taken_at",
                source="source",
                warn_since="warn_since",
                full_since="full_since",
            )
        )[:1]
    )
    usage = (
        UsageSnapshot.objects.filter(workspace_id=workspace_id)
        .order_by("-taken_at", "-id")
        .values(
            j=JSONObject(
                posts_used="posts_used",
                posts_limit="posts_limit",
                interactions_used="interactions_used",
                interactions_limit="interactions_limit",
                period_start="period_start",
                period_end="period_end",
                taken_at="taken_at",
                source="source",
            )
        )[:1]
    )
    unhealthy = (
        SocialAccount.objects.filter(workspace_id=workspace_id, status__in=UNHEALTHY_STATUSES)
        .order_by()
        .values("workspace")
        .annotate(
            j=JSONObject(
                reconnect=Count("id", filter=Q(status=AccountStatus.RECONNECT_REQUIRED)),
                credentials=Count("id", filter=Q(status=AccountStatus.CREDENTIALS_INVALID)),
                changed=Max("status_changed_at"),
            )
        )
        .values("j")[:1]
    )
    server_recent = (
        ErrorEvent.objects.filter(
            workspace_id=workspace_id, family="server", occurred_at__gte=burst_since
        )
        .order_by()
        .values("workspace")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    newest_server = (
        ErrorEvent.objects.filter(
            workspace_id=workspace_id, family="server", occurred_at__gte=burst_since
        )
        .exclude(request_id="")
        .order_by("-occurred_at", "-id")
        .values("request_id")
    )
    sync_ok = EventSyncState.objects.filter(workspace_id=workspace_id).values("last_ok_at")[:1]
    recent_groups = (
        ErrorGroup.objects.filter(workspace_id=workspace_id)
        .filter(
            Q(family__in=LONG_FAMILIES, last_seen__gte=long_since)
            | Q(family__in=SHORT_FAMILIES, last_seen__gte=short_since)
        )
        .order_by()
        .values("workspace")
        .annotate(
            j=JSONArrayAgg(
                JSONObject(
                    family="family",
                    code="code",
                    platform="platform",
                    last_seen="last_seen",
                    last_request_id="last_request_id",
                    title="title",
                    last_retry_after="last_retry_after",
                )
            )
        )
        .values("j")[:1]
    )
    episodes = (
        ErrorEpisode.objects.filter(workspace_id=workspace_id, last_seen__gte=short_since)
        .order_by()
        .values("workspace")
        .annotate(
            j=JSONArrayAgg(
                JSONObject(family="family", platform="platform", started_at="started_at")
            )
        )
        .values("j")[:1]
    )
    dismissals = (
        BannerDismissal.objects.filter(user_id=user_id, workspace_id=workspace_id)
        .order_by()
        .values("workspace")
        .annotate(
            j=JSONArrayAgg(
                JSONObject(
                    banner="banner",
                    level="level",
                    cause_started_at="cause_started_at",
                    snoozed_until="snoozed_until",
                )
            )
        )
        .values("j")[:1]
    )
    return (
        Workspace.objects.filter(pk=workspace_id)
        .order_by()
        .values(
            f_storage=Subquery(storage),
            f_usage=Subquery(usage),
            f_unhealthy=Subquery(unhealthy),
            f_server=Coalesce(Subquery(server_recent, output_field=IntegerField()), 0),
            f_sync_ok=Subquery(sync_ok),
            f_server_id_0=Subquery(newest_server[0:1]),
            f_server_id_1=Subquery(newest_server[1:2]),
            f_server_id_2=Subquery(newest_server[2:3]),
            f_groups=Subquery(recent_groups, output_field=JSONField()),
            f_episodes=Subquery(episodes, output_field=JSONField()),
            f_dismissals=Subquery(dismissals, output_field=JSONField()),
        )
    )


def banner_inputs_query(
    *,
    workspace: Workspace,
    now: datetime,
    short_window: timedelta,
    burst_window: timedelta,
    user_id: int | None = None,
) -> QuerySet[Any, Any]:
    """The banner query as a queryset (benchmarks EXPLAIN it)."""
    return _banner_query(
        workspace_id=workspace.pk,
        user_id=user_id or 0,
        long_since=now - LONG_LOOKBACK,
        short_since=now - short_window,
        burst_since=now - burst_window,
    )


# Marker values: the ORM compiles the banner query once per process with these in place,
# and each call swaps in the real ones (compiling it costs more than running it).
_MARK_WORKSPACE = -7_340_033
_MARK_USER = -7_340_034
_MARK_MOMENTS = {
    "long_since": datetime(1971, 1, 1, tzinfo=UTC),
    "short_since": datetime(1972, 1, 1, tzinfo=UTC),
    "burst_since": datetime(1973, 1, 1, tzinfo=UTC),
}


@functools.cache
def _banner_sql(vendor: str) -> tuple[str, tuple[Any, ...], tuple[str, ...]]:
    """SQL, parameters (with markers) and column names of the banner query."""
    query = _banner_query(workspace_id=_MARK_WORKSPACE, user_id=_MARK_USER, **_MARK_MOMENTS)
    sql, params = query.query.sql_with_params()
    return (
        sql,
        tuple(params),
        tuple(query.query.values_select) + tuple(query.query.annotation_select),
    )


def _banner_row(
    *,
    workspace_id: int,
    user_id: int,
    long_since: datetime,
    short_since: datetime,
    burst_since: datetime,
) -> dict[str, Any]:
    adapt = connection.ops.adapt_datetimefield_value
    sql, params, columns = _banner_sql(connection.vendor)
    marks: dict[Any, Any] = {_MARK_WORKSPACE: workspace_id, _MARK_USER: user_id}
    for name, real in (
        ("long_since", long_since),
        ("short_since", short_since),
        ("burst_since", burst_since),
    ):
        marks[adapt(_MARK_MOMENTS[name])] = adapt(real)
    values = [marks.get(p, p) if isinstance(p, int | str | datetime) else p for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description] if cursor.description else list(columns)
    return dict(zip(names, row, strict=True)) if row else {}


def banner_inputs(
    *,
    workspace: Workspace,
    now: datetime,
    short_window: timedelta,
    burst_window: timedelta,
    user_id: int | None = None,
) -> BannerInputs:
    """Figures and the recent groups of banner families, in ONE indexed query.

    One row: the workspace with scalar subqueries for the latest storage and usage
    snapshots, the unhealthy account counts, the 5xx count and newest request ids of the
    burst window, the recently seen groups of the banner families as one JSON array
    (a handful of groups, whatever the number of stored events), when the recent
    throttling and 5xx runs started, and — when a person is given — their dismissals.
    Each subquery reads an index range and names the workspace as a constant, so it runs
    exactly once.
    """
    first = _banner_row(
        workspace_id=workspace.pk,
        user_id=user_id or 0,
        long_since=now - LONG_LOOKBACK,
        short_since=now - short_window,
        burst_since=now - burst_window,
    )
    unhealthy_row = _snapshot(first.get("f_unhealthy"), ("changed",)) or {}
    raw_groups = first.get("f_groups") or []
    if isinstance(raw_groups, str):
        raw_groups = json.loads(raw_groups)
    groups = []
    for item in raw_groups:
        data = _snapshot(item, ("last_seen", "last_retry_after"))
        if data is None or data.get("last_seen") is None:
            continue
        groups.append(
            BannerGroup(
                family=str(data.get("family") or ""),
                code=str(data.get("code") or ""),
                platform=str(data.get("platform") or ""),
                last_seen=data["last_seen"],
                last_request_id=str(data.get("last_request_id") or ""),
                title=str(data.get("title") or ""),
                last_retry_after=data.get("last_retry_after"),
            )
        )
    return BannerInputs(
        now=now,
        storage=_snapshot(first.get("f_storage"), ("taken_at", "warn_since", "full_since")),
        usage=_snapshot(first.get("f_usage"), ("period_start", "period_end", "taken_at")),
        reconnect_count=int(unhealthy_row.get("reconnect") or 0),
        credentials_count=int(unhealthy_row.get("credentials") or 0),
        unhealthy_changed_at=unhealthy_row.get("changed"),
        sync_ok_at=_moment(first.get("f_sync_ok")),
        server_recent=int(first.get("f_server") or 0),
        server_request_ids=tuple(
            first[name]
            for name in ("f_server_id_0", "f_server_id_1", "f_server_id_2")
            if first.get(name)
        ),
        groups=groups,
        episodes=_episodes(first.get("f_episodes")),
        dismissals=_dismissals(first.get("f_dismissals")),
    )


def _episodes(raw: Any) -> dict[tuple[str, str], datetime]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    found = {}
    for item in raw or []:
        data = _snapshot(item, ("started_at",))
        if data and data.get("started_at") is not None:
            found[(str(data.get("family") or ""), str(data.get("platform") or ""))] = data[
                "started_at"
            ]
    return found


def _dismissals(raw: Any) -> dict[str, Dismissal]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    found = {}
    for item in raw or []:
        data = _snapshot(item, ("cause_started_at", "snoozed_until"))
        if data and data.get("banner"):
            found[str(data["banner"])] = Dismissal(
                level=int(data.get("level") or 0),
                cause_started_at=data.get("cause_started_at"),
                snoozed_until=data.get("snoozed_until"),
            )
    return found
