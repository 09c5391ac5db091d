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
    DateTimeField,
    JSONField,
    Max,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, JSONObject
from django.utils.dateparse import parse_datetime

from dashboard.models import UsageSnapshot, Workspace
from events.models import (
    BannerDismissal,
    ErrorEpisode,
    ErrorEvent,
    ErrorGroup,
    EventSource,
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
    # 5xx in the burst window since the last outage ended (all sources, and the
    # dashboard's own calls, each of which already failed after its retries).
    server_recent: int
    server_request_ids: tuple[str, ...]  # of the newest server errors in the burst window
    groups: list[BannerGroup]
    # When the recent runs of throttling (per platform) and 5xx ("server", "") started.
    episodes: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # The person's dismissals in this workspace, by banner key (empty without a person).
    dismissals: dict[str, Dismissal] = field(default_factory=dict)
    server_own: int = 0
    # Runs whose cause is over (a later call succeeded: events.recovery).
    episodes_over: frozenset[tuple[str, str]] = frozenset()
    # The workspace row as this same query read it (pause, key, plan, last checks): the
    # banners and the cards beside them describe one moment.
    workspace_row: dict[str, Any] = field(default_factory=dict)
    # With `cards=True` only: accounts per status and the media library mirror's totals.
    status_counts: dict[str, int] | None = None
    library: dict[str, Any] | None = None


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


# The workspace columns the banners and cards read, from the same row as everything else.
WORKSPACE_COLUMNS = (
    "paused_family",
    "paused_at",
    "api_key_hint",
    "api_key_saved_at",
    "plan",
    "plan_checked_at",
    "health_synced_at",
    "storage_synced_at",
    "usage_synced_at",
    "media_synced_at",
)
WORKSPACE_MOMENTS = (
    "paused_at",
    "api_key_saved_at",
    "plan_checked_at",
    "health_synced_at",
    "storage_synced_at",
    "usage_synced_at",
    "media_synced_at",
)
LIBRARY_MOMENTS = ("synced_at", "sync_started_at", "sync_error_at", "summarised_at")


def _banner_query(
    *,
    workspace_id: int,
    user_id: int,
    long_since: datetime,
    short_since: datetime,
    burst_since: datetime,
    cards: bool = False,
) -> QuerySet[Any, Any]:
    """The one query behind the banners (and, with `cards`, the overview's cards), for
    one workspace and three moments."""
    from accounts.models import UNHEALTHY_STATUSES, AccountStatus, SocialAccount
    from media.forecast import GROWTH_FIELDS
    from media.models import MediaLibrary, StorageSnapshot

    storage = (
        StorageSnapshot.objects.filter(workspace_id=workspace_id)
        .order_by("-taken_at", "-id")
        .values(
            j=JSONObject(
                used="used_bytes",
                limit="limit_bytes",
                count="count",
                since="since",
                taken_at="taken_at",
                source="source",
                warn_since="warn_since",
                full_since="full_since",
                # The growth kept with the figure (media.forecast): the forecast banner
                # and the cards' forecast cost nothing more than the figure.
                **{name: name for name in GROWTH_FIELDS},
                forecast_since="forecast_since",
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
                brands_used="brands_used",
                brands_limit="brands_limit",
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
    # 5xx count from the start of the burst window, or from the end of the last outage
    # when that is later (a success ended it: the burst starts over).
    server_ended = ErrorEpisode.objects.filter(
        workspace_id=workspace_id, family="server", platform=""
    ).values("ended_at")[:1]
    burst_from = Greatest(
        Value(burst_since, output_field=DateTimeField()),
        Coalesce(
            Subquery(server_ended, output_field=DateTimeField()),
            Value(burst_since, output_field=DateTimeField()),
        ),
    )
    server_events = ErrorEvent.objects.filter(
        workspace_id=workspace_id, family="server", occurred_at__gte=burst_since
    ).filter(occurred_at__gt=burst_from)
    server_recent = (
        server_events.order_by()
        .values("workspace")
        .annotate(
            j=JSONObject(n=Count("id"), own=Count("id", filter=Q(source=EventSource.DASHBOARD)))
        )
        .values("j")[:1]
    )
    newest_server = (
        server_events.exclude(request_id="").order_by("-occurred_at", "-id").values("request_id")
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
                JSONObject(
                    family="family",
                    platform="platform",
                    started_at="started_at",
                    last_seen="last_seen",
                    ended_at="ended_at",
                )
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
    extra: dict[str, Any] = {}
    if cards:
        extra["f_counts"] = Subquery(
            SocialAccount.objects.filter(workspace_id=workspace_id)
            .order_by()
            .values("workspace")
            .annotate(
                j=JSONObject(
                    **{
                        status.value: Count("id", filter=Q(status=status))
                        for status in AccountStatus
                    }
                )
            )
            .values("j")[:1]
        )
        extra["f_library"] = Subquery(
            MediaLibrary.objects.filter(workspace_id=workspace_id).values(
                j=JSONObject(
                    item_count="item_count",
                    total_bytes="total_bytes",
                    unused_count="unused_count",
                    unused_bytes="unused_bytes",
                    synced_at="synced_at",
                    sync_started_at="sync_started_at",
                    sync_error_at="sync_error_at",
                    sync_error_code="sync_error_code",
                    summarised_at="summarised_at",
                )
            )[:1]
        )
    query: QuerySet[Any, Any] = (
        Workspace.objects.filter(pk=workspace_id)
        .order_by()
        .values(
            *WORKSPACE_COLUMNS,
            f_storage=Subquery(storage),
            f_usage=Subquery(usage),
            f_unhealthy=Subquery(unhealthy),
            f_server=Subquery(server_recent, output_field=JSONField()),
            f_sync_ok=Subquery(sync_ok),
            f_server_id_0=Subquery(newest_server[0:1]),
            f_server_id_1=Subquery(newest_server[1:2]),
            f_server_id_2=Subquery(newest_server[2:3]),
            f_groups=Subquery(recent_groups, output_field=JSONField()),
            f_episodes=Subquery(episodes, output_field=JSONField()),
            f_dismissals=Subquery(dismissals, output_field=JSONField()),
            **extra,
        )
    )
    return query


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
def _banner_sql(vendor: str, cards: bool) -> tuple[str, tuple[Any, ...], tuple[str, ...]]:
    """SQL, parameters (with markers) and column names of the banner query."""
    query = _banner_query(
        workspace_id=_MARK_WORKSPACE, user_id=_MARK_USER, cards=cards, **_MARK_MOMENTS
    )
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
    cards: bool = False,
) -> dict[str, Any]:
    adapt = connection.ops.adapt_datetimefield_value
    sql, params, columns = _banner_sql(connection.vendor, cards)
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
    cards: bool = False,
) -> BannerInputs:
    """Figures and the recent groups of banner families, in ONE indexed query.

    One row: the workspace (its pause, key and last checks) with scalar subqueries for
    the latest storage and usage snapshots, the unhealthy account counts, the 5xx counts
    and newest request ids of the burst window, the recently seen groups of the banner
    families as one JSON array (a handful of groups, whatever the number of stored
    events), the recent throttling and 5xx runs, and — when a person is given — their
    dismissals; with `cards`, also the accounts per status and the media library
    mirror's totals the overview shows. Each subquery reads an index range and names the
    workspace as a constant, so it runs exactly once; being one statement, it reads one
    moment of the database.
    """
    first = _banner_row(
        workspace_id=workspace.pk,
        user_id=user_id or 0,
        long_since=now - LONG_LOOKBACK,
        short_since=now - short_window,
        burst_since=now - burst_window,
        cards=cards,
    )
    unhealthy_row = _snapshot(first.get("f_unhealthy"), ("changed",)) or {}
    server = _snapshot(first.get("f_server"), ()) or {}
    episodes = _episode_rows(first.get("f_episodes"))
    row = {name: first.get(name) for name in WORKSPACE_COLUMNS}
    for name in WORKSPACE_MOMENTS:
        row[name] = _moment(row[name])
    counts = None
    if cards:
        raw_counts = _snapshot(first.get("f_counts"), ()) or {}
        counts = {key: int(raw_counts.get(key) or 0) for key in _status_values()}
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
        storage=_snapshot(
            first.get("f_storage"),
            ("since", "taken_at", "warn_since", "full_since", "forecast_since", "growth_at"),
        ),
        usage=_snapshot(first.get("f_usage"), ("period_start", "period_end", "taken_at")),
        reconnect_count=int(unhealthy_row.get("reconnect") or 0),
        credentials_count=int(unhealthy_row.get("credentials") or 0),
        unhealthy_changed_at=unhealthy_row.get("changed"),
        sync_ok_at=_moment(first.get("f_sync_ok")),
        server_recent=int(server.get("n") or 0),
        server_own=int(server.get("own") or 0),
        server_request_ids=tuple(
            first[name]
            for name in ("f_server_id_0", "f_server_id_1", "f_server_id_2")
            if first.get(name)
        ),
        groups=groups,
        episodes={key: data["started_at"] for key, data in episodes.items()},
        episodes_over=frozenset(
            key
            for key, data in episodes.items()
            if data["ended_at"] is not None
            and data["last_seen"] is not None
            and data["ended_at"] >= data["last_seen"]
        ),
        dismissals=_dismissals(first.get("f_dismissals")),
        workspace_row=row,
        status_counts=counts,
        library=_snapshot(first.get("f_library"), LIBRARY_MOMENTS) if cards else None,
    )


def _status_values() -> list[str]:
    from accounts.models import AccountStatus

    return [status.value for status in AccountStatus]


def _episode_rows(raw: Any) -> dict[tuple[str, str], dict[str, Any]]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    found = {}
    for item in raw or []:
        data = _snapshot(item, ("started_at", "last_seen", "ended_at"))
        if data and data.get("started_at") is not None:
            found[(str(data.get("family") or ""), str(data.get("platform") or ""))] = data
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
