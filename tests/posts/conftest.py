"""Failed posts against the sandbox, in-process: a Free-plan tenant wired to the `workspace`
fixture, a broken Instagram account with posts that failed on it, and helpers to collect
those failures the way the dashboard does (the events-log sync) and to fix the account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from accounts.services import account_status_apply
from dashboard.models import Workspace
from dashboard.usage import usage_sync
from events.sync import events_sync
from events.webhook_events import post_failure_events_record
from posts.describe import failed_posts_describe
from posts.models import FailedPost
from sandbox.eventlog import event_build
from sandbox.ids import account_id_new, brand_id_new, prefixed
from sandbox.models import (
    SandboxAccount,
    SandboxBrand,
    SandboxCall,
    SandboxEvent,
    SandboxPost,
    SandboxPostTarget,
    SandboxTenant,
)
from sandbox.posts import post_event_data, target_error
from sandbox.services import sandbox_tenant_create

REASON = "The Instagram access token expired: the owner changed their password."


@dataclass
class World:
    """A sandbox tenant behind the workspace, with one broken account mirrored."""

    tenant: SandboxTenant
    workspace: Workspace
    upstream_account: SandboxAccount
    account: SocialAccount
    posts: list[SandboxPost] = field(default_factory=list)

    def failed_post(
        self,
        text: str = "Autumn menu 🍂",
        *,
        due: timedelta = timedelta(hours=-3),
        account: SandboxAccount | None = None,
        also: SandboxAccount | None = None,
    ) -> SandboxPost:
        """A post that failed on the (broken) account when it came due, logged upstream."""
        broken = account or self.upstream_account
        when = timezone.now() + due
        post = SandboxPost.objects.create(
            id=prefixed("p"),
            tenant=self.tenant,
            text=text,
            status="partial" if also else "failed",
            scheduled_at=when,
            updated_at=when,
        )
        # The error it failed with then (whatever the account's state is now).
        error = target_error(broken)
        if error["category"] != "auth":
            error = {
                "category": "auth",
                "caused_by": "user",
                "code": "account.reconnection_required",
                "message": REASON,
            }
        SandboxPostTarget.objects.create(post=post, account=broken, status="failed", error=error)
        if also is not None:
            SandboxPostTarget.objects.create(post=post, account=also, status="published")
        event_build(
            tenant=self.tenant,
            endpoint=f"POST /v1/posts/{post.id}/publish",
            code=error["code"],
            status_code=403,
            message=error["message"],
            category="post",
            action="publish",
            platform=broken.platform,
            account_id=broken.id,
            resource_id=post.id,
            at=min(when + timedelta(seconds=5), timezone.now()),
        ).save(force_insert=True)
        self.posts.append(post)
        return post

    def collect(self) -> list[FailedPost]:
        """What the events-log sync makes of the failures (as it runs every few minutes)."""
        result = events_sync(workspace=self.workspace)
        assert result.complete, result.error
        failed_posts_describe(workspace=self.workspace)  # the task queued after commit
        return list(FailedPost.objects.filter(workspace=self.workspace).order_by("id"))

    def report(self, post: SandboxPost) -> None:
        """The post.failed / post.partial webhook upstream sends for it."""
        post_failure_events_record(
            workspace=self.workspace, data=post_event_data(post), delivery_id=f"dlv_{post.id}"
        )

    def fix(self) -> SocialAccount:
        """The account works again upstream and in our mirror (a reconnect did that)."""
        SandboxAccount.objects.filter(pk=self.upstream_account.pk).update(
            status="active", reconnect_reason="", credentials_valid=True
        )
        self.upstream_account.refresh_from_db()
        account_status_apply(account=self.account, status=AccountStatus.ACTIVE, source="reconnect")
        self.account.refresh_from_db()
        return self.account

    def usage(self) -> None:
        usage_sync(workspace=self.workspace)

    def retry_calls(self, post: SandboxPost | None = None, status: int | None = None) -> int:
        calls = SandboxCall.objects.filter(
            tenant=self.tenant, method="POST", path__endswith="/retry"
        )
        if post is not None:
            calls = calls.filter(path=f"/v1/posts/{post.id}/retry")
        if status is not None:
            calls = calls.filter(status=status)
        return calls.count()


def world_for(workspace: Workspace, *, plan: str = "free") -> World:
    tenant = sandbox_tenant_create(name=f"Retry Co {plan}", plan=plan)
    brand = SandboxBrand.objects.create(id=brand_id_new(), tenant=tenant, name="Retry Co")
    broken = SandboxAccount.objects.create(
        id=account_id_new(),
        tenant=tenant,
        brand=brand,
        platform="instagram",
        name="Retry Co ☕",
        username="retryco",
        status="reconnect_required",
        reconnect_reason=REASON,
    )
    workspace.api_key = tenant.api_key
    workspace.base_url = "http://testserver/sandbox/v1"
    workspace.save()
    mirrored = SocialAccount.objects.create(
        workspace=workspace,
        upstream_id=broken.id,
        platform="instagram",
        name=broken.name,
        username=broken.username,
        brand_id=brand.id,
        status=AccountStatus.RECONNECT_REQUIRED,
        status_changed_at=timezone.now() - timedelta(days=2),
    )
    return World(tenant, workspace, broken, mirrored)


@pytest.fixture
def world(workspace: Workspace, in_process_sandbox: Any, settings: Any) -> World:
    settings.SOCIALAPI_MAX_ATTEMPTS = 1
    return world_for(workspace)


def healthy_account(world: World, platform: str = "threads") -> SandboxAccount:
    return SandboxAccount.objects.create(
        id=account_id_new(),
        tenant=world.tenant,
        brand=world.upstream_account.brand,
        platform=platform,
        name=f"{platform} account",
        username=f"{platform}_user",
    )


def sandbox_events(world: World) -> int:
    return SandboxEvent.objects.filter(tenant=world.tenant).count()
