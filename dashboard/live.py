"""One moment per screen, kept live.

Every region of a workspace page that shows a fact about the workspace — the banners,
the overview's cards, the storage gauge and what the library says — is rendered from
one read: the banner query (`events.banners.banners_view`), which with `cards=True` also
returns the accounts per status, the latest storage and usage figures and the mirror's
totals, all from the same statement. A banner can therefore never say "97 % full" above
a card that says "3 %": they are the same number.

An open page keeps it that way without a reload: the poller in `base.html` asks
`live` every LIVE_POLL_SECONDS with the version of each region it shows (a digest of the
facts it was rendered from). The answer is 204 while nothing changed (one query); else
the changed regions, all from one new moment, as out-of-band swaps, plus the poller
with the new versions. Regions that did not change are left alone, so a banner someone
expanded stays open and a focused button keeps its focus.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils import timezone

from dashboard.models import UsageSnapshot, Workspace

log = logging.getLogger(__name__)

Facts = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Region:
    """One live region: its element id, the partial that renders it, and the facts it
    shows (their digest is the region's version)."""

    id: str
    template: str
    facts: Facts


def _minute(moment: datetime | None) -> str:
    """Relative times ("2 minutes ago") change once a minute: so does the version."""
    return moment.strftime("%Y-%m-%dT%H:%M") if moment else ""


def _figure(snapshot: Any) -> list[Any]:
    if snapshot is None:
        return []
    forecast = snapshot.forecast
    return [
        snapshot.used_bytes,
        snapshot.limit_bytes,
        snapshot.count,
        _minute(snapshot.taken_at),
        # What the forecast lines say (the rates, the days left, whether it warns).
        forecast.state,
        forecast.sentence,
        [(g.grown_bytes, g.seconds, g.figures) for g in (forecast.week, forecast.month) if g],
        forecast.soon,
    ]


def _usage(usage: UsageSnapshot | None) -> list[Any]:
    if usage is None:
        return []
    return [
        usage.posts_used,
        usage.posts_limit,
        usage.interactions_used,
        usage.interactions_limit,
        usage.brands_used,
        usage.brands_limit,
        _minute(usage.period_end),
        _minute(usage.taken_at),
    ]


def _library(library: Any) -> list[Any]:
    if library is None:
        return []
    return [
        library.item_count,
        library.total_bytes,
        library.unused_count,
        library.unused_bytes,
        library.in_use_known,
        _minute(library.synced_at),
        library.sync_started_at is not None,
        library.sync_error_code,
        _minute(library.summarised_at),
    ]


def _banners(ctx: dict[str, Any]) -> Any:
    from events.banners import banners_signature

    return [
        banners_signature(list(ctx.get("banners") or [])),
        [(h.banner.key, h.banner.title) for h in ctx.get("hidden_banners") or []],
    ]


BANNERS = Region("banners", "includes/_banners.html", _banners)

PAGES: dict[str | None, tuple[Region, ...]] = {
    None: (BANNERS,),
    "overview": (
        BANNERS,
        Region(
            "overview-summary",
            "dashboard/overview.html#summary",
            lambda c: [c["moment_row"].get("plan"), _minute(c["moment_row"]["health_synced_at"])],
        ),
        Region("health-card", "dashboard/overview.html#health", lambda c: c["status_counts"]),
        Region("storage-card", "dashboard/overview.html#storage", lambda c: _figure(c["storage"])),
        Region("usage-card", "dashboard/overview.html#usage", lambda c: _usage(c["usage"])),
        Region(
            "errors-card",
            "dashboard/overview.html#errors",
            lambda c: [(g.pk, g.event_count, _minute(g.last_seen)) for g in c["recent_groups"]],
        ),
    ),
    "media:storage": (
        BANNERS,
        Region("gauge", "media/storage.html#gauge", lambda c: _figure(c["storage"])),
        Region(
            "storage-library",
            "media/storage.html#library",
            lambda c: [_figure(c["storage"]), _library(c["library"])],
        ),
    ),
    "media:library": (
        BANNERS,
        Region(
            "library-summary",
            "media/library.html#summary",
            lambda c: [_figure(c["storage"]), _library(c["library"])],
        ),
    ),
}


def _storage_of(data: dict[str, Any] | None, workspace: Workspace) -> Any:
    from media.forecast import GROWTH_FIELDS
    from media.models import StorageSnapshot

    if not data or data.get("used") is None or data.get("limit") is None:
        return None
    taken_at = data.get("taken_at") or timezone.now()
    return StorageSnapshot(
        workspace=workspace,
        used_bytes=int(data["used"]),
        limit_bytes=int(data["limit"]),
        count=data.get("count"),
        since=data.get("since") or taken_at,
        taken_at=taken_at,
        source=str(data.get("source") or "api"),
        warn_since=data.get("warn_since"),
        full_since=data.get("full_since"),
        forecast_since=data.get("forecast_since"),
        **{name: data.get(name) for name in GROWTH_FIELDS},
    )


def _usage_of(data: dict[str, Any] | None, workspace: Workspace) -> UsageSnapshot | None:
    if not data or data.get("taken_at") is None:
        return None
    numbers = {
        name: int(data.get(name) or 0) if data.get(name) is not None else -1
        for name in (
            "posts_used",
            "posts_limit",
            "interactions_used",
            "interactions_limit",
            "brands_used",
            "brands_limit",
        )
    }
    return UsageSnapshot(
        workspace=workspace,
        taken_at=data["taken_at"],
        period_start=data.get("period_start"),
        period_end=data.get("period_end"),
        source=str(data.get("source") or "api"),
        **numbers,
    )


def page_of(request: HttpRequest) -> str | None:
    """The live page the poll comes from (HX-Current-URL), when it has live regions."""
    htmx = getattr(request, "htmx", None)
    url = str(getattr(htmx, "current_url", "") or "") if htmx else ""
    if not url:
        return None
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return None
    workspace = getattr(request, "workspace", None)
    if workspace is None or match.kwargs.get("workspace_slug") != workspace.slug:
        return None
    name = match.view_name
    return name if name in PAGES else None


def moment_context(request: HttpRequest, page: str | None) -> dict[str, Any]:
    """Everything the page's live regions show, read once per request for that page.

    A failure to compute the banners shows none rather than breaking the page (they
    are on every page); the cards then show what their own reads find.
    """
    cache: dict[str | None, dict[str, Any]] = request.__dict__.setdefault("_moments", {})
    if page in cache:
        return cache[page]
    from events.banners import banners_view

    workspace: Workspace = request.workspace  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {"banners": [], "hidden_banners": []}
    inputs = None
    try:
        view = banners_view(workspace=workspace, user=request.user, cards=page == "overview")
    except Exception:
        log.exception("banners for workspace %s could not be computed", workspace.pk)
    else:
        ctx.update(banners=view.visible, hidden_banners=view.hidden)
        inputs = view.inputs
    if page == "overview":
        _overview(ctx, workspace, inputs)
    elif page == "media:storage":
        _storage_page(ctx, workspace, inputs)
    elif page == "media:library":
        _library_page(ctx, workspace)
    ctx["live_version"] = versions_encode(page, ctx)
    cache[page] = ctx
    return ctx


def _overview(ctx: dict[str, Any], workspace: Workspace, inputs: Any) -> None:
    from accounts.selectors import account_status_counts
    from dashboard.usage import usage_latest
    from events.selectors import error_groups_recent
    from media.storage import storage_latest

    if inputs is not None and inputs.status_counts is not None:
        ctx.update(
            status_counts=inputs.status_counts,
            storage=_storage_of(inputs.storage, workspace),
            usage=_usage_of(inputs.usage, workspace),
            moment_row=inputs.workspace_row,
        )
    else:  # the banner query failed: each card reads its own figure
        ctx.update(
            status_counts=account_status_counts(workspace=workspace),
            storage=storage_latest(workspace=workspace),
            usage=usage_latest(workspace=workspace),
            moment_row={"plan": workspace.plan, "health_synced_at": workspace.health_synced_at},
        )
    ctx["recent_groups"] = error_groups_recent(workspace=workspace, limit=5)


def _storage_page(ctx: dict[str, Any], workspace: Workspace, inputs: Any) -> None:
    from media import selectors
    from media.charts import gauge_for, trend_for

    now = timezone.now()
    latest = _storage_of(inputs.storage, workspace) if inputs is not None else None
    figures = selectors.storage_figures(workspace=workspace, now=now, latest=latest)
    ctx.update(
        storage=figures.latest,
        gauge=gauge_for(figures.latest),
        trend=trend_for(figures.points, now=now),
        library=selectors.media_library_summary(workspace=workspace),
    )


def _library_page(ctx: dict[str, Any], workspace: Workspace) -> None:
    from media import selectors
    from media.storage import storage_latest

    ctx.update(
        storage=storage_latest(workspace=workspace),
        library=selectors.media_library_summary(workspace=workspace),
    )


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def versions(page: str | None, ctx: dict[str, Any]) -> dict[str, str]:
    """Each live region of the page and the version of what it shows."""
    return {region.id: _digest(region.facts(ctx)) for region in PAGES.get(page, PAGES[None])}


def versions_encode(page: str | None, ctx: dict[str, Any]) -> str:
    return ",".join(f"{key}.{value}" for key, value in versions(page, ctx).items())


def versions_decode(raw: str) -> dict[str, str]:
    """What the page says it shows; garbage reads as "nothing", so everything is sent."""
    found: dict[str, str] = {}
    for part in (raw or "")[:2000].split(","):
        key, _, value = part.partition(".")
        if key and value:
            found[key] = value
    return found


def regions_changed(page: str | None, ctx: dict[str, Any], shown: str) -> list[Region]:
    """The regions whose facts differ from the versions the page showed."""
    now = versions(page, ctx)
    before = versions_decode(shown)
    regions = PAGES.get(page, PAGES[None])
    return [region for region in regions if before.get(region.id) != now[region.id]]
