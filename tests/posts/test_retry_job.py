"""The retry job against the sandbox: one credit per post, never twice for the same post,
stopping at the limit, and careful with every answer that may hide a retry."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from dashboard import upstream
from dashboard.models import AuditEvent
from posts.models import FailedPost, PostRetryItem, PostRetryJob
from posts.retry_jobs import (
    RetryPlanChanged,
    RetryRefused,
    post_retry_job_create,
    post_retry_sweep,
    retry_plan,
)
from posts.retry_lease import item_claim, lease_acquire
from posts.retry_runner import post_retry_job_run
from posts.selectors import post_credits
from sandbox.models import SandboxAccount, SandboxPost, SandboxTenant
from sandbox.services import allowance_exhaust, api_key_revoke, faults_set
from tests.conftest import in_process_transport
from tests.posts.conftest import healthy_account

pytestmark = pytest.mark.django_db


def ready(world, count=3, **kwargs):
    """`count` posts failed on the broken account, collected, then the account fixed."""
    posts = [world.failed_post(f"Post {n}", **kwargs) for n in range(count)]
    world.collect()
    world.fix()
    world.usage()
    return posts


def create(world):
    plan = retry_plan(account=world.account)
    return post_retry_job_create(account=world.account, expected_count=len(plan.chosen))


def states(job):
    return list(
        PostRetryItem.objects.filter(job=job).order_by("id").values_list("state", flat=True)
    )


def failed_states(world):
    return list(
        FailedPost.objects.filter(account=world.account)
        .order_by("id")
        .values_list("state", flat=True)
    )


class Cut(httpx.BaseTransport):
    """The sandbox in-process, with one kind of trouble on retry calls: `lost` answers are
    dropped after upstream acted (a read timeout), `never` calls never leave."""

    def __init__(self, trouble: str) -> None:
        self.inner = in_process_transport()
        self.trouble = trouble

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retry = request.method == "POST" and request.url.path.endswith("/retry")
        if retry and self.trouble == "never":
            raise httpx.ConnectError("connection refused", request=request)
        response = self.inner.handle_request(request)
        if retry and self.trouble == "lost":
            response.read()
            raise httpx.ReadTimeout("timed out", request=request)
        return response


def test_each_failed_post_is_retried_once_and_published_using_one_credit_each(world):
    posts = ready(world)
    job = create(world)

    assert failed_states(world) == ["retrying"] * 3
    result = post_retry_job_run(job_id=job.pk)

    assert (result.outcome, result.sent) == ("finished", 3)
    assert states(job) == ["published"] * 3
    assert failed_states(world) == ["retried"] * 3
    assert all(world.retry_calls(post, status=200) == 1 for post in posts)
    world.tenant.refresh_from_db()
    assert world.tenant.posts_used == 3
    assert SandboxPost.objects.filter(retry_count=1).count() == 3
    # The answers' X-Posts-* headers are fresh figures: the credits left follow at once.
    assert post_credits(workspace=world.workspace).left == 7
    job.refresh_from_db()
    assert job.status == "finished" and job.credits_left == 10
    assert AuditEvent.objects.filter(action="post.retry.request").count() == 1
    finish = AuditEvent.objects.get(action="post.retry.finish")
    assert finish.detail["items"] == {"published": 3}


def test_running_the_job_again_or_asking_again_sends_nothing_more(world):
    ready(world)
    job = create(world)
    post_retry_job_run(job_id=job.pk)
    calls = world.retry_calls()

    assert post_retry_job_run(job_id=job.pk).outcome == "busy"  # finished: nothing to take
    with pytest.raises(RetryRefused, match="No failed post"):
        create(world)
    assert world.retry_calls() == calls


def test_a_scheduled_time_that_passed_publishes_now_and_one_ahead_keeps_its_time(world):
    from events.webhook_events import post_failure_events_record
    from sandbox.posts import post_event_data

    world.failed_post("Due later", due=timedelta(days=2))
    world.failed_post("Was due", due=timedelta(hours=-6))
    for post in world.posts:  # the webhooks carry the post's time
        post_failure_events_record(
            workspace=world.workspace, data=post_event_data(post), delivery_id=post.id
        )
    world.collect()
    world.fix()
    world.usage()
    plan = retry_plan(account=world.account)
    assert ([p.text for p in plan.late], [p.text for p in plan.ahead]) == (
        ["Was due"],
        ["Due later"],
    )

    job = create(world)
    post_retry_job_run(job_id=job.pk)

    late, later = PostRetryItem.objects.filter(job=job).order_by("scheduled_at")
    assert (late.label, late.state) == ("Was due", "published")
    assert "not at its original time" in late.reason
    assert (later.label, later.state) == ("Due later", "sent")
    assert "keeps its scheduled time" in later.reason
    assert SandboxPost.objects.get(text="Due later").status == "scheduled"


def test_the_plan_stops_at_the_credits_left_and_the_rest_wait(world):
    ready(world, count=3)
    SandboxTenant.objects.filter(pk=world.tenant.pk).update(posts_used=8)
    world.usage()

    plan = retry_plan(account=world.account)
    assert (len(plan.chosen), len(plan.waiting), plan.credits.left) == (2, 1, 2)
    job = create(world)
    post_retry_job_run(job_id=job.pk)

    assert job.total_items == 2 and job.left_out == 1
    assert failed_states(world).count("open") == 1
    assert retry_plan(account=world.account).blocked_reason.startswith("No monthly post credit")
    with pytest.raises(RetryRefused, match="No monthly post credit"):
        create(world)


def test_the_limit_reached_upstream_stops_the_job_and_lists_the_rest_again(world):
    ready(world, count=3)
    job = create(world)  # the dashboard still thinks 10 credits are left
    allowance_exhaust(tenant=world.tenant)

    result = post_retry_job_run(job_id=job.pk)

    assert result.outcome == "stopped"
    assert states(job) == ["not_sent"] * 3
    assert failed_states(world) == ["open"] * 3
    job.refresh_from_db()
    assert job.status == "stopped" and job.stop_code == "billing.post_limit"
    reason = PostRetryItem.objects.filter(job=job).first().reason
    assert "allowance is used up" in reason and "It resets on " in reason
    assert world.retry_calls(status=429) == world.retry_calls() == 1  # stopped at once
    assert AuditEvent.objects.get(action="post.retry.finish").detail["status"] == "stopped"


def test_an_account_still_broken_upstream_fails_again_and_lists_the_post_again(world):
    ready(world, count=1)
    SandboxAccount.objects.filter(pk=world.upstream_account.pk).update(
        status="reconnect_required", reconnect_reason="Still expired."
    )
    job = create(world)

    post_retry_job_run(job_id=job.pk)

    (item,) = PostRetryItem.objects.filter(job=job)
    assert item.state == "failed_again" and "Still expired." in item.reason
    failed = FailedPost.objects.get(account=world.account)
    assert (failed.state, failed.message) == ("open", "Still expired.")
    world.tenant.refresh_from_db()
    assert world.tenant.posts_used == 1  # upstream counted the retry all the same


def test_posts_that_are_not_failed_any_more_or_gone_are_refused_and_settled(world):
    published, gone, orphaned = ready(world, count=3)
    SandboxPost.objects.filter(pk=published.pk).update(status="published")
    SandboxPost.objects.filter(pk=gone.pk).delete()
    SandboxAccount.objects.filter(pk=world.upstream_account.pk).update(removed_at=timezone.now())
    job = create(world)

    post_retry_job_run(job_id=job.pk)

    items = {i.post_id: i for i in PostRetryItem.objects.filter(job=job)}
    assert {i.post_id: (i.state, i.code) for i in items.values()} == {
        published.id: ("refused", "post.state_invalid"),
        gone.id: ("refused", "post.not_found"),
        orphaned.id: ("refused", "post.no_retryable_deliveries"),
    }
    assert "used no credit" in items[published.id].reason
    assert failed_states(world) == ["closed"] * 3
    world.tenant.refresh_from_db()
    assert world.tenant.posts_used == 0


def test_an_answer_lost_after_upstream_acted_is_checked_and_never_resent(world):
    (post,) = ready(world, count=1)
    job = create(world)

    with upstream.transport_override(Cut("lost")):
        post_retry_job_run(job_id=job.pk)

    (item,) = PostRetryItem.objects.filter(job=job)
    assert item.state == "published"
    assert world.retry_calls(post) == 1
    assert SandboxPost.objects.get(pk=post.pk).retry_count == 1


def test_a_5xx_is_never_resent_and_a_post_still_failed_is_unknown(world):
    (post,) = ready(world, count=1)
    faults_set(tenant=world.tenant, next_5xx=1, scope="POST /posts")
    job = create(world)

    post_retry_job_run(job_id=job.pk)

    (item,) = PostRetryItem.objects.filter(job=job)
    assert item.state == "unknown" and "check the post" in item.reason.lower()
    assert FailedPost.objects.get(account=world.account).state == "unknown"
    assert world.retry_calls(post) == 1  # the 500; never sent again
    assert SandboxPost.objects.get(pk=post.pk).retry_count == 0
    with pytest.raises(RetryRefused):
        create(world)  # an unknown outcome is not offered again by itself


def test_a_call_that_never_left_is_not_sent_and_stops_the_job(world):
    ready(world, count=2)
    job = create(world)

    with upstream.transport_override(Cut("never")):
        result = post_retry_job_run(job_id=job.pk)

    assert result.outcome == "stopped"
    assert states(job) == ["not_sent", "not_sent"]
    assert failed_states(world) == ["open", "open"]
    assert "could not be reached" in PostRetryItem.objects.filter(job=job).first().reason
    assert world.retry_calls() == 0


def test_a_rejected_api_key_stops_the_job(world):
    ready(world, count=2)
    job = create(world)
    api_key_revoke(tenant=world.tenant)

    post_retry_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "stopped" and job.stop_code == "auth.invalid_key"
    assert states(job) == ["not_sent", "not_sent"]


def test_a_retry_a_dead_runner_was_sending_is_checked_not_sent_again(world):
    sent_before, never_sent, waiting = ready(world, count=3)
    job = create(world)
    dead = "dead-runner"
    lease_acquire(job.pk, dead)
    first = item_claim(job, dead)  # `sending`, then its runner sent it and died
    upstream.upstream(world.workspace).post_retry(first.post_id)
    item_claim(job, dead)  # `sending`, and its runner died before sending it
    PostRetryJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert post_retry_sweep() == [job.pk]  # (tasks run inline under tests: it is resumed)

    assert states(job) == ["published", "unknown", "published"]
    assert world.retry_calls(sent_before) == 1
    assert world.retry_calls(never_sent) == 0  # never sent blindly: "unknown, check the post"
    assert world.retry_calls(waiting) == 1
    job.refresh_from_db()
    assert job.runs == 2


def test_a_live_runner_keeps_its_job(world):
    ready(world, count=1)
    job = create(world)
    lease_acquire(job.pk, "alive")

    assert post_retry_job_run(job_id=job.pk).outcome == "busy"
    assert post_retry_sweep() == []
    assert world.retry_calls() == 0


def test_one_post_is_never_in_two_running_retries(world):
    other = healthy_account(world, "linkedin")
    ready(world, count=1)
    (post,) = world.posts
    from accounts.models import SocialAccount

    second = SocialAccount.objects.create(
        workspace=world.workspace, upstream_id=other.id, platform="linkedin", status="active"
    )
    FailedPost.objects.create(
        workspace=world.workspace,
        account=second,
        post_id=post.id,
        family="reconnect",
        code="account.reconnection_required",
        source="webhook",
        first_failed_at=timezone.now(),
        failed_at=timezone.now(),
    )
    create(world)

    plan = retry_plan(account=second)
    assert (plan.chosen, plan.busy) == ([], 1)


def test_a_changed_plan_asks_for_confirmation_again(world):
    ready(world, count=2)

    with pytest.raises(RetryPlanChanged):
        post_retry_job_create(account=world.account, expected_count=3)
    assert not PostRetryJob.objects.exists()
    assert failed_states(world) == ["open", "open"]


def test_an_account_not_fixed_yet_cannot_be_retried(world):
    world.failed_post()
    world.collect()

    with pytest.raises(RetryRefused, match="not working yet"):
        post_retry_job_create(account=world.account, expected_count=1)


def test_settled_posts_and_old_jobs_are_forgotten_after_the_retention(world, settings):
    from posts.retry_jobs import failed_posts_prune

    ready(world, count=2)
    job = create(world)
    post_retry_job_run(job_id=job.pk)
    waiting = world.failed_post("Still waiting")
    world.report(waiting)
    later = timezone.now() + timedelta(days=settings.ERROR_EVENT_RETENTION_DAYS + 1)

    assert failed_posts_prune() == 0  # nothing is that old yet
    failed_posts_prune(now=later)

    assert not PostRetryJob.objects.exists() and not PostRetryItem.objects.exists()
    assert list(FailedPost.objects.values_list("post_id", flat=True)) == [waiting.id]
