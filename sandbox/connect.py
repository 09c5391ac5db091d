"""Connecting accounts: connect requests, the consent decision, exchange, page selection."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from sandbox.checks import url_allowed
from sandbox.errors import api_error, field_invalid, field_required, not_found
from sandbox.identities import credentials_identity, facebook_pages, google_profiles, identity_new
from sandbox.ids import account_id_new, brand_id_new, hex_token, login_id_new
from sandbox.models import (
    SandboxAccount,
    SandboxBrand,
    SandboxConnectRequest,
    SandboxPendingConnection,
    SandboxTenant,
)
from sandbox.webhooks import webhook_queue
from socialapi.platforms import PLATFORMS, platform_name, selection_step

CONNECT_TTL = timedelta(minutes=10)
PENDING_TTL = timedelta(minutes=30)
CREDENTIAL_FIELDS = {"telegram": ("bot_token",), "whatsapp": ("phone_number_id", "access_token")}
Outcome = (
    tuple[Literal["account"], SandboxAccount] | tuple[Literal["pending"], SandboxPendingConnection]
)


def with_query(url: str, params: dict[str, str]) -> str:
    """The URL with extra query parameters (existing ones kept)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def brand_for_connect(*, tenant: SandboxTenant, brand_id: str) -> SandboxBrand | None:
    """The named brand, or None (a new one is created) when the plan allows another."""
    if brand_id:
        brand = SandboxBrand.objects.filter(tenant=tenant, pk=brand_id[:40]).first()
        if brand is None:
            raise not_found("resource.not_found", "Brand", brand_id)
        return brand
    if tenant.brands_limit >= 0 and tenant.brands.count() >= tenant.brands_limit:
        raise api_error(
            "billing.brands_limit",
            f"Your {tenant.plan} plan allows {tenant.brands_limit} brands.",
            plan=tenant.plan,
            max=tenant.brands_limit,
        )
    return None


def redirect_uri_check(*, tenant: SandboxTenant, redirect_uri: str) -> None:
    """https (or local http); once URIs are registered, only exact matches."""
    if tenant.redirect_uris and redirect_uri not in tenant.redirect_uris:
        raise field_invalid("redirect_uri", "does not match a registered redirect URI")
    if not url_allowed(redirect_uri):
        raise field_invalid("redirect_uri", "must be an https URI (http only on localhost)")


def connect_start(
    *,
    tenant: SandboxTenant,
    platform: str,
    brand: SandboxBrand | None,
    redirect_uri: str,
    state: str,
    legacy: bool,
) -> SandboxConnectRequest:
    """Start an OAuth connect; the consent page lives at the request's id."""
    now = timezone.now()
    return SandboxConnectRequest.objects.create(
        id=secrets.token_urlsafe(24),
        tenant=tenant,
        platform=platform,
        brand=brand,
        redirect_uri=redirect_uri,
        customer_state=state,
        legacy=legacy,
        # Legacy: upstream's own state, 16 random bytes, bound to this API key.
        upstream_state=hex_token(16) if legacy else "",
        expires_at=now + CONNECT_TTL,
    )


def connect_request_open(request_id: str) -> SandboxConnectRequest | None:
    """A consent link that can still be decided (unknown, used or expired: None)."""
    found = (
        SandboxConnectRequest.objects.select_related("tenant", "brand")
        .filter(pk=request_id[:64], decided_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if found is None or (found.redirect_uri and not url_allowed(found.redirect_uri)):
        return None
    return found


def consent_choices(connect_request: SandboxConnectRequest) -> list[SandboxAccount]:
    """Existing accounts of that platform in that brand (continue as one = reconnect)."""
    if connect_request.brand is None:
        return []
    return list(
        SandboxAccount.objects.filter(
            tenant=connect_request.tenant,
            brand=connect_request.brand,
            platform=connect_request.platform,
            removed_at__isnull=True,
        )
    )


def _brand_or_new(tenant: SandboxTenant, brand: SandboxBrand | None, hint: str) -> SandboxBrand:
    """The chosen brand, or a new one named after the account."""
    if brand is not None:
        return brand
    return SandboxBrand.objects.create(id=brand_id_new(), tenant=tenant, name=hint[:100])


def account_connected(*, account: SandboxAccount, **fields: Any) -> SandboxAccount:
    """Save a new or reconnected account as healthy and send `account.connected`."""
    for name, value in fields.items():
        setattr(account, name, value)
    account.status = SandboxAccount.Status.ACTIVE
    account.reconnect_reason = ""
    account.credentials_valid = True
    account.connected_at = timezone.now()
    account.save()
    webhook_queue(
        tenant=account.tenant,
        event="account.connected",
        data={
            "account_id": account.id,
            "platform": account.platform,
            "brand_id": account.brand_id,
            "username": account.username,
        },
    )
    return account


def _complete(connect_request: SandboxConnectRequest) -> Outcome:
    """Finish an approved consent: an account, or a pending page/profile selection."""
    tenant, platform = connect_request.tenant, connect_request.platform
    existing = None
    if connect_request.identity.startswith("acc_"):
        existing = (
            SandboxAccount.objects.select_related("brand")
            .filter(tenant=tenant, pk=connect_request.identity, removed_at__isnull=True)
            .first()
        )
    step = selection_step(platform)
    if step == "always" or (step == "sometimes" and existing is None):
        person = identity_new(platform)
        brand = _brand_or_new(tenant, connect_request.brand, person["name"])
        candidates = facebook_pages(existing) if platform == "facebook" else google_profiles(person)
        pending = SandboxPendingConnection.objects.create(
            id="pc_" + hex_token(16),
            tenant=tenant,
            platform=platform,
            brand=brand,
            account=existing,
            login_id=(existing.login_id if existing else login_id_new())
            if platform == "facebook"
            else "",
            candidates=candidates,
            expires_at=timezone.now() + PENDING_TTL,
        )
        return "pending", pending
    if existing is not None:
        return "account", account_connected(account=existing)
    person = identity_new(platform)
    brand = _brand_or_new(tenant, connect_request.brand, person["name"])
    account = SandboxAccount(id=account_id_new(), tenant=tenant, brand=brand, platform=platform)
    return "account", account_connected(account=account, **person)


@transaction.atomic
def consent_decide(
    *, connect_request: SandboxConnectRequest, approve: bool, identity: str
) -> tuple[str | None, dict[str, str]]:
    """Record the decision; return where to send the browser (None: no URI) and the params."""
    req = connect_request
    req.decided_at = timezone.now()
    req.identity = identity[:60]
    platform = req.platform
    if req.legacy:
        # The platform's own redirect: the client exchanges the code itself.
        if approve:
            req.code = "AQ" + secrets.token_urlsafe(30)
            params = {"code": req.code, "state": req.upstream_state}
        else:
            params = {
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": req.upstream_state,
            }
        req.save()
        return with_query(req.redirect_uri, params), params
    req.save()
    state = req.customer_state
    if not approve:
        params = {
            "status": "error",
            "error": "access_denied",
            "error_description": f"The user declined access on {platform_name(platform)}",
            "platform": platform,
            "state": state,
        }
    else:
        kind, result = _complete(req)
        if kind == "pending":
            params = {"status": "selection_required", "connection_id": result.id, "state": state}
        else:
            params = {
                "status": "success",
                "platform": platform,
                "state": state,
                "account_id": result.id,
            }
    return (with_query(req.redirect_uri, params) if req.redirect_uri else None), params


@transaction.atomic
def oauth_exchange(
    *, tenant: SandboxTenant, platform: str, code: str, redirect_uri: str, state: str
) -> Outcome:
    """Legacy flow: trade the one-use code for an account (or a pending selection)."""
    req = (
        SandboxConnectRequest.objects.select_for_update(of=("self",))
        .select_related("tenant", "brand")
        .filter(upstream_state=state[:64], legacy=True)
        .exclude(upstream_state="")
        .first()
    )
    if req is None or req.created_at + CONNECT_TTL < timezone.now():
        raise field_invalid("state", "is unknown or expired")
    if req.tenant_id != tenant.pk:
        raise api_error(
            "auth.state_mismatch", "The OAuth state belongs to a different API key", field="state"
        )
    if not req.code or req.code != code or req.code_used_at is not None:
        raise field_invalid("code", "is invalid or was already used")
    if req.platform != platform:
        raise field_invalid("platform", "does not match the connect call")
    if req.redirect_uri != redirect_uri:
        raise field_invalid("redirect_uri", "does not match the connect call")
    req.code_used_at = timezone.now()
    req.save(update_fields=["code_used_at"])
    return _complete(req)


def credentials_connect(
    *, tenant: SandboxTenant, platform: str, brand: SandboxBrand | None, metadata: dict[str, Any]
) -> SandboxAccount:
    """Direct-auth platforms: check the credentials and connect (or refresh) at once."""
    for name in CREDENTIAL_FIELDS.get(platform, ()):
        value = metadata.get(name)
        if not isinstance(value, str) or not value.strip():
            raise field_required(f"metadata.{name}")
        # The fake platform rejects credentials that say they are bad.
        if "invalid" in value.lower() or "revoked" in value.lower():
            raise api_error(
                "platform.auth",
                f"{platform_name(platform)} rejected the credentials.",
                platform=platform,
            )
    with transaction.atomic():
        existing = None
        if brand is not None:
            existing = SandboxAccount.objects.filter(
                tenant=tenant, brand=brand, platform=platform, removed_at__isnull=True
            ).first()
        if existing is not None:
            return account_connected(account=existing)
        person = credentials_identity(platform)
        brand = _brand_or_new(tenant, brand, person["name"])
        account = SandboxAccount(id=account_id_new(), tenant=tenant, brand=brand, platform=platform)
        return account_connected(account=account, **person)


@transaction.atomic
def pending_select(
    *,
    tenant: SandboxTenant,
    connection_id: str,
    page_ids: list[str] | None,
    platform_account_id: str | None,
) -> SandboxAccount:
    """Promote a pending connection into an account; first selection wins."""
    pending = pending_open(tenant=tenant, connection_id=connection_id, lock=True)
    if pending.platform == "facebook":
        known = {page["platform_page_id"]: page for page in pending.candidates}
        if not page_ids:
            raise field_required("page_ids")
        if any(page_id not in known for page_id in page_ids):
            raise field_invalid("page_ids", "must be among the candidate pages")
        pages = [known[page_id] for page_id in dict.fromkeys(page_ids)]
        fields: dict[str, Any] = {
            "login_id": pending.login_id,
            "page_name": pages[0]["name"] if len(pages) == 1 else "",
            "metadata": {"page_ids": [page["platform_page_id"] for page in pages]},
        }
        account = (
            pending.account
            or SandboxAccount.objects.filter(
                tenant=tenant,
                brand=pending.brand,
                platform="facebook",
                login_id=pending.login_id,
                removed_at__isnull=True,
            ).first()
        )
        if account is None:
            fields.update(name=pages[0]["name"], username=pages[0]["name"])
            fields["platform_account_id"] = pending.login_id
    else:
        known = {p["platform_account_id"]: p for p in pending.candidates}
        if not platform_account_id:
            raise field_required("platform_account_id")
        if platform_account_id not in known:
            raise field_invalid("platform_account_id", "must be one of the candidate profiles")
        profile = known[platform_account_id]
        account = (
            pending.account
            or SandboxAccount.objects.filter(
                tenant=tenant,
                brand=pending.brand,
                platform=pending.platform,
                platform_account_id=platform_account_id,
                removed_at__isnull=True,
            ).first()
        )
        fields = {
            "platform_account_id": platform_account_id,
            "name": profile["display_name"],
            "username": profile["display_name"],
        }
    pending.used_at = timezone.now()
    pending.save(update_fields=["used_at"])
    if account is None:
        account = SandboxAccount(
            id=account_id_new(), tenant=tenant, brand=pending.brand, platform=pending.platform
        )
    return account_connected(account=account, **fields)


def pending_open(
    *, tenant: SandboxTenant, connection_id: str, lock: bool = False
) -> SandboxPendingConnection:
    """An unexpired, unused pending connection of this tenant, or 404."""
    query = SandboxPendingConnection.objects.select_related("brand", "account")
    if lock:
        query = query.select_for_update(of=("self",))
    pending = query.filter(
        tenant=tenant, pk=connection_id[:64], used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
    if pending is None:
        raise not_found("resource.not_found", "Pending connection", connection_id)
    return pending


def platform_check(value: object) -> str:
    """A known platform slug, or the 400 upstream answers."""
    if value is None or value == "":
        raise field_required("platform")
    if not isinstance(value, str):
        raise field_invalid("platform", "must be a string")
    if value not in PLATFORMS:
        raise api_error(
            "account.unsupported_platform", f"Unsupported platform: {value[:40]}", field="platform"
        )
    return value
