"""Reads about failed posts and retry jobs, always scoped to one workspace."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from accounts.models import SocialAccount
from dashboard.models import Workspace
from dashboard.usage import usage_latest
from posts.models import FailedPost, PostRetryItem, PostRetryJob

Failed = FailedPost.State
Item = PostRetryItem.State
# A retry job holds at most this many posts; a person can retry the rest afterwards.
MAX_ITEMS = 100
# Failed posts an account page lists (the rest are counted, not listed).
LISTED = 20


@dataclass(frozen=True)
class Credits:
    """Monthly post credits, from the latest usage figures, minus the retries sent since.

    `left` is None when no figure is known yet; `unlimited` on paid plans (limit -1).
    """

    known: bool
    unlimited: bool = False
    limit: int | None = None
    left: int | None = None
    period_end: datetime | None = None
    reserved: int = 0

    def cover(self, wanted: int) -> int:
        """How many of `wanted` retries the credits pay for (all when not limited)."""
        if self.left is None:
            return wanted
        return min(wanted, self.left)


def post_credits(*, workspace: Workspace, now: datetime | None = None) -> Credits:
    """What a retry of failed posts may use this month (2 queries)."""
    now = now or timezone.now()
    latest = usage_latest(workspace=workspace)
    if latest is None:
        return Credits(known=False)
    if latest.posts_limit < 0:
        return Credits(known=True, unlimited=True, period_end=latest.period_end)
    used, since = latest.posts_used, latest.taken_at
    period_end = latest.period_end
    if period_end is not None and period_end <= now:
        # The figure is from before the reset: a new period started with nothing used.
        used, since, period_end = 0, max(since, period_end), None
    # Retries waiting, being sent, or sent after the figure was taken: not in it yet.
    reserved = PostRetryItem.objects.filter(
        Q(state__in=PostRetryItem.OPEN_STATES)
        | Q(state__in=PostRetryItem.SENT_STATES, sending_at__gt=since),
        workspace=workspace,
    ).count()
    left = max(0, latest.posts_limit - used - reserved)
    return Credits(
        known=True, limit=latest.posts_limit, left=left, period_end=period_end, reserved=reserved
    )


def failed_posts_open(*, account: SocialAccount) -> QuerySet[FailedPost]:
    """The account's failed posts not retried yet, in the order they were due."""
    return FailedPost.objects.filter(
        workspace_id=account.workspace_id, account=account, state=Failed.OPEN
    ).order_by(Coalesce("scheduled_at", "failed_at"), "id")


def post_ids_being_retried(*, workspace: Workspace) -> QuerySet[PostRetryItem, Any]:
    """Posts waiting or being sent in any job of the workspace (a subquery)."""
    return PostRetryItem.objects.filter(
        workspace=workspace, state__in=PostRetryItem.OPEN_STATES
    ).values("post_id")


@dataclass
class Recovery:
    """What the account page (and the success page) says about an account's failed posts."""

    account: SocialAccount
    open: int = 0
    unknown: int = 0
    retrying: int = 0
    job: PostRetryJob | None = None  # the latest retry job, if any
    earliest: datetime | None = None
    latest: datetime | None = None

    @property
    def can_retry(self) -> bool:
        """Retrying makes sense once the account works again and no job runs for it."""
        return bool(self.open) and self.account.status == "active" and not self.active_job

    @property
    def active_job(self) -> PostRetryJob | None:
        return self.job if self.job is not None and self.job.is_active else None

    @property
    def shown(self) -> bool:
        return bool(self.open or self.unknown or self.retrying or self.job)


@dataclass
class Recoveries:
    by_account: dict[int, Recovery] = field(default_factory=dict)

    def shown(self) -> list[Recovery]:
        return [r for r in self.by_account.values() if r.shown]


def recoveries_for(*, workspace: Workspace, accounts: Iterable[SocialAccount]) -> Recoveries:
    """Failed-post counts and the latest retry job of each account (2 queries in all)."""
    found = Recoveries({a.pk: Recovery(account=a) for a in accounts})
    if not found.by_account:
        return found
    ids = list(found.by_account)
    rows = (
        FailedPost.objects.filter(workspace=workspace, account_id__in=ids)
        .exclude(state__in=[Failed.RETRIED, Failed.CLOSED])
        .values("account_id")
        .annotate(
            open=Count("id", filter=Q(state=Failed.OPEN)),
            unknown=Count("id", filter=Q(state=Failed.UNKNOWN)),
            retrying=Count("id", filter=Q(state=Failed.RETRYING)),
        )
    )
    for row in rows:
        recovery = found.by_account[row["account_id"]]
        recovery.open, recovery.unknown = row["open"], row["unknown"]
        recovery.retrying = row["retrying"]
    newest = PostRetryJob.objects.filter(account_id=OuterRef("account_id")).order_by(
        "-created_at", "-id"
    )
    jobs = PostRetryJob.objects.filter(
        workspace=workspace, account_id__in=ids, pk=Subquery(newest.values("pk")[:1])
    )
    for job in jobs:
        found.by_account[job.account_id].job = job
    return found


def _latest_job(account: SocialAccount) -> PostRetryJob | None:
    return (
        PostRetryJob.objects.filter(workspace_id=account.workspace_id, account=account)
        .order_by("-created_at", "-id")
        .first()
    )


def recovery_for(*, account: SocialAccount) -> Recovery:
    """One account's `Recovery` (2 queries)."""
    return account_recovery(account=account)[0]


def account_recovery(*, account: SocialAccount) -> tuple[Recovery, list[FailedPost]]:
    """The account page's `Recovery` and the failed posts it lists, in 2 queries whatever
    their number: the listed rows carry the totals (window counts over every row)."""
    unsettled = [Failed.OPEN, Failed.RETRYING, Failed.UNKNOWN]

    def total(state: str) -> Window:
        return Window(Count("id", filter=Q(state=state)))

    listed: list[Any] = list(
        FailedPost.objects.filter(
            workspace_id=account.workspace_id, account=account, state__in=unsettled
        )
        .annotate(
            open_total=total(Failed.OPEN),
            unknown_total=total(Failed.UNKNOWN),
            retrying_total=total(Failed.RETRYING),
        )
        .order_by(Coalesce("scheduled_at", "failed_at"), "id")[:LISTED]
    )
    recovery = Recovery(account=account, job=_latest_job(account))
    if listed:
        first = listed[0]
        recovery.open, recovery.unknown = first.open_total, first.unknown_total
        recovery.retrying = first.retrying_total
    return recovery, listed


def failed_posts_open_count(*, account: SocialAccount) -> int:
    return failed_posts_open(account=account).count()


def retry_job_get(*, workspace: Workspace, job_id: int) -> PostRetryJob:
    """One retry job of this workspace (404 for any other workspace's job)."""
    job = (
        PostRetryJob.objects.filter(workspace=workspace, pk=job_id)
        .select_related("account", "created_by")
        .first()
    )
    if job is None:
        raise Http404("No such retry")
    return job


def retry_job_items(*, job: PostRetryJob) -> list[PostRetryItem]:
    """Every post of the job with its result (at most MAX_ITEMS, one query)."""
    return list(PostRetryItem.objects.filter(job=job).order_by("id"))


def failed_post_get(*, workspace: Workspace, failed_post_id: int) -> FailedPost:
    """One failed post of this workspace, or 404."""
    found = (
        FailedPost.objects.filter(workspace=workspace, pk=failed_post_id)
        .select_related("account")
        .first()
    )
    if found is None:
        raise Http404("No such failed post")
    return found


@dataclass(frozen=True)
class RetryProgress:
    """What the progress region shows, from the job's items (already loaded)."""

    done: int
    total: int
    counts: dict[str, int]

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def credits_used(self) -> int:
        """Retries that reached upstream (each used a credit; an unknown one may have)."""
        return sum(self.counts.get(state, 0) for state in PostRetryItem.SENT_STATES)

    def count(self, state: str) -> int:
        return self.counts.get(state, 0)


def retry_progress(*, job: PostRetryJob, items: Iterable[PostRetryItem]) -> RetryProgress:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.state] = counts.get(item.state, 0) + 1
    waiting = sum(counts.get(state, 0) for state in PostRetryItem.OPEN_STATES)
    total = max(job.total_items, sum(counts.values()))
    return RetryProgress(done=total - waiting, total=total, counts=counts)


def failed_posts_words(*, account: SocialAccount, link_flow: bool = False) -> str:
    """The sentence a reconnect or credentials update adds once the account works again.

    An owner who reconnected through a link sees only the count: the posts, and retrying
    them, belong to the workspace's people.
    """
    count = failed_posts_open_count(account=account)
    if not count:
        return ""
    posts = f"{count} post{'s' if count != 1 else ''} failed while this account was broken"
    if link_flow:
        return f" {posts}; the team that sent you this link can retry them."
    return f" {posts}: you can retry them below."
