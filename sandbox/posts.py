"""Post outcomes the sandbox can fake: a scheduled post that failed (or partly failed)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from sandbox.models import SandboxAccount, SandboxPost, SandboxTenant
from sandbox.services import SandboxError
from sandbox.webhooks import webhook_queue
from socialapi.platforms import auth_kind, platform_name


def target_error(account: SandboxAccount) -> dict[str, str]:
    """The per-target error {category, caused_by, code, message} the account would cause."""
    name = platform_name(account.platform)
    if account.status == SandboxAccount.Status.RECONNECT_REQUIRED:
        return {
            "category": "auth",
            "caused_by": "user",
            "code": "account.reconnection_required",
            "message": account.reconnect_reason or f"Reconnect the {name} account.",
        }
    if auth_kind(account.platform) == "credentials" and not account.credentials_valid:
        return {
            "category": "auth",
            "caused_by": "platform",
            "code": f"platform.{account.platform}.auth",
            "message": f"{name} rejected the stored credentials.",
        }
    return {
        "category": "platform",
        "caused_by": "platform",
        "code": f"platform.{account.platform}.publish_failed",
        "message": f"{name} could not publish the post. Try again later.",
    }


@transaction.atomic
def post_fail(*, tenant: SandboxTenant, post_id: str = "", partial: bool = False) -> SandboxPost:
    """Fail a scheduled post (all targets, or all but the first) and send the webhook."""
    posts = SandboxPost.objects.filter(tenant=tenant, status="scheduled")
    if post_id:
        posts = posts.filter(pk=post_id.strip()[:40])
    post = posts.order_by("scheduled_at", "id").first()
    if post is None:
        raise SandboxError(
            "No scheduled post to fail" + (f" with id {post_id!r}." if post_id else ".")
        )
    targets = list(post.targets.select_related("account"))
    if partial and len(targets) < 2:
        raise SandboxError("A partial failure needs a post with two or more targets.")
    now = timezone.now()
    payload: list[dict[str, Any]] = []
    for index, target in enumerate(targets):
        if partial and index == 0:
            target.status, target.error = "published", None
        else:
            target.status, target.error = "failed", target_error(target.account)
        target.save(update_fields=["status", "error"])
        entry: dict[str, Any] = {
            "account_id": target.account_id,
            "platform": target.account.platform,
            "status": target.status,
        }
        if target.error:
            entry["error"] = target.error
        payload.append(entry)
    post.status = "partial" if partial else "failed"
    post.published_at = now if partial else None
    post.updated_at = now
    post.save(update_fields=["status", "published_at", "updated_at"])
    event = "post.partial" if partial else "post.failed"
    webhook_queue(
        tenant=tenant,
        event=event,
        data={"post_id": post.id, "status": post.status, "targets": payload},
    )
    return post
