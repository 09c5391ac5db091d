"""POST /v1/accounts/connect (current form), the consent page, pending selection."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from sandbox.models import (
    SandboxAccount,
    SandboxBrand,
    SandboxConnectRequest,
    SandboxPendingConnection,
)
from tests.sandbox.conftest import account_make, brand_make

RETURN = "https://app.example.com/oauth/done"


def connect(api, platform="instagram", **body):
    payload = {"platform": platform, "redirect_uri": RETURN, "state": "our-state-1", **body}
    return api.post("/accounts/connect", payload)


def consent_path(response) -> str:
    url = response.json()["auth_url"]
    assert url.startswith("http://testserver/sandbox/oauth/authorize/")
    return str(urlsplit(url).path)


def returned(response) -> dict[str, str]:
    """The query params of the redirect back to our app."""
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(RETURN + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_it_starts_an_oauth_connect_with_202(api, tenant):
    brand = brand_make(tenant)
    response = connect(api, brand_id=brand.id)
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "our-state-1"
    assert body["message"]
    assert set(body) == {"auth_url", "state", "message"}


def test_the_consent_page_shows_platform_brand_and_identities(api, tenant, client):
    brand = brand_make(tenant, "Acme Shop")
    existing = account_make(tenant, "instagram", brand=brand, username="acme.shop")
    page = client.get(consent_path(connect(api, brand_id=brand.id)))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Instagram" in html and "Acme Shop" in html
    assert f'value="{existing.id}"' in html and 'value="new"' in html
    assert "csrfmiddlewaretoken" in html


def test_approving_as_a_new_account_returns_success_with_the_account(api, tenant, client):
    brand = brand_make(tenant)
    path = consent_path(connect(api, brand_id=brand.id))
    params = returned(client.post(path, {"decision": "approve", "identity": "new"}))
    account = SandboxAccount.objects.get(pk=params["account_id"])
    assert params == {
        "status": "success",
        "platform": "instagram",
        "state": "our-state-1",
        "account_id": account.id,
    }
    assert account.brand == brand and account.status == "active"


def test_approving_as_an_existing_account_reconnects_it_in_place(api, tenant, client):
    brand = brand_make(tenant)
    broken = account_make(
        tenant, "tiktok", brand=brand, status="reconnect_required", reconnect_reason="expired"
    )
    path = consent_path(connect(api, "tiktok", brand_id=brand.id))
    params = returned(client.post(path, {"decision": "approve", "identity": broken.id}))
    assert params["account_id"] == broken.id
    broken.refresh_from_db()
    assert broken.status == "active" and broken.reconnect_reason == ""
    assert SandboxAccount.objects.filter(tenant=tenant).count() == 1


def test_denying_returns_access_denied_and_changes_nothing(api, tenant, client):
    brand = brand_make(tenant)
    broken = account_make(tenant, brand=brand, status="reconnect_required")
    path = consent_path(connect(api, brand_id=brand.id))
    params = returned(client.post(path, {"decision": "deny", "identity": broken.id}))
    assert params["status"] == "error" and params["error"] == "access_denied"
    assert params["error_description"]
    assert params["platform"] == "instagram" and params["state"] == "our-state-1"
    assert "account_id" not in params
    broken.refresh_from_db()
    assert broken.status == "reconnect_required"


def test_a_consent_link_works_once(api, tenant, client):
    path = consent_path(connect(api, brand_id=brand_make(tenant).id))
    client.post(path, {"decision": "deny"})
    assert client.get(path).status_code == 404
    assert client.post(path, {"decision": "approve"}).status_code == 404


def test_an_expired_consent_link_is_refused(api, tenant, client):
    path = consent_path(connect(api, brand_id=brand_make(tenant).id))
    SandboxConnectRequest.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert client.get(path).status_code == 404


def test_the_consent_form_needs_its_csrf_token(api, tenant):
    path = consent_path(connect(api, brand_id=brand_make(tenant).id))
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(path, {"decision": "approve"}).status_code == 403
    assert not SandboxAccount.objects.exists()


def test_the_consent_form_rejects_an_identity_it_did_not_offer(api, tenant, client, legacy_tenant):
    foreign = account_make(legacy_tenant)
    path = consent_path(connect(api, brand_id=brand_make(tenant).id))
    response = client.post(path, {"decision": "approve", "identity": foreign.id})
    assert response.status_code == 400
    assert client.post(path, {"decision": "maybe"}).status_code == 400


def test_facebook_always_goes_through_page_selection(api, tenant, client):
    brand = brand_make(tenant)
    path = consent_path(connect(api, "facebook", brand_id=brand.id))
    params = returned(client.post(path, {"decision": "approve", "identity": "new"}))
    assert params["status"] == "selection_required" and params["state"] == "our-state-1"
    assert set(params) == {"status", "connection_id", "state"}
    pending = api.get(f"/accounts/pending/{params['connection_id']}").json()
    assert pending["platform"] == "facebook" and pending["login_id"]
    page_id = pending["pages"][0]["platform_page_id"]
    response = api.post(
        f"/accounts/pending/{params['connection_id']}/select", {"page_ids": [page_id]}
    )
    assert response.status_code == 201
    account = SandboxAccount.objects.get(pk=response.json()["account_id"])
    assert account.page_name == pending["pages"][0]["name"] and account.brand == brand
    again = api.post(f"/accounts/pending/{params['connection_id']}/select", {"page_ids": [page_id]})
    assert again.status_code == 404


def test_reconnecting_facebook_offers_the_accounts_page_and_keeps_the_account(api, tenant, client):
    brand = brand_make(tenant)
    fb = account_make(
        tenant,
        "facebook",
        brand=brand,
        login_id="lgn_1",
        page_name="Acme",
        status="reconnect_required",
        metadata={"page_ids": ["111"]},
    )
    path = consent_path(connect(api, "facebook", brand_id=brand.id))
    params = returned(client.post(path, {"decision": "approve", "identity": fb.id}))
    pending = api.get(f"/accounts/pending/{params['connection_id']}").json()
    assert pending["pages"][0]["assigned_account_id"] == fb.id
    response = api.post(
        f"/accounts/pending/{params['connection_id']}/select", {"page_ids": ["111"]}
    )
    assert response.json()["account_id"] == fb.id
    fb.refresh_from_db()
    assert fb.status == "active"


def test_google_with_several_profiles_asks_for_one(api, tenant, client):
    path = consent_path(connect(api, "google", brand_id=brand_make(tenant).id))
    params = returned(client.post(path, {"decision": "approve", "identity": "new"}))
    assert params["status"] == "selection_required"
    pending = api.get(f"/accounts/pending/{params['connection_id']}").json()
    assert len(pending["profiles"]) == 3 and pending["pages"] == []
    chosen = pending["profiles"][1]
    bad = api.post(
        f"/accounts/pending/{params['connection_id']}/select", {"platform_account_id": "nope"}
    )
    assert bad.status_code == 400
    response = api.post(
        f"/accounts/pending/{params['connection_id']}/select",
        {"platform_account_id": chosen["platform_account_id"]},
    )
    assert response.status_code == 201
    assert response.json()["display_name"] == chosen["display_name"]


def test_reconnecting_an_existing_google_profile_succeeds_directly(api, tenant, client):
    brand = brand_make(tenant)
    google = account_make(tenant, "google", brand=brand, status="reconnect_required")
    path = consent_path(connect(api, "google", brand_id=brand.id))
    params = returned(client.post(path, {"decision": "approve", "identity": google.id}))
    assert params["status"] == "success" and params["account_id"] == google.id


def test_omitting_the_brand_creates_one_when_the_account_connects(api, tenant, client):
    path = consent_path(connect(api))
    params = returned(client.post(path, {"decision": "approve", "identity": "new"}))
    account = SandboxAccount.objects.get(pk=params["account_id"])
    assert SandboxBrand.objects.filter(tenant=tenant).get() == account.brand


def test_without_a_redirect_uri_the_consent_ends_on_a_result_page(api, tenant, client):
    response = api.post(
        "/accounts/connect", {"platform": "threads", "brand_id": brand_make(tenant).id}
    )
    page = client.post(consent_path(response), {"decision": "approve", "identity": "new"})
    assert page.status_code == 200 and b"connected" in page.content


@pytest.mark.parametrize(
    "uri",
    [
        "http://evil.example.com/cb",
        "javascript:alert(1)",
        "ftp://x.example/",
        "not a url",
        "https://",
    ],
)
def test_it_refuses_unsafe_redirect_uris(api, tenant, uri):
    response = connect(api, redirect_uri=uri)
    assert response.status_code == 400
    assert response.json()["error"]["meta"]["field"] == "redirect_uri"
    assert not SandboxConnectRequest.objects.exists()


@pytest.mark.parametrize("uri", ["http://localhost:8000/cb", "http://127.0.0.1/cb?x=1"])
def test_it_accepts_local_http_redirect_uris(api, tenant, client, uri):
    response = connect(api, redirect_uri=uri, brand_id=brand_make(tenant).id)
    assert response.status_code == 202
    back = client.post(consent_path(response), {"decision": "deny"})
    assert back["Location"].startswith(uri)


def test_once_redirect_uris_are_registered_only_exact_matches_pass(api, tenant):
    tenant.redirect_uris = ["https://app.example.com/registered"]
    tenant.save()
    assert connect(api).status_code == 400
    assert connect(api, redirect_uri="https://app.example.com/registered").status_code == 202


def test_it_refuses_a_state_over_512_characters(api):
    response = connect(api, state="s" * 513)
    assert response.status_code == 400
    assert response.json()["error"]["meta"]["field"] == "state"


@pytest.mark.parametrize(
    ("body", "code", "legacy_code"),
    [
        ({"platform": "myspace"}, "account.unsupported_platform", "unsupported_platform"),
        ({"platform": ""}, "validation.field_required", "missing_metadata"),
        ({"platform": 7}, "validation.field_invalid", "missing_metadata"),
        (
            {"platform": "instagram", "metadata": "x"},
            "validation.field_invalid",
            "missing_metadata",
        ),
        (
            {"platform": "instagram", "redirect_uri": 5},
            "validation.field_invalid",
            "missing_metadata",
        ),
    ],
)
def test_it_answers_bad_connect_bodies_in_both_dialects(api, legacy_api, body, code, legacy_code):
    current = api.post("/accounts/connect", body)
    assert current.status_code == 400 and current.json()["error"]["code"] == code
    legacy = legacy_api.post("/accounts/connect", body)
    assert legacy.status_code == 400 and legacy.json()["code"] == legacy_code


def test_it_answers_404_for_an_unknown_brand(api):
    response = connect(api, brand_id="b_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource.not_found"


def test_a_free_tenant_cannot_get_a_third_brand(api, tenant):
    brand_make(tenant, "One"), brand_make(tenant, "Two")
    response = connect(api)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "billing.brands_limit"
    assert response.json()["error"]["meta"] == {"plan": "free", "max": 2}


def test_it_connects_a_credential_platform_at_once(api, tenant):
    brand = brand_make(tenant)
    response = api.post(
        "/accounts/connect",
        {"platform": "telegram", "brand_id": brand.id, "metadata": {"bot_token": "123:abc"}},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"account_id", "display_name", "platform", "username"}
    account = SandboxAccount.objects.get(pk=body["account_id"])
    assert "bot_token" not in account.metadata


def test_reconnecting_with_good_credentials_fixes_them(api, tenant):
    brand = brand_make(tenant)
    bad = account_make(tenant, "whatsapp", brand=brand, credentials_valid=False)
    response = api.post(
        "/accounts/connect",
        {
            "platform": "whatsapp",
            "brand_id": brand.id,
            "metadata": {"phone_number_id": "1555", "access_token": "EAAG-good"},
        },
    )
    assert response.status_code == 201 and response.json()["account_id"] == bad.id
    bad.refresh_from_db()
    assert bad.credentials_valid is True


def test_it_rejects_credentials_the_platform_refuses(api, legacy_api, tenant, legacy_tenant):
    body = {"platform": "telegram", "metadata": {"bot_token": "invalid-token"}}
    current = api.post("/accounts/connect", body)
    assert current.status_code == 401
    assert current.json()["error"]["code"] == "platform.telegram.auth"
    legacy = legacy_api.post("/accounts/connect", body)
    assert (legacy.status_code, legacy.json()["code"]) == (401, "invalid_credentials")
    assert not SandboxAccount.objects.exists()


def test_it_asks_for_missing_credentials(api):
    response = api.post("/accounts/connect", {"platform": "telegram", "metadata": {}})
    assert response.status_code == 400
    assert response.json()["error"]["meta"]["field"] == "metadata.bot_token"


def test_pending_connections_are_per_tenant_and_expire(api, legacy_api, tenant, client):
    path = consent_path(connect(api, "facebook", brand_id=brand_make(tenant).id))
    params = returned(client.post(path, {"decision": "approve", "identity": "new"}))
    connection = params["connection_id"]
    assert legacy_api.get(f"/accounts/pending/{connection}").status_code == 404
    SandboxPendingConnection.objects.update(expires_at="2000-01-01T00:00:00Z")
    response = api.get(f"/accounts/pending/{connection}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "resource.not_found"


@pytest.mark.parametrize(
    "body", [{}, {"page_ids": "111"}, {"page_ids": [1]}, {"page_ids": []}, {"page_ids": ["999"]}]
)
def test_it_answers_bad_selections_with_a_400(api, tenant, client, body):
    path = consent_path(connect(api, "facebook", brand_id=brand_make(tenant).id))
    params = returned(client.post(path, {"decision": "approve", "identity": "new"}))
    response = api.post(f"/accounts/pending/{params['connection_id']}/select", body)
    assert response.status_code == 400
