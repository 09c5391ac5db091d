"""/v1/webhooks: register (pinged once; the secret is shown once), list and delete."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse

from sandbox.api import Ctx, iso, json_body, text_field
from sandbox.checks import url_allowed
from sandbox.errors import api_error, field_invalid, field_required, not_found
from sandbox.ids import prefixed
from sandbox.models import SandboxWebhookEndpoint
from sandbox.webhooks import webhook_ping, webhook_secret_new

# CreateWebhookRequest.events enum in the OpenAPI file.
WEBHOOK_EVENTS = (
    "post.scheduled",
    "post.published",
    "post.failed",
    "post.partial",
    "post.updated",
    "post.deleted",
    "post.unpublished",
    "post.retried",
    "comment.received",
    "dm.received",
    "dm.sent",
    "dm.referral",
    "dm.postback",
    "dm.status.sent",
    "dm.status.delivered",
    "dm.status.read",
    "dm.status.failed",
    "review.received",
    "mention.received",
    "account.connected",
    "account.disconnected",
    "page.removed",
)


def endpoint_json(endpoint: SandboxWebhookEndpoint) -> dict[str, Any]:
    """WebhookEndpointItem."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "is_active": endpoint.is_active,
        "created_at": iso(endpoint.created_at),
    }


def webhooks_list(ctx: Ctx) -> HttpResponse:
    """GET /v1/webhooks."""
    data = [endpoint_json(e) for e in SandboxWebhookEndpoint.objects.filter(tenant=ctx.tenant)]
    return JsonResponse({"count": len(data), "data": data})


def webhooks_create(ctx: Ctx) -> HttpResponse:
    """POST /v1/webhooks {url, events[]}: 201 with the secret, 400 when the ping fails."""
    data = json_body(ctx.request)
    url = text_field(data, "url", required=True, max_len=500)
    if not url_allowed(url):
        raise field_invalid("url", "must be an https URL")
    events = data.get("events")
    if not events:
        raise field_required("events")
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise field_invalid("events", "must be a list of event names")
    unknown = [event for event in events if event not in WEBHOOK_EVENTS]
    if unknown:
        raise field_invalid("events", f"has unknown event types: {', '.join(unknown)[:200]}")
    secret = webhook_secret_new()
    if not webhook_ping(url=url, secret=secret):
        raise api_error(
            "webhook_verification_failed",
            "The endpoint did not answer the verification ping with a 2xx status",
            field="url",
        )
    endpoint = SandboxWebhookEndpoint.objects.create(
        id=prefixed("wh"),
        tenant=ctx.tenant,
        url=url,
        events=list(dict.fromkeys(events)),
        secret=secret,
    )
    ctx.resource_id = endpoint.id
    return JsonResponse(
        {
            "id": endpoint.id,
            "url": endpoint.url,
            "events": endpoint.events,
            "secret": secret,
            "message": "Store the secret securely. It will not be shown again.",
        },
        status=201,
    )


def webhook_delete(ctx: Ctx, id: str) -> HttpResponse:
    """DELETE /v1/webhooks/{id}: 200 {"ok": true}; 404 for an id this tenant does not have.

    Nothing more is delivered to it: its pending deliveries go with it.
    """
    ctx.resource_id = id[:64]
    deleted, _ = SandboxWebhookEndpoint.objects.filter(tenant=ctx.tenant, id=id[:40]).delete()
    if not deleted:
        raise not_found("resource.not_found", "Webhook endpoint", id)
    return JsonResponse({"ok": True})
