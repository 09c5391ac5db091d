"""Signed webhooks from the sandbox to the tenant's receiver, as upstream sends them.

The sandbox plays the upstream here, so it makes its own outgoing HTTP calls with httpx:
the one deliberate exception to "httpx only inside socialapi/". Every call has a timeout.

The registration ping is sent while `POST /v1/webhooks` is still being answered, to a URL
that is often served by this very process (`make run`, the demo): the server must be able
to answer it on another thread (`manage.py run` serves with gunicorn threads; so does
pytest-django's live server). Where everything runs in one thread, with no server at all
(tests calling the sandbox in-process), `sender_transport_override` hands the sandbox's
outgoing calls to an in-process transport the same way `dashboard.upstream` does.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
from django.db import transaction
from django.utils import timezone

from sandbox.ids import hex_token, prefixed
from sandbox.models import SandboxTenant, SandboxWebhookDelivery, SandboxWebhookEndpoint
from socialapi.webhooks import sign_v1, sign_v2

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Upstream's schedule: now, ~30 s, ~5 min, ~30 min, ~3 h.
RETRY_DELAYS = (30, 300, 1800, 10800)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
USER_AGENT = "SocialAPI-Webhooks/1.0 (sandbox)"
PAUSED = "paused: billing past due"
PING = "webhook.test"
_transport: httpx.BaseTransport | None = None


@contextlib.contextmanager
def sender_transport_override(transport: httpx.BaseTransport) -> Iterator[None]:
    """Send every webhook and ping through `transport` (e.g. in-process WSGI) meanwhile."""
    global _transport
    previous, _transport = _transport, transport
    try:
        yield
    finally:
        _transport = previous


def _post(url: str, body: str, headers: dict[str, str]) -> httpx.Response:
    """One POST to a receiver; redirects are not followed (upstream does not either)."""
    with httpx.Client(transport=_transport, timeout=TIMEOUT) as client:
        return client.post(url, content=body.encode(), headers=headers)


def webhook_secret_new() -> str:
    """A signing secret like upstream's (64 hex)."""
    return hex_token(32)


def webhook_body(event: str, data: dict[str, Any]) -> str:
    """The envelope `{"event": …, "data": {…}}` as the exact bytes that get signed."""
    return json.dumps({"event": event, "data": data}, separators=(",", ":"))


def webhook_headers(
    *, secret: str, body: str, event: str, delivery_id: str | None, timestamp: int
) -> dict[str, str]:
    """The signature, event and delivery headers for one attempt (the ping has no
    delivery id)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-SocialAPI-Event": event,
        "X-SocialAPI-Timestamp": str(timestamp),
        "X-SocialAPI-Signature": sign_v1(secret, body),
        "X-SocialAPI-Signature-V2": sign_v2(secret, body, timestamp),
    }
    if delivery_id is not None:
        headers["X-SocialAPI-Delivery"] = delivery_id
    return headers


def webhook_queue(*, tenant: SandboxTenant, event: str, data: dict[str, Any]) -> list[str]:
    """Create one delivery per destination and send each after the transaction commits.

    An endpoint registered through `POST /v1/webhooks` replaces the webhook configured for
    the same URL (by the demo or on the control page), as the dashboard replaces an older
    endpoint of its URL when it registers: each event reaches a URL once, signed with the
    secret that URL's owner was given last.
    """
    body = webhook_body(event, data)
    deliveries = []
    endpoints = list(SandboxWebhookEndpoint.objects.filter(tenant=tenant, is_active=True))
    if tenant.webhook_url and tenant.webhook_url not in {e.url for e in endpoints}:
        deliveries.append(
            SandboxWebhookDelivery(tenant=tenant, url=tenant.webhook_url, event=event, body=body)
        )
    for endpoint in endpoints:
        if event in endpoint.events:
            deliveries.append(
                SandboxWebhookDelivery(
                    tenant=tenant, endpoint=endpoint, url=endpoint.url, event=event, body=body
                )
            )
    for delivery in deliveries:
        delivery.id = prefixed("whd")
    SandboxWebhookDelivery.objects.bulk_create(deliveries)
    ids = [delivery.id for delivery in deliveries]
    if ids:
        from sandbox.tasks import webhook_delivery_send_task

        for delivery_id in ids:
            transaction.on_commit(partial(webhook_delivery_send_task.delay, delivery_id))
    return ids


def webhook_paused_resend(*, tenant: SandboxTenant) -> int:
    """Send again the deliveries held while billing was blocked (after commit)."""
    from sandbox.tasks import webhook_delivery_send_task

    paused = SandboxWebhookDelivery.objects.filter(
        tenant=tenant,
        status=SandboxWebhookDelivery.Status.PENDING,
        last_error__startswith=PAUSED,
    )
    ids = list(paused.values_list("id", flat=True))
    for delivery_id in ids:
        transaction.on_commit(partial(webhook_delivery_send_task.delay, delivery_id))
    return len(ids)


def _secret_for(delivery: SandboxWebhookDelivery) -> str:
    """The endpoint's secret, or the tenant's configured one."""
    if delivery.endpoint is not None:
        return delivery.endpoint.secret
    return delivery.tenant.webhook_secret


def webhook_delivery_send(*, delivery_id: str) -> int | None:
    """Attempt one delivery; return seconds until the next attempt, None when finished."""
    delivery = (
        SandboxWebhookDelivery.objects.select_related("tenant", "endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != SandboxWebhookDelivery.Status.PENDING:
        return None
    if delivery.tenant.billing_blocked:
        # Upstream pauses webhook delivery while billing is blocked.
        delivery.last_error = PAUSED
        delivery.save(update_fields=["last_error"])
        return None
    headers = webhook_headers(
        secret=_secret_for(delivery),
        body=delivery.body,
        event=delivery.event,
        delivery_id=delivery.id,
        timestamp=int(time.time()),
    )
    delivery.attempts += 1
    try:
        response = _post(delivery.url, delivery.body, headers)
        delivery.last_status_code = response.status_code
        delivery.last_error = "" if response.is_success else f"HTTP {response.status_code}"
        delivered = response.is_success
    except httpx.HTTPError as exc:
        delivery.last_status_code = None
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:300]
        delivered = False
    retry: int | None = None
    if delivered:
        delivery.status = SandboxWebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = SandboxWebhookDelivery.Status.FAILED
    else:
        retry = RETRY_DELAYS[delivery.attempts - 1]
    delivery.save()
    return retry


def webhook_ping(*, url: str, secret: str) -> bool:
    """Upstream's reachability check on registration: one `webhook.test` POST, synchronous,
    signed with the secret the registration is about to return (the receiver cannot know it
    yet) and without X-SocialAPI-Delivery; True when the URL answered 2xx."""
    body = webhook_body(PING, {"message": "SocialAPI webhook endpoint check"})
    headers = webhook_headers(
        secret=secret, body=body, event=PING, delivery_id=None, timestamp=int(time.time())
    )
    try:
        response = _post(url, body, headers)
    except httpx.HTTPError:
        return False
    return response.is_success
