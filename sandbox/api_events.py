"""/v1/events: the tenant's own log of failed calls, newest first, 30 days kept."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox.api import Ctx, compact, iso, limit_param, list_end_mark, moment_field
from sandbox.errors import field_invalid
from sandbox.eventlog import RETENTION_DAYS
from sandbox.models import SandboxEvent

FILTERS = ("platform", "account_id", "category", "action", "resource_id")


def cursor_encode(*parts: str) -> str:
    """An opaque cursor from a few strings."""
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def cursor_decode(raw: str, parts: int) -> list[str]:
    """The strings inside a cursor, or a 400 when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise field_invalid("cursor", "is not a valid cursor") from None
    values = text.split("|")
    if len(values) != parts:
        raise field_invalid("cursor", "is not a valid cursor")
    return values


def moment_param(ctx: Ctx, name: str) -> datetime | None:
    """An RFC 3339 query parameter (an unencoded `+` in the offset arrives as a space)."""
    return moment_field(ctx.request.GET.get(name, "").strip().replace(" ", "+"), name)


def event_json(event: SandboxEvent) -> dict[str, Any]:
    """EventResponse, plus `request_id` and `source`, which the OpenAPI file does not list
    (upstream's answers carry such fields: clients must ignore what they do not know)."""
    return compact(
        {
            "id": event.id,
            "category": event.category,
            "action": event.action,
            "status": event.status,
            "status_code": event.status_code,
            "error_category": event.error_category or None,
            "error_message": event.error_message or None,
            "summary": event.summary,
            "platform": event.platform or None,
            "account_id": event.account_id or None,
            "resource_id": event.resource_id or None,
            "duration_ms": event.duration_ms,
            "metadata": event.metadata,
            "created_at": iso(event.created_at),
            "request_id": (event.metadata or {}).get("request_id"),
            "source": "api",
        }
    )


def events_list(ctx: Ctx) -> HttpResponse:
    """GET /v1/events with filters and cursor paging."""
    limit = limit_param(ctx.request, default=50)
    events = SandboxEvent.objects.filter(
        tenant=ctx.tenant, created_at__gte=timezone.now() - timedelta(days=RETENTION_DAYS)
    )
    status = ctx.request.GET.get("status", "")
    if status:
        events = events.filter(status=status[:20])
    for name in FILTERS:
        value = ctx.request.GET.get(name, "")
        if value:
            events = events.filter(**{name: value[:100]})
    since, until = moment_param(ctx, "from"), moment_param(ctx, "to")
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lte=until)
    cursor = ctx.request.GET.get("cursor", "")
    if cursor:
        stamp, event_id = cursor_decode(cursor, 2)
        try:
            moment = parse_datetime(stamp)
        except ValueError:
            moment = None
        if moment is None:
            raise field_invalid("cursor", "is not a valid cursor")
        events = events.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=event_id))
    page = list(events.order_by("-created_at", "-id")[: limit + 1])
    items = page[:limit]
    has_more = len(page) > limit
    pagination: dict[str, Any] = {"has_more": has_more, "limit": limit}
    if has_more:
        pagination["next_cursor"] = cursor_encode(items[-1].created_at.isoformat(), items[-1].id)
    else:
        list_end_mark(ctx, pagination)
    return JsonResponse(
        {
            "events": [event_json(event) for event in items],
            "pagination": pagination,
            "retention_days": RETENTION_DAYS,
        }
    )
