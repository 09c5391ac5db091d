"""/v1/accounts/connect, /v1/accounts/pending/…, /v1/oauth/exchange."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import reverse

from sandbox.api import Ctx, compact, iso, json_body, text_field
from sandbox.connect import (
    Outcome,
    brand_for_connect,
    connect_start,
    credentials_connect,
    oauth_exchange,
    pending_open,
    pending_select,
    platform_check,
    redirect_uri_check,
)
from sandbox.errors import field_invalid, field_required
from sandbox.models import SandboxAccount, SandboxPendingConnection
from socialapi.platforms import is_oauth, platform_name


def connected_json(account: SandboxAccount) -> dict[str, Any]:
    """ConnectAccountResponse."""
    return {
        "account_id": account.id,
        "display_name": account.page_name or account.name,
        "platform": account.platform,
        "username": account.username,
    }


def pending_json(pending: SandboxPendingConnection) -> dict[str, Any]:
    """The candidates of a pending connection (pages for Facebook, profiles for Google)."""
    facebook = pending.platform == "facebook"
    return compact(
        {
            "connection_id": pending.id,
            "platform": pending.platform,
            "login_id": pending.login_id or None,
            "pages": pending.candidates if facebook else [],
            "profiles": [] if facebook else pending.candidates,
            "lost_access": [],
        }
    )


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    """The optional `metadata` object."""
    metadata = data.get("metadata")
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise field_invalid("metadata", "must be an object")
    return metadata


def accounts_connect(ctx: Ctx) -> HttpResponse:
    """POST /v1/accounts/connect: 202 with auth_url (OAuth) or 201 account (credentials)."""
    data = json_body(ctx.request)
    platform = platform_check(data.get("platform"))
    ctx.platform = platform
    metadata = _metadata(data)
    brand = brand_for_connect(
        tenant=ctx.tenant, brand_id=text_field(data, "brand_id", required=False)
    )
    if not is_oauth(platform):
        account = credentials_connect(
            tenant=ctx.tenant, platform=platform, brand=brand, metadata=metadata
        )
        ctx.account_id = account.id
        return JsonResponse(connected_json(account), status=201)
    redirect_uri = text_field(data, "redirect_uri", required=False)
    legacy = not redirect_uri and "redirect_uri" in metadata
    if legacy:
        redirect_uri = text_field(metadata, "redirect_uri", required=True)
    state = "" if legacy else text_field(data, "state", required=False, max_len=512)
    if redirect_uri:
        redirect_uri_check(tenant=ctx.tenant, redirect_uri=redirect_uri)
    request = connect_start(
        tenant=ctx.tenant,
        platform=platform,
        brand=brand,
        redirect_uri=redirect_uri,
        state=state,
        legacy=legacy,
    )
    auth_url = ctx.absolute(reverse("sandbox:consent", args=[request.id]))
    return JsonResponse(
        {
            "auth_url": auth_url,
            "state": request.upstream_state if legacy else state,
            "message": f"Redirect the user to auth_url to authorize {platform_name(platform)}",
        },
        status=202,
    )


def _outcome_response(outcome: Outcome) -> HttpResponse:
    """201 account, or 200 selection_required with the candidates."""
    result = outcome[1]
    if isinstance(result, SandboxPendingConnection):
        return JsonResponse({**pending_json(result), "status": "selection_required"})
    return JsonResponse(connected_json(result), status=201)


def oauth_exchange_view(ctx: Ctx) -> HttpResponse:
    """POST /v1/oauth/exchange: legacy flow, codes are single-use."""
    data = json_body(ctx.request)
    platform = platform_check(data.get("platform"))
    ctx.platform = platform
    code = text_field(data, "code", required=True, max_len=200)
    metadata = _metadata(data)
    redirect_uri = text_field(metadata, "redirect_uri", required=True)
    state = text_field(metadata, "state", required=True, max_len=512)
    outcome = oauth_exchange(
        tenant=ctx.tenant, platform=platform, code=code, redirect_uri=redirect_uri, state=state
    )
    return _outcome_response(outcome)


def pending_get(ctx: Ctx, connection_id: str) -> HttpResponse:
    """GET /v1/accounts/pending/{connection_id}."""
    pending = pending_open(tenant=ctx.tenant, connection_id=connection_id)
    ctx.platform = pending.platform
    return JsonResponse({**pending_json(pending), "expires_at": iso(pending.expires_at)})


def pending_select_view(ctx: Ctx, connection_id: str) -> HttpResponse:
    """POST /v1/accounts/pending/{connection_id}/select."""
    data = json_body(ctx.request)
    page_ids = data.get("page_ids")
    if page_ids is not None and (
        not isinstance(page_ids, list) or not all(isinstance(p, str) for p in page_ids)
    ):
        raise field_invalid("page_ids", "must be a list of strings")
    platform_account_id = text_field(data, "platform_account_id", required=False, max_len=200)
    if page_ids is None and not platform_account_id:
        raise field_required("page_ids or platform_account_id")
    account = pending_select(
        tenant=ctx.tenant,
        connection_id=connection_id,
        page_ids=page_ids,
        platform_account_id=platform_account_id or None,
    )
    ctx.account_id, ctx.platform = account.id, account.platform
    return JsonResponse(connected_json(account), status=201)
