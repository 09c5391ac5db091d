"""The legacy connect: upstream's own state, `?code=&state=`, POST /v1/oauth/exchange."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.models import SandboxAccount, SandboxConnectRequest
from sandbox.services import dialect_set, sandbox_tenant_create
from tests.sandbox.conftest import Api, brand_make

RETURN = "https://old.example.com/callback"


def legacy_connect(api: Api, platform: str = "instagram", **extra):
    body = {"platform": platform, "metadata": {"redirect_uri": RETURN}, **extra}
    response = api.post("/accounts/connect", body)
    assert response.status_code == 202
    return response.json()


def approve(client, auth_url: str, decision: str = "approve") -> dict[str, str]:
    response = client.post(urlsplit(auth_url).path, {"decision": decision, "identity": "new"})
    assert response.status_code == 302 and response["Location"].startswith(RETURN + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def exchange(api: Api, code: str, state: str, platform: str = "instagram", uri: str = RETURN):
    body = {"platform": platform, "code": code, "metadata": {"redirect_uri": uri, "state": state}}
    return api.post("/oauth/exchange", body)


def test_the_legacy_form_gets_an_upstream_state(legacy_api):
    body = legacy_connect(legacy_api)
    assert re.fullmatch(r"[0-9a-f]{32}", body["state"])
    request = SandboxConnectRequest.objects.get()
    assert request.legacy and request.upstream_state == body["state"]


def test_the_platform_returns_a_code_and_upstreams_state(legacy_api, client):
    body = legacy_connect(legacy_api)
    params = approve(client, body["auth_url"])
    assert set(params) == {"code", "state"}
    assert params["state"] == body["state"]


def test_exchanging_the_code_connects_the_account_once(legacy_api, legacy_tenant, client):
    body = legacy_connect(legacy_api, brand_id=brand_make(legacy_tenant).id)
    params = approve(client, body["auth_url"])
    first = exchange(legacy_api, params["code"], params["state"])
    assert first.status_code == 201
    account = SandboxAccount.objects.get(pk=first.json()["account_id"])
    assert account.tenant == legacy_tenant
    replay = exchange(legacy_api, params["code"], params["state"])
    assert replay.status_code == 400
    assert replay.json()["code"] == "missing_metadata"
    assert SandboxAccount.objects.count() == 1


def test_a_state_from_another_key_is_refused_with_403(legacy_api, api, client):
    params = approve(client, legacy_connect(legacy_api)["auth_url"])
    response = exchange(api, params["code"], params["state"])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.state_mismatch"
    assert not SandboxAccount.objects.exists()


def test_a_foreign_state_is_unauthorized_403_in_the_legacy_dialect(legacy_api, client, db):
    other = Api(client, sandbox_tenant_create(name="Other old", dialect="legacy").api_key)
    params = approve(client, legacy_connect(legacy_api)["auth_url"])
    response = exchange(other, params["code"], params["state"])
    assert response.status_code == 403
    assert response.json()["code"] == "unauthorized" and response.json()["error"]


def test_an_expired_state_cannot_be_exchanged(legacy_api, client):
    params = approve(client, legacy_connect(legacy_api)["auth_url"])
    SandboxConnectRequest.objects.update(created_at="2000-01-01T00:00:00Z")
    assert exchange(legacy_api, params["code"], params["state"]).status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"platform": "tiktok"}, "platform"),
        ({"uri": "https://old.example.com/other"}, "redirect_uri"),
    ],
)
def test_the_exchange_must_match_the_connect_call(legacy_tenant, client, change, field):
    dialect_set(tenant=legacy_tenant, dialect="current")
    api = Api(client, legacy_tenant.api_key)
    params = approve(client, legacy_connect(api)["auth_url"])
    response = exchange(api, params["code"], params["state"], **change)
    assert response.status_code == 400
    assert response.json()["error"]["meta"]["field"] == field


def test_a_wrong_code_is_refused(legacy_api, client):
    params = approve(client, legacy_connect(legacy_api)["auth_url"])
    assert exchange(legacy_api, "AQ-not-the-code", params["state"]).status_code == 400


def test_a_denied_consent_returns_the_platforms_error(legacy_api, client):
    body = legacy_connect(legacy_api)
    params = approve(client, body["auth_url"], decision="deny")
    assert params["error"] == "access_denied" and params["state"] == body["state"]
    assert "code" not in params


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "instagram"},
        {"platform": "instagram", "code": "x"},
        {"platform": "instagram", "code": "x", "metadata": {"redirect_uri": RETURN}},
        {"platform": "instagram", "code": 5, "metadata": {"redirect_uri": RETURN, "state": "s"}},
    ],
)
def test_it_answers_incomplete_exchanges_with_missing_metadata(legacy_api, body):
    response = legacy_api.post("/oauth/exchange", body)
    assert response.status_code == 400 and response.json()["code"] == "missing_metadata"


def test_a_facebook_exchange_answers_200_with_pages_to_select(legacy_api, legacy_tenant, client):
    body = legacy_connect(legacy_api, "facebook", brand_id=brand_make(legacy_tenant).id)
    params = approve(client, body["auth_url"])
    response = exchange(legacy_api, params["code"], params["state"], platform="facebook")
    assert response.status_code == 200
    pending = response.json()
    assert pending["status"] == "selection_required"
    assert pending["connection_id"].startswith("pc_") and pending["pages"]
    select = legacy_api.post(
        f"/accounts/pending/{pending['connection_id']}/select",
        {"page_ids": [pending["pages"][0]["platform_page_id"]]},
    )
    assert select.status_code == 201


def test_a_google_exchange_for_a_new_login_lists_profiles(legacy_api, legacy_tenant, client):
    body = legacy_connect(legacy_api, "google", brand_id=brand_make(legacy_tenant).id)
    params = approve(client, body["auth_url"])
    response = exchange(legacy_api, params["code"], params["state"], platform="google")
    assert response.status_code == 200 and len(response.json()["profiles"]) == 3
