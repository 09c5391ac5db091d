"""/v1/accounts (list, disconnect, platform limits) and /v1/brands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone

from sandbox.api import Ctx, compact, iso
from sandbox.checks import account_check, account_get
from sandbox.errors import api_error
from sandbox.models import SandboxAccount, SandboxBrand, SandboxPostTarget
from socialapi.platforms import platform_name

# Per-platform publishing quotas over a rolling 24 h (what `/limits` reports).
DAILY_LIMITS: dict[str, dict[str, int]] = {
    "instagram": {"posts_remaining": 25},
    "threads": {"posts_remaining": 250, "replies_remaining": 1000},
    "tiktok": {"posts_remaining": 15},
}


def account_json(ctx: Ctx, account: SandboxAccount) -> dict[str, Any]:
    """An Account as upstream shapes it (optional fields only when set).

    Like upstream's, it carries fields its OpenAPI file does not list yet (`created_at`,
    `platform_account_id`): clients must ignore what they do not know.
    """
    needs_reconnect = account.status == SandboxAccount.Status.RECONNECT_REQUIRED
    return compact(
        {
            "id": account.id,
            "platform": account.platform,
            "name": account.name,
            "username": account.username,
            "brand_id": account.brand_id,
            "status": account.status,
            "reconnect_reason": (account.reconnect_reason or None) if needs_reconnect else None,
            "profile_picture_url": ctx.absolute(reverse("sandbox:avatar", args=[account.id])),
            "page_name": account.page_name or None,
            "login_id": account.login_id or None,
            "metadata": account.metadata or None,
            "created_at": iso(account.connected_at),
            "platform_account_id": account.platform_account_id or None,
        }
    )


def accounts_list(ctx: Ctx) -> HttpResponse:
    """GET /v1/accounts[?brand_id=]."""
    accounts = SandboxAccount.objects.filter(tenant=ctx.tenant, removed_at__isnull=True)
    brand_id = ctx.request.GET.get("brand_id", "")
    if brand_id:
        accounts = accounts.filter(brand_id=brand_id[:40])
    data = [account_json(ctx, account) for account in accounts]
    return JsonResponse({"count": len(data), "data": data})


def brands_list(ctx: Ctx) -> HttpResponse:
    """GET /v1/brands: every brand with its number of connected accounts."""
    brands = SandboxBrand.objects.filter(tenant=ctx.tenant).annotate(
        accounts_count=Count("accounts", filter=Q(accounts__removed_at__isnull=True))
    )
    data = [
        {
            "id": brand.id,
            "name": brand.name,
            "accounts_count": brand.accounts_count,
            "created_at": iso(brand.created_at),
            "updated_at": iso(brand.created_at),
        }
        for brand in brands
    ]
    return JsonResponse({"count": len(data), "data": data})


def account_delete(ctx: Ctx, id: str) -> HttpResponse:
    """DELETE /v1/accounts/{id}: soft-delete (404 once gone)."""
    account = account_get(tenant=ctx.tenant, account_id=id)
    ctx.account_id, ctx.platform = account.id, account.platform
    account.removed_at = timezone.now()
    account.save(update_fields=["removed_at"])
    return HttpResponse(status=204)


def account_limits(ctx: Ctx, id: str) -> HttpResponse:
    """GET /v1/accounts/{id}/limits: the platform's remaining-quota map."""
    account = account_get(tenant=ctx.tenant, account_id=id)
    ctx.account_id, ctx.platform = account.id, account.platform
    account_check(tenant=ctx.tenant, account=account)
    limits = DAILY_LIMITS.get(account.platform)
    if limits is None:
        raise api_error(
            "resource.not_supported",
            f"{platform_name(account.platform)} does not expose usage limits",
            platform=account.platform,
            resource="limits",
        )
    published = SandboxPostTarget.objects.filter(
        account=account,
        status="published",
        post__published_at__gte=timezone.now() - timedelta(hours=24),
    ).count()
    return JsonResponse({key: max(0, value - published) for key, value in limits.items()})
