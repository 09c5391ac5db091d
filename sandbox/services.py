"""State changes behind the control page and `manage.py sandbox`: one verb each."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from sandbox.checks import storage_figures, url_allowed
from sandbox.eventlog import events_append
from sandbox.faults import rng_reset, scope_parse
from sandbox.ids import api_key_new
from sandbox.models import (
    FREE_STORAGE_BYTES,
    UNLIMITED,
    SandboxAccount,
    SandboxMedia,
    SandboxTenant,
    SandboxWorld,
    list_end_pick,
)
from sandbox.webhooks import webhook_paused_resend, webhook_queue
from socialapi.platforms import PLATFORMS, auth_kind, platform_name

PLANS = ("free", "pro", "business")
PERIOD = timedelta(days=30)
DEFAULT_REASON = "The user changed their password, which revoked the access token."
FAULT_FIELDS = {
    "rate_5xx": ("fault_5xx_rate", float, 0, 1),
    "rate_html": ("fault_html_rate", float, 0, 1),
    "timeout_rate": ("fault_timeout_rate", float, 0, 1),
    "timeout_seconds": ("fault_timeout_seconds", int, 1, 600),
    "latency_ms": ("fault_latency_ms", int, 0, 60_000),
    "next_5xx": ("fault_next_5xx", int, 0, 100_000),
    "next_html": ("fault_next_html", int, 0, 100_000),
}


class SandboxError(ValueError):
    """A switch that cannot be applied; the message says why, for a person."""


def plan_limits(plan: str) -> dict[str, int]:
    """Allowances of a plan: Free is limited, paid tiers unlimited but brands."""
    if plan == "free":
        return {
            "storage_limit_bytes": FREE_STORAGE_BYTES,
            "posts_limit": 10,
            "interactions_limit": 50,
            "brands_limit": 2,
            "profile_units_limit": 15,
            "page_allowance": 2,
        }
    return {
        "storage_limit_bytes": UNLIMITED,
        "posts_limit": UNLIMITED,
        "interactions_limit": UNLIMITED,
        "brands_limit": 10 if plan == "pro" else 50,
        "profile_units_limit": UNLIMITED,
        "page_allowance": 25,
    }


def sandbox_tenant_create(
    *,
    name: str,
    plan: str = "free",
    dialect: str = "current",
    storage_limit: int | None = None,
    email: str = "",
    list_end: str | None = None,
) -> SandboxTenant:
    """A new tenant (SocialAPI account) with a fresh API key and an empty library.

    `list_end` (how the last page of a list ends) is picked at random when not given.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise SandboxError("Give the tenant a name of 1 to 100 characters.")
    if plan not in PLANS:
        raise SandboxError(f"Unknown plan {plan!r}: use one of {', '.join(PLANS)}.")
    if dialect not in SandboxTenant.Dialect.values:
        raise SandboxError("The dialect is 'current' or 'legacy'.")
    if list_end is not None and list_end not in SandboxTenant.ListEnd.values:
        raise SandboxError("A list ends with 'empty' (next_cursor: \"\") or 'missing'.")
    if SandboxTenant.objects.filter(name=name).exists():
        raise SandboxError(f"A tenant named {name!r} already exists.")
    limits = plan_limits(plan)
    if storage_limit is not None:
        limits["storage_limit_bytes"] = storage_limit
    now = timezone.now()
    slug = "".join(c for c in name.lower() if c.isalnum()) or "tenant"
    return SandboxTenant.objects.create(
        name=name,
        email=email or f"owner@{slug[:40]}.example",
        api_key=api_key_new(),
        plan=plan,
        dialect=dialect,
        list_end=list_end or list_end_pick(),
        period_start=now,
        period_end=now + PERIOD,
        **limits,
    )


def tenant_period_roll(*, tenant: SandboxTenant) -> SandboxTenant:
    """Start a new billing period (monthly counters back to 0) once the last one ended."""
    now = timezone.now()
    if tenant.period_end > now:
        return tenant
    while tenant.period_end <= now:
        tenant.period_start, tenant.period_end = tenant.period_end, tenant.period_end + PERIOD
    tenant.posts_used = tenant.interactions_used = 0
    tenant.save(update_fields=["period_start", "period_end", "posts_used", "interactions_used"])
    return tenant


def faults_set(
    *,
    tenant: SandboxTenant,
    scope: str | None = None,
    seed: int | None = None,
    **values: float | int | None,
) -> SandboxTenant:
    """Set fault switches (rates 0..1); unnamed switches keep their value."""
    changed = []
    for key, value in values.items():
        if key not in FAULT_FIELDS:
            raise SandboxError(f"Unknown fault switch {key!r}.")
        if value is None:
            continue
        field, kind, low, high = FAULT_FIELDS[key]
        if not low <= value <= high:
            raise SandboxError(f"{key.replace('_', ' ')} must be between {low} and {high}.")
        setattr(tenant, field, kind(value))
        changed.append(field)
    if scope is not None:
        method, prefix = scope_parse(scope)
        if method not in ("", "GET", "POST", "DELETE", "PUT", "PATCH") or (
            scope.strip() and not prefix.startswith("/")
        ):
            raise SandboxError('The scope looks like "DELETE /media" or "/media" (or is empty).')
        tenant.fault_scope = f"{method} {prefix}".strip()
        changed.append("fault_scope")
    if seed is not None:
        tenant.fault_seed = seed
        changed.append("fault_seed")
    tenant.save(update_fields=changed or None)
    rng_reset(tenant=tenant)
    return tenant


def faults_clear(*, tenant: SandboxTenant) -> SandboxTenant:
    """Switch every injected fault off."""
    for field, kind, _, _ in FAULT_FIELDS.values():
        setattr(tenant, field, kind(30 if field == "fault_timeout_seconds" else 0))
    tenant.fault_scope = ""
    tenant.fault_seed = None
    tenant.save()
    rng_reset(tenant=tenant)
    return tenant


def dialect_set(*, tenant: SandboxTenant, dialect: str) -> SandboxTenant:
    """Answer errors (and connects) in the current or the legacy dialect."""
    if dialect not in SandboxTenant.Dialect.values:
        raise SandboxError("The dialect is 'current' or 'legacy'.")
    tenant.dialect = dialect
    tenant.save(update_fields=["dialect"])
    return tenant


def list_end_set(*, tenant: SandboxTenant, list_end: str) -> SandboxTenant:
    """End the last page of lists with `next_cursor: ""` (empty) or without it (missing)."""
    if list_end not in SandboxTenant.ListEnd.values:
        raise SandboxError("A list ends with 'empty' (next_cursor: \"\") or 'missing'.")
    tenant.list_end = list_end
    tenant.save(update_fields=["list_end"])
    return tenant


def world_get() -> SandboxWorld:
    """The sandbox-wide switches (created on first use)."""
    world, _ = SandboxWorld.objects.get_or_create(pk=1)
    return world


def world_dialect_set(*, dialect: str) -> SandboxWorld:
    """The dialect of answers that belong to no tenant: bad or missing key, unknown path."""
    if dialect not in SandboxTenant.Dialect.values:
        raise SandboxError("The dialect is 'current' or 'legacy'.")
    world = world_get()
    world.dialect = dialect
    world.save(update_fields=["dialect"])
    return world


def billing_set(*, tenant: SandboxTenant, past_due: bool) -> SandboxTenant:
    """Block every /v1 call but users/me with 402 (past due), or unblock."""
    tenant.billing_blocked = past_due
    tenant.billing_blocked_at = timezone.now() if past_due else None
    tenant.save(update_fields=["billing_blocked", "billing_blocked_at"])
    if not past_due:
        webhook_paused_resend(tenant=tenant)
    return tenant


def api_key_revoke(*, tenant: SandboxTenant, revoked: bool = True) -> SandboxTenant:
    """Revoke the API key (every call → 401 `auth.invalid_key`), or restore it."""
    tenant.key_revoked = revoked
    tenant.save(update_fields=["key_revoked"])
    return tenant


def platform_throttle(*, tenant: SandboxTenant, platform: str, minutes: int = 15) -> SandboxTenant:
    """Make a platform throttle this tenant's account calls (429 + Retry-After)."""
    if platform not in PLATFORMS:
        raise SandboxError(f"Unknown platform {platform!r}.")
    if not 1 <= minutes <= 24 * 60:
        raise SandboxError("Throttle for 1 to 1440 minutes.")
    until = timezone.now() + timedelta(minutes=minutes)
    tenant.throttles = {**(tenant.throttles or {}), platform: until.isoformat()}
    tenant.save(update_fields=["throttles"])
    account = SandboxAccount.objects.filter(
        tenant=tenant, platform=platform, removed_at__isnull=True
    ).first()
    events_append(
        tenant=tenant,
        count=3,
        endpoint="POST /v1/posts",
        code=f"platform.{platform}.rate_limit",
        status_code=429,
        message=f"{platform_name(platform)} is rate limiting requests. Retry later.",
        category="post",
        action="create",
        platform=platform,
        account_id=account.id if account else "",
        spread_minutes=10,
    )
    return tenant


def throttles_clear(*, tenant: SandboxTenant) -> SandboxTenant:
    """Stop every platform throttle."""
    tenant.throttles = {}
    tenant.save(update_fields=["throttles"])
    return tenant


def allowance_exhaust(*, tenant: SandboxTenant) -> SandboxTenant:
    """Use up the monthly posts (POST /posts → 429 `billing.post_limit`)."""
    if tenant.posts_limit < 0 or not tenant.is_free:
        raise SandboxError(f"The {tenant.plan} plan has no monthly post limit to exhaust.")
    tenant.posts_used = tenant.posts_limit
    tenant.save(update_fields=["posts_used"])
    events_append(
        tenant=tenant,
        count=2,
        endpoint="POST /v1/posts",
        code="billing.post_limit",
        status_code=429,
        message=f"Monthly post limit reached ({tenant.posts_limit} on the {tenant.plan} plan).",
        category="post",
        action="create",
    )
    return tenant


def usage_reset(*, tenant: SandboxTenant) -> SandboxTenant:
    """Start a fresh billing period now (monthly counters back to 0)."""
    now = timezone.now()
    tenant.period_start, tenant.period_end = now, now + PERIOD
    tenant.posts_used = tenant.interactions_used = 0
    tenant.save(update_fields=["period_start", "period_end", "posts_used", "interactions_used"])
    return tenant


def storage_fill(*, tenant: SandboxTenant, percent: float) -> int:
    """Add media until storage reaches `percent` of the limit; return files added."""
    if tenant.storage_limit_bytes < 0:
        raise SandboxError("Storage is unlimited on this plan: there is nothing to fill.")
    if not 0 < percent <= 100:
        raise SandboxError("Fill to a percentage between 1 and 100.")
    used, _ = storage_figures(tenant)
    missing = int(tenant.storage_limit_bytes * percent / 100) - used
    rng = random.Random()
    files: list[SandboxMedia] = []
    now = timezone.now()
    while missing > 0:
        size = min(missing, rng.randint(300_000, 4_000_000))
        missing -= size
        n = len(files) + 1
        files.append(
            SandboxMedia(
                tenant=tenant,
                filename=f"bulk-import {now:%Y-%m-%d} #{n:04d} «copie» <v2>.jpg",
                content_type="image/jpeg",
                size_bytes=size,
                created_at=now - timedelta(seconds=n),
            )
        )
    SandboxMedia.objects.bulk_create(files)
    if percent >= 90:
        events_append(
            tenant=tenant,
            count=3,
            endpoint="POST /v1/media/upload",
            code="billing.storage_quota",
            status_code=413,
            message="Upload would exceed your plan's storage limit (100 MB).",
            category="media",
            action="upload",
        )
    return len(files)


MIB = 1024 * 1024
MAX_GROWTH_MB_PER_DAY = 10_000
# Growth arrives as files of 256 KiB to 4 MiB, once at least this much is owed (or a
# quarter of a day's growth, for slow paces): a few files a day, not one per call.
GROWTH_FILE_BYTES = (256 * 1024, 4 * MIB)
GROWTH_CHUNK_BYTES = MIB
MAX_GROWTH_FILES = 5_000  # per call: a pace left on for months stays a bounded write


def storage_growth_set(*, tenant: SandboxTenant, mb_per_day: float) -> SandboxTenant:
    """Make storage grow by itself at this pace from now on (0 stops it): what a
    tenant's own backend uploading media every day looks like to the dashboard."""
    if not 0 <= mb_per_day <= MAX_GROWTH_MB_PER_DAY:
        raise SandboxError(f"Grow by 0 to {MAX_GROWTH_MB_PER_DAY:,} MB a day.")
    storage_growth_apply(tenant=tenant)  # what the old pace owes until now
    tenant.storage_growth_bytes_per_day = int(mb_per_day * MIB)
    tenant.storage_grown_at = timezone.now() if tenant.storage_growth_bytes_per_day else None
    tenant.save(update_fields=["storage_growth_bytes_per_day", "storage_grown_at"])
    return tenant


def storage_growth_apply(*, tenant: SandboxTenant) -> int:
    """Add the files the growth pace owes since it was last applied; return how many.

    Called on every API call of the tenant (nothing to do, no query, while growth is
    off). Uploads that would pass the limit are refused as upstream refuses them: the
    storage fills to the limit exactly, and a refused upload is logged.
    """
    rate, since = tenant.storage_growth_bytes_per_day, tenant.storage_grown_at
    if rate <= 0 or since is None:
        return 0
    now = timezone.now()
    owed = int(rate * (now - since).total_seconds() / 86_400)
    if owed < min(GROWTH_CHUNK_BYTES, max(1, rate // 4)):
        return 0
    with transaction.atomic():
        # Of two calls arriving together, one adds the files.
        if not SandboxTenant.objects.filter(pk=tenant.pk, storage_grown_at=since).update(
            storage_grown_at=now
        ):
            return 0
        tenant.storage_grown_at = now
        room = owed
        if tenant.storage_limit_bytes >= 0:
            used, _ = storage_figures(tenant)
            room = max(0, min(owed, tenant.storage_limit_bytes - used))
        files = _growth_files(tenant, room, since=since, now=now)
        SandboxMedia.objects.bulk_create(files)
        if room < owed:
            events_append(
                tenant=tenant,
                count=1,
                endpoint="POST /v1/media/upload",
                code="billing.storage_quota",
                status_code=413,
                message="Upload would exceed your plan's storage limit "
                f"({tenant.storage_limit_bytes // MIB} MB).",
                category="media",
                action="upload",
                spread_minutes=0,
            )
    return len(files)


def _growth_files(
    tenant: SandboxTenant, total: int, *, since: datetime, now: datetime
) -> list[SandboxMedia]:
    """`total` bytes as files of random sizes, uploaded evenly between `since` and `now`."""
    rng = random.Random()
    sizes: list[int] = []
    left = total
    while left > 0 and len(sizes) < MAX_GROWTH_FILES:
        size = min(left, rng.randint(*GROWTH_FILE_BYTES))
        sizes.append(size)
        left -= size
    span = (now - since) / max(len(sizes), 1)
    files = []
    for index, size in enumerate(sizes):
        moment = since + span * (index + 1)
        video = rng.random() < 0.2
        files.append(
            SandboxMedia(
                tenant=tenant,
                filename=f"auto-upload {moment:%Y-%m-%d %H%M} #{index + 1:03d}."
                + ("mp4" if video else "jpg"),
                content_type="video/mp4" if video else "image/jpeg",
                size_bytes=size,
                created_at=moment,
            )
        )
    return files


def _live_account(tenant: SandboxTenant, account_id: str) -> SandboxAccount:
    """A live account of the tenant, or a SandboxError."""
    account = SandboxAccount.objects.filter(
        tenant=tenant, pk=account_id.strip()[:40], removed_at__isnull=True
    ).first()
    if account is None:
        raise SandboxError(f"No live account {account_id!r} in {tenant.name}.")
    return account


def _failed_publish(
    tenant: SandboxTenant, account: SandboxAccount, code: str, status: int, message: str
) -> None:
    """One failed publish on the account in the events log."""
    events_append(
        tenant=tenant,
        count=1,
        endpoint="POST /v1/posts",
        code=code,
        status_code=status,
        message=message,
        category="post",
        action="create",
        platform=account.platform,
        account_id=account.id,
    )


@transaction.atomic
def account_token_expire(
    *, tenant: SandboxTenant, account_id: str, reason: str = DEFAULT_REASON
) -> SandboxAccount:
    """Kill an OAuth account's token: reconnect required, webhook and a failed event."""
    account = _live_account(tenant, account_id)
    if auth_kind(account.platform) != "oauth":
        raise SandboxError("That account uses credentials: invalidate its credentials instead.")
    account.status = SandboxAccount.Status.RECONNECT_REQUIRED
    account.reconnect_reason = (reason.strip() or DEFAULT_REASON)[:300]
    account.save(update_fields=["status", "reconnect_reason"])
    data: dict[str, Any] = {
        "account_id": account.id,
        "platform": account.platform,
        "reason": "access_revoked",
        "reconnect_required": True,
    }
    webhook_queue(tenant=tenant, event="account.disconnected", data=data)
    _failed_publish(tenant, account, "account.reconnection_required", 403, account.reconnect_reason)
    return account


@transaction.atomic
def account_credentials_invalidate(*, tenant: SandboxTenant, account_id: str) -> SandboxAccount:
    """Make the platform reject a credential account's stored credentials (401)."""
    account = _live_account(tenant, account_id)
    if auth_kind(account.platform) != "credentials":
        raise SandboxError("Only telegram and whatsapp accounts have credentials.")
    account.credentials_valid = False
    account.save(update_fields=["credentials_valid"])
    _failed_publish(
        tenant,
        account,
        f"platform.{account.platform}.auth",
        401,
        f"{platform_name(account.platform)} rejected the stored credentials.",
    )
    return account


@transaction.atomic
def account_remove(*, tenant: SandboxTenant, account_id: str) -> SandboxAccount:
    """Remove an account upstream (pages removed): `account.disconnected`, no reconnect."""
    account = _live_account(tenant, account_id)
    account.removed_at = timezone.now()
    account.save(update_fields=["removed_at"])
    data = {
        "account_id": account.id,
        "platform": account.platform,
        "reason": "all_pages_removed",
        "reconnect_required": False,
    }
    webhook_queue(tenant=tenant, event="account.disconnected", data=data)
    return account


def webhook_configure(*, tenant: SandboxTenant, url: str, secret: str) -> SandboxTenant:
    """Where (and with which secret) the tenant's webhooks go; an empty URL stops them."""
    url, secret = url.strip(), secret.strip()
    # Set by staff or the demo seed (not by API callers), so plain http is fine here:
    # the dashboard may run on any host in a demo.
    if url and not url_allowed(url.replace("http://", "https://", 1)):
        raise SandboxError("The webhook URL must be an http(s) URL with a host.")
    if url and not secret:
        raise SandboxError("Give the secret the receiver verifies signatures with.")
    tenant.webhook_url, tenant.webhook_secret = url, secret
    tenant.save(update_fields=["webhook_url", "webhook_secret"])
    return tenant


def tenant_reset(*, tenant: SandboxTenant) -> SandboxTenant:
    """Every switch off: faults, throttles, billing block, revoked key, storage growth
    (data is kept)."""
    faults_clear(tenant=tenant)
    tenant.throttles = {}
    tenant.billing_blocked, tenant.billing_blocked_at = False, None
    tenant.key_revoked = False
    tenant.storage_growth_bytes_per_day, tenant.storage_grown_at = 0, None
    tenant.save()
    return tenant
