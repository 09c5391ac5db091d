"""Reads for the control page, the command and tests (constant queries for any size)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum
from django.utils import timezone

from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxEvent,
    SandboxMedia,
    SandboxPost,
    SandboxTenant,
)
from sandbox.services import SandboxError


@dataclass
class TenantFigures:
    """One tenant with what the control page shows about it."""

    tenant: SandboxTenant
    accounts: list[SandboxAccount] = field(default_factory=list)
    used_bytes: int = 0
    media_count: int = 0
    scheduled_posts: int = 0
    throttles: dict[str, str] = field(default_factory=dict)

    @property
    def needs_reconnect(self) -> int:
        """Accounts whose token is dead."""
        return sum(1 for a in self.accounts if a.status == "reconnect_required")

    @property
    def credentials_invalid(self) -> int:
        """Credential accounts the platform now rejects."""
        return sum(1 for a in self.accounts if not a.credentials_valid)

    @property
    def storage_percent(self) -> float | None:
        """Percent of the storage limit used (None when unlimited)."""
        limit = self.tenant.storage_limit_bytes
        if limit < 0:
            return None
        return 100.0 * self.used_bytes / limit if limit else 100.0


def tenant_find(*, ref: str | None) -> SandboxTenant:
    """The tenant named, or whose key starts with `ref`; the only one when `ref` is None."""
    if not ref:
        tenants = list(SandboxTenant.objects.all()[:2])
        if len(tenants) == 1:
            return tenants[0]
        if not tenants:
            raise SandboxError("There is no sandbox tenant yet: run `sandbox seed-demo`.")
        raise SandboxError("There are several tenants: pass --tenant <name or key prefix>.")
    matches = list(
        SandboxTenant.objects.filter(Q(name__iexact=ref) | Q(api_key__startswith=ref))[:2]
    )
    if len(matches) != 1:
        which = "No tenant" if not matches else "More than one tenant"
        raise SandboxError(f"{which} matches {ref!r} (use a name or a longer key prefix).")
    return matches[0]


def tenants_overview() -> list[TenantFigures]:
    """Every tenant with its accounts, storage and scheduled posts (5 queries in all)."""
    rows = {t.pk: TenantFigures(t) for t in SandboxTenant.objects.all()}
    accounts = SandboxAccount.objects.filter(removed_at__isnull=True).select_related("brand")
    for account in accounts.order_by("tenant_id", "brand_id", "platform"):
        rows[account.tenant_id].accounts.append(account)
    storage = (
        SandboxMedia.objects.filter(deleted_at__isnull=True, status="ready")
        .values("tenant_id")
        .annotate(used=Sum("size_bytes"), count=Count("id"))
    )
    for item in storage:
        rows[item["tenant_id"]].used_bytes = int(item["used"] or 0)
        rows[item["tenant_id"]].media_count = item["count"]
    posts = (
        SandboxPost.objects.filter(status="scheduled").values("tenant_id").annotate(n=Count("id"))
    )
    for counted in posts:
        rows[counted["tenant_id"]].scheduled_posts = counted["n"]
    now = timezone.now().isoformat()
    for figures in rows.values():
        figures.throttles = {
            p: until for p, until in (figures.tenant.throttles or {}).items() if until > now
        }
    return list(rows.values())


def calls_tail(*, limit: int = 40) -> list[SandboxCall]:
    """The latest API calls served."""
    return list(SandboxCall.objects.select_related("tenant").order_by("-id")[:limit])


def events_tail(*, limit: int = 20) -> list[SandboxEvent]:
    """The latest failed events, all tenants."""
    return list(SandboxEvent.objects.select_related("tenant").order_by("-created_at")[:limit])


def call_count(
    *,
    method: str | None = None,
    media_id: str | None = None,
    path: str | None = None,
    tenant: SandboxTenant | None = None,
) -> int:
    """How many calls matched, e.g. DELETE calls for one media id."""
    calls = SandboxCall.objects.all()
    if method:
        calls = calls.filter(method=method.upper())
    if media_id:
        calls = calls.filter(media_id=str(media_id))
    if path:
        calls = calls.filter(path__startswith=path)
    if tenant is not None:
        calls = calls.filter(tenant=tenant)
    return calls.count()


def delete_calls_by_media(*, tenant: SandboxTenant | None = None) -> dict[str, int]:
    """DELETE /v1/media/{id} calls per media id (tests: nothing deleted twice)."""
    calls = SandboxCall.objects.filter(method="DELETE").exclude(media_id="")
    if tenant is not None:
        calls = calls.filter(tenant=tenant)
    counts: dict[str, int] = defaultdict(int)
    for row in calls.values("media_id").annotate(n=Count("id")):
        counts[row["media_id"]] = row["n"]
    return dict(counts)
