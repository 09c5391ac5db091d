"""/v1/usage and /v1/users/me."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from sandbox.api import Ctx, compact, iso
from sandbox.models import SandboxAccount, SandboxBrand
from sandbox.services import tenant_period_roll
from socialapi.platforms import PLATFORMS


def usage(ctx: Ctx) -> HttpResponse:
    """GET /v1/usage: this period's allowances (-1 = unlimited) and the reset moment."""
    tenant = tenant_period_roll(tenant=ctx.tenant)
    return JsonResponse(
        {
            "brands_used": SandboxBrand.objects.filter(tenant=tenant).count(),
            "brands_limit": tenant.brands_limit,
            "posts_used": tenant.posts_used,
            "posts_limit": tenant.posts_limit,
            "interactions_used": tenant.interactions_used,
            "interactions_limit": tenant.interactions_limit,
            "profile_units_used": SandboxAccount.objects.filter(
                tenant=tenant, removed_at__isnull=True
            ).count(),
            "profile_units_limit": tenant.profile_units_limit,
            "page_allowance": tenant.page_allowance,
            "page_billing_exempt": False,
            "period_start": iso(tenant.period_start),
            "period_end": iso(tenant.period_end),
        }
    )


def users_me(ctx: Ctx) -> HttpResponse:
    """GET /v1/users/me: answers even while billing is blocked."""
    tenant = ctx.tenant
    return JsonResponse(
        compact(
            {
                "id": str(tenant.user_id),
                "email": tenant.email,
                "plan": tenant.plan,
                "billing_blocked": tenant.billing_blocked,
                "billing_blocked_at": iso(tenant.billing_blocked_at)
                if tenant.billing_blocked
                else None,
                "allowed_platforms": list(PLATFORMS),
                "beta_tester": False,
                "onboarding": False,
                "facebook_page_selection": True,
                "lock_accounts_to_brand": False,
                "use_case": "",
            }
        )
    )
