"""Webhook deliveries from SocialAPI: verify, store, dedupe, answer fast; process later.

Every delivery is stored for triage, including rejected ones (without their body).
Processing runs in a task and is idempotent: `processed_at` marks a delivery done.

The one exception is upstream's `webhook.test` ping, sent while `POST /v1/webhooks` is
still open: it may be signed with the secret the dashboard only learns from that call's
answer, or not signed at all, so it is answered 2xx without being verified. Nothing in it
is ever acted on or stored; it only notes the time on the workspace (for Settings).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount, WebhookDelivery
from accounts.services import CODE_GONE, CODE_RECONNECT, account_status_apply
from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured
from socialapi import SocialAPIError, WebhookSignatureError, verify_signature
from socialapi.values import as_dict, as_str

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_REJECTED_PER_HOUR = 200
# However many pings arrive, the workspace row is written at most once per this interval.
PING_NOTE_EVERY = timedelta(seconds=10)
# What unknown workspaces, and workspaces without a secret, are checked against: nobody has it.
UNKNOWN_SECRET = secrets.token_hex(32)
# Characters PostgreSQL's jsonb cannot hold: NUL and unpaired UTF-16 surrogates.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
DELIVERY_KEEP_DAYS = 90
PING = "webhook.test"
DISCONNECT_REASONS = {
    "access_revoked": "Access was revoked on the platform.",
    "all_pages_removed": "Every page was removed from the login.",
}


@dataclass(frozen=True)
class Receipt:
    """The answer to give upstream: HTTP status and a short JSON body."""

    status: int
    body: dict[str, Any]


def _clean(value: str) -> str:
    """A header value fit for a text column (PostgreSQL refuses NUL)."""
    return value.replace("\x00", "")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _delivery_key(headers: Mapping[str, str], fallback: str) -> str:
    """X-SocialAPI-Delivery (stable across retries), else `sha256:<fallback hash>`."""
    given = _clean(headers.get("X-SocialAPI-Delivery") or "").strip()
    if given:
        return given[:100]
    return "sha256:" + fallback[:64]


def _covered_hash(headers: Mapping[str, str], body: bytes, signature: str) -> str:
    """SHA-256 of exactly what the verified signature covers.

    v1 signs the raw body; v2 signs "<timestamp>.<raw body>". Upstream's own retries keep
    their delivery id (and re-sign with a new timestamp), so they are caught by the id;
    a captured delivery sent again under a fresh id has the same signed content. Two
    distinct events may share a body (the same account disconnected twice), so for v2
    the timestamp is part of the key: only a v1 signature leaves nothing else to tell
    such events from a replay.
    """
    if signature == "v2":
        stamp = (headers.get("X-SocialAPI-Timestamp") or "").strip()
        return _sha256(f"{stamp}.".encode() + body)
    return _sha256(body)


def _sent_at(headers: Mapping[str, str], signature: str) -> datetime | None:
    if signature != "v2":
        return None
    raw = (headers.get("X-SocialAPI-Timestamp") or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    return datetime.fromtimestamp(int(raw), tz=UTC)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: JSON syntax, but no database stores infinity
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _storable(envelope: dict[str, Any]) -> bool:
    """No NUL and no lone surrogate in any key or string (PostgreSQL's jsonb refuses both)."""
    stack: list[Any] = [envelope]
    while stack:  # a loop, not recursion: nesting depth is the sender's choice
        item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _parse(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """The JSON object of a delivery and what is wrong with it: "" (nothing), `bad_body`
    (an object no database can store) or `not_json` (then no object)."""
    try:
        # NaN / Infinity are not JSON (RFC 8259) even though Python's parser takes them.
        envelope = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return None, "not_json"
    if not isinstance(envelope, dict):
        return None, "not_json"
    if not _storable(envelope):
        return envelope, "bad_body"
    return envelope, ""


def webhook_delivery_receive(
    *, workspace: Workspace | None, body: bytes, headers: Mapping[str, str]
) -> Receipt:
    """Check one delivery, store it and queue its processing. Never calls upstream.

    `workspace` is None when the URL names no workspace: the answer is then the one a real
    workspace gives a sender without its secret, so the URL does not tell which workspaces
    exist; nothing is stored.
    """
    if len(body) > MAX_BODY_BYTES:
        return _reject(workspace, headers, body, "too_large", 413)
    envelope, problem = _parse(body)
    # The same name decides both this shortcut and which handler runs (the body's event,
    # else the header's), so whatever is let through unverified as a ping can never
    # reach a handler.
    claimed = envelope.get("event") if envelope is not None else None
    event = _clean(as_str(claimed or headers.get("X-SocialAPI-Event")))[:60]
    if event == PING:
        return _ping(workspace)
    if envelope is None or problem:
        return _reject(workspace, headers, body, problem, 400)
    try:
        secret = workspace.webhook_secret if workspace is not None else ""
    except SecretDecryptionError:
        # The encryption keys changed under the stored secret: no verdict is possible. A
        # 503 makes SocialAPI deliver it again later, when the key is back.
        return _reject(workspace, headers, body, "secret_unreadable", 503, event=event)
    legacy = workspace is not None and workspace.dialect == Workspace.Dialect.LEGACY
    try:
        # A v1 signature has no timestamp, so a captured body could be replayed forever:
        # only workspaces on the legacy API (which may sign with v1 alone) accept it.
        # Without a secret the check runs against one nobody has: same answers, no verdict.
        signature = verify_signature(
            secret or UNKNOWN_SECRET,
            body,
            headers,
            tolerance=settings.WEBHOOK_TOLERANCE_SECONDS,
            require_v2=not legacy,
        )
    except WebhookSignatureError as exc:
        noted = exc.reason if secret else "no_secret"  # the trace says why; the answer does not
        return _reject(workspace, headers, body, exc.reason, 401, event=event, noted=noted)
    assert workspace is not None  # only a real secret verifies
    content_hash = _covered_hash(headers, body, signature)
    stored = _store(
        workspace,
        key=_delivery_key(headers, content_hash),
        content_hash=content_hash,
        body_hash=_sha256(body),
        event=event,
        signature=signature,
        payload=envelope,
        sent_at=_sent_at(headers, signature),
    )
    if stored == "duplicate":
        return Receipt(200, {"ok": True, "duplicate": True})
    if stored == "refused":
        return _reject(workspace, headers, body, "bad_body", 400, event=event)
    return Receipt(200, {"ok": True})


def _ping(workspace: Workspace | None) -> Receipt:
    """Upstream's `webhook.test`: 2xx, unverified, whatever the URL names, however often.

    Anyone can send one, so it may change one thing only: the time of the last ping on
    the workspace, written at most once per PING_NOTE_EVERY. No delivery row, no event,
    no account change; nothing in the body is read beyond its event name.
    """
    if workspace is not None:
        now = timezone.now()
        last = workspace.webhook_ping_at
        if last is None or not (now - PING_NOTE_EVERY <= last <= now):
            Workspace.objects.filter(pk=workspace.pk).update(webhook_ping_at=now)
            workspace.webhook_ping_at = now
            log.info("webhook test ping for workspace %s", workspace.pk)
    return Receipt(200, {"ok": True})


def _recent(workspace: Workspace, signature: str) -> int:
    return WebhookDelivery.objects.filter(
        workspace=workspace,
        signature=signature,
        received_at__gte=timezone.now() - timedelta(hours=1),
    ).count()


def _seen_again(workspace: Workspace, same: Q) -> bool:
    """Count one more receipt on the accepted delivery matching `same`, if there is one."""
    return bool(
        WebhookDelivery.objects.filter(same, workspace=workspace)
        .exclude(signature="rejected")
        .update(times_received=F("times_received") + 1)
    )


def _store(
    workspace: Workspace,
    *,
    key: str,
    content_hash: str,
    body_hash: str,
    event: str,
    signature: str,
    payload: dict[str, Any],
    sent_at: datetime | None = None,
) -> str:
    """Store a verified delivery and queue its processing: "stored", "duplicate" (its
    delivery id or its signed content was accepted before) or "refused" (the database
    said no)."""
    if signature == "v1" and _seen_again(workspace, Q(body_hash=body_hash)):
        # A v1 signature covers the body alone: the body of any accepted delivery (a v2
        # one with its V2 header dropped, say) verifies again under v1 forever.
        return "duplicate"
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                workspace=workspace,
                delivery_id=key,
                content_hash=content_hash,
                body_hash=body_hash,
                event=event,
                signature=signature,
                payload=payload,
                sent_at=sent_at,
            )
            from accounts.tasks import webhook_delivery_process

            delivery_pk = delivery.pk
            transaction.on_commit(lambda: webhook_delivery_process.delay(delivery_pk))
    except (IntegrityError, DataError) as exc:
        # Only a row already stored under this key or content makes it a retry or a
        # replay; never infer it from the error alone (a value the database cannot hold
        # raises one too).
        if _seen_again(workspace, Q(delivery_id=key) | Q(content_hash=content_hash)):
            return "duplicate"
        log.warning("webhook delivery for workspace %s could not be stored: %s", workspace.pk, exc)
        return "refused"
    return "stored"


def _reject(
    workspace: Workspace | None,
    headers: Mapping[str, str],
    body: bytes,
    reason: str,
    status: int,
    *,
    event: str = "",
    noted: str = "",
) -> Receipt:
    """Keep a trace of a refused delivery (never its body: it is not proven to be upstream's).

    `noted` is the reason kept for triage when it differs from the one answered.
    """
    answer = Receipt(status, {"ok": False, "error": reason})
    if workspace is None:
        return answer
    noted = noted or reason
    log.info("webhook for workspace %s rejected: %s", workspace.pk, noted)
    if _recent(workspace, "rejected") >= MAX_REJECTED_PER_HOUR:
        return answer  # a flood: stop writing traces
    WebhookDelivery.objects.create(
        workspace=workspace,
        delivery_id=_delivery_key(headers, _sha256(body)),
        event=event or _clean(as_str(headers.get("X-SocialAPI-Event")))[:60],
        signature="rejected",
        payload={"size": len(body)},
        processed_at=timezone.now(),
        outcome=f"rejected: {noted}",
    )
    return answer


def webhook_delivery_process(*, delivery: WebhookDelivery) -> str:
    """Act on one stored delivery; returns the outcome noted on it. Safe to run twice."""
    if delivery.processed_at is not None or delivery.signature == "rejected":
        return delivery.outcome
    data = as_dict(as_dict(delivery.payload).get("data"))
    handler = HANDLERS.get(delivery.event)
    try:
        outcome = handler(delivery, data) if handler else "ignored: not an event the dashboard uses"
    except SocialAPIError as exc:
        # A refresh call failed (recorded as an error event); retried by the next health sync.
        outcome = f"refresh failed: {exc.code}"
    except WorkspaceNotConfigured:
        outcome = "refresh skipped: the workspace has no API key"
    WebhookDelivery.objects.filter(pk=delivery.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), outcome=outcome[:200]
    )
    return outcome


def _account(delivery: WebhookDelivery, data: dict[str, Any]) -> SocialAccount | None:
    upstream_id = as_str(data.get("account_id"))
    if not upstream_id:
        return None
    return SocialAccount.objects.filter(
        workspace_id=delivery.workspace_id, upstream_id=upstream_id
    ).first()


def _stale(delivery: WebhookDelivery, account: SocialAccount) -> bool:
    """A retried old delivery must not undo a newer change."""
    return bool(
        delivery.sent_at
        and account.status_changed_at
        and delivery.sent_at < account.status_changed_at
    )


def _on_disconnected(delivery: WebhookDelivery, data: dict[str, Any]) -> str:
    account = _account(delivery, data)
    if account is None:
        return _health_sync_queue(delivery, "unknown account: health sync queued")
    if _stale(delivery, account):
        return "ignored: older than the account's last change"
    reason = DISCONNECT_REASONS.get(as_str(data.get("reason")), as_str(data.get("reason"))[:200])
    with transaction.atomic():
        if data.get("reconnect_required") is True:
            changed = account_status_apply(
                account=account,
                status=AccountStatus.RECONNECT_REQUIRED,
                code=CODE_RECONNECT,
                reason=reason,
                source="webhook",
                at=delivery.sent_at,
            )
            # An API-key account is marked "credentials invalid" instead (its auth kind).
            label = AccountStatus(account.status).label.lower()
            return f"marked {label}" if changed else f"already {label}"
        changed = account_status_apply(
            account=account,
            status=AccountStatus.DISCONNECTED,
            code=CODE_GONE,
            reason=reason or "Removed in SocialAPI.",
            source="webhook",
            at=delivery.sent_at,
        )
    return "marked disconnected" if changed else "already disconnected"


def _on_connected(delivery: WebhookDelivery, data: dict[str, Any]) -> str:
    from accounts.health import account_refresh

    upstream_id = as_str(data.get("account_id"))
    if not upstream_id:
        return "ignored: no account_id"
    workspace = Workspace.objects.get(pk=delivery.workspace_id)
    account = account_refresh(workspace=workspace, upstream_id=upstream_id)
    if account is None:
        return "refreshed: account not listed upstream"
    return f"refreshed: {account.status}"


def _on_post_failure(delivery: WebhookDelivery, data: dict[str, Any]) -> str:
    from events.webhook_events import post_failure_events_record

    workspace = Workspace.objects.get(pk=delivery.workspace_id)
    stored = post_failure_events_record(
        workspace=workspace, data=data, delivery_id=delivery.delivery_id
    )
    return f"{stored} error event(s) stored"


def _on_post_published(delivery: WebhookDelivery, data: dict[str, Any]) -> str:
    from posts.outcomes import post_published_apply

    workspace = Workspace.objects.get(pk=delivery.workspace_id)
    return post_published_apply(workspace=workspace, data=data)


def _health_sync_queue(delivery: WebhookDelivery, outcome: str) -> str:
    from accounts.tasks import health_sync

    workspace_id = delivery.workspace_id
    transaction.on_commit(lambda: health_sync.delay(workspace_id))
    return outcome


HANDLERS = {
    "account.disconnected": _on_disconnected,
    "account.connected": _on_connected,
    "page.removed": _on_connected,
    "post.failed": _on_post_failure,
    "post.partial": _on_post_failure,
    # A retried post went out: settles the retry (posts.outcomes).
    "post.published": _on_post_published,
}


def webhook_deliveries_unprocessed(*, workspace: Workspace, older_than: timedelta) -> list[int]:
    """Accepted deliveries whose processing never ran (e.g. the enqueue was lost)."""
    cutoff = timezone.now() - older_than
    return list(
        WebhookDelivery.objects.filter(
            workspace=workspace, processed_at__isnull=True, received_at__lt=cutoff
        )
        .exclude(signature="rejected")
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )


def webhook_deliveries_prune(*, workspace: Workspace, keep_days: int = DELIVERY_KEEP_DAYS) -> int:
    """Forget deliveries older than the retention (they were processed long ago)."""
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = WebhookDelivery.objects.filter(
        workspace=workspace, received_at__lt=cutoff
    ).delete()
    return deleted
