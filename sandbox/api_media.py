"""/v1/media: list, delete, storage, upload."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone

from sandbox.api import Ctx, as_uuid, compact, iso, limit_param, list_end_mark
from sandbox.checks import storage_figures
from sandbox.errors import api_error, field_invalid, field_required, not_found
from sandbox.models import SandboxMedia, SandboxPost

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def media_json(ctx: Ctx, media: SandboxMedia) -> dict[str, Any]:
    """MediaItemResponse, plus fields the OpenAPI file does not list (`updated_at`, and
    `thumbnail_url` on images), as upstream's answers have: clients must ignore them."""
    url = ctx.absolute(reverse("sandbox:media_file", args=[media.id]))
    return compact(
        {
            "id": str(media.id),
            "filename": media.filename,
            "content_type": media.content_type,
            "size_bytes": media.size_bytes,
            "status": media.status,
            "url": url,
            "created_at": iso(media.created_at),
            "updated_at": iso(media.created_at),
            "thumbnail_url": url if media.content_type.startswith("image/") else None,
        }
    )


def media_list(ctx: Ctx) -> HttpResponse:
    """GET /v1/media?limit=&cursor=: ready files, newest first; the cursor is a media id."""
    limit = limit_param(ctx.request, default=50)
    live = SandboxMedia.objects.filter(tenant=ctx.tenant, deleted_at__isnull=True, status="ready")
    cursor = ctx.request.GET.get("cursor", "")
    if cursor:
        media_id = as_uuid(cursor)
        after = (
            SandboxMedia.objects.filter(tenant=ctx.tenant, pk=media_id).first()
            if media_id
            else None
        )
        if after is None:
            raise field_invalid("cursor", "is not a valid cursor")
        live = live.filter(
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id)
        )
    page = list(live.order_by("-created_at", "-id")[: limit + 1])
    items = page[:limit]
    body: dict[str, Any] = {"count": len(items), "data": [media_json(ctx, m) for m in items]}
    if len(page) > limit:
        body["next_cursor"] = str(items[-1].id)
    else:
        list_end_mark(ctx, body)
    return JsonResponse(body)


def media_delete(ctx: Ctx, id: str) -> HttpResponse:
    """DELETE /v1/media/{id}: 204; 404 once gone; 409 while a scheduled post uses it."""
    media_id = as_uuid(id)
    ctx.resource_id = id[:64]
    media = (
        SandboxMedia.objects.filter(tenant=ctx.tenant, pk=media_id, deleted_at__isnull=True).first()
        if media_id
        else None
    )
    if media is None:
        raise not_found("media.not_found", "Media", id)
    post = SandboxPost.objects.filter(media=media, status="scheduled").only("id").first()
    if post is not None:
        raise api_error(
            "media.in_use",
            "Media is attached to a scheduled post",
            resource="media",
            id=str(media.id),
            post_id=post.id,
        )
    # Conditional update: of two concurrent deletes, exactly one succeeds.
    gone = SandboxMedia.objects.filter(pk=media.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )
    if not gone:
        raise not_found("media.not_found", "Media", id)
    return HttpResponse(status=204)


def media_storage(ctx: Ctx) -> HttpResponse:
    """GET /v1/media/storage: exactly {used_bytes, limit_bytes, count}."""
    used, count = storage_figures(ctx.tenant)
    limit = ctx.tenant.storage_limit_bytes
    response = JsonResponse({"used_bytes": used, "limit_bytes": limit, "count": count})
    response["X-Storage-Used"] = str(used)
    response["X-Storage-Limit"] = str(limit)
    return response


def media_upload(ctx: Ctx) -> HttpResponse:
    """POST /v1/media/upload (multipart `file`, ≤ 50 MB): 201 {media_id}; 413 over quota."""
    try:
        upload = ctx.request.FILES.get("file")
    except (MultiPartParserError, RequestDataTooBig, ValueError):
        raise api_error("validation.body_invalid", "Expected a multipart/form-data body") from None
    if upload is None:
        raise field_required("file")
    size = int(upload.size or 0)
    if size > MAX_UPLOAD_BYTES:
        raise api_error(
            "validation.field_invalid",
            "The file exceeds the 50 MB upload limit",
            field="file",
            max=MAX_UPLOAD_BYTES,
        )
    limit = ctx.tenant.storage_limit_bytes
    used, _ = storage_figures(ctx.tenant)
    if limit >= 0 and used + size > limit:
        raise api_error(
            "billing.storage_quota",
            f"Upload would exceed your plan's storage limit ({limit // (1024 * 1024)} MB). "
            "Delete unused media or upgrade your plan.",
            plan=ctx.tenant.plan,
            max=limit,
        )
    filename = PurePosixPath(str(upload.name or "").replace("\\", "/")).name[:255] or "upload"
    media = SandboxMedia.objects.create(
        tenant=ctx.tenant,
        filename=filename,
        content_type=(upload.content_type or "application/octet-stream")[:100],
        size_bytes=size,
    )
    ctx.resource_id = str(media.id)
    return JsonResponse({"media_id": str(media.id)}, status=201)
