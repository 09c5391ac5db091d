"""The runner: one `POST /v1/posts/{pid}/retry` per item of a job, resumably, never twice.

Retrying a post uses a monthly credit and is not idempotent, so:

- An item is marked `sending` (committed) before its call and recorded after it. A runner
  that finds an item `sending` (its runner died) never sends it again: it checks the post
  (`GET /v1/posts/{pid}`, safe to repeat) and records what the post shows, or "unknown,
  check the post".
- The client never resends the call. An answer that may hide a retry (no answer in time,
  a dropped connection, a 5xx) is checked the same way; only a call that certainly never
  reached upstream (no connection) counts as not sent.
- The job stops at the first refusal that would refuse every other post too (monthly limit,
  API key, billing, the account broken again): the rest are not sent, and listed again.
- After sending, each re-queued post is checked once so the page can say "published" or
  "failed again" at once; webhooks and the events log settle the rest (`posts.outcomes`).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from accounts.models import SocialAccount
from dashboard.audit import audit_record
from dashboard.crypto import SECRETS_UNREADABLE, SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured, upstream
from dashboard.usage import usage_latest
from events.fixes import fix_for, reason_text
from posts.models import PostRetryItem, PostRetryJob
from posts.outcomes import item_failed_again, item_published, to_second
from posts.retry_lease import (
    LeaseLost,
    Outcome,
    item_claim,
    item_record,
    items_not_sent,
    job_close,
    lease_acquire,
    lease_beat,
    lease_release,
)
from socialapi import Family, Post, SocialAPI, SocialAPIError, classify
from socialapi.values import as_dict, as_str

log = logging.getLogger(__name__)

Status = PostRetryJob.Status
Item = PostRetryItem.State

# A runner hands the job back and re-enqueues itself after this long (well inside the
# Celery time limit, whatever the number of posts).
SLICE_SECONDS = 300
# Refusals that would refuse every other post of the job too: stop sending.
STOPPING = (
    Family.MONTHLY_LIMIT,
    Family.API_KEY,
    Family.BILLING,
    Family.RECONNECT,
    Family.CREDENTIALS,
)
# What a post shows once a retry went through (upstream re-queued it).
RETRIED_STATUSES = ("publishing", "published", "scheduled")


@dataclass
class RunResult:
    """What one runner did (for logs and tests)."""

    outcome: str  # busy | lease_lost | sliced | finished | stopped
    sent: int = 0


def post_retry_job_run(*, job_id: int, slice_seconds: float | None = None) -> RunResult:
    """Work through a job until it is done, stopped, or its time slice ends."""
    token = secrets.token_hex(16)
    job, orphans = lease_acquire(job_id, token)
    if job is None:
        return RunResult("busy")
    try:
        return _run(job, token, orphans, SLICE_SECONDS if slice_seconds is None else slice_seconds)
    except LeaseLost:
        log.warning("post retry %s: lease lost, another runner has it", job_id)
        return RunResult("lease_lost")


def _run(
    job: PostRetryJob, token: str, orphans: list[PostRetryItem], slice_seconds: float
) -> RunResult:
    workspace = Workspace.objects.get(pk=job.workspace_id)
    account = SocialAccount.objects.get(pk=job.account_id)
    try:
        client = upstream(workspace)
    except WorkspaceNotConfigured:
        fix = fix_for(family="api_key", code="auth.missing_header")
        why = f"This workspace has no API key. {fix.action}"
        return _stop(job, token, Outcome(Item.NOT_SENT, "api_key", "auth.missing_header", why))
    except SecretDecryptionError:
        return _stop(
            job, token, Outcome(Item.NOT_SENT, "unknown", "secrets_unreadable", SECRETS_UNREADABLE)
        )
    for item in orphans:
        item_record(job, token, item, _after_silence(client, item, account, None))
    deadline = time.monotonic() + slice_seconds
    sent, stop = 0, None
    while stop is None:
        if time.monotonic() >= deadline:
            return _slice_end(job, token, sent)
        claimed = item_claim(job, token)
        if claimed is None:
            break
        outcome = retry_one(client, claimed, account)
        item_record(job, token, claimed, outcome)
        sent += outcome.state in PostRetryItem.SENT_STATES
        if outcome.stops:
            stop = outcome
    if stop is not None:
        items_not_sent(job, token, stop)
    _check_sent(client, job, token, account)
    if stop is not None:
        return _stop(job, token, stop, sent=sent)
    job_close(job, token, Status.FINISHED)
    _finish_audit(job)
    return RunResult("finished", sent)


def _slice_end(job: PostRetryJob, token: str, sent: int) -> RunResult:
    """Time slice over: hand the job back and enqueue the next runner."""
    from posts.tasks import post_retry_run

    if lease_release(job, token):
        post_retry_run.delay(job.pk)
    return RunResult("sliced", sent)


def _stop(job: PostRetryJob, token: str, why: Outcome, *, sent: int = 0) -> RunResult:
    """Nothing more can be sent: the waiting posts are listed again; the job says why."""
    items_not_sent(job, token, why)
    reason = why.reason + (f" (request id {why.request_id})" if why.request_id else "")
    if job_close(job, token, Status.STOPPED, code=why.code, reason=reason):
        _finish_audit(job)
    return RunResult("stopped", sent)


def _finish_audit(job: PostRetryJob) -> None:
    job.refresh_from_db()
    counts = dict(
        PostRetryItem.objects.filter(job=job).values_list("state").annotate(n=Count("id"))
    )
    audit_record(
        action="post.retry.finish",
        workspace=job.workspace,
        actor_label="system",
        target=job,
        target_label=f"retry of {job.total_items} failed posts",
        detail={"status": job.status, "stop_code": job.stop_code, "items": counts},
    )


def _sent_words(item: PostRetryItem) -> str:
    """What a re-queued post does with its time (see sandbox.api_post_retry: upstream keeps
    the post's own time, so one whose time has passed publishes at once)."""
    if item.scheduled_at is not None and item.scheduled_at > timezone.now():
        return "Re-queued by SocialAPI: it keeps its scheduled time."
    return "Re-queued by SocialAPI: it publishes now, not at its original time."


def retry_one(client: SocialAPI, item: PostRetryItem, account: SocialAccount) -> Outcome:
    """Send one retry and say what became of it. Never raises; never sends twice."""
    try:
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/posts/{pid}/retry
        accepted = client.post_retry(item.post_id)
    except SocialAPIError as exc:
        return _refusal(client, item, account, exc)
    except Exception:  # a bug must not lose track of a call that may have gone out
        log.exception("post retry: unexpected error retrying %s", item.post_id)
        return Outcome(
            Item.UNKNOWN,
            "unknown",
            "dashboard.unexpected",
            "The dashboard failed while sending this retry; it may have gone out. Check the "
            "post in SocialAPI before retrying it again.",
        )
    if not accepted:
        return Outcome(
            Item.NOT_SENT,
            "unknown",
            "dashboard.not_accepted",
            "SocialAPI answered that the retry did not go through; the post is listed again.",
        )
    return Outcome(Item.SENT, reason=_sent_words(item))


def _refusal(
    client: SocialAPI, item: PostRetryItem, account: SocialAccount, exc: SocialAPIError
) -> Outcome:
    """What a failed retry call means for this post and for the rest of the job."""
    family = exc.family
    words = reason_text(family=str(family), code=exc.code, message=exc.message)
    request_id = exc.request_id or ""

    def outcome(state: str, reason: str, *, stops: bool = False) -> Outcome:
        return Outcome(state, str(family), exc.code, reason, request_id, stops)

    if exc.status is None and exc.sent is False:
        return outcome(
            Item.NOT_SENT,
            f"Not sent: SocialAPI could not be reached ({exc.code}). Nothing was retried; "
            "retry them again later.",
            stops=True,
        )
    if exc.status is None or family is Family.SERVER:
        # The retry may have happened: check the post, never send it again.
        return _after_silence(client, item, account, exc)
    if family is Family.MONTHLY_LIMIT:
        return outcome(Item.NOT_SENT, f"Not sent: {words}{_reset_words(account)}", stops=True)
    if family in STOPPING:
        return outcome(Item.NOT_SENT, f"Not sent: {words}", stops=True)
    if family in (Family.NOT_FOUND, Family.CONFLICT, Family.VALIDATION):
        return outcome(Item.REFUSED, words)
    # Any other refusal (a throttle, an error we do not know): upstream did not act.
    return outcome(Item.NOT_SENT, f"Not sent: {words}")


def _reset_words(account: SocialAccount) -> str:
    """When the monthly allowance comes back, if the usage figures say."""
    latest = usage_latest(workspace=account.workspace)
    reset = latest.period_end if latest is not None else None
    if reset is None or reset <= timezone.now():
        return " Retry them once the allowance resets."
    return f" It resets on {reset.day} {reset:%B %Y at %H:%M} UTC: retry them then."


def _after_silence(
    client: SocialAPI, item: PostRetryItem, account: SocialAccount, exc: SocialAPIError | None
) -> Outcome:
    """A retry that may or may not have happened: the post itself says, if it can."""
    if exc is None:
        why, code, request_id = "The worker stopped while sending this retry", "", ""
    else:
        ref = f", request id {exc.request_id}" if exc.request_id else ""
        why = f"SocialAPI did not answer ({exc.code}{ref})"
        code, request_id = exc.code, exc.request_id or ""
    code = code or "dashboard.interrupted"
    try:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts/{pid}
        post = client.post_get(item.post_id)
    except SocialAPIError as check:
        return Outcome(
            Item.UNKNOWN,
            "unknown",
            code,
            f"{why}, and the post could not be checked ({check.code}). The retry may have "
            "happened: check the post in SocialAPI before retrying it again.",
            request_id,
        )
    target = post.target_for(account.upstream_id)
    if post.status in RETRIED_STATUSES or as_str(target.get("status")) == "published":
        return Outcome(
            Item.SENT,
            reason=f"{why}, but the post shows the retry went through (it is {post.status}).",
        )
    return Outcome(
        Item.UNKNOWN,
        "unknown",
        code,
        f"{why}, and the post still shows {post.status}: the retry may not have happened, "
        "or may have failed again already. Check the post in SocialAPI; if it was not "
        "retried, list it again.",
        request_id,
    )


def _check_sent(client: SocialAPI, job: PostRetryJob, token: str, account: SocialAccount) -> None:
    """Look once at each re-queued post: published, failed again, or still publishing."""
    for item in PostRetryItem.objects.filter(job=job, state=Item.SENT).order_by("id"):
        lease_beat(job, token)
        try:
            # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts/{pid}
            post = client.post_get(item.post_id)
        except SocialAPIError as exc:
            log.info("post retry %s: could not check %s: %s", job.pk, item.post_id, exc)
            continue
        _settle(item, post, account)


def _settle(item: PostRetryItem, post: Post, account: SocialAccount) -> None:
    """Record what the post shows for the job's account, once upstream has finished."""
    target = post.target_for(account.upstream_id)
    status = as_str(target.get("status"))
    if post.status == "published" or status == "published":
        item_published(item=item)
        return
    finished = post.status in ("failed", "partial") and status == "failed"
    newer = post.updated_at is None or (
        item.sending_at is not None and post.updated_at >= to_second(item.sending_at)
    )
    if not (finished and newer):
        return  # still publishing (or scheduled for later): webhooks will tell
    error = as_dict(target.get("error"))
    found = classify(
        as_str(error.get("code")) or None,
        None,
        message=as_str(error.get("message")),
        platform=account.platform,
    )
    item_failed_again(
        item=item,
        family=str(found.family),
        code=found.code,
        message=as_str(error.get("message")),
        at=post.updated_at,
    )
