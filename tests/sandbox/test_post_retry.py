"""`GET /v1/posts/{pid}` and `POST /v1/posts/{pid}/retry` in the sandbox, and the scheduler
that makes posts fail on broken accounts: what the dashboard's retry job stands on."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from sandbox.models import SandboxEvent, SandboxPost, SandboxPostTarget, SandboxWebhookDelivery
from sandbox.posts import posts_due_publish
from sandbox.services import allowance_exhaust, webhook_configure
from tests.sandbox.conftest import Api, account_make, post_make
from tests.sandbox.spec import check

HOOK = "https://hooks.example.com/socialapi"
REASON = "The owner changed their password."


@pytest.fixture
def receiver(tenant):
    webhook_configure(tenant=tenant, url=HOOK, secret="whsec_retry")
    with respx.mock(assert_all_called=False) as router:
        yield router.post(HOOK).mock(return_value=httpx.Response(200))


def deliveries(route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


def failed_post(tenant, accounts, *, due_in=timedelta(hours=-2), published=()):
    """A post that failed when it came due on these accounts (except the `published` ones)."""
    post = post_make(tenant, accounts, when=timezone.now() + due_in)
    for target in post.targets.select_related("account"):
        if target.account in published:
            target.status = "published"
        else:
            target.status = "failed"
            target.error = {
                "category": "auth",
                "caused_by": "user",
                "code": "account.reconnection_required",
                "message": REASON,
            }
        target.save()
    post.status = "partial" if published else "failed"
    post.save()
    return post


@pytest.fixture
def instagram(tenant):
    return account_make(tenant, "instagram")


def test_a_retried_post_on_a_fixed_account_publishes_and_uses_one_credit(
    api, tenant, instagram, receiver, django_capture_on_commit_callbacks
):
    post = failed_post(tenant, [instagram])
    before = tenant.posts_used

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/posts/{post.id}/retry")

    assert answer.status_code == 200 and answer.json() == {"success": True}
    check(answer, "POST", "/posts/{pid}/retry")
    tenant.refresh_from_db()
    assert tenant.posts_used == before + 1
    assert answer["X-Posts-Used"] == str(before + 1) and answer["X-Posts-Limit"] == "10"
    shown = api.get(f"/posts/{post.id}")
    check(shown, "GET", "/posts/{pid}")
    body = shown.json()
    assert (body["status"], body["retry_count"]) == ("published", 1)
    assert body["targets"][0]["status"] == "published" and "error" not in body["targets"][0]
    (event,) = deliveries(receiver)
    assert event["event"] == "post.published" and event["data"]["id"] == post.id


def test_an_account_still_broken_fails_again_and_the_credit_is_used_all_the_same(
    api, tenant, receiver, django_capture_on_commit_callbacks
):
    broken = account_make(tenant, "linkedin", status="reconnect_required", reconnect_reason=REASON)
    post = failed_post(tenant, [broken])

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/posts/{post.id}/retry").status_code == 200

    tenant.refresh_from_db()
    assert tenant.posts_used == 1
    (event,) = deliveries(receiver)
    assert event["event"] == "post.failed" and event["data"]["post_id"] == post.id
    assert event["data"]["targets"][0]["error"]["code"] == "account.reconnection_required"
    logged = SandboxEvent.objects.get(tenant=tenant, resource_id=post.id)
    assert (logged.category, logged.action, logged.account_id) == ("post", "publish", broken.id)
    assert logged.status_code == 403 and logged.error_category == "auth"
    assert api.get(f"/posts/{post.id}").json()["retry_count"] == 1


def test_only_the_failed_deliveries_of_a_partial_post_are_attempted_again(
    api, tenant, instagram, receiver, django_capture_on_commit_callbacks
):
    threads = account_make(tenant, "threads")
    post = failed_post(tenant, [instagram, threads], published=(threads,))
    SandboxPostTarget.objects.filter(post=post, account=threads).update(status="published")

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/posts/{post.id}/retry").status_code == 200

    assert SandboxPost.objects.get(pk=post.pk).status == "published"
    assert [e["event"] for e in deliveries(receiver)] == ["post.published"]


def test_a_scheduled_time_still_ahead_is_kept_and_one_that_passed_publishes_now(
    api, tenant, instagram
):
    ahead = failed_post(tenant, [instagram], due_in=timedelta(days=2))
    passed = failed_post(tenant, [instagram], due_in=timedelta(days=-3))

    assert api.post(f"/posts/{ahead.id}/retry").status_code == 200
    assert api.post(f"/posts/{passed.id}/retry").status_code == 200

    kept = api.get(f"/posts/{ahead.id}").json()
    assert kept["status"] == "scheduled" and kept["targets"][0]["status"] == "pending"
    assert kept["scheduled_at"] == ahead.scheduled_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.get(f"/posts/{passed.id}").json()["status"] == "published"


@pytest.mark.parametrize("status", ["scheduled", "published", "draft", "cancelled"])
def test_a_post_not_failed_is_refused_with_409_and_no_credit(api, tenant, instagram, status):
    post = post_make(tenant, [instagram], status=status)

    answer = api.post(f"/posts/{post.id}/retry")

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "post.state_invalid"
    check(answer, "POST", "/posts/{pid}/retry")
    tenant.refresh_from_db()
    assert tenant.posts_used == 0


def test_an_unknown_post_is_404_post_not_found(api):
    for answer in (api.post("/posts/p_nope/retry"), api.get("/posts/p_nope")):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "post.not_found"
    check(api.post("/posts/p_nope/retry"), "POST", "/posts/{pid}/retry")
    check(api.get("/posts/p_nope"), "GET", "/posts/{pid}")


def test_a_post_whose_failed_accounts_are_gone_is_not_retryable(api, tenant, instagram):
    post = failed_post(tenant, [instagram])
    instagram.removed_at = timezone.now()
    instagram.save()

    answer = api.post(f"/posts/{post.id}/retry")

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "post.no_retryable_deliveries"
    check(answer, "POST", "/posts/{pid}/retry")


def test_the_monthly_limit_refuses_the_retry_before_using_anything(api, tenant, instagram):
    post = failed_post(tenant, [instagram])
    allowance_exhaust(tenant=tenant)

    answer = api.post(f"/posts/{post.id}/retry")

    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "billing.post_limit"
    check(answer, "POST", "/posts/{pid}/retry")
    tenant.refresh_from_db()
    assert tenant.posts_used == tenant.posts_limit
    post.refresh_from_db()
    assert (post.status, post.retry_count) == ("failed", 0)


def test_a_retry_cannot_be_sent_twice_for_one_failure(api, tenant, instagram):
    broken = account_make(tenant, "tiktok", status="reconnect_required")
    post = failed_post(tenant, [instagram, broken], published=())
    SandboxPostTarget.objects.filter(post=post, account=broken).update(status="published")
    SandboxPost.objects.filter(pk=post.pk).update(status="partial")

    assert api.post(f"/posts/{post.id}/retry").status_code == 200
    again = api.post(f"/posts/{post.id}/retry")

    assert again.status_code == 409  # published now: nothing to retry
    assert SandboxPost.objects.get(pk=post.pk).retry_count == 1


def test_the_legacy_dialect_answers_with_flat_errors(legacy_api, legacy_tenant):
    account = account_make(legacy_tenant, "instagram")
    post = post_make(legacy_tenant, [account])

    refused = legacy_api.post(f"/posts/{post.id}/retry")
    missing = legacy_api.post("/posts/p_nope/retry")

    assert (refused.status_code, refused.json()["code"]) == (409, "post.state_invalid")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    check(refused, "POST", "/posts/{pid}/retry", dialect="legacy")


def test_posts_that_come_due_fail_on_broken_accounts_with_upstreams_webhooks(
    tenant, instagram, receiver, django_capture_on_commit_callbacks
):
    broken = account_make(tenant, "linkedin", status="reconnect_required", reconnect_reason=REASON)
    telegram = account_make(tenant, "telegram", credentials_valid=False)
    due = post_make(tenant, [instagram, broken], when=timezone.now() - timedelta(minutes=1))
    bot = post_make(tenant, [telegram], when=timezone.now() - timedelta(minutes=1))
    fine = post_make(tenant, [instagram], when=timezone.now() - timedelta(minutes=1))
    later = post_make(tenant, [broken], when=timezone.now() + timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert posts_due_publish(tenant=tenant) == 3
    assert posts_due_publish(tenant=tenant) == 0  # never delivered twice

    statuses = dict(SandboxPost.objects.values_list("id", "status"))
    assert statuses == {
        due.id: "partial",
        bot.id: "failed",
        fine.id: "published",
        later.id: "scheduled",
    }
    events = {e["data"]["id"]: e for e in deliveries(receiver)}
    assert events[due.id]["event"] == "post.partial"
    assert events[bot.id]["event"] == "post.failed"
    assert events[bot.id]["data"]["targets"][0]["error"]["code"] == "platform.telegram.auth"
    assert events[fine.id]["event"] == "post.published"
    logged = SandboxEvent.objects.filter(tenant=tenant, category="post", action="publish")
    assert set(logged.values_list("resource_id", flat=True)) == {due.id, bot.id}
    assert SandboxWebhookDelivery.objects.filter(tenant=tenant).count() == 3


def test_a_billing_block_holds_due_posts(tenant, instagram):
    post = post_make(tenant, [instagram], when=timezone.now() - timedelta(minutes=1))
    tenant.billing_blocked = True
    tenant.save()

    assert posts_due_publish() == 0
    assert SandboxPost.objects.get(pk=post.pk).status == "scheduled"


def test_the_demo_seed_has_failed_posts_on_each_broken_account(client, db):
    from sandbox.seed import sandbox_demo_seed

    demo = sandbox_demo_seed(webhook_url=HOOK, webhook_secret="s")
    failed = SandboxPostTarget.objects.filter(post__tenant=demo, status="failed")
    by_platform = {}
    for target in failed.select_related("account", "post"):
        by_platform.setdefault(target.account.platform, []).append(target.post)
        assert target.post.status in ("failed", "partial")
        assert target.post.scheduled_at < timezone.now()
        assert SandboxEvent.objects.filter(resource_id=target.post.id, category="post").exists()
    assert {p: len(posts) for p, posts in by_platform.items()} == {
        "instagram": 3,
        "linkedin": 2,
        "telegram": 1,
    }
    api = Api(client, demo.api_key)
    first = by_platform["instagram"][0]
    assert api.get(f"/posts/{first.id}").json()["targets"][0]["error"]["category"] == "auth"


def test_the_command_publishes_due_posts_of_every_tenant(tenant, instagram):
    from io import StringIO

    from django.core.management import call_command

    from sandbox.services import sandbox_tenant_create

    other = sandbox_tenant_create(name="Other Sandbox")
    post_make(tenant, [instagram], when=timezone.now() - timedelta(minutes=1))
    post_make(other, [account_make(other, "threads")], when=timezone.now() - timedelta(minutes=5))
    out = StringIO()

    call_command("sandbox", "publish-due", stdout=out)

    assert "2 due posts published or failed." in out.getvalue()
    assert not SandboxPost.objects.filter(status="scheduled").exists()
