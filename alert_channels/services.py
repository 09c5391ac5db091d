"""Alert channels: add, pause, test and remove them; hand them the alerts that go to
email; send each message with bounded retries and keep what happened.

Alerts reach a channel at the same moment as the email, and only then: when the email's
claim (`events.AlertSent`, once per subject and period) is taken. Each channel records
the claims it was told about (`AlertSendKey`, unique per channel), so a claim given back
because the mail server was down and taken again later never tells a channel twice.
Every message is one `AlertSend` row, sent by its own task: a channel that fails never
holds up the email or another channel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

import outbound
from alert_channels.forms import channel_url_operator_trusted, url_hint
from alert_channels.models import AlertChannel, AlertSend, AlertSendKey
from alert_channels.payloads import ChannelAlert, Envelope, channel_request
from dashboard.audit import audit_record
from dashboard.crypto import SecretDecryptionError, new_token
from dashboard.models import Workspace

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CHANNELS = 10
MAX_ATTEMPTS = 4
# Waits after the 1st, 2nd and 3rd failed attempt (a Retry-After, when sent, wins).
RETRY_DELAYS = (60, 300, 900)
# One test per channel this often, and this many per workspace per hour: the button can
# never be used to hammer a URL.
TEST_INTERVAL = timedelta(seconds=30)
TESTS_PER_HOUR = 20
# A send no worker has touched for this long (task lost, worker killed) is picked up again.
STALE_AFTER = timedelta(minutes=15)
SEND_MEMORY = timedelta(days=400)
KEY_BATCH = 500
TITLE_LIMIT = 200


class ChannelRefused(Exception):
    """Why an action on a channel was not done, in words for a person."""


def alert_key(kind: str, subject_key: str, period_key: str) -> str:
    """The identity of an `AlertSent` claim, as channels remember it."""
    return f"{kind}|{subject_key[:100]}|{period_key[:100]}"


def settings_url(workspace: Workspace) -> str:
    return f"{settings.SITE_URL}{reverse('settings', args=[workspace.slug])}#channels"


# --- managing channels ----------------------------------------------------------------


def alert_channel_create(
    *,
    workspace: Workspace,
    request: HttpRequest,
    kind: str,
    label: str,
    url: str,
    alert_accounts: bool = True,
    alert_storage: bool = True,
    alert_quota: bool = True,
) -> tuple[AlertChannel, str]:
    """Add a channel; returns it and, for a generic webhook, its new signing secret
    (shown once: only the encrypted copy is kept)."""
    if AlertChannel.objects.filter(workspace=workspace).count() >= MAX_CHANNELS:
        raise ChannelRefused(
            f"A workspace has at most {MAX_CHANNELS} alert channels: remove one first."
        )
    secret = new_token("whsec_") if kind == AlertChannel.Kind.WEBHOOK else ""
    user = request.user if request.user.is_authenticated else None
    channel = AlertChannel.objects.create(
        workspace=workspace,
        kind=kind,
        label=label,
        url=url,
        url_hint=url_hint(url),
        secret=secret,
        alert_accounts=alert_accounts,
        alert_storage=alert_storage,
        alert_quota=alert_quota,
        created_by=user,
    )
    audit_record(
        action="alert_channel.add",
        workspace=workspace,
        request=request,
        target=channel,
        target_label=channel.label,
        detail={"kind": kind, "url": channel.url_hint},
    )
    return channel, secret


def alert_channel_remove(*, channel: AlertChannel, request: HttpRequest) -> None:
    """Forget the channel, its URL and its send record."""
    audit_record(
        action="alert_channel.remove",
        workspace=channel.workspace,
        request=request,
        target=channel,
        target_label=channel.label,
        detail={"kind": channel.kind, "url": channel.url_hint},
    )
    channel.delete()


def alert_channel_enabled_set(
    *, channel: AlertChannel, enabled: bool, request: HttpRequest
) -> bool:
    """Pause or resume a channel; False when it already was."""
    if channel.enabled == enabled:
        return False
    channel.enabled = enabled
    channel.save(update_fields=["enabled"])
    audit_record(
        action="alert_channel.resume" if enabled else "alert_channel.pause",
        workspace=channel.workspace,
        request=request,
        target=channel,
        target_label=channel.label,
    )
    return True


def alert_channel_test(*, channel: AlertChannel, request: HttpRequest) -> AlertSend:
    """Send a test alert now (one attempt, recorded and audited); refused when the
    channel was tested moments ago or the workspace sent many tests this hour."""
    now = timezone.now()
    workspace = channel.workspace
    recent = AlertSend.objects.filter(
        workspace=workspace, is_test=True, created_at__gte=now - timedelta(hours=1)
    ).count()
    if recent >= TESTS_PER_HOUR:
        raise ChannelRefused(
            f"{TESTS_PER_HOUR} test alerts were sent from this workspace in the last hour: "
            "try again later."
        )
    # One conditional update: two presses at once cannot both pass.
    allowed = (
        AlertChannel.objects.filter(pk=channel.pk)
        .filter(Q(tested_at__isnull=True) | Q(tested_at__lte=now - TEST_INTERVAL))
        .update(tested_at=now)
    )
    if not allowed:
        raise ChannelRefused(
            f"A test alert went to {channel.label} moments ago: wait "
            f"{int(TEST_INTERVAL.total_seconds())} seconds between tests."
        )
    user = request.user if request.user.is_authenticated else None
    who = request.user.get_username() if user is not None else "someone"
    send = AlertSend.objects.create(
        workspace=workspace,
        channel=channel,
        alert_kind="test",
        is_test=True,
        title="Test alert from the SocialAPI Dashboard",
        text=(
            f"{who} sent this test from the settings of {workspace.name}. Alerts about "
            "broken accounts, storage and monthly limits will arrive here like this one, "
            "each with a link to the page that fixes it."
        ),
        url=settings_url(workspace),
        created_by=user,
    )
    alert_send_attempt(send_id=send.pk)
    send.refresh_from_db()
    audit_record(
        action="alert_channel.test",
        workspace=workspace,
        request=request,
        target=channel,
        target_label=channel.label,
        detail={"delivered": send.delivered, "reason": send.reason},
    )
    return send


# --- handing alerts to channels -------------------------------------------------------


def alert_channels_queue(
    *,
    workspace: Workspace,
    kind: str,
    items: Sequence[tuple[str, T]],
    compose: Callable[[list[T]], ChannelAlert],
) -> None:
    """Tell the workspace's channels about claimed alerts once the caller's transaction
    commits (a rolled-back claim tells nobody).

    `items` pairs each claim's `alert_key` with what the message needs about it (an
    account of a digest, or nothing); `compose` builds the message from the items a
    channel was not told about yet (all of them, unless a claim was taken again).
    """
    if not items or not AlertChannel.objects.filter(workspace=workspace, enabled=True).exists():
        return  # the usual case: nothing to do at commit
    pending = list(items)
    transaction.on_commit(
        lambda: _fan_out(workspace, kind=kind, items=pending, compose=compose), robust=True
    )


def _fan_out(
    workspace: Workspace,
    *,
    kind: str,
    items: list[tuple[str, T]],
    compose: Callable[[list[T]], ChannelAlert],
) -> None:
    from dashboard.alerts import PREFERENCE_FOR_KIND

    preference = PREFERENCE_FOR_KIND.get(kind) or PREFERENCE_FOR_KIND[kind.split("_")[0]]
    channels = AlertChannel.objects.filter(workspace=workspace, enabled=True, **{preference: True})
    composed: dict[tuple[str, ...], ChannelAlert] = {}
    for channel in channels.order_by("pk"):
        try:
            send_id = _send_record(channel, kind=kind, items=items, compose=compose, cache=composed)
        except Exception:  # one channel's trouble never costs another its alert
            log.exception("alert %s for alert channel %s could not be recorded", kind, channel.pk)
            continue
        if send_id is not None:
            _enqueue(send_id)


def _send_record(
    channel: AlertChannel,
    *,
    kind: str,
    items: list[tuple[str, T]],
    compose: Callable[[list[T]], ChannelAlert],
    cache: dict[tuple[str, ...], ChannelAlert],
) -> int | None:
    """Record the message for the claims this channel was not told about; its id."""
    for _ in range(2):  # a concurrent fan-out of an overlapping claim: look again once
        keys = [key for key, _ in items]
        told: set[str] = set()
        for start in range(0, len(keys), KEY_BATCH):
            told.update(
                AlertSendKey.objects.filter(
                    channel=channel, key__in=keys[start : start + KEY_BATCH]
                ).values_list("key", flat=True)
            )
        fresh = [(key, item) for key, item in items if key not in told]
        if not fresh:
            return None
        fresh_keys = tuple(key for key, _ in fresh)
        if fresh_keys not in cache:
            cache[fresh_keys] = compose([item for _, item in fresh])
        alert = cache[fresh_keys]
        try:
            with transaction.atomic():
                send = AlertSend.objects.create(
                    workspace_id=channel.workspace_id,
                    channel=channel,
                    alert_kind=kind[:40],
                    title=_cut(alert.title, TITLE_LIMIT),
                    text=alert.text,
                    url=alert.url,
                )
                AlertSendKey.objects.bulk_create(
                    [AlertSendKey(channel=channel, send=send, key=key) for key in fresh_keys],
                    batch_size=KEY_BATCH,
                )
        except IntegrityError:
            continue
        return send.pk
    return None


def _enqueue(send_id: int) -> None:
    from alert_channels.tasks import alert_send_deliver

    try:
        alert_send_deliver.delay(send_id)
    except Exception:  # the broker is down: the sweep sends it later
        log.warning("alert send %s not queued; the sweep retries it", send_id, exc_info=True)


# --- sending --------------------------------------------------------------------------


def alert_send_attempt(*, send_id: int) -> float | None:
    """Make one attempt at a queued or retrying send; returns the seconds to wait before
    the next attempt, or None when it is finished (delivered, failed, or not ours)."""
    now = timezone.now()
    claimed = AlertSend.objects.filter(
        pk=send_id, status__in=[AlertSend.Status.QUEUED, AlertSend.Status.RETRYING]
    ).update(
        status=AlertSend.Status.SENDING,
        attempts=F("attempts") + 1,
        attempted_at=now,
        next_attempt_at=None,
    )
    if not claimed:
        return None  # finished already, or another worker has it
    send = AlertSend.objects.select_related("channel", "workspace").get(pk=send_id)
    channel = send.channel
    limit = 1 if send.is_test else MAX_ATTEMPTS
    if not channel.enabled and not send.is_test:
        outcome = outbound.Outcome(False, "Not sent: the channel was paused.")
    else:
        outcome = _post(send, channel)
    if outcome.delivered:
        send.status, send.reason = AlertSend.Status.DELIVERED, outcome.reason
        send.finished_at = timezone.now()
        wait: float | None = None
    elif outcome.retryable and send.attempts < limit:
        wait = outcome.retry_after or RETRY_DELAYS[min(send.attempts, len(RETRY_DELAYS)) - 1]
        send.status = AlertSend.Status.RETRYING
        send.reason = _cut(f"Attempt {send.attempts} of {limit}: {outcome.reason}", 300)
        send.next_attempt_at = timezone.now() + timedelta(seconds=wait)
    else:
        send.status, send.reason = AlertSend.Status.FAILED, _cut(outcome.reason, 300)
        send.finished_at = timezone.now()
        wait = None
    send.save(update_fields=["status", "reason", "next_attempt_at", "finished_at"])
    log.info(
        "alert send %s (%s) to %s channel %s of workspace %s: %s after %d attempt(s)",
        send.pk,
        send.alert_kind,
        channel.kind,
        channel.pk,
        send.workspace_id,
        send.status,
        send.attempts,
    )
    return wait


def _post(send: AlertSend, channel: AlertChannel) -> outbound.Outcome:
    try:
        url, secret = channel.url, channel.secret
    except SecretDecryptionError:
        return outbound.Outcome(
            False,
            "The stored URL cannot be decrypted with this server's encryption keys "
            "(FIELD_ENCRYPTION_KEYS changed): restore the key, or remove the channel and "
            "add it again.",
        )
    workspace = send.workspace
    body, headers = channel_request(
        kind=channel.kind,
        secret=secret,
        alert=ChannelAlert(kind=send.alert_kind, title=send.title, text=send.text, url=send.url),
        envelope=Envelope(
            workspace_slug=workspace.slug,
            workspace_name=workspace.name,
            delivery_id=str(send.delivery_id),
            created_at=send.created_at,
            is_test=send.is_test,
        ),
        timestamp=int(time.time()),
    )
    return outbound.post(
        url,
        content=body,
        headers=headers,
        timeout=settings.SOCIALAPI_TIMEOUT,
        connect_timeout=settings.SOCIALAPI_CONNECT_TIMEOUT,
        block_private_networks=not channel_url_operator_trusted(url),
    )


def alert_sends_sweep(*, now: datetime | None = None) -> list[int]:
    """Pick up sends whose task was lost (broker down, worker killed) and forget sends
    older than a year; returns the ids queued again."""
    now = now or timezone.now()
    stale = now - STALE_AFTER
    # Killed mid-attempt: whether it arrived is unknown; try again (receivers dedupe on
    # the delivery id), unless that was the last attempt.
    AlertSend.objects.filter(
        Q(is_test=True) | Q(attempts__gte=MAX_ATTEMPTS),
        status=AlertSend.Status.SENDING,
        attempted_at__lt=stale,
    ).update(
        status=AlertSend.Status.FAILED,
        reason="The worker stopped while sending the last attempt.",
        finished_at=now,
    )
    AlertSend.objects.filter(status=AlertSend.Status.SENDING, attempted_at__lt=stale).update(
        status=AlertSend.Status.RETRYING
    )
    due = list(
        AlertSend.objects.filter(
            Q(status=AlertSend.Status.QUEUED, created_at__lt=stale)
            | Q(status=AlertSend.Status.RETRYING, next_attempt_at__lt=stale)
            | Q(status=AlertSend.Status.RETRYING, next_attempt_at__isnull=True)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for send_id in due:
        _enqueue(send_id)
    AlertSend.objects.filter(created_at__lt=now - SEND_MEMORY).delete()
    return due


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
