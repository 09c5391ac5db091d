"""GET /v1/usage, /v1/users/me, /v1/events and GET/POST /v1/posts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.eventlog import event_build
from sandbox.models import SandboxEvent, SandboxPost
from sandbox.services import allowance_exhaust, platform_throttle
from tests.sandbox.conftest import account_make, media_make, post_make


def test_usage_reports_the_free_plans_allowances(api, tenant):
    account_make(tenant)
    body = api.get("/usage").json()
    assert body["posts_limit"] == 10 and body["interactions_limit"] == 50
    assert body["brands_limit"] == 2 and body["brands_used"] == 1
    assert body["profile_units_used"] == 1 and body["posts_used"] == 0
    assert body["period_start"].endswith("Z") and body["period_end"] > body["period_start"]


def test_usage_starts_a_new_period_once_the_last_one_ended(api, tenant):
    tenant.posts_used = 9
    tenant.period_end = timezone.now() - timedelta(hours=1)
    tenant.save()
    body = api.get("/usage").json()
    assert body["posts_used"] == 0
    tenant.refresh_from_db()
    assert tenant.period_end > timezone.now()


def test_users_me_describes_the_account(api, tenant):
    body = api.get("/users/me").json()
    assert body["plan"] == "free" and body["billing_blocked"] is False
    assert "billing_blocked_at" not in body
    assert "instagram" in body["allowed_platforms"] and "whatsapp" in body["allowed_platforms"]
    assert body["id"] == str(tenant.user_id)


def add_event(tenant, days_ago: float, **fields):
    values = {
        "endpoint": "POST /v1/posts",
        "code": "platform.instagram.rate_limit",
        "status_code": 429,
        "message": "slow down",
        "category": "post",
        "action": "create",
        "platform": "instagram",
        **fields,
    }
    event = event_build(tenant=tenant, at=timezone.now() - timedelta(days=days_ago), **values)
    event.save()
    return event


def test_events_come_newest_first_with_their_metadata(api, tenant):
    old, new = add_event(tenant, 3), add_event(tenant, 1, request_id="rq1")
    body = api.get("/events", query={"status": "failed"}).json()
    assert [e["id"] for e in body["events"]] == [new.id, old.id]
    assert body["retention_days"] == 30
    assert body["pagination"]["has_more"] is False and body["pagination"]["limit"] == 50
    assert not body["pagination"].get("next_cursor")
    event = body["events"][0]
    assert event["metadata"] == {
        "error_code": "platform.instagram.rate_limit",
        "request_id": "rq1",
        "endpoint": "POST /v1/posts",
    }
    assert event["status"] == "failed" and event["error_category"] == "rate_limit"


def test_events_older_than_30_days_are_gone(api, tenant):
    add_event(tenant, 31)
    kept = add_event(tenant, 29)
    assert [e["id"] for e in api.get("/events").json()["events"]] == [kept.id]


def test_events_page_with_a_cursor(api, tenant):
    events = [add_event(tenant, day / 10) for day in range(5)]
    first = api.get("/events", query={"limit": 2}).json()
    assert first["pagination"]["has_more"] is True
    second = api.get("/events", query={"limit": 2, "cursor": first["pagination"]["next_cursor"]})
    third = api.get(
        "/events", query={"limit": 2, "cursor": second.json()["pagination"]["next_cursor"]}
    ).json()
    ids = [e["id"] for e in first["events"] + second.json()["events"] + third["events"]]
    assert ids == [e.id for e in events]
    assert third["pagination"]["has_more"] is False


def test_events_filter_by_time_platform_account_category_and_action(api, tenant):
    account = account_make(tenant, "tiktok")
    wanted = add_event(tenant, 2, platform="tiktok", account_id=account.id)
    add_event(tenant, 2, platform="instagram")
    add_event(tenant, 10, platform="tiktok", account_id=account.id)
    add_event(
        tenant, 2, platform="tiktok", account_id=account.id, category="media", action="upload"
    )
    since = (timezone.now() - timedelta(days=5)).isoformat()
    query = {
        "from": since,
        "platform": "tiktok",
        "account_id": account.id,
        "category": "post",
        "action": "create",
    }
    assert [e["id"] for e in api.get("/events", query=query).json()["events"]] == [wanted.id]
    until = (timezone.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(api.get("/events", query={"to": until}).json()["events"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"from": "yesterday"},
        {"to": "2026-13-45T00:00:00Z"},
        {"cursor": "!!!"},
        {"cursor": "bm9wZQ"},
        {"limit": "x"},
    ],
)
def test_events_answer_bad_parameters_with_a_400(api, query):
    response = api.get("/events", query=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.field_invalid"


def test_throttling_a_platform_adds_matching_events(api, tenant):
    account_make(tenant, "instagram")
    platform_throttle(tenant=tenant, platform="instagram", minutes=5)
    events = api.get("/events", query={"platform": "instagram"}).json()["events"]
    assert len(events) == 3
    assert {e["metadata"]["error_code"] for e in events} == {"platform.instagram.rate_limit"}


def test_posts_list_filters_by_account_and_status(api, tenant):
    healthy, broken = account_make(tenant, "instagram"), account_make(tenant, "linkedin")
    at_risk = post_make(tenant, [broken, healthy])
    post_make(tenant, [healthy])
    post_make(tenant, [broken], status="published")
    body = api.get("/posts", query={"account_ids": broken.id, "status": "scheduled"}).json()
    assert [p["id"] for p in body["data"]] == [at_risk.id]
    assert {t["account_id"] for t in body["data"][0]["targets"]} == {healthy.id, broken.id}
    assert body["pagination"]["has_more"] is False


def test_posts_list_pages_with_a_cursor(api, tenant):
    account = account_make(tenant)
    posts = [
        post_make(tenant, [account], when=timezone.now() + timedelta(hours=h)) for h in range(5)
    ]
    first = api.get("/posts", query={"limit": 3}).json()
    second = api.get("/posts", query={"limit": 3, "cursor": first["pagination"]["next_cursor"]})
    ids = [p["id"] for p in first["data"] + second.json()["data"]]
    assert ids == [p.id for p in posts]


def test_posts_list_does_not_query_per_post(api, tenant, django_assert_max_num_queries):
    account = account_make(tenant)
    media = media_make(tenant, 2)
    for _ in range(20):
        post_make(tenant, [account], media=media)
    with django_assert_max_num_queries(8):
        assert len(api.get("/posts", query={"limit": 100}).json()["data"]) == 20


@pytest.mark.parametrize("query", [{"status": "lost"}, {"sort": "random"}, {"cursor": "%%"}])
def test_posts_list_answers_bad_parameters_with_a_400(api, query):
    assert api.get("/posts", query=query).status_code == 400


def test_scheduling_a_post_uses_a_credit(api, tenant):
    account = account_make(tenant)
    (media,) = media_make(tenant, 1)
    when = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "text": "Hi",
        "scheduled_at": when,
        "targets": [{"account_id": account.id}],
        "media": [{"source_type": "media_id", "source": str(media.id)}],
    }
    response = api.post("/posts", body)
    assert response.status_code == 201
    assert response.json()["status"] == "scheduled"
    tenant.refresh_from_db()
    assert tenant.posts_used == 1
    assert api.delete(f"/media/{media.id}").status_code == 409


def test_a_draft_is_free(api, tenant):
    account = account_make(tenant)
    allowance_exhaust(tenant=tenant)
    response = api.post("/posts", {"text": "later", "targets": [{"account_id": account.id}]})
    assert response.status_code == 201 and response.json()["status"] == "draft"


@pytest.mark.parametrize("dialect_api", ["current", "legacy"], indirect=True)
def test_an_exhausted_allowance_refuses_posts(dialect_api):
    tenant = dialect_api.tenant
    account = account_make(tenant)
    allowance_exhaust(tenant=tenant)
    body = {"text": "Hi", "publish_now": True, "targets": [{"account_id": account.id}]}
    response = dialect_api.post("/posts", body)
    assert response.status_code == 429
    data = response.json()
    if tenant.dialect == "current":
        assert data["error"]["code"] == "billing.post_limit"
        assert data["error"]["meta"] == {"plan": "free", "max": 10}
    else:
        assert data["code"] == "rate_limit_exceeded"
    assert not SandboxPost.objects.exists()


def test_posting_to_a_broken_account_fails_like_upstream(api, tenant):
    broken = account_make(tenant, status="reconnect_required", reconnect_reason="expired")
    body = {"text": "Hi", "publish_now": True, "targets": [{"account_id": broken.id}]}
    response = api.post("/posts", body)
    assert response.status_code == 403
    event = SandboxEvent.objects.get()
    assert event.account_id == broken.id and event.platform == "instagram"


@pytest.mark.parametrize(
    "body",
    [
        {"targets": [{"account_id": "acc_x"}]},
        {"text": "x"},
        {"text": "x", "targets": "acc_x"},
        {"text": "x", "targets": [{"account_id": 5}]},
        {"text": "x", "targets": [{"account_id": "acc_x"}], "publish_now": "yes"},
        {"text": "x", "targets": [{"account_id": "acc_x"}], "scheduled_at": "soon"},
        {"text": "x", "targets": [{"account_id": "acc_x"}], "media_ids": "m"},
        {"text": "x", "targets": [{"account_id": "acc_x"}], "media": ["m"]},
    ],
)
def test_post_create_answers_bad_bodies_with_a_400(api, body):
    assert api.post("/posts", body).status_code == 400


def test_post_create_answers_unknown_accounts_and_media_with_404(api, tenant):
    account = account_make(tenant)
    assert (
        api.post("/posts", {"text": "x", "targets": [{"account_id": "acc_nope"}]}).status_code
        == 404
    )
    body = {"text": "x", "targets": [{"account_id": account.id}], "media_ids": ["nope"]}
    response = api.post("/posts", body)
    assert response.status_code == 404 and response.json()["error"]["code"] == "media.not_found"
