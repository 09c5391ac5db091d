"""What became of a sent retry, whichever way the dashboard learns it first: its own check,
a post.published webhook, or a failure reported after the retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import WebhookDelivery
from accounts.webhooks import webhook_delivery_process
from posts.models import FailedPost, PostRetryItem
from posts.outcomes import post_published_apply
from posts.retry_jobs import post_retry_job_create
from posts.retry_lease import Outcome, item_claim, item_record, lease_acquire

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(world):
    """One post re-queued by a retry whose check has not happened yet."""
    post = world.failed_post()
    world.collect()
    world.fix()
    job = post_retry_job_create(account=world.account, expected_count=1)
    lease_acquire(job.pk, "runner")
    item = item_claim(job, "runner")
    item_record(job, "runner", item, Outcome(PostRetryItem.State.SENT, reason="Re-queued."))
    item.refresh_from_db()
    return post, item


def test_a_post_published_webhook_settles_the_retry_and_the_failed_post(world, sent):
    post, item = sent
    delivery = WebhookDelivery.objects.create(
        workspace=world.workspace,
        delivery_id="dlv_pub",
        event="post.published",
        signature="v2",
        payload={"event": "post.published", "data": {"id": post.id, "status": "published"}},
    )

    outcome = webhook_delivery_process(delivery=delivery)

    assert outcome == "1 retry(s) published, 0 failed post(s) settled"
    item.refresh_from_db()
    assert item.state == "published"
    assert FailedPost.objects.get().state == "retried"
    # Delivered again (upstream retries deliveries): nothing more happens.
    assert post_published_apply(workspace=world.workspace, data={"id": post.id}).startswith(
        "ignored"
    )


def test_a_failure_reported_after_the_retry_means_it_failed_again(world, sent):
    post, item = sent
    post.updated_at = timezone.now() + timedelta(seconds=1)
    post.save()

    world.report(post)

    item.refresh_from_db()
    assert item.state == "failed_again" and item.code == "account.reconnection_required"
    assert FailedPost.objects.get().state == "open"


def test_the_old_failure_reported_late_changes_nothing(world, sent):
    post, item = sent
    post.updated_at = timezone.now() - timedelta(hours=3)  # the failure before the retry
    post.save()

    world.report(post)

    item.refresh_from_db()
    assert item.state == "sent"
    assert FailedPost.objects.get().state == "retried"


def test_a_failure_of_another_kind_after_the_retry_settles_the_post(world, sent):
    from events.webhook_events import post_failure_events_record
    from sandbox.posts import post_event_data

    post, item = sent
    post.updated_at = timezone.now() + timedelta(seconds=1)
    post.save()
    data = post_event_data(post)
    data["targets"][0]["error"] = {
        "category": "validation",
        "caused_by": "user",
        "code": "platform.instagram.media_required",
        "message": "Video posts require at least one media URL",
    }

    post_failure_events_record(workspace=world.workspace, data=data, delivery_id="dlv_media")

    item.refresh_from_db()
    assert item.state == "failed_again" and "needs at least one image" in item.reason
    failed = FailedPost.objects.get()
    assert failed.state == "closed" and "another reason" in failed.outcome
