"""Reads shared by the endpoints: a tenant's accounts and whether one can be used now."""

from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import urlsplit

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox.errors import ApiError, api_error, not_found
from sandbox.models import SandboxAccount, SandboxMedia, SandboxTenant, SandboxWorld
from socialapi.platforms import auth_kind, platform_name


def account_get(*, tenant: SandboxTenant, account_id: str) -> SandboxAccount:
    """A live account of this tenant, or 404 `account.not_found`."""
    account = (
        SandboxAccount.objects.filter(tenant=tenant, pk=account_id[:40], removed_at__isnull=True)
        .select_related("brand")
        .first()
    )
    if account is None:
        raise not_found("account.not_found", "Account", account_id)
    return account


def throttle_until(*, tenant: SandboxTenant, platform: str) -> datetime | None:
    """When the platform stops throttling this tenant, if it does now."""
    raw = (tenant.throttles or {}).get(platform)
    until = parse_datetime(raw) if isinstance(raw, str) else None
    if until is None or until <= timezone.now():
        return None
    return until


def throttle_error(*, platform: str, until: datetime) -> ApiError:
    """429 `platform.<name>.rate_limit` with Retry-After."""
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    return api_error(
        "platform.rate_limit",
        f"{platform_name(platform)} is rate limiting requests. This does not use your quota; "
        "retry later.",
        platform=platform,
        headers={"Retry-After": str(seconds)},
        retry_after_seconds=seconds,
    )


def account_check(*, tenant: SandboxTenant, account: SandboxAccount) -> None:
    """Raise what a call on this account would hit: dead token, bad credentials, throttle."""
    if account.status == SandboxAccount.Status.RECONNECT_REQUIRED:
        raise api_error(
            "account.reconnection_required",
            account.reconnect_reason or "The account must be reconnected.",
            platform=account.platform,
            id=account.id,
        )
    if auth_kind(account.platform) == "credentials" and not account.credentials_valid:
        raise api_error(
            "platform.auth",
            f"{platform_name(account.platform)} rejected the stored credentials.",
            platform=account.platform,
            id=account.id,
        )
    until = throttle_until(tenant=tenant, platform=account.platform)
    if until is not None:
        raise throttle_error(platform=account.platform, until=until)


LOCAL_HOSTS = ("localhost", "127.0.0.1", "testserver", "[::1]")


def url_allowed(url: str) -> bool:
    """https anywhere, or http on this machine (redirect URIs and webhook URLs)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if not host or parts.username or parts.password or any(c.isspace() for c in url):
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (host in LOCAL_HOSTS or f"[{host}]" in LOCAL_HOSTS)


def storage_figures(tenant: SandboxTenant) -> tuple[int, int]:
    """Bytes used and file count of the tenant's live media (one query)."""
    totals = SandboxMedia.objects.filter(
        tenant=tenant, deleted_at__isnull=True, status="ready"
    ).aggregate(used=Sum("size_bytes"), count=Count("id"))
    return int(totals["used"] or 0), int(totals["count"] or 0)


def world_dialect() -> str:
    """The dialect of answers that belong to no tenant (bad or missing key, unknown path)."""
    dialect = SandboxWorld.objects.filter(pk=1).values_list("dialect", flat=True).first()
    return dialect or SandboxTenant.Dialect.CURRENT
