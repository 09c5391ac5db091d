"""What becomes of a post's deliveries: published when due, failed on purpose (control page),
retried (`POST /v1/posts/{pid}/retry`). Every outcome sends upstream's post webhook and
logs each failed delivery in the events log, as upstream does for its own background work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from sandbox.api_posts import post_json
from sandbox.errors import ApiError
from sandbox.eventlog import event_build
from sandbox.models import (
    SandboxAccount,
    SandboxEvent,
    SandboxPost,
    SandboxPostTarget,
    SandboxTenant,
)
from sandbox.services import SandboxError
from sandbox.webhooks import webhook_queue
from socialapi.platforms import auth_kind, platform_name

OUTCOME_EVENTS = {"published": "post.published", "partial": "post.partial", "failed": "post.failed"}
# A delivery the platform refused for its own reasons: upstream's "fast completion" status.
PLATFORM_REFUSED_STATUS = 422
DUE_BATCH = 200


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


def account_can_publish(account: SandboxAccount) -> bool:
    """A live account with a working token (and, on API-key platforms, working credentials)."""
    if account.removed_at is not None or account.status != SandboxAccount.Status.ACTIVE:
        return False
    return auth_kind(account.platform) != "credentials" or account.credentials_valid


def post_event_data(post: SandboxPost) -> dict[str, Any]:
    """The `data` of a post webhook: the post as GET /v1/posts/{pid} shows it (targets with
    their errors), plus `post_id` as older deliveries named it."""
    post = SandboxPost.objects.prefetch_related("media", "targets__account").get(pk=post.pk)
    return {"post_id": post.id, **post_json(post)}


def _status_of(code: str) -> int:
    """The HTTP status upstream logs for a failed delivery with this code."""
    try:
        return ApiError(code, "").status
    except KeyError:
        return PLATFORM_REFUSED_STATUS


def _failures_log(post: SandboxPost, failed: Sequence[SandboxPostTarget], now: datetime) -> None:
    """One events-log entry per failed delivery, naming the post (`resource_id`)."""
    SandboxEvent.objects.bulk_create(
        [
            event_build(
                tenant=post.tenant,
                endpoint=f"POST /v1/posts/{post.id}/publish",
                code=target.error["code"],
                status_code=_status_of(target.error["code"]),
                message=target.error["message"],
                category="post",
                action="publish",
                platform=target.account.platform,
                account_id=target.account_id,
                resource_id=post.id,
                at=now,
            )
            for target in failed
            if target.error
        ]
    )


def _outcome_send(post: SandboxPost, failed: Sequence[SandboxPostTarget], now: datetime) -> None:
    """The post's status from all of its targets, then the webhook and the events log."""
    states = list(post.targets.values_list("status", flat=True))
    if states and all(state == "published" for state in states):
        post.status = "published"
    elif any(state == "published" for state in states):
        post.status = "partial"
    else:
        post.status = "failed"
    if post.status != "failed" and post.published_at is None:
        post.published_at = now
    post.updated_at = now
    post.save(update_fields=["status", "published_at", "updated_at"])
    _failures_log(post, failed, now)
    webhook_queue(tenant=post.tenant, event=OUTCOME_EVENTS[post.status], data=post_event_data(post))


def post_deliver(
    *, post: SandboxPost, targets: Sequence[SandboxPostTarget], now: datetime | None = None
) -> SandboxPost:
    """Attempt these deliveries now: each publishes on an account that can, fails otherwise."""
    now = now or timezone.now()
    failed = []
    for target in targets:
        if account_can_publish(target.account):
            target.status, target.error = "published", None
        else:
            target.status, target.error = "failed", target_error(target.account)
            failed.append(target)
        target.save(update_fields=["status", "error"])
    _outcome_send(post, failed, now)
    return post


def posts_due_publish(*, now: datetime | None = None, tenant: SandboxTenant | None = None) -> int:
    """Publish the scheduled posts whose time has come; returns how many were attempted.

    A broken account's deliveries fail (post.failed / post.partial, as upstream sends
    them). Upstream holds deliveries while billing is blocked, so those tenants wait.
    """
    now = now or timezone.now()
    due = SandboxPost.objects.filter(
        status="scheduled", scheduled_at__lte=now, tenant__billing_blocked=False
    )
    if tenant is not None:
        due = due.filter(tenant=tenant)
    done = 0
    for post in due.select_related("tenant").order_by("scheduled_at", "id")[:DUE_BATCH]:
        with transaction.atomic():
            # Taken once: two runs side by side never deliver a post twice.
            if not SandboxPost.objects.filter(pk=post.pk, status="scheduled").update(
                status="publishing"
            ):
                continue
            pending = list(post.targets.filter(status="pending").select_related("account"))
            post_deliver(post=post, targets=pending, now=now)
            done += 1
    return done


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
    failed = []
    for index, target in enumerate(targets):
        if partial and index == 0:
            target.status, target.error = "published", None
        else:
            target.status, target.error = "failed", target_error(target.account)
            failed.append(target)
        target.save(update_fields=["status", "error"])
    _outcome_send(post, failed, timezone.now())
    return post
