"""The banner rules, one function per banner of the product spec, and their wording
helpers. Pure: they read `BannerInputs` (one query, see events.selectors.banners) and the
workspace row, and return `Banner`s; events.banners orders, filters and dismisses them."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from dashboard.models import Workspace
from events.fixes import BannerText, banner_text
from events.selectors import BannerGroup, BannerInputs
from media.forecast import (
    WEEK_DAYS,
    Forecast,
    forecast_for,
    growths_of,
    hysteresis_days,
    threshold_days,
)
from socialapi import platform_name

log = logging.getLogger(__name__)

STORAGE_WARN_PERCENT = 80
STORAGE_HIGH_PERCENT = 95
ALLOWANCE_WARN_PERCENT = 80
SNOOZE_CHOICES = (60, 24 * 60)  # minutes offered next to "Dismiss"
THROTTLE_RETRY_GUESS = timedelta(minutes=15)  # when the platform sent no Retry-After
SAME_SECOND = timedelta(seconds=1)
LEVEL_ORDER = {"danger": 3, "warning": 2, "info": 1}

POST_LIMIT_CODES = ("validation.post_limit_exhausted", "billing.post_limit")
INTERACTION_LIMIT_CODES = ("validation.interaction_limit_exhausted",)


def burst_minutes() -> int:
    return int(getattr(settings, "SERVER_ERROR_BURST_MINUTES", 10))


def burst_threshold() -> int:
    return int(getattr(settings, "SERVER_ERROR_BURST_COUNT", 5))


def failing_threshold() -> int:
    """The dashboard's own calls failing with 5xx (each after its retries) that show the
    outage banner without waiting for a burst."""
    return int(getattr(settings, "SERVER_ERROR_FAILING_COUNT", 2))


def throttle_minutes() -> int:
    return int(settings.PLATFORM_THROTTLE_BANNER_MINUTES)


@dataclass(frozen=True)
class Banner:
    key: str  # stable per cause: "storage_nearly_full", "platform_throttle:instagram"
    kind: str  # a key of events.fixes.BANNER_TEXTS
    level: str  # danger | warning | info (the CSS class)
    severity: int  # higher shows first
    text: BannerText
    action_url: str = ""
    rank: int = 1  # how bad, within its key: a higher rank shows a dismissed banner again
    since: datetime | None = None  # when the current cause started, when known
    request_ids: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.text.title

    @property
    def meaning(self) -> str:
        return self.text.meaning

    @property
    def action(self) -> str:
        return self.text.action

    @property
    def clears(self) -> str:
        return self.text.clears

    @property
    def action_label(self) -> str:
        return self.text.action_label

    @property
    def body(self) -> str:
        return f"{self.text.meaning} {self.text.action}"


# --- wording helpers ---------------------------------------------------------------------


def _bytes(value: int) -> str:
    from dashboard.templatetags.dashboard_tags import bytes_human

    return bytes_human(value)


def _day(moment: datetime, now: datetime) -> str:
    """ "15 Dec" (with the year when it is not this year's)."""
    local = timezone.localtime(moment)
    text = f"{local.day} {local:%b}"
    return text if local.year == timezone.localtime(now).year else f"{text} {local.year}"


def _clock(moment: datetime, now: datetime) -> str:
    """ "14:20 UTC" today, "Tue 14:20 UTC" on another day."""
    local = timezone.localtime(moment)
    zone = local.tzname() or ""
    clock = f"{local:%H:%M} {zone}".strip()
    return clock if local.date() == timezone.localtime(now).date() else f"{local:%a} {clock}"


def _ago(moment: datetime, now: datetime) -> str:
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"on {_day(moment, now)}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _url(
    name: str, workspace: Workspace, query: dict[str, str] | None = None, anchor: str = ""
) -> str:
    url = reverse(name, args=[workspace.slug])
    if query:
        url += "?" + urlencode(query)
    return url + (f"#{anchor}" if anchor else "")


def _newest(
    groups: list[BannerGroup], family: str, *, after: datetime | None = None
) -> BannerGroup | None:
    candidates = [
        g for g in groups if g.family == family and (after is None or g.last_seen > after)
    ]
    return max(candidates, key=lambda g: g.last_seen, default=None)


def _latest(*moments: datetime | None) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _run_started(snapshot: dict[str, Any] | None, line: str) -> datetime | None:
    """Where the current run of storage figures over a line started (None when unknown:
    a dismissal then holds until banner_dismissals_expire sees the cause gone)."""
    moment = (snapshot or {}).get(line)
    return moment if isinstance(moment, datetime) else None


def _figure_time(snapshot: dict[str, Any] | None, *, api_only: bool = False) -> datetime | None:
    if not snapshot:
        return None
    if api_only and snapshot.get("source") not in ("api", None):
        return None
    moment = snapshot.get("taken_at")
    return moment if isinstance(moment, datetime) else None


# --- the rules, one function per banner ------------------------------------------------------


def _billing(workspace: Workspace, inputs: BannerInputs) -> Banner | None:
    # Billing blocks every call but users/me, so any later figure proves it is lifted.
    ok_at = _latest(
        inputs.sync_ok_at, _figure_time(inputs.usage), _figure_time(inputs.storage, api_only=True)
    )
    paused = workspace.paused_family == "billing"
    newest = _newest(inputs.groups, "billing", after=ok_at)
    if not paused and newest is None:
        return None
    seen = newest.last_seen if newest else workspace.paused_at
    when = f" (last refused {_ago(seen, inputs.now)})" if seen else ""
    return Banner(
        key="billing_past_due",
        kind="billing_past_due",
        level="danger",
        severity=100,
        text=banner_text("billing_past_due", when=when),
        action_url=_url("events:errors", workspace, {"family": "billing", "state": "all"}),
        since=_latest(workspace.paused_at if paused else None, ok_at),
        request_ids=(newest.last_request_id,) if newest and newest.last_request_id else (),
    )


def _api_key(workspace: Workspace, inputs: BannerInputs) -> Banner | None:
    ok_at = _latest(
        workspace.api_key_saved_at,
        workspace.plan_checked_at,
        inputs.sync_ok_at,
        _figure_time(inputs.usage),
        _figure_time(inputs.storage, api_only=True),
    )
    paused = workspace.paused_family == "api_key"
    newest = _newest(inputs.groups, "api_key", after=ok_at)
    if not paused and newest is None:
        if not workspace.api_key_hint:
            return Banner(
                key="api_key_missing",
                kind="api_key_missing",
                level="info",
                severity=90,
                text=banner_text("api_key_missing"),
                action_url=_url("settings", workspace),
            )
        return None
    seen = newest.last_seen if newest else workspace.paused_at
    when = f", last {_ago(seen, inputs.now)}" if seen else ""
    return Banner(
        key="api_key_rejected",
        kind="api_key_rejected",
        level="danger",
        severity=95,
        text=banner_text("api_key_rejected", when=when),
        action_url=_url("settings", workspace),
        since=_latest(workspace.paused_at if paused else None, ok_at),
        request_ids=(newest.last_request_id,) if newest and newest.last_request_id else (),
    )


def _secrets(workspace: Workspace, inputs: BannerInputs) -> Banner | None:
    """The stored API key or webhook secret cannot be decrypted (the keys changed)."""
    if not workspace.secrets_unreadable:
        return None
    return Banner(
        key="secrets_unreadable",
        kind="secrets_unreadable",
        level="danger",
        severity=110,
        text=banner_text("secrets_unreadable"),
        action_url=_url("settings", workspace),
    )


def _storage(workspace: Workspace, inputs: BannerInputs) -> Banner | None:
    snap = inputs.storage
    used = int(snap["used"]) if snap and snap.get("used") is not None else None
    limit = int(snap["limit"]) if snap and snap.get("limit") is not None else None
    taken_at = _figure_time(snap)
    refused = _newest(inputs.groups, "storage_quota", after=taken_at)
    limited = used is not None and limit is not None and limit >= 0
    url = _url("media:storage", workspace)
    # When the cause started: the first figure of the current run over the line (media
    # stores it on each figure); for a refusal newer than the figure, that figure's time
    # (the next figure ends the refusal's episode).
    full_since = _run_started(snap, "full_since")
    if refused is not None and (used is None or limit is None or used < limit):
        full_since = taken_at
    if (
        limited
        and used is not None
        and limit is not None
        and (used >= limit or refused is not None)
    ):
        figure = f"{_bytes(used)} of {_bytes(limit)} used"
        need = _bytes(used - limit) if used > limit else "enough space for the refused upload"
        if refused is not None and used < limit:
            when = _ago(refused.last_seen, inputs.now)
            figure = f"An upload was refused {when}: {_bytes(limit - used)} is free"
        return Banner(
            key="storage_full",
            kind="storage_full",
            level="danger",
            severity=80,
            text=banner_text("storage_full", figure=figure, need=need),
            action_url=url,
            since=full_since,
            request_ids=(refused.last_request_id,) if refused and refused.last_request_id else (),
        )
    if refused is not None and not limited:
        # No figure yet (or an unlimited one older than the refusal): trust the refusal.
        return Banner(
            key="storage_full",
            kind="storage_full",
            level="danger",
            severity=80,
            text=banner_text(
                "storage_full",
                figure="An upload was refused "
                f"{_ago(refused.last_seen, inputs.now)} for lack of space",
                need="enough space for the refused upload",
            ),
            action_url=url,
            since=full_since,
            request_ids=(refused.last_request_id,) if refused.last_request_id else (),
        )
    if not limited or used is None or limit is None or limit == 0:
        return None
    percent = 100.0 * used / limit
    if percent < STORAGE_WARN_PERCENT:
        return None
    forecast = _forecast(snap)
    high = percent >= STORAGE_HIGH_PERCENT
    return Banner(
        key="storage_nearly_full",
        kind="storage_nearly_full",
        level="danger" if high else "warning",
        severity=35 if high else 30,
        rank=2 if high else 1,
        text=banner_text(
            "storage_nearly_full",
            percent=int(percent),
            left=_bytes(max(limit - used, 0)),
            used=_bytes(used),
            limit=_bytes(limit),
            forecast=f" At the recent pace it is full in {forecast.in_days}."
            if forecast is not None and forecast.shown
            else "",
        ),
        action_url=url,
        since=_run_started(snap, "warn_since"),
    )


def _forecast(snap: dict[str, Any] | None) -> Forecast | None:
    """The forecast kept with the latest storage figure (media.forecast)."""
    if not snap or snap.get("used") is None or snap.get("limit") is None:
        return None
    week, month = growths_of(snap)
    return forecast_for(
        used=int(snap["used"]),
        limit=int(snap["limit"]),
        taken_at=_figure_time(snap),
        week=week,
        month=month,
        soon_since=_run_started(snap, "forecast_since"),
    )


def _storage_filling(
    workspace: Workspace, inputs: BannerInputs, storage: Banner | None
) -> Banner | None:
    """Storage would be full within STORAGE_FORECAST_DAYS at the last 7 days' pace: a
    warning before the nearly-full and full banners (which say it themselves once on)."""
    if storage is not None:
        return None
    forecast = _forecast(inputs.storage)
    if forecast is None or not forecast.soon or forecast.week is None:
        return None
    snap = inputs.storage or {}
    used, limit = int(snap["used"]), int(snap["limit"])
    week = forecast.week
    window = min(WEEK_DAYS, max(1, round(week.days)))
    days_left = forecast.days_left or 0.0
    return Banner(
        key="storage_filling",
        kind="storage_filling",
        level="warning",
        severity=25,
        rank=2 if days_left < 2 else 1,
        text=banner_text(
            "storage_filling",
            days=forecast.in_days,
            grown=_bytes(week.grown_bytes),
            window=_plural(window, "day", "days"),
            rate=_bytes(int(week.per_day)),
            left=_bytes(max(limit - used, 0)),
            limit=_bytes(limit),
            clear=_count(threshold_days() + hysteresis_days()),
        ),
        action_url=_url("media:storage", workspace, anchor="forecast-h"),
        since=forecast.soon_since,
    )


def _count(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _allowance_of(code: str) -> str | None:
    if code in POST_LIMIT_CODES:
        return "posts"
    if code in INTERACTION_LIMIT_CODES:
        return "interactions"
    tail = code.rsplit(".", 1)[-1]
    if tail.endswith("_limit_exhausted"):
        name = tail.removesuffix("_limit_exhausted")
        return name if name.endswith("s") else f"{name}s"
    return None


def _int_of(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _moment_of(data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    return value if isinstance(value, datetime) else None


def _monthly(workspace: Workspace, inputs: BannerInputs) -> list[Banner]:
    usage = inputs.usage or {}
    now = inputs.now
    period_start = _moment_of(usage, "period_start")
    period_end = _moment_of(usage, "period_end")
    taken_at = _figure_time(inputs.usage)
    period_open = period_end is None or period_end > now
    reset_at = period_end if period_end is not None and period_end > now else None
    reset = _day(reset_at, now) if reset_at else "the end of the billing period"
    refusals: dict[str, BannerGroup] = {}
    for group in inputs.groups:
        allowance = _allowance_of(group.code) if group.family == "monthly_limit" else None
        if allowance and (
            allowance not in refusals or group.last_seen > refusals[allowance].last_seen
        ):
            refusals[allowance] = group
    url = _url("overview", workspace, anchor="usage-h")
    banners: list[Banner] = []
    for allowance in sorted({"posts", "interactions", *refusals}):
        used = _int_of(usage, f"{allowance}_used")
        limit = _int_of(usage, f"{allowance}_limit")
        # (used, limit) when this plan limits the allowance; None when unlimited/unknown.
        figures = (used, limit) if used is not None and limit is not None and limit >= 0 else None
        full_by_figures = figures is not None and period_open and figures[0] >= figures[1]
        refused = refusals.get(allowance)
        full_by_refusal = False
        if refused is not None:
            in_period = refused.last_seen >= (period_start or now - timedelta(days=31))
            room_since = (
                taken_at is not None
                # Upstream stamps events to the second: a figure from the same second as
                # the refusal may well be older than it.
                and taken_at > refused.last_seen + SAME_SECOND
                and (figures is None or figures[0] < figures[1])
            )
            ended = period_end is not None and period_end <= now and refused.last_seen < period_end
            full_by_refusal = in_period and not room_since and not ended
        if full_by_figures or full_by_refusal:
            banners.append(
                Banner(
                    key=f"monthly_limit:{allowance}",
                    kind="monthly_limit",
                    level="danger",
                    severity=70,
                    rank=2,
                    text=banner_text(
                        "monthly_limit",
                        allowance=allowance.removesuffix("s"),
                        plural=allowance,
                        reset=reset,
                        figure=f" ({figures[0]} of {figures[1]})" if figures else "",
                    ),
                    action_url=url,
                    since=reset_at,
                    request_ids=(refused.last_request_id,)
                    if refused and refused.last_request_id
                    else (),
                )
            )
        elif figures is not None and period_open and figures[1] > 0:
            percent = 100.0 * figures[0] / figures[1]
            if percent < ALLOWANCE_WARN_PERCENT:
                continue
            banners.append(
                Banner(
                    key=f"monthly_limit:{allowance}",
                    kind="monthly_nearly_used",
                    level="info",
                    severity=20,
                    rank=1,
                    text=banner_text(
                        "monthly_nearly_used",
                        percent=int(percent),
                        plural=allowance,
                        left=figures[1] - figures[0],
                        used=figures[0],
                        limit=figures[1],
                        reset=reset,
                    ),
                    action_url=url,
                    since=reset_at,
                )
            )
    return banners


def _throttles(workspace: Workspace, inputs: BannerInputs) -> list[Banner]:
    minutes = throttle_minutes()
    window_start = inputs.now - timedelta(minutes=minutes)
    per_platform: dict[str, list[BannerGroup]] = {}
    for group in inputs.groups:
        if group.family == "platform_throttle" and group.last_seen >= window_start:
            per_platform.setdefault(group.platform, []).append(group)
    banners = []
    for platform, groups in sorted(per_platform.items()):
        if ("platform_throttle", platform) in inputs.episodes_over:
            continue  # the platform answered a call since its last throttling error
        newest = max(groups, key=lambda g: g.last_seen)
        retry_at = max((g.last_retry_after for g in groups if g.last_retry_after), default=None)
        if retry_at is None or retry_at <= inputs.now:
            retry_at = max(
                newest.last_seen + THROTTLE_RETRY_GUESS, inputs.now + timedelta(minutes=1)
            )
        name = platform_name(platform) if platform else "A platform"
        banners.append(
            Banner(
                key=f"platform_throttle:{platform or 'unknown'}",
                kind="platform_throttle",
                level="warning",
                severity=40,
                text=banner_text(
                    "platform_throttle",
                    platform=name,
                    retry=_clock(retry_at, inputs.now),
                    when=_ago(newest.last_seen, inputs.now),
                    minutes=minutes,
                ),
                action_url=_url(
                    "events:errors",
                    workspace,
                    {"family": "platform_throttle", "platform": platform, "period": "24h"}
                    if platform
                    else {"family": "platform_throttle", "period": "24h"},
                ),
                since=inputs.episodes.get(("platform_throttle", platform)),
                request_ids=tuple(g.last_request_id for g in groups if g.last_request_id)[:3],
            )
        )
    return banners


def _accounts(workspace: Workspace, inputs: BannerInputs) -> Banner | None:
    reconnect, credentials = inputs.reconnect_count, inputs.credentials_count
    total = reconnect + credentials
    if total == 0:
        return None
    detail_bits = []
    if reconnect:
        detail_bits.append(
            f"{_plural(reconnect, 'account', 'accounts')} lost "
            f"{'its' if reconnect == 1 else 'their'} platform login"
        )
    if credentials:
        detail_bits.append(
            f"{_plural(credentials, 'account has', 'accounts have')} "
            "credentials the platform rejects"
        )
    detail = "; ".join(detail_bits) + "."
    need = (
        "reconnecting"
        if not credentials
        else "new credentials"
        if not reconnect
        else "reconnecting or new credentials"
    )
    return Banner(
        key="accounts_reconnect",
        kind="accounts_reconnect",
        level="warning",
        severity=60,
        rank=total,
        text=banner_text(
            "accounts_reconnect",
            count=_plural(total, "account", "accounts"),
            verb="s" if total == 1 else "",
            need=need,
            detail=detail[0].upper() + detail[1:],
        ),
        # The list the button opens holds exactly the accounts the title counts.
        action_url=_url("accounts:list", workspace, {"status": "problems"}),
        since=inputs.unhealthy_changed_at,
    )


def _server_errors(workspace: Workspace, inputs: BannerInputs) -> Banner | None:
    """A burst of 5xx from any source, or the dashboard's own calls failing even after
    their retries; gone once a call succeeds with no new 5xx (the counts then start over
    from that success)."""
    if ("server", "") in inputs.episodes_over:
        return None
    if inputs.server_recent < burst_threshold() and inputs.server_own < failing_threshold():
        return None
    window_start = inputs.now - timedelta(minutes=burst_minutes())
    recent = sorted(
        (
            g
            for g in inputs.groups
            if g.family == "server" and g.last_seen >= window_start and g.last_request_id
        ),
        key=lambda g: g.last_seen,
        reverse=True,
    )
    newest_first = [*inputs.server_request_ids, *(g.last_request_id for g in recent)]
    ids = tuple(dict.fromkeys(newest_first))[:3]
    count = inputs.server_recent
    return Banner(
        key="server_errors",
        kind="server_errors",
        level="warning",
        severity=50,
        rank=3 if count >= 100 else 2 if count >= 20 else 1,
        text=banner_text(
            "server_errors",
            count=count,
            minutes=burst_minutes(),
        ),
        action_url=_url("events:errors", workspace, {"family": "server", "period": "1h"}),
        since=inputs.episodes.get(("server", "")),
        request_ids=ids,
    )


def _as_read(workspace: Workspace, inputs: BannerInputs) -> Workspace:
    """The workspace with the columns the banner query read (the same moment as the
    figures), not the ones loaded earlier in the request."""
    if not inputs.workspace_row:
        return workspace
    current = copy.copy(workspace)
    for name, value in inputs.workspace_row.items():
        setattr(current, name, value if value is not None or name.endswith("_at") else "")
    return current


def banners_compute(workspace: Workspace, inputs: BannerInputs) -> list[Banner]:
    """Every banner the inputs call for, most severe first."""
    workspace = _as_read(workspace, inputs)
    storage = _storage(workspace, inputs)
    found: list[Banner | None] = [
        _secrets(workspace, inputs),
        _billing(workspace, inputs),
        _api_key(workspace, inputs),
        storage,
        _storage_filling(workspace, inputs, storage),
        *_monthly(workspace, inputs),
        _accounts(workspace, inputs),
        _server_errors(workspace, inputs),
        *_throttles(workspace, inputs),
    ]
    banners = [b for b in found if b is not None]
    return sorted(banners, key=lambda b: (-LEVEL_ORDER[b.level], -b.severity, b.key))
