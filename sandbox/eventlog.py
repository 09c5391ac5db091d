"""The tenant's events log: upstream's own record of the calls that failed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from sandbox.errors import error_category
from sandbox.ids import prefixed, request_id_for
from sandbox.models import SandboxEvent, SandboxTenant
from socialapi.platforms import platform_name

RETENTION_DAYS = 30


def event_build(
    *,
    tenant: SandboxTenant,
    endpoint: str,
    code: str,
    status_code: int,
    message: str,
    category: str,
    action: str,
    platform: str = "",
    account_id: str = "",
    resource_id: str = "",
    request_id: str | None = None,
    duration_ms: int = 0,
    at: datetime | None = None,
) -> SandboxEvent:
    """An unsaved failed event, as upstream logs it (bulk-creatable)."""
    # Callers pass request input (ids from the path); PostgreSQL refuses NUL in text.
    message, endpoint, resource_id, account_id, platform = (
        value.replace("\x00", "")
        for value in (message, endpoint, resource_id, account_id, platform)
    )
    moment = at or timezone.now()
    where = f" on {platform_name(platform)}" if platform else ""
    return SandboxEvent(
        id=prefixed("evt", moment),
        tenant=tenant,
        category=category,
        action=action,
        status="failed",
        status_code=status_code,
        error_category=error_category(code),
        error_message=message[:500],
        summary=f"{action.replace('_', ' ').capitalize()} {category} failed{where}"[:300],
        platform=platform,
        account_id=account_id,
        resource_id=resource_id[:64],
        duration_ms=duration_ms,
        metadata={
            "error_code": code,
            "request_id": request_id or request_id_for(None),
            "endpoint": endpoint,
        },
        created_at=moment,
    )


def events_append(
    *,
    tenant: SandboxTenant,
    count: int,
    endpoint: str,
    code: str,
    status_code: int,
    message: str,
    category: str,
    action: str,
    platform: str = "",
    account_id: str = "",
    spread_minutes: int = 30,
) -> int:
    """Append a few identical failures spread over the last minutes (simulated traffic)."""
    now = timezone.now()
    step = spread_minutes / max(count, 1)
    events = [
        event_build(
            tenant=tenant,
            endpoint=endpoint,
            code=code,
            status_code=status_code,
            message=message,
            category=category,
            action=action,
            platform=platform,
            account_id=account_id,
            duration_ms=120 + 37 * index,
            at=now - timedelta(minutes=step * index, seconds=index),
        )
        for index in range(count)
    ]
    SandboxEvent.objects.bulk_create(events)
    return len(events)


def events_prune(*, tenant: SandboxTenant) -> int:
    """Drop events past the retention window."""
    cutoff = timezone.now() - timedelta(days=RETENTION_DAYS)
    deleted, _ = SandboxEvent.objects.filter(tenant=tenant, created_at__lt=cutoff).delete()
    return deleted
