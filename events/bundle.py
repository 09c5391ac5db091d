"""The diagnostic bundle: one JSON document a person can hand to SocialAPI support.

It says what the dashboard knows about a workspace — plan, usage, storage, account
health, open error groups with their latest request ids — and never a secret: no API key
(not even its last characters), no webhook secret, no ingest token or its hash, no
message text that looks like a key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db.models import Count
from django.utils import timezone

from accounts.models import UNHEALTHY_STATUSES, AccountStatus, SocialAccount
from dashboard.models import Workspace
from dashboard.usage import usage_latest
from events.banners import workspace_banners
from events.models import ErrorEvent, ErrorGroup, EventSyncState
from media.storage import storage_latest
from socialapi.codes import redact

FORMAT = "socialapi-dashboard.diagnostic-bundle/1"
MAX_GROUPS = 100
MAX_ACCOUNTS = 500
REQUEST_IDS_PER_GROUP = 5


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _text(value: str, limit: int = 500) -> str:
    return redact(value or "")[:limit]


def _base_url(url: str) -> str:
    """The base URL without any user:password part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _accounts(workspace: Workspace) -> dict[str, Any]:
    counts = {status.value: 0 for status in AccountStatus}
    for row in (
        SocialAccount.objects.filter(workspace=workspace).values("status").annotate(n=Count("id"))
    ):
        counts[row["status"]] = row["n"]
    problems = SocialAccount.objects.filter(workspace=workspace).exclude(
        status=AccountStatus.ACTIVE
    )
    return {
        "counts": counts,
        "unhealthy": sum(counts[s] for s in UNHEALTHY_STATUSES),
        "not_active": [
            {
                "id": a.upstream_id,
                "platform": a.platform,
                "brand_id": a.brand_id,
                "status": a.status,
                "status_code": a.status_code,
                "reason": _text(a.reason),
                "status_changed_at": _iso(a.status_changed_at),
                "last_checked_at": _iso(a.last_checked_at),
                "last_error_code": a.last_error_code,
                "last_error_at": _iso(a.last_error_at),
                "last_error_request_id": a.last_error_request_id,
                "scheduled_posts_at_risk": a.scheduled_posts_at_risk,
            }
            for a in problems.order_by("status", "platform", "upstream_id")[:MAX_ACCOUNTS]
        ],
    }


def _groups(workspace: Workspace) -> list[dict[str, Any]]:
    groups = list(
        ErrorGroup.objects.filter(workspace=workspace, state=ErrorGroup.State.OPEN).order_by(
            "-last_seen", "-id"
        )[:MAX_GROUPS]
    )
    result = []
    for group in groups:
        # One small indexed read per group (group, -occurred_at): a download, not a page.
        request_ids = list(
            ErrorEvent.objects.filter(workspace=workspace, group=group)
            .exclude(request_id="")
            .order_by("-occurred_at", "-id")
            .values_list("request_id", flat=True)[:REQUEST_IDS_PER_GROUP]
        )
        if not request_ids and group.last_request_id:
            request_ids = [group.last_request_id]
        result.append(
            {
                "code": group.code,
                "family": group.family,
                "platform": group.platform,
                "endpoint": group.endpoint,
                "message": _text(group.title, 300),
                "events": group.event_count,
                "first_seen": _iso(group.first_seen),
                "last_seen": _iso(group.last_seen),
                "regressed_at": _iso(group.regressed_at),
                "latest_request_ids": request_ids,
            }
        )
    return result


def diagnostic_bundle_build(*, workspace: Workspace, now: datetime | None = None) -> dict[str, Any]:
    """Everything support needs to quote to SocialAPI, as JSON-ready values."""
    now = now or timezone.now()
    usage = usage_latest(workspace=workspace)
    storage = storage_latest(workspace=workspace)
    sync = EventSyncState.objects.filter(workspace=workspace).first()
    return {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "workspace": {
            "slug": workspace.slug,
            "name": workspace.name,
            "base_url": _base_url(workspace.base_url),
            "dialect": workspace.dialect,
            "plan": workspace.plan,
            "plan_checked_at": _iso(workspace.plan_checked_at),
            "api_key_configured": bool(workspace.api_key_hint),
            "api_key_saved_at": _iso(workspace.api_key_saved_at),
            "paused_family": workspace.paused_family,
            "paused_at": _iso(workspace.paused_at),
        },
        "usage": None
        if usage is None
        else {
            "taken_at": _iso(usage.taken_at),
            "posts": {"used": usage.posts_used, "limit": usage.posts_limit},
            "interactions": {"used": usage.interactions_used, "limit": usage.interactions_limit},
            "brands": {"used": usage.brands_used, "limit": usage.brands_limit},
            "profile_units": {"used": usage.profile_units_used, "limit": usage.profile_units_limit},
            "period_start": _iso(usage.period_start),
            "period_end": _iso(usage.period_end),
        },
        "storage": None
        if storage is None
        else {
            "taken_at": _iso(storage.taken_at),
            "used_bytes": storage.used_bytes,
            "limit_bytes": storage.limit_bytes,
            "count": storage.count,
        },
        "accounts": _accounts(workspace),
        "banners": [
            {"key": b.key, "title": b.title}
            for b in workspace_banners(workspace=workspace, now=now)
        ],
        "events_sync": None
        if sync is None
        else {
            "synced_until": _iso(sync.synced_until),
            "last_run_at": _iso(sync.last_run_at),
            "last_ok_at": _iso(sync.last_ok_at),
            "last_error": _text(sync.last_error, 300),
            "resuming": bool(sync.cursor),
        },
        "open_groups": _groups(workspace),
    }
