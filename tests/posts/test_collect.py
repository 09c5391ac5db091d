"""Per account, the posts that failed because of its token or credentials, with when and
why: collected from webhooks, the upstream events log and the ingest API alike."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SocialAccount
from dashboard.crypto import token_hash
from events.webhook_events import post_failure_events_record
from posts.collect import post_id_of
from posts.models import FailedPost
from sandbox.posts import post_event_data, posts_due_publish
from sandbox.services import webhook_configure
from tests.posts.conftest import REASON, healthy_account

pytestmark = pytest.mark.django_db


def webhook(world, post, delivery="dlv_1"):
    """A post.failed / post.partial delivery's data, as the sandbox (upstream) sends it."""
    return post_failure_events_record(
        workspace=world.workspace, data=post_event_data(post), delivery_id=delivery
    )


def test_a_post_failed_webhook_keeps_the_post_with_when_and_why(world):
    post = world.failed_post("Autumn menu 🍂 <b>now</b>", due=timedelta(hours=-5))

    assert webhook(world, post) == 1

    (failed,) = FailedPost.objects.all()
    assert (failed.account, failed.post_id, failed.state) == (world.account, post.id, "open")
    assert (failed.family, failed.code) == ("reconnect", "account.reconnection_required")
    assert failed.message == REASON and failed.source == "webhook"
    assert failed.scheduled_at == post.scheduled_at.replace(microsecond=0)
    assert failed.text == "Autumn menu 🍂 <b>now</b>"


def test_the_events_log_names_the_post_of_a_failed_delivery(world):
    post = world.failed_post()

    (failed,) = world.collect()

    assert (failed.post_id, failed.source, failed.account_id) == (
        post.id,
        "events_sync",
        world.account.pk,
    )
    assert failed.failed_at <= timezone.now()


def test_one_post_is_kept_once_per_account_whatever_the_number_of_reports(world):
    post = world.failed_post()
    world.collect()
    webhook(world, post, "dlv_a")
    webhook(world, post, "dlv_b")

    assert FailedPost.objects.count() == 1


def test_a_post_that_failed_on_two_broken_accounts_is_listed_on_both(world):
    other = healthy_account(world, "linkedin")
    other.status = "reconnect_required"
    other.save()
    mirrored = SocialAccount.objects.create(
        workspace=world.workspace, upstream_id=other.id, platform="linkedin", name="LI"
    )
    post = world.failed_post()
    post.targets.create(account=other, status="failed", error=post.targets.get().error)

    webhook(world, post)

    assert set(FailedPost.objects.values_list("account_id", flat=True)) == {
        world.account.pk,
        mirrored.pk,
    }


def test_failures_of_other_kinds_and_of_unknown_accounts_are_not_kept(world):
    post = world.failed_post()
    data = post_event_data(post)
    data["targets"][0]["error"] = {"code": "platform.instagram.rate_limit", "message": "slow"}
    post_failure_events_record(workspace=world.workspace, data=data, delivery_id="dlv_slow")
    stranger = post_event_data(world.failed_post())
    stranger["targets"][0]["account_id"] = "acc_not_mirrored"
    post_failure_events_record(workspace=world.workspace, data=stranger, delivery_id="dlv_x")

    assert not FailedPost.objects.exists()


def test_the_ingest_api_reports_a_failed_publish_of_the_customers_backend(world, client):
    token = "ingest_" + "7" * 40
    world.workspace.ingest_token_hash = token_hash(token)
    world.workspace.save(update_fields=["ingest_token_hash"])
    event = {
        "status": 403,
        "body": {
            "error": {"code": "account.reconnection_required", "message": "Reconnect."},
            "request_id": "req_backend_1",
        },
        "endpoint": "POST /v1/posts/p_from_backend/publish",
        "account_id": world.account.upstream_id,
        "client_id": "job-1",
    }
    metrics = dict(event, endpoint="GET /v1/posts/p_other/metrics", client_id="job-2")
    created = {**event, "endpoint": "POST /v1/posts", "client_id": "job-3"}

    answer = client.post(
        reverse("events_ingest"),
        data=json.dumps({"events": [event, metrics, created]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 202, answer.content
    (failed,) = FailedPost.objects.all()
    assert (failed.post_id, failed.source, failed.request_id) == (
        "p_from_backend",
        "ingest",
        "req_backend_1",
    )


def test_the_sandbox_webhooks_reach_the_list_when_posts_fail_as_they_come_due(
    world, django_capture_on_commit_callbacks
):
    secret = "whsec_" + "5" * 40
    world.workspace.webhook_secret = secret
    world.workspace.save()
    webhook_configure(
        tenant=world.tenant, url="http://testserver/webhooks/socialapi/acme", secret=secret
    )
    from tests.sandbox.conftest import post_make

    post = post_make(
        world.tenant, [world.upstream_account], when=timezone.now() - timedelta(minutes=2)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert posts_due_publish(tenant=world.tenant) == 1

    (failed,) = FailedPost.objects.all()
    assert (failed.post_id, failed.source) == (post.id, "webhook")
    assert failed.text == "Hello" and failed.scheduled_at is not None


@pytest.mark.parametrize(
    ("meta", "method", "expected"),
    [
        ({"post_id": "p_1"}, "POST", "p_1"),
        ({"category": "post", "action": "publish", "resource_id": "p_2"}, "", "p_2"),
        ({"category": "post", "action": "list", "resource_id": "p_3"}, "", ""),
        ({"path": "POST /v1/posts/p%204/retry"}, "POST", "p 4"),
        ({"path": "https://api.social-api.ai/v1/posts/p_5/publish"}, "POST", "p_5"),
        ({"path": "GET /v1/posts/p_6/publish"}, "GET", ""),
        ({"path": "/v1/posts/p_7/metrics"}, "POST", ""),
        ({"path": "/v1/media/p_8/publish"}, "POST", ""),
        ({}, "POST", ""),
    ],
)
def test_it_reads_the_post_id_from_each_sources_shape(meta, method, expected):
    from events.models import ErrorEvent

    assert post_id_of(ErrorEvent(meta=meta, method=method, endpoint="/posts/{id}")) == expected


def test_an_endpoint_left_as_it_came_names_its_post_too():
    from events.models import ErrorEvent

    event = ErrorEvent(meta={}, method="POST", endpoint="/posts/p_from_backend/publish")
    assert post_id_of(event) == "p_from_backend"


def test_what_the_events_log_does_not_say_is_read_once_from_socialapi(
    world, django_capture_on_commit_callbacks
):
    from posts.describe import failed_posts_describe
    from sandbox.models import SandboxCall, SandboxPost

    kept = world.failed_post("Hiring a head barista", due=timedelta(hours=-8))
    gone = world.failed_post("Deleted since")
    from events.sync import events_sync

    with django_capture_on_commit_callbacks() as queued:
        events_sync(workspace=world.workspace)
    assert len(queued) == 1  # the background read, after the events are stored
    SandboxPost.objects.filter(pk=gone.pk).delete()
    before = SandboxCall.objects.count()

    assert failed_posts_describe(workspace=world.workspace) == 1
    assert failed_posts_describe(workspace=world.workspace) == 0

    rows = {row.post_id: row for row in FailedPost.objects.all()}
    assert rows[kept.id].text == "Hiring a head barista"
    assert rows[kept.id].scheduled_at == kept.scheduled_at.replace(microsecond=0)
    assert rows[gone.id].text == "" and rows[gone.id].checked_at is not None
    assert SandboxCall.objects.count() - before == 2  # one GET each, never again


def test_a_post_webhook_needs_no_read(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        webhook(world, world.failed_post())

    assert queued == []
