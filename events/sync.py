"""The upstream events log (`GET /v1/events?status=failed`) copied into our error events.

Each run walks one time window [window_from, window_to] page by page (newest first, as
upstream serves it). The cursor of the next page is saved in the same transaction as the
page's events, so a run killed at any line resumes where it stopped and a page fetched
twice is deduplicated on the upstream event id. A finished window moves `synced_until`
forward; the next window starts a few minutes earlier to catch events logged late.
Events are kept beyond the upstream's 30-day retention.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dashboard.models import Workspace
from dashboard.upstream import upstream, upstream_ok
from events.models import EventSource, EventSyncState
from events.recording import BODY_LIMIT, EventInput, error_events_record
from socialapi import Classification, Event, Family, SocialAPIError, classify
from socialapi.values import as_str

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
FIRST_WINDOW = timedelta(days=30)  # upstream keeps 30 days
PAGE_SIZE = 100
MAX_PAGES_PER_RUN = 50

_MONTHLY_WORDS = ("month", "allowance", "plan", "quota")


@dataclass
class SyncResult:
    pages: int = 0
    seen: int = 0
    stored: int = 0
    complete: bool = True  # False: pages are left for the next run
    error: str = ""


def _classify_uncoded(event: Event) -> Classification:
    """Classify an event that carries no error code: status, category and wording."""
    status = event.status_code
    category = (event.error_category or "").lower()
    message = (event.error_message or event.summary or "").lower()
    platform = event.platform
    raw: str | None = None
    if status == 401:
        # Upstream logs calls against an account; a dead workspace key is never logged.
        raw = "platform.auth" if event.account_id or platform else "unauthorized"
    elif status == 403 and category == "auth" and event.account_id:
        raw = "account.reconnection_required"
    elif status == 402:
        raw = "billing.past_due"
    elif status == 413:
        raw = "storage_quota_exceeded"
    elif status == 429:
        monthly = any(word in message for word in _MONTHLY_WORDS) and "platform" not in message
        raw = "rate_limit_exceeded" if monthly else "platform_rate_limit"
    elif status is not None and status >= 500:
        raw = "system.internal"
    return classify(raw, status, message=message, platform=platform)


def event_input_from_upstream(event: Event) -> EventInput:
    """One upstream events-log entry as an error event to store."""
    metadata = event.metadata or {}
    raw_code = as_str(metadata.get("error_code")) or as_str(metadata.get("code"))
    message = event.error_message or event.summary or ""
    if raw_code:
        found = classify(raw_code, event.status_code, message=message, platform=event.platform)
    else:
        found = _classify_uncoded(event)
    raw_json = json.dumps(event.raw, sort_keys=True, default=str)
    upstream_id = (
        event.id or "sha1:" + hashlib.sha1(raw_json.encode(), usedforsecurity=False).hexdigest()
    )
    meta = {
        key: value
        for key, value in {
            "category": event.category,
            "action": event.action,
            "error_category": event.error_category or "",
            "summary": event.summary,
            "resource_id": event.resource_id or "",
            "duration_ms": event.duration_ms,
        }.items()
        if value not in ("", None)
    }
    return EventInput(
        occurred_at=event.created_at or timezone.now(),
        source=EventSource.EVENTS_SYNC,
        http_status=event.status_code,
        raw_code=raw_code,
        code=found.code,
        family=str(found.family),
        message=message,
        meta=meta,
        request_id=as_str(metadata.get("request_id")),
        endpoint=as_str(metadata.get("endpoint")),
        platform=found.platform or event.platform or "",
        account_upstream_id=event.account_id or "",
        raw_body=json.dumps(event.raw, ensure_ascii=False, default=str)[:BODY_LIMIT],
        upstream_id=upstream_id,
    )


def _window_start(state: EventSyncState, now: datetime) -> datetime:
    if state.synced_until is None:
        return now - FIRST_WINDOW
    return min(state.synced_until - OVERLAP, now)


def events_sync(*, workspace: Workspace, max_pages: int | None = None) -> SyncResult:
    """Copy the failed events upstream logged since the last run (resumable, deduplicated).

    Upstream failures are recorded by the client hook and remembered in `last_error`;
    the run stops and the next one resumes from the saved cursor.
    """
    client = upstream(workspace)
    now = timezone.now()
    state, _ = EventSyncState.objects.get_or_create(workspace=workspace)
    if state.window_from is None or state.window_to is None:
        state.window_from, state.window_to, state.cursor = _window_start(state, now), now, ""
    state.last_run_at = now
    state.save(update_fields=["window_from", "window_to", "cursor", "last_run_at"])

    max_pages = max_pages or MAX_PAGES_PER_RUN
    result = SyncResult()
    cursor: str | None = state.cursor or None
    restarted = False
    while result.pages < max_pages:
        try:
            # Reference: https://docs.social-api.ai/api-reference — GET /v1/events
            page = client.events_page(
                status="failed",
                from_=state.window_from,
                to=state.window_to,
                cursor=cursor,
                limit=PAGE_SIZE,
            )
        except SocialAPIError as exc:
            if cursor and exc.family == Family.VALIDATION and not restarted:
                # The saved cursor is no longer accepted: walk the window again from its
                # newest end; events already stored are skipped on their upstream id.
                log.info(
                    "events sync of workspace %s: cursor refused, restarting the window",
                    workspace.pk,
                )
                cursor, restarted = None, True
                EventSyncState.objects.filter(pk=state.pk).update(cursor="")
                continue
            EventSyncState.objects.filter(pk=state.pk).update(last_error=str(exc)[:300])
            result.complete, result.error = False, str(exc)[:300]
            return result
        if result.pages == 0:
            upstream_ok(workspace)
        failed = [e for e in page.events if e.status in ("failed", "")]
        next_cursor = page.next_cursor if page.has_more and page.next_cursor else None
        if next_cursor is not None and next_cursor == cursor:
            log.warning(
                "events sync of workspace %s: upstream repeated a cursor; window closed",
                workspace.pk,
            )
            next_cursor = None
        with transaction.atomic():
            stored = error_events_record(
                workspace=workspace, events=[event_input_from_upstream(e) for e in failed]
            )
            updates: dict[str, object] = {
                "cursor": next_cursor or "",
                "last_ok_at": timezone.now(),
                "last_error": "",
                "events_seen": F("events_seen") + len(failed),
                "events_stored": F("events_stored") + len(stored),
            }
            if next_cursor is None:
                updates.update(synced_until=state.window_to, window_from=None, window_to=None)
                Workspace.objects.filter(pk=workspace.pk).update(events_synced_at=timezone.now())
            EventSyncState.objects.filter(pk=state.pk).update(**updates)
        result.pages += 1
        result.seen += len(failed)
        result.stored += len(stored)
        if next_cursor is None:
            return result
        cursor = next_cursor
    result.complete = False
    return result
