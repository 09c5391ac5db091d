"""The demo seed: a Free workspace with every problem the dashboard shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.models import SandboxAccount, SandboxEvent, SandboxMedia, SandboxPost
from sandbox.seed import sandbox_demo_seed
from sandbox.services import sandbox_tenant_create
from tests.sandbox.conftest import Api

HOOK = "http://127.0.0.1:8000/webhooks/socialapi"


@pytest.fixture
def demo(db):
    return sandbox_demo_seed(webhook_url=HOOK, webhook_secret="demo-secret")


def test_the_demo_tenant_is_a_free_plan_with_webhooks(demo):
    assert (demo.name, demo.plan, demo.storage_limit_bytes) == ("Demo Co", "free", 104_857_600)
    assert (demo.webhook_url, demo.webhook_secret) == (HOOK, "demo-secret")
    assert (demo.posts_used, demo.posts_limit) == (8, 10)
    assert demo.brands.count() == 2


def test_it_has_accounts_across_platforms_with_three_problems(demo):
    accounts = list(SandboxAccount.objects.filter(tenant=demo))
    assert len(accounts) >= 12 and len({a.platform for a in accounts}) >= 11
    broken = [a for a in accounts if a.status == "reconnect_required"]
    assert len(broken) == 2 and all(len(a.reconnect_reason) > 20 for a in broken)
    (bad,) = [a for a in accounts if not a.credentials_valid]
    assert bad.platform in ("telegram", "whatsapp") and bad.status == "active"


def test_its_media_fill_about_90_percent_of_storage(demo):
    media = SandboxMedia.objects.filter(tenant=demo)
    total = sum(media.values_list("size_bytes", flat=True))
    assert 280 <= media.count() <= 320
    assert 0.88 <= total / demo.storage_limit_bytes <= 0.92
    types = set(media.values_list("content_type", flat=True))
    assert types == {"image/jpeg", "image/png", "image/gif", "video/mp4"}
    oldest = media.order_by("created_at").first()
    assert oldest.created_at < timezone.now() - timedelta(days=100)


def test_its_scheduled_posts_use_media_and_target_broken_accounts(demo):
    posts = SandboxPost.objects.filter(tenant=demo, status="scheduled")
    assert 20 <= posts.count() <= 30
    assert SandboxMedia.objects.filter(posts__in=posts).distinct().count() >= 5
    broken = SandboxAccount.objects.filter(tenant=demo).exclude(status="active")
    assert posts.filter(targets__account__in=broken).exists()


def test_its_events_span_a_month_of_realistic_failures(demo, client):
    events = SandboxEvent.objects.filter(tenant=demo)
    codes = {e.metadata["error_code"] for e in events}
    assert {
        "billing.post_limit",
        "billing.storage_quota",
        "account.reconnection_required",
        "platform.telegram.auth",
        "system.internal",
        "validation.field_required",
    } <= codes
    assert any(code.endswith(".rate_limit") for code in codes)
    oldest = events.order_by("created_at").first().created_at
    assert timezone.now() - timedelta(days=30) < oldest < timezone.now() - timedelta(days=25)
    listed = Api(client, demo.api_key).get("/events", query={"limit": 100}).json()
    assert listed["pagination"]["has_more"] is True


def test_the_media_in_use_answer_409_through_the_api(demo, client):
    used = SandboxMedia.objects.filter(tenant=demo, posts__status="scheduled").first()
    assert Api(client, demo.api_key).delete(f"/media/{used.id}").status_code == 409


def test_seeding_again_keeps_the_tenant_and_updates_its_webhook(demo):
    again = sandbox_demo_seed(webhook_url="https://new.example.com/h", webhook_secret="n")
    assert again.pk == demo.pk and again.api_key == demo.api_key
    assert again.webhook_url == "https://new.example.com/h"
    assert SandboxMedia.objects.filter(tenant=demo).count() == 300


def test_it_creates_bare_tenants_for_tests(db):
    tenant = sandbox_tenant_create(name="Bare", plan="pro", dialect="legacy", storage_limit=500)
    assert (tenant.plan, tenant.dialect, tenant.storage_limit_bytes) == ("pro", "legacy", 500)
    assert tenant.api_key.startswith("sapi_key_") and len(tenant.api_key) == 71
    assert tenant.posts_limit == -1
