"""The demo seed: a Free workspace with every problem the dashboard shows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.models import (
    SandboxAccount,
    SandboxBrand,
    SandboxEvent,
    SandboxMedia,
    SandboxPost,
)
from sandbox.seed import sandbox_demo_seed
from sandbox.seed_agency import sandbox_agency_seed
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


AWKWARD = re.compile(r"[^\x00-\x7f]|[<>&\"“”]")
ULID_ID = re.compile(r"^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$")
UUID_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def both_seeds(demo):
    agency = sandbox_agency_seed(webhook_url=HOOK, webhook_secret="s")
    return [demo, agency]


def test_every_seeded_name_is_as_awkward_as_real_ones(both_seeds):
    accounts = SandboxAccount.objects.filter(tenant__in=both_seeds)
    names = [a.name for a in accounts] + [a.page_name for a in accounts if a.page_name]
    names += list(SandboxBrand.objects.filter(tenant__in=both_seeds).values_list("name", flat=True))
    assert names and all(AWKWARD.search(name) for name in names), [
        name for name in names if not AWKWARD.search(name)
    ]
    assert any("<" in name and ">" in name for name in names)
    assert any("\u0600" <= char <= "\u06ff" for name in names for char in name)  # right to left
    files = SandboxMedia.objects.filter(tenant__in=both_seeds).values_list("filename", flat=True)
    assert any("<" in f for f in files) and any(not f.isascii() for f in files)


def test_seeded_ids_come_in_every_documented_shape(both_seeds):
    accounts = list(SandboxAccount.objects.filter(tenant__in=both_seeds))
    assert any(ULID_ID.match(a.id) for a in accounts)
    assert any(a.id.startswith("acc_") and not ULID_ID.match(a.id) for a in accounts)
    brands = list(SandboxBrand.objects.filter(tenant__in=both_seeds).values_list("id", flat=True))
    assert any(UUID_ID.match(b) for b in brands) and any(b.startswith("b_") for b in brands)
    logins = [a.login_id for a in accounts if a.login_id]
    assert logins and all(login.startswith("cred_") for login in logins)
    posts = SandboxPost.objects.filter(tenant__in=both_seeds).values_list("id", flat=True)
    assert any(p.startswith("p_") for p in posts) and any("_" not in p for p in posts)
    google = next(a for a in accounts if a.platform == "google" and a.tenant == both_seeds[0])
    assert google.platform_account_id.startswith("accounts/")


def test_the_api_lists_seeded_names_verbatim_with_fields_the_spec_does_not_list(demo, client):
    listed = Api(client, demo.api_key).get("/accounts").json()["data"]
    assert "Demo Co <script>alert(1)</script>" in {a["name"] for a in listed}
    assert all("created_at" in a for a in listed)
