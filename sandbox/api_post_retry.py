"""/v1/posts/{pid} (GET one post) and /v1/posts/{pid}/retry, as the OpenAPI file has them.

Retry "re-attempts publication of a post in `failed` or `partial` status" and "consumes 1
post credit". Its errors, by the OpenAPI file's statuses, with the codes upstream's official
SDK names for them: 404 `post.not_found`, 409 `post.state_invalid` (not failed/partial),
400 `post.no_retryable_deliveries` (no failed delivery left to retry: every failed target's
account is gone), 429 `billing.post_limit` (the monthly allowance is used up; the credit is
checked first, so a refused retry uses none).

Where the file is silent the sandbox does what upstream most plausibly does:
- Only the failed targets are attempted again; published ones stay published.
- "Re-enqueued" keeps the post's own time: a scheduled time that has passed (every post
  that failed when it came due) publishes at once, a time still ahead waits for it.
- An account that is still broken fails again (post.failed / post.partial webhook, an
  events-log entry), and the credit is used all the same: the retry did happen.
- Fresh X-Posts-Used / X-Posts-Limit headers come back, as on other calls that use quota.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from sandbox.api import Ctx
from sandbox.api_posts import post_json
from sandbox.errors import api_error, not_found
from sandbox.models import SandboxPost, SandboxTenant
from sandbox.posts import post_deliver
from sandbox.services import tenant_period_roll

RETRYABLE = ("failed", "partial")


def _post_for(ctx: Ctx, pid: str) -> SandboxPost:
    """One post of this tenant with its targets and media, or 404 `post.not_found`."""
    ctx.resource_id = pid[:64]
    post = (
        SandboxPost.objects.filter(tenant=ctx.tenant, pk=pid[:40])
        .prefetch_related("media", "targets__account")
        .first()
    )
    if post is None:
        raise not_found("post.not_found", "Post", pid)
    return post


def _posts_headers(tenant: SandboxTenant) -> dict[str, str]:
    return {"X-Posts-Used": str(tenant.posts_used), "X-Posts-Limit": str(tenant.posts_limit)}


def post_get(ctx: Ctx, pid: str) -> HttpResponse:
    """GET /v1/posts/{pid}: the post with every target's delivery status and error."""
    return JsonResponse(post_json(_post_for(ctx, pid)))


def post_retry(ctx: Ctx, pid: str) -> HttpResponse:
    """POST /v1/posts/{pid}/retry → 200 {"success": true}."""
    post = _post_for(ctx, pid)
    if post.status not in RETRYABLE:
        raise api_error(
            "post.state_invalid",
            f"Post is not in a retryable state (it is {post.status}); only failed or "
            "partial posts can be retried.",
            status=post.status,
        )
    retryable = [
        target
        for target in post.targets.all()
        if target.status == "failed" and target.account.removed_at is None
    ]
    if not retryable:
        raise api_error(
            "post.no_retryable_deliveries",
            "Post is not retryable: none of its failed deliveries can be attempted again.",
        )
    tenant = tenant_period_roll(tenant=ctx.tenant)
    if tenant.is_free and 0 <= tenant.posts_limit <= tenant.posts_used:
        raise api_error(
            "billing.post_limit",
            f"Monthly post limit reached ({tenant.posts_limit} on the {tenant.plan} plan). "
            "It resets at the start of your next billing period.",
            headers=_posts_headers(tenant),
            plan=tenant.plan,
            max=tenant.posts_limit,
        )
    now = timezone.now()
    with transaction.atomic():
        # One retry of a post at a time: the second of two concurrent ones finds it taken.
        if not SandboxPost.objects.filter(pk=post.pk, status=post.status).update(
            status="publishing", retry_count=F("retry_count") + 1, updated_at=now
        ):
            raise api_error("post.state_invalid", "Post is already being retried.")
        SandboxTenant.objects.filter(pk=tenant.pk).update(posts_used=F("posts_used") + 1)
        post.refresh_from_db()
        if post.scheduled_at is not None and post.scheduled_at > now:
            for target in retryable:
                target.status, target.error = "pending", None
                target.save(update_fields=["status", "error"])
            SandboxPost.objects.filter(pk=post.pk).update(status="scheduled")
        else:
            post_deliver(post=post, targets=retryable, now=now)
    tenant.refresh_from_db(fields=["posts_used"])
    response = JsonResponse({"success": True})
    for name, value in _posts_headers(tenant).items():
        response[name] = value
    return response
