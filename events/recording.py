"""Storing error events: the one place every source (dashboard calls, the upstream
events log, the ingest API, webhooks) goes through. Cleans (events.inputs), dedupes,
groups by fingerprint, keeps the counters (events.group_counters), then tells the rest
of the project.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import IntegrityError, OperationalError, connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from dashboard.models import Workspace
from events.group_counters import (
    affected_accounts_update,
    daily_counts_update,
    episodes_update,
    groups_update,
)
from events.inputs import (
    BODY_LIMIT,
    MESSAGE_LIMIT,
    META_LIMIT,
    RETRY_AFTER_LIMIT,
    EventInput,
    clean_meta,
    clean_text,
    endpoint_template,
    event_input_clean,
)
from events.models import ErrorEvent, ErrorGroup, EventSource
from socialapi import Family, SocialAPIError, family_for_platform

__all__ = [  # the names other apps use; EventInput and the limits live in events.inputs
    "BODY_LIMIT",
    "MESSAGE_LIMIT",
    "META_LIMIT",
    "EventInput",
    "clean_meta",
    "clean_text",
    "endpoint_template",
    "error_event_record_from_exception",
    "error_events_record",
    "error_events_record_each",
    "error_events_recorded",
    "event_input_from_exception",
    "fingerprint",
]

_RETRYABLE = ("40P01", "40001")  # PostgreSQL: deadlock detected, serialization failure
_EVENTS_LOG = EventSource.EVENTS_SYNC

# Sent after events are stored (inside the same transaction), with the new events.
# accounts/ marks broken accounts; media/ refreshes storage after a quota error.
error_events_recorded = Signal()


# --- inputs from the dashboard's own calls ---------------------------------------------


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
    # Bounded: an absurd Retry-After header must not break recording the failure.
    wait = min(exc.retry_after, RETRY_AFTER_LIMIT.total_seconds()) if exc.retry_after else 0
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
        retry_after=now + timedelta(seconds=wait) if wait else None,
    )


def error_event_record_from_exception(
    *, workspace: Workspace, exc: SocialAPIError
) -> ErrorEvent | None:
    """Record one failed call the dashboard itself made."""
    created = error_events_record(workspace=workspace, events=[event_input_from_exception(exc)])
    return created[0] if created else None


# --- storing -----------------------------------------------------------------------------


def _dedupe_key(workspace: Workspace, kind: str, value: str) -> int:
    digest = hashlib.sha256(f"{workspace.pk}\x1f{kind}\x1f{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_dedupe_keys(workspace: Workspace, events: Sequence[EventInput]) -> None:
    """Hold a transaction-scoped lock on each dedupe key of the batch (PostgreSQL).

    Writers storing the same upstream or client id wait for each other, so the "seen
    before?" check below is exact; writers with different ids run side by side. The locks
    are taken in one statement, in key order, so two batches cannot deadlock. SQLite needs
    nothing: its IMMEDIATE transactions already hold the database's only write lock.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted(
        {_dedupe_key(workspace, "u", e.upstream_id) for e in events if e.upstream_id}
        | {_dedupe_key(workspace, "c", e.client_id) for e in events if e.client_id}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT unnest(%s::bigint[]) AS k ORDER BY 1) AS keys",
            [keys],
        )


def _seen_keys(
    workspace: Workspace, events: Sequence[EventInput]
) -> tuple[set[str], set[str], set[str]]:
    """The upstream ids, client ids and (for events-log entries) request ids of the batch
    already stored in this workspace."""
    upstream_ids = {e.upstream_id for e in events if e.upstream_id}
    client_ids = {e.client_id for e in events if e.client_id}
    request_ids = {e.request_id for e in events if e.request_id and e.source == _EVENTS_LOG}
    seen_upstream: set[str] = set()
    seen_client: set[str] = set()
    seen_request: set[str] = set()
    if upstream_ids:
        seen_upstream = set(
            ErrorEvent.objects.filter(
                workspace=workspace, upstream_id__in=upstream_ids
            ).values_list("upstream_id", flat=True)
        )
    if client_ids:
        seen_client = set(
            ErrorEvent.objects.filter(workspace=workspace, client_id__in=client_ids).values_list(
                "client_id", flat=True
            )
        )
    if request_ids:
        seen_request = set(
            ErrorEvent.objects.filter(workspace=workspace, request_id__in=request_ids).values_list(
                "request_id", flat=True
            )
        )
    return seen_upstream, seen_client, seen_request


def _fresh_positions(workspace: Workspace, events: Sequence[EventInput]) -> list[int]:
    """Positions of the events not stored before (nor earlier in this batch).

    Besides the upstream and client ids: upstream's events log also lists the failed
    calls the dashboard made and the ones the customer's backend sent through ingest. An
    events-log entry whose request id is already stored is that same call: skipped.
    """
    seen_upstream, seen_client, seen_request = _seen_keys(workspace, events)
    fresh: list[int] = []
    for position, event in enumerate(events):
        if event.upstream_id and event.upstream_id in seen_upstream:
            continue
        if event.client_id and event.client_id in seen_client:
            continue
        if event.source == _EVENTS_LOG and event.request_id and event.request_id in seen_request:
            continue
        if event.upstream_id:
            seen_upstream.add(event.upstream_id)
        if event.client_id:
            seen_client.add(event.client_id)
        if event.request_id:
            seen_request.add(event.request_id)
        fresh.append(position)
    return fresh


def _groups_for(workspace: Workspace, events: Sequence[EventInput]) -> dict[str, ErrorGroup]:
    by_fp: dict[str, EventInput] = {}
    for event in events:
        fp = fingerprint(workspace.pk, event.code, event.platform, event.endpoint)
        current = by_fp.get(fp)
        if current is None or event.occurred_at < current.occurred_at:
            by_fp[fp] = event
    groups = {
        g.fingerprint: g
        for g in ErrorGroup.objects.filter(workspace=workspace, fingerprint__in=by_fp)
    }
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
            last_request_id=e.request_id,
            event_count=0,
        )
        for fp, e in sorted(by_fp.items())
        if fp not in groups
    ]
    if missing:
        # ignore_conflicts: a concurrent writer may create the same group first.
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


def _accounts_named(
    workspace: Workspace, events: Iterable[EventInput]
) -> dict[str, tuple[int, str]]:
    """Upstream id -> (our id, platform) of the mirrored accounts the events name."""
    from accounts.models import SocialAccount

    wanted = {e.account_upstream_id for e in events if e.account_upstream_id}
    if not wanted:
        return {}
    rows = SocialAccount.objects.filter(workspace=workspace, upstream_id__in=wanted).values_list(
        "upstream_id", "id", "platform"
    )
    return {upstream_id: (pk, platform) for upstream_id, pk, platform in rows}


_FAMILIES = frozenset(str(f) for f in Family)


def _with_account_platform(event: EventInput, accounts: dict[str, tuple[int, str]]) -> EventInput:
    """An event that names an account but no platform takes the account's.

    A legacy error body names no platform where the current one does (`platform_rate_limit`
    against `platform.instagram.rate_limit`): with the account's platform both dialects
    land in the same group and banner. The family then follows the platform's auth kind
    (an API-key platform never needs an OAuth reconnect).
    """
    known = accounts.get(event.account_upstream_id)
    platform = event.platform or (known[1].lower()[:40] if known else "")
    family = event.family
    if platform and family in _FAMILIES:
        family = str(family_for_platform(family, platform))
    if (platform, family) == (event.platform, event.family):
        return event
    return dataclasses.replace(event, platform=platform, family=family)


def _store(workspace: Workspace, events: Sequence[EventInput]) -> list[ErrorEvent | None]:
    outcome: list[ErrorEvent | None] = [None] * len(events)
    keyed = any(e.upstream_id or e.client_id for e in events)
    with transaction.atomic():
        if keyed:
            _lock_dedupe_keys(workspace, events)
        positions = _fresh_positions(workspace, events)
        if not positions:
            return outcome
        accounts = _accounts_named(workspace, [events[p] for p in positions])
        fresh = [_with_account_platform(events[p], accounts) for p in positions]
        groups = _groups_for(workspace, fresh)
        rows = [
            ErrorEvent(
                workspace=workspace,
                group=groups[fingerprint(workspace.pk, e.code, e.platform, e.endpoint)],
                occurred_at=e.occurred_at,
                source=e.source,
                http_status=e.http_status,
                raw_code=e.raw_code,
                code=e.code,
                family=e.family,
                message=e.message,
                meta=e.meta,
                request_id=e.request_id,
                method=e.method,
                endpoint=e.endpoint,
                platform=e.platform,
                account_id=accounts[e.account_upstream_id][0]
                if e.account_upstream_id in accounts
                else None,
                account_upstream_id=e.account_upstream_id,
                raw_body=e.raw_body,
                retry_after=e.retry_after,
                upstream_id=e.upstream_id,
                client_id=e.client_id,
            )
            for e in fresh
        ]
        ErrorEvent.objects.bulk_create(rows)
        new_accounts = affected_accounts_update(workspace, rows)
        groups_update(groups, rows, new_accounts)
        daily_counts_update(workspace, rows)
        episodes_update(workspace, rows)
        error_events_recorded.send(sender=ErrorEvent, workspace=workspace, events=rows)
    for position, row in zip(positions, rows, strict=True):
        outcome[position] = row
    return outcome


def error_events_record_each(
    *, workspace: Workspace, events: Sequence[EventInput]
) -> list[ErrorEvent | None]:
    """Store events in bulk; one entry per input: the stored event, or None for a duplicate.

    All or nothing: the events, their groups, daily counts and affected accounts are
    written in one transaction.
    """
    if not events:
        return []
    received_at = timezone.now()
    cleaned = [event_input_clean(e, received_at=received_at) for e in events]
    if connection.in_atomic_block:
        return _store(workspace, cleaned)  # the caller's transaction: it decides on retries
    for attempt in range(3):
        try:
            return _store(workspace, cleaned)
        except IntegrityError:
            # Only possible when a writer without dedupe keys raced us on a dedupe key it
            # did not have; the next pass sees the winner's rows and skips them.
            if attempt == 2:
                raise
        except OperationalError as exc:
            # A deadlock or serialization failure rolled the whole batch back: try again.
            if getattr(exc.__cause__, "sqlstate", None) not in _RETRYABLE or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def error_events_record(*, workspace: Workspace, events: Sequence[EventInput]) -> list[ErrorEvent]:
    """Store events in bulk; returns the ones that were new (duplicates are skipped)."""
    return [
        row
        for row in error_events_record_each(workspace=workspace, events=events)
        if row is not None
    ]
