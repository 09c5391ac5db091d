"""Webhook deliveries from SocialAPI: verify, store, dedupe, answer fast; process later.

Every delivery is stored for triage, including rejected ones (without their body).
Processing runs in a task and is idempotent: `processed_at` marks a delivery done.
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
from django.db.models import F
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
MAX_UNSIGNED_PER_HOUR = MAX_REJECTED_PER_HOUR
UNSIGNED_PREFIX = "unsigned:"
# What unknown workspaces, and workspaces without a secret, are checked against: nobody has it.
UNKNOWN_SECRET = secrets.token_hex(32)
# Characters PostgreSQL's jsonb cannot hold: NUL and unpaired UTF-16 surrogates.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
DELIVERY_KEEP_DAYS = 90
PING = "webhook.test"
SIGNATURE_HEADERS = ("x-socialapi-signature", "x-socialapi-signature-v2")
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


def _delivery_key(headers: Mapping[str, str], body: bytes) -> str:
    """X-SocialAPI-Delivery (stable across retries), else a hash of the body."""
    given = _clean(headers.get("X-SocialAPI-Delivery") or "").strip()
    if given:
        return given[:100]
    return "sha256:" + hashlib.sha256(body).hexdigest()[:64]


def _sent_at(headers: Mapping[str, str], signature: str) -> datetime | None:
    if signature != "v2":
        return None
    raw = (headers.get("X-SocialAPI-Timestamp") or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    return datetime.fromtimestamp(int(raw), tz=UTC)


def _has_signature(headers: Mapping[str, str]) -> bool:
    return any(headers.get(name) for name in SIGNATURE_HEADERS)


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
    """The JSON object of a delivery, or (None, why): `not_json` or `bad_body`."""
    try:
        # NaN / Infinity are not JSON (RFC 8259) even though Python's parser takes them.
        envelope = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return None, "not_json"
    if not isinstance(envelope, dict):
        return None, "not_json"
    if not _storable(envelope):
        return None, "bad_body"
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
    if envelope is None:
        return _reject(workspace, headers, body, problem, 400)
    event = _clean(as_str(envelope.get("event") or headers.get("X-SocialAPI-Event")))[:60]
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
        # Upstream's test ping is sent unsigned when no secret is known yet: accept it, do nothing.
        if event == PING and not _has_signature(headers):
            return _ping(workspace, headers, body)
        noted = exc.reason if secret else "no_secret"  # the trace says why; the answer does not
        return _reject(workspace, headers, body, exc.reason, 401, event=event, noted=noted)
    assert workspace is not None  # only a real secret verifies
    key = _delivery_key(headers, body)
    stored = _store(
        workspace,
        key=key,
        event=event,
        signature=signature,
        payload=envelope,
        sent_at=_sent_at(headers, signature),
        outcome="ping: the webhook URL works" if event == PING else "",
    )
    if stored == "duplicate":
        return Receipt(200, {"ok": True, "duplicate": True})
    if stored == "refused":
        return _reject(workspace, headers, body, "bad_body", 400, event=event)
    return Receipt(200, {"ok": True})


def _ping(workspace: Workspace | None, headers: Mapping[str, str], body: bytes) -> Receipt:
    """The unsigned test ping: the same answer whatever the URL names and however often.

    It is kept for triage under a key of its own (`unsigned:<delivery id>`), so a ping can
    never take the id of a signed delivery still to come, and at most
    MAX_UNSIGNED_PER_HOUR an hour; like a refused delivery, without its unproven body.
    """
    if workspace is not None and _recent(workspace, "unsigned") < MAX_UNSIGNED_PER_HOUR:
        _store(
            workspace,
            key=(UNSIGNED_PREFIX + _delivery_key(headers, body))[:100],
            event=PING,
            signature="unsigned",
            payload={"size": len(body)},
            outcome="ping: the webhook URL works",
        )
    return Receipt(200, {"ok": True})


def _recent(workspace: Workspace, signature: str) -> int:
    return WebhookDelivery.objects.filter(
        workspace=workspace,
        signature=signature,
        received_at__gte=timezone.now() - timedelta(hours=1),
    ).count()


def _store(
    workspace: Workspace,
    *,
    key: str,
    event: str,
    signature: str,
    payload: dict[str, Any],
    sent_at: datetime | None = None,
    outcome: str = "",
) -> str:
    """Store a delivery (queueing its processing unless `outcome` settles it at once):
    "stored", "duplicate" (a row with this key exists) or "refused" (the database said no).
    """
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                workspace=workspace,
                delivery_id=key,
                event=event,
                signature=signature,
                payload=payload,
                sent_at=sent_at,
                processed_at=timezone.now() if outcome else None,
                outcome=outcome,
            )
            if not outcome:
                from accounts.tasks import webhook_delivery_process

                delivery_pk = delivery.pk
                transaction.on_commit(lambda: webhook_delivery_process.delay(delivery_pk))
    except (IntegrityError, DataError) as exc:
        # Only a row already stored under this key makes it a retry; never infer it from
        # the error alone (a value the database cannot hold raises one too).
        retried = (
            WebhookDelivery.objects.filter(workspace=workspace, delivery_id=key)
            .exclude(signature="rejected")
            .update(times_received=F("times_received") + 1)
        )
        if retried:
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
        delivery_id=_delivery_key(headers, body)[:100],
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
            return "marked reconnect required" if changed else "already reconnect required"
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
