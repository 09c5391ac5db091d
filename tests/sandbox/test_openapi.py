"""Every sandbox answer, success or error, validated against SocialAPI's own OpenAPI file
(the vendored subset: see `tests/sandbox/spec.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from django.core.files.uploadedfile import SimpleUploadedFile
from openapi_schema_validator import OAS30Validator

from sandbox.models import SandboxPost, SandboxPostTarget
from sandbox.services import (
    allowance_exhaust,
    billing_set,
    dialect_set,
    faults_set,
    list_end_set,
    platform_throttle,
    world_dialect_set,
)
from tests.sandbox.conftest import Api, account_make, brand_make, media_make, post_make
from tests.sandbox.spec import SCHEMAS, SPEC, check, resolve, template_for

UPSTREAM = Path("/work/shared/socialapi/openapi.json")


@pytest.fixture
def world(api: Api, tenant, client):
    """A tenant with a bit of everything, and the ids to call."""
    brand = brand_make(tenant)
    ig = account_make(tenant, "instagram", brand=brand)
    broken = account_make(
        tenant, "linkedin", brand=brand, status="reconnect_required", reconnect_reason="expired"
    )
    fb = account_make(tenant, "facebook", brand=brand, login_id="lgn_1", page_name="Acme")
    media = media_make(tenant, 3)
    post_make(tenant, [ig, broken], media=[media[0]])
    return {"brand": brand, "ig": ig, "broken": broken, "fb": fb, "media": media}


def test_the_vendored_subset_matches_upstreams_file():
    if not UPSTREAM.exists():
        pytest.skip("upstream openapi.json not available on this machine")
    upstream = json.loads(UPSTREAM.read_text())
    for template, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            assert upstream["paths"][template][method] == operation
    for name, schema in SCHEMAS.items():
        assert upstream["components"]["schemas"][name] == schema


def test_accounts_answers_follow_the_spec(api, world):
    check(api.get("/accounts"), "GET", "/accounts")
    check(api.get("/brands"), "GET", "/brands")
    check(api.get(f"/accounts/{world['ig'].id}/limits"), "GET", "/accounts/{id}/limits")
    check(api.get(f"/accounts/{world['broken'].id}/limits"), "GET", "/accounts/{id}/limits")
    check(api.get(f"/accounts/{world['fb'].id}/limits"), "GET", "/accounts/{id}/limits")
    check(api.get("/accounts/acc_x/limits"), "GET", "/accounts/{id}/limits")
    check(api.delete(f"/accounts/{world['fb'].id}"), "DELETE", "/accounts/{id}")
    check(api.delete(f"/accounts/{world['fb'].id}"), "DELETE", "/accounts/{id}")
    check(api.get("/accounts", key="sapi_key_bad"), "GET", "/accounts")


def test_connect_and_selection_answers_follow_the_spec(api, world, tenant, client):
    body = {
        "platform": "facebook",
        "redirect_uri": "https://a.example.com/cb",
        "state": "s",
        "brand_id": world["brand"].id,
    }
    started = api.post("/accounts/connect", body)
    check(started, "POST", "/accounts/connect")
    back = client.post(urlsplit(started.json()["auth_url"]).path, {"decision": "approve"})
    connection = parse_qs(urlsplit(back["Location"]).query)["connection_id"][0]
    pending = api.get(f"/accounts/pending/{connection}")
    check(pending, "GET", "/accounts/pending/{connection_id}")
    check(
        api.post(f"/accounts/pending/{connection}/select", {"page_ids": ["0"]}),
        "POST",
        "/accounts/pending/{connection_id}/select",
    )
    page = pending.json()["pages"][0]["platform_page_id"]
    check(
        api.post(f"/accounts/pending/{connection}/select", {"page_ids": [page]}),
        "POST",
        "/accounts/pending/{connection_id}/select",
    )
    check(api.get(f"/accounts/pending/{connection}"), "GET", "/accounts/pending/{connection_id}")
    telegram = {
        "platform": "telegram",
        "brand_id": world["brand"].id,
        "metadata": {"bot_token": "1:ok"},
    }
    check(api.post("/accounts/connect", telegram), "POST", "/accounts/connect")
    check(api.post("/accounts/connect", {"platform": "nope"}), "POST", "/accounts/connect")
    check(api.post("/accounts/connect", {"platform": "tiktok"}), "POST", "/accounts/connect")


def test_exchange_answers_follow_the_spec(legacy_tenant, client):
    dialect_set(tenant=legacy_tenant, dialect="current")
    api = Api(client, legacy_tenant.api_key)
    brand = brand_make(legacy_tenant)
    for platform, expected in (("instagram", 201), ("google", 200)):
        uri = "https://a.example.com/cb"
        started = api.post(
            "/accounts/connect",
            {"platform": platform, "metadata": {"redirect_uri": uri}, "brand_id": brand.id},
        )
        back = client.post(urlsplit(started.json()["auth_url"]).path, {"decision": "approve"})
        params = {k: v[0] for k, v in parse_qs(urlsplit(back["Location"]).query).items()}
        body = {
            "platform": platform,
            "code": params["code"],
            "metadata": {"redirect_uri": uri, "state": params["state"]},
        }
        answer = api.post("/oauth/exchange", body)
        assert answer.status_code == expected
        check(answer, "POST", "/oauth/exchange")
        check(api.post("/oauth/exchange", body), "POST", "/oauth/exchange")


def test_media_answers_follow_the_spec(api, world, tenant, monkeypatch):
    check(api.get("/media", query={"limit": 2}), "GET", "/media")
    check(api.get("/media", query={"limit": "x"}), "GET", "/media")
    check(api.get("/media/storage"), "GET", "/media/storage")
    in_use, free = world["media"][0], world["media"][1]
    check(api.delete(f"/media/{in_use.id}"), "DELETE", "/media/{id}")
    check(api.delete(f"/media/{free.id}"), "DELETE", "/media/{id}")
    check(api.delete(f"/media/{free.id}"), "DELETE", "/media/{id}")
    file = SimpleUploadedFile("a.png", b"png", content_type="image/png")
    check(api.post("/media/upload", files={"file": file}), "POST", "/media/upload")
    tenant.storage_limit_bytes = 1
    tenant.save()
    file = SimpleUploadedFile("b.png", b"png", content_type="image/png")
    check(api.post("/media/upload", files={"file": file}), "POST", "/media/upload")


def test_usage_user_events_and_posts_answers_follow_the_spec(api, world, tenant):
    tiktok = account_make(tenant, "tiktok")
    platform_throttle(tenant=tenant, platform="tiktok", minutes=5)
    check(api.get("/usage"), "GET", "/usage")
    check(api.get("/users/me"), "GET", "/users/me")
    check(api.get("/events", query={"limit": 2}), "GET", "/events")
    check(api.get("/events", query={"from": "bad"}), "GET", "/events")
    check(api.get("/posts", query={"account_ids": world["broken"].id}), "GET", "/posts")
    check(api.get("/posts", query={"status": "bad"}), "GET", "/posts")

    def post(account):
        body = {"text": "hi", "publish_now": True, "targets": [{"account_id": account.id}]}
        return api.post("/posts", body)

    assert post(world["ig"]).status_code == 201
    check(post(world["ig"]), "POST", "/posts")
    check(post(world["broken"]), "POST", "/posts")
    check(post(tiktok), "POST", "/posts")
    allowance_exhaust(tenant=tenant)
    check(post(world["ig"]), "POST", "/posts")
    billing_set(tenant=tenant, past_due=True)
    check(api.get("/users/me"), "GET", "/users/me")
    check(api.get("/usage"), "GET", "/usage")


def test_post_and_retry_answers_follow_the_spec(api, world, tenant):
    post = SandboxPost.objects.get(tenant=tenant)
    check(api.get(f"/posts/{post.id}"), "GET", "/posts/{pid}")
    check(api.post(f"/posts/{post.id}/retry"), "POST", "/posts/{pid}/retry")  # 409: scheduled
    SandboxPostTarget.objects.filter(post=post).update(status="failed")
    SandboxPost.objects.filter(pk=post.pk).update(status="failed", scheduled_at=None)
    check(api.post(f"/posts/{post.id}/retry"), "POST", "/posts/{pid}/retry")  # 200
    check(api.get(f"/posts/{post.id}"), "GET", "/posts/{pid}")  # partial: one still broken
    allowance_exhaust(tenant=tenant)
    check(api.post(f"/posts/{post.id}/retry"), "POST", "/posts/{pid}/retry")  # 429
    check(api.post("/posts/p_x/retry"), "POST", "/posts/{pid}/retry")  # 404


def test_webhook_answers_follow_the_spec(api):
    url = "https://hooks.example.com/in"
    with respx.mock(assert_all_called=False) as router:
        router.post(url).mock(return_value=httpx.Response(200))
        check(api.post("/webhooks", {"url": url, "events": ["post.failed"]}), "POST", "/webhooks")
        router.post(url).mock(return_value=httpx.Response(500))
        check(api.post("/webhooks", {"url": url, "events": ["post.failed"]}), "POST", "/webhooks")
    check(api.get("/webhooks"), "GET", "/webhooks")
    endpoint = api.get("/webhooks").json()["data"][0]["id"]
    check(api.delete(f"/webhooks/{endpoint}"), "DELETE", "/webhooks/{id}")
    check(api.delete(f"/webhooks/{endpoint}"), "DELETE", "/webhooks/{id}")
    check(api.delete("/webhooks/wh_x", key="sapi_key_bad"), "DELETE", "/webhooks/{id}")


def test_injected_server_errors_follow_the_spec(api, tenant):
    faults_set(tenant=tenant, next_5xx=1)
    check(api.get("/media"), "GET", "/media")


def test_the_checker_itself_rejects_an_invented_field():
    schema = resolve(
        {"$ref": "#/components/schemas/api_endpoints.StorageUsageResponse"}, strict=True
    )
    bad = {"used_bytes": 1, "limit_bytes": 2, "count": 3, "extra": 1}
    with pytest.raises(Exception, match="extra"):
        OAS30Validator(schema).validate(bad)


@pytest.mark.parametrize("end", ["empty", "missing"])
def test_last_pages_follow_the_spec_whichever_way_they_end(api, world, tenant, end):
    list_end_set(tenant=tenant, list_end=end)
    youtube = account_make(tenant, "youtube")
    post_make(tenant, [youtube, world["ig"]])
    for path in ("/media", "/events", "/posts"):
        answer = api.get(path, query={"limit": 100})
        check(answer, "GET", path)
        body = answer.json()
        ending = body if path == "/media" else body["pagination"]
        assert ending.get("next_cursor", "absent") == ("" if end == "empty" else "absent")


def test_post_targets_on_every_platform_follow_the_spec(api, tenant):
    accounts = [account_make(tenant, platform) for platform in ("youtube", "twitter", "telegram")]
    post_make(tenant, accounts)
    answer = api.get("/posts")
    check(answer, "GET", "/posts")
    (post,) = answer.json()["data"]
    assert [t["platform"] for t in post["targets"]] == ["youtube", "twitter", "telegram"]


def test_legacy_answers_follow_the_spec_and_the_seed_page(legacy_api, legacy_tenant):
    account = account_make(legacy_tenant, "instagram", status="reconnect_required")
    media_make(legacy_tenant, 2)
    for path in ("/accounts", "/media", "/media/storage", "/usage", "/users/me", "/events"):
        check(legacy_api.get(path), "GET", path, dialect="legacy")
    limits = legacy_api.get(f"/accounts/{account.id}/limits")
    assert limits.status_code == 401
    check(limits, "GET", "/accounts/{id}/limits", dialect="legacy")
    world_dialect_set(dialect="legacy")
    check(legacy_api.get("/accounts", key="sapi_key_bad"), "GET", "/accounts", dialect="legacy")


def test_the_checker_allows_upstreams_extra_fields_only_where_upstream_sends_them():
    account = {"id": "acc_1", "created_at": "2026-01-01T00:00:00Z", "platform_account_id": "1"}
    OAS30Validator(
        resolve(
            {"$ref": "#/components/schemas/social-api_ai_core_api_connectors_base.Account"},
            strict=True,
        )
    ).validate(account)
    storage = resolve(
        {"$ref": "#/components/schemas/api_endpoints.StorageUsageResponse"}, strict=True
    )
    with pytest.raises(Exception, match="created_at"):
        OAS30Validator(storage).validate({"used_bytes": 1, "created_at": "x"})
    target = resolve({"$ref": "#/components/schemas/api_endpoints.PostTargetResponse"}, strict=True)
    OAS30Validator(target).validate({"platform": "youtube"})
    with pytest.raises(Exception, match="myspace"):
        OAS30Validator(target).validate({"platform": "myspace"})


def test_concrete_paths_find_their_template():
    assert template_for("/v1/media/storage") == "/media/storage"
    assert template_for("/v1/media/0b6f…") == "/media/{id}"
    assert template_for("/accounts/acc_1/limits") == "/accounts/{id}/limits"
    with pytest.raises(AssertionError):
        template_for("/v1/accounts/acc_1/nothing")


def test_calls_to_no_endpoint_answer_the_specs_error_shape(api, world):
    error = resolve({"$ref": "#/components/schemas/api_endpoints.ErrorResponse"}, strict=False)
    for method, path in (("GET", f"/accounts/{world['ig'].id}"), ("PATCH", "/media/storage")):
        answer = api.call(method, path)
        assert answer.status_code == 404
        OAS30Validator(error).validate(answer.json())
        assert answer.json()["error"]["code"] == "resource.not_found"
    for key in (None, "sapi_key_unknown"):
        answer = api.get("/nowhere", key=key)
        assert answer.status_code == 404
        OAS30Validator(error).validate(answer.json())
