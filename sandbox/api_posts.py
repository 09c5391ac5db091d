"""/v1/posts: list (cursor-paged) and create (drafts are free; the rest use a credit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from sandbox.api import (
    Ctx,
    as_uuid,
    compact,
    iso,
    json_body,
    limit_param,
    list_end_mark,
    moment_field,
    text_field,
)
from sandbox.api_events import cursor_decode, cursor_encode
from sandbox.checks import account_check
from sandbox.errors import api_error, field_invalid, field_required, not_found
from sandbox.ids import prefixed
from sandbox.models import SandboxAccount, SandboxMedia, SandboxPost, SandboxPostTarget
from sandbox.services import tenant_period_roll

STATUSES = ("draft", "scheduled", "publishing", "published", "partial", "failed", "cancelled")
SORTS = {
    "scheduled_asc": ("scheduled_at", "created_at", "id"),
    "scheduled_desc": ("-scheduled_at", "-created_at", "-id"),
    "created_asc": ("created_at", "id"),
    "created_desc": ("-created_at", "-id"),
}


def media_inputs(media: Iterable[SandboxMedia]) -> list[dict[str, str]]:
    """MediaInput items for attached media."""
    return [
        {
            "source": str(item.id),
            "source_type": "media_id",
            "type": "video" if item.content_type.startswith("video/") else "image",
        }
        for item in media
    ]


def post_json(post: SandboxPost) -> dict[str, Any]:
    """PostResponse (targets and media must be prefetched)."""
    media = list(post.media.all())
    targets = [
        compact(
            {
                "account_id": target.account_id,
                # Always sent, though PostTargetResponse.platform's enum in the OpenAPI
                # file lists only 7 platforms: posts go to all 12 (the SDK requires it).
                "platform": target.account.platform,
                "status": target.status,
                "scheduled_at": iso(post.scheduled_at),
                "published_at": iso(post.published_at) if target.status == "published" else None,
                "error": target.error or None,
            }
        )
        for target in post.targets.all()
    ]
    return compact(
        {
            "id": post.id,
            "text": post.text,
            "status": post.status,
            "hidden": False,
            "scheduled_at": iso(post.scheduled_at),
            "published_at": iso(post.published_at),
            "created_at": iso(post.created_at),
            "updated_at": iso(post.updated_at),
            "media": media_inputs(media),
            "media_ids": [str(item.id) for item in media],
            "targets": targets,
            "retry_count": post.retry_count,
        }
    )


def posts_list(ctx: Ctx) -> HttpResponse:
    """GET /v1/posts?account_ids=&status=&brand_id=&platform=&sort=&cursor=&limit=."""
    params = ctx.request.GET
    limit = limit_param(ctx.request, default=25)
    posts = SandboxPost.objects.filter(tenant=ctx.tenant)
    status = params.get("status", "")
    if status:
        if status not in STATUSES:
            raise field_invalid("status", f"must be one of {', '.join(STATUSES)}")
        posts = posts.filter(status=status)
    account_ids = [part.strip()[:40] for part in params.get("account_ids", "").split(",")]
    if any(account_ids):
        posts = posts.filter(targets__account_id__in=[a for a in account_ids if a])
    if params.get("brand_id"):
        posts = posts.filter(targets__account__brand_id=params["brand_id"][:40])
    if params.get("platform"):
        posts = posts.filter(targets__account__platform=params["platform"][:30])
    sort = params.get("sort", "") or "scheduled_asc"
    if sort not in SORTS:
        raise field_invalid("sort", f"must be one of {', '.join(SORTS)}")
    offset = 0
    if params.get("cursor"):
        (raw,) = cursor_decode(params["cursor"], 1)
        if not (raw.isascii() and raw.isdigit()):
            raise field_invalid("cursor", "is not a valid cursor")
        offset = int(raw)
    page = list(
        posts.distinct()
        .order_by(*SORTS[sort])
        .prefetch_related("media", "targets__account")[offset : offset + limit + 1]
    )
    has_more = len(page) > limit
    pagination: dict[str, Any] = {"has_more": has_more, "limit": limit}
    if has_more:
        pagination["next_cursor"] = cursor_encode(str(offset + limit))
    else:
        list_end_mark(ctx, pagination)
    return JsonResponse({"data": [post_json(p) for p in page[:limit]], "pagination": pagination})


def _media_ids(data: dict[str, Any]) -> list[str]:
    """The media ids named by `media` (media_id items) or the deprecated `media_ids`."""
    raw = data.get("media")
    ids: list[str] = []
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise field_invalid("media", "must be a list of objects")
        ids = [str(i.get("source", "")) for i in raw if i.get("source_type") == "media_id"]
    elif data.get("media_ids") is not None:
        raw_ids = data["media_ids"]
        if not isinstance(raw_ids, list) or not all(isinstance(item, str) for item in raw_ids):
            raise field_invalid("media_ids", "must be a list of strings")
        ids = raw_ids
    return ids


def _media_for(ctx: Ctx, ids: list[str]) -> list[SandboxMedia]:
    """The tenant's live media with these ids, or 404 `media.not_found`."""
    found = {
        str(m.id): m
        for m in SandboxMedia.objects.filter(
            tenant=ctx.tenant, deleted_at__isnull=True, id__in=[u for u in map(as_uuid, ids) if u]
        )
    }
    for media_id in ids:
        if media_id not in found:
            raise not_found("media.not_found", "Media", media_id)
    return [found[media_id] for media_id in dict.fromkeys(ids)]


def _accounts_for(ctx: Ctx, data: dict[str, Any]) -> list[SandboxAccount]:
    """The live accounts named by `targets`, in order."""
    targets = data.get("targets")
    if not targets:
        raise field_required("targets")
    if not isinstance(targets, list) or not all(
        isinstance(t, dict) and isinstance(t.get("account_id"), str) for t in targets
    ):
        raise field_invalid("targets", "must be a list of {account_id}")
    ids = list(dict.fromkeys(t["account_id"][:40] for t in targets))
    found = SandboxAccount.objects.filter(tenant=ctx.tenant, pk__in=ids, removed_at__isnull=True)
    accounts = {account.id: account for account in found}
    for account_id in ids:
        if account_id not in accounts:
            ctx.account_id = account_id
            raise not_found("account.not_found", "Account", account_id)
    return [accounts[account_id] for account_id in ids]


def posts_create(ctx: Ctx) -> HttpResponse:
    """POST /v1/posts: draft, scheduled (scheduled_at) or published now (publish_now)."""
    data = json_body(ctx.request)
    text = text_field(data, "text", required=True, max_len=10000)
    publish_now = data.get("publish_now", False)
    if not isinstance(publish_now, bool):
        raise field_invalid("publish_now", "must be a boolean")
    when = moment_field(
        text_field(data, "scheduled_at", required=False, max_len=40), "scheduled_at"
    )
    media_ids = _media_ids(data)
    accounts = _accounts_for(ctx, data)
    media = _media_for(ctx, media_ids)
    status = "published" if publish_now else "scheduled" if when else "draft"
    tenant = ctx.tenant
    if status != "draft":
        for account in accounts:
            ctx.account_id, ctx.platform = account.id, account.platform
            account_check(tenant=tenant, account=account)
        ctx.account_id = ctx.platform = ""
        tenant = tenant_period_roll(tenant=tenant)
        if tenant.is_free and 0 <= tenant.posts_limit <= tenant.posts_used:
            raise api_error(
                "billing.post_limit",
                f"Monthly post limit reached ({tenant.posts_limit} on the {tenant.plan} plan). "
                "It resets at the start of your next billing period.",
                plan=tenant.plan,
                max=tenant.posts_limit,
            )
    now = timezone.now()
    with transaction.atomic():
        post = SandboxPost.objects.create(
            id=prefixed("p"),
            tenant=tenant,
            text=text,
            status=status,
            scheduled_at=None if publish_now else when,
            published_at=now if publish_now else None,
        )
        post.media.set(media)
        SandboxPostTarget.objects.bulk_create(
            SandboxPostTarget(
                post=post, account=account, status="published" if publish_now else "pending"
            )
            for account in accounts
        )
        if status != "draft":
            type(tenant).objects.filter(pk=tenant.pk).update(posts_used=F("posts_used") + 1)
    ctx.resource_id = post.id
    post = SandboxPost.objects.prefetch_related("media", "targets__account").get(pk=post.pk)
    return JsonResponse(post_json(post), status=201)
