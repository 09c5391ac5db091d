"""Retry jobs: what a person sees before confirming (the plan), creating one, listing a
post again after an unknown outcome, and the sweeper that resumes abandoned jobs.

The runner (`posts.retry_runner`) sends the retries; these only write rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from dashboard.audit import audit_record
from posts.models import FailedPost, PostRetryItem, PostRetryJob
from posts.retry_lease import lease_seconds
from posts.selectors import (
    MAX_ITEMS,
    Credits,
    failed_posts_open,
    post_credits,
    post_ids_being_retried,
)

log = logging.getLogger(__name__)

Failed = FailedPost.State


class RetryRefused(Exception):
    """No job can be made now; the message says why and what to do."""

    def __init__(self, message: str, job: PostRetryJob | None = None) -> None:
        super().__init__(message)
        self.job = job


class RetryPlanChanged(RetryRefused):
    """The posts to retry are not the ones the person confirmed any more."""


@dataclass
class RetryPlan:
    """What "Retry them" would do: which posts, how many credits, what happens to times."""

    account: SocialAccount
    posts: list[FailedPost]  # every failed post not retried yet, in the order they were due
    chosen: list[FailedPost]  # the ones the credits (and MAX_ITEMS) cover
    credits: Credits
    busy: int  # failed posts already in another account's running retry
    now: datetime

    @property
    def waiting(self) -> list[FailedPost]:
        return self.posts[len(self.chosen) :]

    @property
    def late(self) -> list[FailedPost]:
        """Chosen posts whose time has passed: SocialAPI publishes them at once, late."""
        return [p for p in self.chosen if (p.scheduled_at or p.failed_at) <= self.now]

    @property
    def ahead(self) -> list[FailedPost]:
        """Chosen posts still due later: they keep their time."""
        return [p for p in self.chosen if p.scheduled_at is not None and p.scheduled_at > self.now]

    @property
    def credits_after(self) -> int | None:
        if self.credits.left is None:
            return None
        return self.credits.left - len(self.chosen)

    @property
    def blocked_reason(self) -> str:
        """Why nothing can be retried now ("" when something can)."""
        if self.account.status != AccountStatus.ACTIVE:
            return (
                f"{self.account.label} is not working yet ({self.account.get_status_display()}): "
                "fix it first, or each retry would fail again and use a credit for nothing."
            )
        if not self.posts:
            return "No failed post of this account is waiting to be retried."
        if not self.chosen:
            reset = self.credits.period_end
            when = f" on {reset.day} {reset:%B %Y at %H:%M} UTC" if reset else " next period"
            return (
                "No monthly post credit is left: each retry uses one. The allowance resets"
                f"{when}; retry them then, or upgrade the plan."
            )
        return ""


def retry_plan(*, account: SocialAccount, now: datetime | None = None) -> RetryPlan:
    """The account's failed posts and what retrying them would use (4 queries)."""
    workspace = account.workspace
    now = now or timezone.now()
    candidates = failed_posts_open(account=account)
    posts = list(
        candidates.exclude(post_id__in=post_ids_being_retried(workspace=workspace))[: MAX_ITEMS * 5]
    )
    busy = candidates.filter(post_id__in=post_ids_being_retried(workspace=workspace)).count()
    credits = post_credits(workspace=workspace, now=now)
    chosen = posts[: min(MAX_ITEMS, credits.cover(len(posts)))]
    return RetryPlan(account, posts, chosen, credits, busy, now)


def post_retry_job_create(
    *,
    account: SocialAccount,
    expected_count: int | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> PostRetryJob:
    """Freeze the plan into a job (one item per post) and enqueue its runner.

    `expected_count` is how many posts the person confirmed: when the plan changed since
    (a post failed again, credits went), RetryPlanChanged is raised instead.
    """
    from posts.tasks import post_retry_run

    try:
        with transaction.atomic():
            # One job per account at a time: concurrent confirmations wait here.
            SocialAccount.objects.select_for_update().filter(pk=account.pk).first()
            running = PostRetryJob.objects.filter(
                account=account, status__in=PostRetryJob.ACTIVE_STATUSES
            ).first()
            if running is not None:
                raise RetryRefused("These posts are already being retried.", running)
            account.refresh_from_db()
            plan = retry_plan(account=account)
            if plan.blocked_reason:
                raise RetryRefused(plan.blocked_reason)
            if expected_count is not None and len(plan.chosen) != expected_count:
                raise RetryPlanChanged(
                    f"The posts to retry changed while you were deciding: {len(plan.chosen)} "
                    "can be retried now. Check the figures below and confirm again."
                )
            job = PostRetryJob.objects.create(
                workspace=account.workspace,
                account=account,
                created_by=user if isinstance(user, User) else None,
                total_items=len(plan.chosen),
                credits_left=-1 if plan.credits.unlimited else plan.credits.left,
                left_out=len(plan.waiting),
            )
            PostRetryItem.objects.bulk_create(
                PostRetryItem(
                    job=job,
                    workspace=account.workspace,
                    failed_post=post,
                    post_id=post.post_id,
                    label=post.label[:200],
                    scheduled_at=post.scheduled_at,
                )
                for post in plan.chosen
            )
            taken = FailedPost.objects.filter(
                pk__in=[p.pk for p in plan.chosen], state=Failed.OPEN
            ).update(state=Failed.RETRYING, state_changed_at=timezone.now())
            if taken != len(plan.chosen):
                raise RetryPlanChanged(
                    "Some of these posts changed while you were deciding. Check and confirm again."
                )
            audit_record(
                action="post.retry.request",
                workspace=account.workspace,
                actor=user,
                request=request,
                target=job,
                target_label=f"{len(plan.chosen)} failed posts of {account.label}",
                detail={
                    "account": account.upstream_id,
                    "posts": [p.post_id for p in plan.chosen],
                    "left_out": len(plan.waiting),
                    "credits_left": job.credits_left,
                    "late": len(plan.late),
                },
            )
            job_id = job.pk
            transaction.on_commit(lambda: post_retry_run.delay(job_id))
    except IntegrityError as exc:
        # Another account's job took one of these posts between the plan and the write.
        raise RetryPlanChanged(
            "Some of these posts are now being retried from another account. Check and "
            "confirm again."
        ) from exc
    return job


def failed_post_relist(
    *,
    failed_post: FailedPost,
    user: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """A person checked a post whose retry outcome was unknown: it was not retried, list it
    again. False when it is no longer unknown (a webhook or a check settled it)."""
    now = timezone.now()
    with transaction.atomic():
        if not FailedPost.objects.filter(pk=failed_post.pk, state=Failed.UNKNOWN).update(
            state=Failed.OPEN, state_changed_at=now, retried_at=None, outcome=""
        ):
            return False
        audit_record(
            action="post.retry.relist",
            workspace=failed_post.workspace,
            actor=user,
            request=request,
            target=failed_post,
            target_label=f"{failed_post.label} ({failed_post.account.label})",
            detail={"post": failed_post.post_id, "account": failed_post.account.upstream_id},
        )
    return True


def post_retry_sweep(*, now: datetime | None = None) -> list[int]:
    """Enqueue a runner for every unfinished job nobody works on (dead worker, lost enqueue).

    Running a job twice is harmless: the lease lets one runner in.
    """
    from posts.tasks import post_retry_run

    now = now or timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    orphaned = list(
        PostRetryJob.objects.filter(status__in=PostRetryJob.ACTIVE_STATUSES)
        .filter(Q(lease_token="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    for job_id in orphaned:
        post_retry_run.delay(job_id)
    if orphaned:
        log.info("post retry sweep: handed %d job(s) to a runner", len(orphaned))
    return orphaned


def failed_posts_prune(*, now: datetime | None = None) -> int:
    """Forget what is older than the error-event retention: settled failed posts, and
    finished retry jobs with their items. Posts still waiting for a retry are kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ERROR_EVENT_RETENTION_DAYS)
    jobs, _ = PostRetryJob.objects.filter(
        status__in=[PostRetryJob.Status.FINISHED, PostRetryJob.Status.STOPPED],
        created_at__lt=cutoff,
    ).delete()
    settled, _ = FailedPost.objects.filter(
        state__in=[Failed.RETRIED, Failed.CLOSED], state_changed_at__lt=cutoff
    ).delete()
    return jobs + settled
