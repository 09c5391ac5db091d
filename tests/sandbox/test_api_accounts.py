"""GET /v1/accounts, DELETE /v1/accounts/{id}, GET /v1/accounts/{id}/limits."""

from __future__ import annotations

import random
import uuid

import pytest

from sandbox.ids import account_id_new, brand_id_new
from sandbox.services import platform_throttle
from tests.sandbox.conftest import account_make, brand_make


def test_it_lists_live_accounts_with_their_fields(api, tenant, client):
    ok = account_make(tenant, "instagram", username="acme")
    broken = account_make(
        tenant, "linkedin", status="reconnect_required", reconnect_reason="Password changed"
    )
    account_make(tenant, "tiktok", removed_at="2026-01-01T00:00:00Z")
    body = api.get("/accounts").json()
    assert body["count"] == 2
    by_id = {item["id"]: item for item in body["data"]}
    assert by_id[ok.id]["status"] == "active"
    assert "reconnect_reason" not in by_id[ok.id]
    assert by_id[broken.id]["reconnect_reason"] == "Password changed"
    assert by_id[ok.id]["brand_id"] == ok.brand_id
    # Like upstream's, items carry fields the OpenAPI file does not list.
    assert by_id[ok.id]["created_at"].endswith("Z")
    avatar = client.get(by_id[ok.id]["profile_picture_url"])
    assert avatar.status_code == 200 and avatar["Content-Type"] == "image/svg+xml"


def test_it_filters_accounts_by_brand(api, tenant):
    first, second = brand_make(tenant, "One"), brand_make(tenant, "Two")
    account_make(tenant, "instagram", brand=first)
    wanted = account_make(tenant, "tiktok", brand=second)
    body = api.get("/accounts", query={"brand_id": second.id}).json()
    assert [item["id"] for item in body["data"]] == [wanted.id]


def test_it_never_lists_another_tenants_accounts(api, legacy_tenant):
    account_make(legacy_tenant, "instagram")
    assert api.get("/accounts").json() == {"count": 0, "data": []}


def test_it_disconnects_an_account_then_answers_404(api, tenant):
    account = account_make(tenant)
    assert api.delete(f"/accounts/{account.id}").status_code == 204
    account.refresh_from_db()
    assert account.removed_at is not None
    again = api.delete(f"/accounts/{account.id}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "account.not_found"


def test_it_answers_account_not_found_in_the_legacy_dialect(legacy_api):
    response = legacy_api.delete("/accounts/acc_unknown")
    assert response.status_code == 404
    assert response.json()["code"] == "account_not_found"


def test_it_cannot_disconnect_another_tenants_account(api, legacy_tenant):
    other = account_make(legacy_tenant)
    assert api.delete(f"/accounts/{other.id}").status_code == 404
    other.refresh_from_db()
    assert other.removed_at is None


def test_it_reports_instagram_limits(api, tenant):
    account = account_make(tenant, "instagram")
    response = api.get(f"/accounts/{account.id}/limits")
    assert response.status_code == 200
    assert response.json() == {"posts_remaining": 25}


def test_it_answers_501_for_a_platform_without_limits(api, tenant):
    account = account_make(tenant, "pinterest")
    response = api.get(f"/accounts/{account.id}/limits")
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "resource.not_supported"


def test_it_answers_not_supported_in_the_legacy_dialect(legacy_api, legacy_tenant):
    account = account_make(legacy_tenant, "youtube")
    response = legacy_api.get(f"/accounts/{account.id}/limits")
    assert (response.status_code, response.json()["code"]) == (501, "not_supported")


def test_it_answers_403_when_the_account_needs_reconnecting(api, tenant):
    account = account_make(tenant, status="reconnect_required", reconnect_reason="Token expired")
    response = api.get(f"/accounts/{account.id}/limits")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "account.reconnection_required"
    assert error["message"] == "Token expired"


def test_it_answers_invalid_token_401_in_the_legacy_dialect(legacy_api, legacy_tenant):
    account = account_make(legacy_tenant, status="reconnect_required")
    response = legacy_api.get(f"/accounts/{account.id}/limits")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_it_answers_platform_auth_for_invalid_credentials(api, tenant):
    account = account_make(tenant, "telegram", credentials_valid=False)
    response = api.get(f"/accounts/{account.id}/limits")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "platform.telegram.auth"


def test_it_answers_invalid_credentials_in_the_legacy_dialect(legacy_api, legacy_tenant):
    account = account_make(legacy_tenant, "whatsapp", credentials_valid=False)
    response = legacy_api.get(f"/accounts/{account.id}/limits")
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")


@pytest.mark.parametrize("dialect_api", ["current", "legacy"], indirect=True)
def test_it_throttles_a_platform_with_retry_after(dialect_api):
    tenant = dialect_api.tenant
    account = account_make(tenant, "instagram")
    platform_throttle(tenant=tenant, platform="instagram", minutes=5)
    response = dialect_api.get(f"/accounts/{account.id}/limits")
    assert response.status_code == 429
    assert 290 <= int(response["Retry-After"]) <= 300
    body = response.json()
    if tenant.dialect == "current":
        assert body["error"]["code"] == "platform.instagram.rate_limit"
    else:
        assert body["code"] == "platform_rate_limit"


def test_a_throttle_only_hits_that_platform(api, tenant):
    platform_throttle(tenant=tenant, platform="tiktok", minutes=5)
    account = account_make(tenant, "instagram")
    assert api.get(f"/accounts/{account.id}/limits").status_code == 200


def test_new_ids_come_in_every_shape_the_docs_show():
    rng = random.Random(7)
    accounts = {account_id_new(rng=rng) for _ in range(40)}
    assert all(a.startswith("acc_") and len(a) <= 40 for a in accounts)
    assert {len(a) for a in accounts} == {14, 30}  # acc_abc… and acc_<ULID>
    brands = {brand_id_new(rng=rng) for _ in range(40)}
    assert any(b.startswith("b_") for b in brands)
    assert any(str(uuid.UUID(b)) == b for b in brands if not b.startswith("b_"))


def test_it_lists_brands_with_their_live_account_counts(api, tenant):
    from django.utils import timezone

    from tests.sandbox.conftest import account_make, brand_make

    kitchen = brand_make(tenant, "Kitchen")
    shop = brand_make(tenant, "Shop")
    account_make(tenant, brand=kitchen)
    account_make(tenant, "tiktok", brand=kitchen)
    account_make(tenant, "youtube", brand=shop, removed_at=timezone.now())

    body = api.get("/brands").json()

    assert body["count"] == 2
    assert {(b["name"], b["accounts_count"]) for b in body["data"]} == {("Kitchen", 2), ("Shop", 0)}
