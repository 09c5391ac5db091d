"""Storing error events: the one place every source (dashboard calls, the upstream
events log, the ingest API, webhooks) goes through. Dedupes, groups by fingerprint,
keeps per-day counts, reopens resolved groups, then tells the rest of the project.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from dashboard.models import Workspace
from events.models import ErrorDailyCount, ErrorEvent, ErrorGroup
from socialapi import SocialAPIError

BODY_LIMIT = 8 * 1024

# Sent after events are stored (inside the same transaction), with the new events.
# accounts/ marks broken accounts; media/ refreshes storage after a quota error.
error_events_recorded = Signal()


@dataclass
class EventInput:
    """One error event to store, already classified (see socialapi.classify)."""

    occurred_at: datetime
    source: str
    code: str
    family: str
    http_status: int | None = None
    raw_code: str = ""
    message: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    method: str = ""
    endpoint: str = ""
    platform: str = ""
    account_upstream_id: str = ""
    raw_body: str = ""
    retry_after: datetime | None = None
    upstream_id: str = ""
    client_id: str = ""


def fingerprint(workspace_id: int, code: str, platform: str, endpoint: str) -> str:
    raw = f"{workspace_id}\x1f{code}\x1f{platform}\x1f{endpoint}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def event_input_from_exception(exc: SocialAPIError, *, source: str = "dashboard") -> EventInput:
    """Turn a client exception into an event; the account comes from the call's path."""
    now = timezone.now()
    params = exc.path_params or {}
    account_id = ""
    if exc.endpoint.startswith("/accounts/{id}"):
        account_id = str(params.get("id", ""))
    return EventInput(
        occurred_at=now,
        source=source,
        http_status=exc.status,
        raw_code=exc.raw_code or "",
        code=exc.code,
        family=str(exc.family),
        message=exc.message or "",
        meta=exc.meta or {},
        request_id=exc.request_id or "",
        method=exc.method or "",
        endpoint=exc.endpoint or "",
        platform=exc.platform or "",
        account_upstream_id=account_id,
        raw_body=(exc.body or "")[:BODY_LIMIT],
        retry_after=now + timedelta(seconds=exc.retry_after) if exc.retry_after else None,
    )


def error_event_record_from_exception(*, workspace: Workspace, exc: SocialAPIError) -> ErrorEvent | None:
    """Record one failed call the dashboard itself made."""
    created = error_events_record(workspace=workspace, events=[event_input_from_exception(exc)])
    return created[0] if created else None


def _existing_keys(workspace: Workspace, events: Sequence[EventInput]) -> tuple[set[str], set[str]]:
    upstream_ids = {e.upstream_id for e in events if e.upstream_id}
    client_ids = {e.client_id for e in events if e.client_id}
    seen_upstream: set[str] = set()
    seen_client: set[str] = set()
    if upstream_ids:
        seen_upstream = set(
            ErrorEvent.objects.filter(workspace=workspace, upstream_id__in=upstream_ids).values_list(
                "upstream_id", flat=True
            )
        )
    if client_ids:
        seen_client = set(
            ErrorEvent.objects.filter(workspace=workspace, client_id__in=client_ids).values_list(
                "client_id", flat=True
            )
        )
    return seen_upstream, seen_client


def _dedupe(workspace: Workspace, events: Sequence[EventInput]) -> list[EventInput]:
    seen_upstream, seen_client = _existing_keys(workspace, events)
    fresh: list[EventInput] = []
    for event in events:
        if event.upstream_id:
            if event.upstream_id in seen_upstream:
                continue
            seen_upstream.add(event.upstream_id)
        if event.client_id:
            if event.client_id in seen_client:
                continue
            seen_client.add(event.client_id)
        fresh.append(event)
    return fresh


def _groups_for(workspace: Workspace, events: Sequence[EventInput]) -> dict[str, ErrorGroup]:
    by_fp: dict[str, EventInput] = {}
    for event in events:
        fp = fingerprint(workspace.pk, event.code, event.platform, event.endpoint)
        current = by_fp.get(fp)
        if current is None or event.occurred_at < current.occurred_at:
            by_fp[fp] = event
    groups = {g.fingerprint: g for g in ErrorGroup.objects.filter(workspace=workspace, fingerprint__in=by_fp)}
    missing = [
        ErrorGroup(
            workspace=workspace,
            fingerprint=fp,
            code=e.code,
            family=e.family,
            platform=e.platform,
            endpoint=e.endpoint,
            title=(e.message or e.code)[:300],
            first_seen=e.occurred_at,
            last_seen=e.occurred_at,
            event_count=0,
        )
        for fp, e in by_fp.items()
        if fp not in groups
    ]
    if missing:
        ErrorGroup.objects.bulk_create(missing, ignore_conflicts=True)
        groups.update(
            {
                g.fingerprint: g
                for g in ErrorGroup.objects.filter(
                    workspace=workspace, fingerprint__in=[m.fingerprint for m in missing]
                )
            }
        )
    return groups


def _account_ids(workspace: Workspace, events: Iterable[EventInput]) -> dict[str, int]:
    from accounts.models import SocialAccount

    wanted = {e.account_upstream_id for e in events if e.account_upstream_id}
    if not wanted:
        return {}
    return dict(
        SocialAccount.objects.filter(workspace=workspace, upstream_id__in=wanted).values_list(
            "upstream_id", "id"
        )
    )


def _update_groups(groups: dict[str, ErrorGroup], rows: Sequence[ErrorEvent]) -> None:
    now = timezone.now()
    per_group: dict[int, list[ErrorEvent]] = defaultdict(list)
    for row in rows:
        per_group[row.group_id].append(row)
    by_id = {g.pk: g for g in groups.values()}
    for group_id, members in per_group.items():
        group = by_id[group_id]
        newest = max(members, key=lambda r: r.occurred_at)
        oldest = min(r.occurred_at for r in members)
        updates: dict[str, Any] = {"event_count": F("event_count") + len(members)}
        if newest.occurred_at >= group.last_seen or group.event_count == 0:
            updates["last_seen"] = newest.occurred_at
            updates["last_request_id"] = newest.request_id
            updates["title"] = (newest.message or newest.code)[:300]
        if oldest < group.first_seen:
            updates["first_seen"] = oldest
        if group.state == ErrorGroup.State.RESOLVED and newest.occurred_at > (group.state_changed_at or now):
            updates.update(state=ErrorGroup.State.OPEN, regressed_at=now, state_changed_at=now)
        ErrorGroup.objects.filter(pk=group_id).update(**updates)


def _update_daily_counts(workspace: Workspace, rows: Sequence[ErrorEvent]) -> None:
    counts: dict[tuple[int, Any], int] = defaultdict(int)
    for row in rows:
        counts[(row.group_id, row.occurred_at.date())] += 1
    ErrorDailyCount.objects.bulk_create(
        [ErrorDailyCount(workspace=workspace, group_id=g, day=d, count=0) for (g, d) in counts],
        ignore_conflicts=True,
    )
    for (group_id, day), n in counts.items():
        ErrorDailyCount.objects.filter(group_id=group_id, day=day).update(count=F("count") + n)


def error_events_record(*, workspace: Workspace, events: Sequence[EventInput]) -> list[ErrorEvent]:
    """Store events in bulk; returns the ones that were new (duplicates are skipped)."""
    fresh = _dedupe(workspace, events)
    if not fresh:
        return []
    with transaction.atomic():
        groups = _groups_for(workspace, fresh)
        accounts = _account_ids(workspace, fresh)
        rows = [
            ErrorEvent(
                workspace=workspace,
                group=groups[fingerprint(workspace.pk, e.code, e.platform, e.endpoint)],
                occurred_at=e.occurred_at,
                source=e.source,
                http_status=e.http_status,
                raw_code=e.raw_code[:100],
                code=e.code[:100],
                family=e.family,
                message=e.message,
                meta=e.meta,
                request_id=e.request_id[:64],
                method=e.method[:10],
                endpoint=e.endpoint[:200],
                platform=e.platform[:40],
                account_id=accounts.get(e.account_upstream_id),
                account_upstream_id=e.account_upstream_id[:100],
                raw_body=e.raw_body[:BODY_LIMIT],
                retry_after=e.retry_after,
                upstream_id=e.upstream_id[:100],
                client_id=e.client_id[:100],
            )
            for e in fresh
        ]
        # ignore_conflicts covers a concurrent writer storing the same dedupe key.
        ErrorEvent.objects.bulk_create(rows, ignore_conflicts=any(e.upstream_id or e.client_id for e in fresh))
        _update_groups(groups, rows)
        _update_daily_counts(workspace, rows)
        error_events_recorded.send(sender=ErrorEvent, workspace=workspace, events=rows)
    return rows
