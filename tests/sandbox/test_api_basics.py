"""The /v1 plumbing: keys, request ids, dialects, billing block, bad input, call log."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sandbox.eventlog import event_build
from sandbox.models import SandboxAccount, SandboxCall, SandboxEvent, SandboxWebhookEndpoint
from sandbox.services import api_key_revoke, billing_set, world_dialect_set
from tests.sandbox.conftest import Api, account_make, media_make, post_make

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_it_echoes_a_valid_request_id(api):
    response = api.get("/accounts", headers={"X-Request-ID": "my-trace_42"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "my-trace_42"


@pytest.mark.parametrize("given", [None, "has space", "x" * 65, "semi;colon"])
def test_it_generates_a_request_id_when_none_or_invalid_is_sent(api, given):
    headers = {"X-Request-ID": given} if given else {}
    response = api.get("/accounts", headers=headers)
    assert REQUEST_ID.match(response["X-Request-ID"])
    assert response["X-Request-ID"] != given


def test_it_puts_the_request_id_in_current_error_bodies(api):
    response = api.get("/accounts/acc_nope/limits", headers={"X-Request-ID": "abc123"})
    assert response.json()["request_id"] == "abc123"


def test_it_answers_a_missing_header_with_auth_missing_header(api):
    response = api.get("/accounts", key=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.missing_header"


def test_it_answers_an_empty_bearer_with_auth_empty_token(api):
    response = api.get("/accounts", headers={"Authorization": "Bearer "}, key=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.empty_token"


def test_it_answers_an_unknown_key_with_auth_invalid_key(api):
    response = api.get("/accounts", key="sapi_key_" + "0" * 62)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.invalid_key"


def test_it_rejects_a_revoked_key_in_the_current_dialect(api, tenant):
    api_key_revoke(tenant=tenant)
    response = api.get("/media")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.invalid_key"


def test_it_rejects_a_revoked_key_in_the_legacy_dialect(legacy_api, legacy_tenant):
    api_key_revoke(tenant=legacy_tenant)
    response = legacy_api.get("/media")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert isinstance(body["error"], str) and body["error"]


def test_it_does_not_log_bad_key_calls_as_account_events(api, tenant):
    api_key_revoke(tenant=tenant)
    api.get("/media")
    assert not SandboxEvent.objects.exists()


@pytest.mark.parametrize("dialect_api", ["current", "legacy"], indirect=True)
def test_it_blocks_every_call_but_users_me_when_billing_is_past_due(dialect_api: Api):
    tenant = dialect_api.tenant
    billing_set(tenant=tenant, past_due=True)
    for path in ("/accounts", "/media", "/media/storage", "/usage", "/events", "/posts"):
        response = dialect_api.get(path)
        assert response.status_code == 402, path
        body = response.json()
        code = body["error"]["code"] if tenant.dialect == "current" else body["code"]
        assert code == "billing.past_due"
    me = dialect_api.get("/users/me")
    assert me.status_code == 200
    assert me.json()["billing_blocked"] is True
    assert me.json()["billing_blocked_at"]


def test_it_answers_malformed_json_with_a_400_not_a_500(api):
    response = api.post("/accounts/connect", raw=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.body_invalid"


@pytest.mark.parametrize("body", [[1, 2], "text", 3, None])
def test_it_answers_a_non_object_body_with_a_400(api, body):
    response = api.post("/webhooks", raw=json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.body_invalid"


def test_it_answers_malformed_json_in_the_legacy_dialect(legacy_api):
    response = legacy_api.post("/accounts/connect", raw=b"[")
    assert response.status_code == 400
    assert response.json()["code"] == "missing_metadata"


def test_it_answers_an_unknown_endpoint_with_a_json_404(api):
    response = api.post("/nothing/here", {"a": 1})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource.not_found"
    assert response["X-Request-ID"]


@pytest.mark.parametrize("dialect_api", ["current", "legacy"], indirect=True)
@pytest.mark.parametrize(("method", "path"), [("GET", "/accounts/{id}"), ("DELETE", "/usage")])
def test_a_method_upstream_does_not_document_is_no_endpoint(dialect_api: Api, method, path):
    # The OpenAPI file has only DELETE /accounts/{id} (no get-one endpoint) and GET /usage:
    # a 404 with a code of the docs, not a 405 with a code of neither.
    account = account_make(dialect_api.tenant)
    response = dialect_api.call(method, path.format(id=account.id))
    assert response.status_code == 404
    body = response.json()
    if dialect_api.tenant.dialect == "legacy":
        assert body["code"] == "not_found" and isinstance(body["error"], str)
    else:
        assert body["error"]["code"] == "resource.not_found"
    assert SandboxAccount.objects.filter(pk=account.id, removed_at__isnull=True).exists()


def test_an_unknown_path_answers_in_the_dialect_of_the_keys_tenant(legacy_api):
    response = legacy_api.get("/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": "No such endpoint", "code": "not_found"}


@pytest.mark.parametrize("key", [None, "", "sapi_key_" + "0" * 62])
def test_calls_without_a_tenant_answer_in_the_sandbox_wide_dialect(api, key):
    """With a missing or unknown key there is no tenant: the world's dialect applies."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    current = api.get("/accounts", key=None, headers=headers)
    assert current.status_code == 401 and isinstance(current.json()["error"], dict)
    world_dialect_set(dialect="legacy")
    legacy = api.get("/accounts", key=None, headers=headers)
    assert legacy.status_code == 401
    assert legacy.json() == {"error": legacy.json()["error"], "code": "unauthorized"}
    assert isinstance(legacy.json()["error"], str) and legacy.json()["error"]
    unknown = api.get("/nothing/here", key=None, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    world_dialect_set(dialect="current")
    assert api.get("/nothing/here", key=None, headers=headers).json()["error"]["code"] == (
        "resource.not_found"
    )


def test_a_tenants_own_dialect_wins_over_the_sandbox_wide_one(api, legacy_api):
    world_dialect_set(dialect="legacy")
    assert api.get("/accounts/acc_x/limits").json()["error"]["code"] == "account.not_found"
    world_dialect_set(dialect="current")
    assert legacy_api.get("/accounts/acc_x/limits").json()["code"] == "account_not_found"


def test_it_needs_no_csrf_token_for_api_calls(tenant):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/sandbox/v1/accounts/connect",
        data="{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {tenant.api_key}"},
    )
    assert response.status_code == 400


def test_it_logs_every_call_it_serves(api, tenant):
    api.get("/accounts", headers={"X-Request-ID": "one"})
    api.get("/accounts", key="bad")
    calls = list(SandboxCall.objects.order_by("id"))
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("GET", "/v1/accounts", 200),
        ("GET", "/v1/accounts", 401),
    ]
    assert calls[0].tenant == tenant and calls[0].request_id == "one"
    assert calls[1].tenant is None


def test_it_records_failed_calls_in_the_events_log(api, tenant):
    api.get("/accounts/acc_missing/limits", headers={"X-Request-ID": "req-9"})
    event = SandboxEvent.objects.get(tenant=tenant)
    assert event.status == "failed" and event.status_code == 404
    assert event.metadata == {
        "error_code": "account.not_found",
        "request_id": "req-9",
        "endpoint": "GET /v1/accounts/{id}/limits",
    }
    assert event.resource_id == "acc_missing"


@pytest.mark.parametrize("path", ["/accounts", "/media", "/events", "/posts", "/webhooks"])
def test_list_endpoints_cost_the_same_queries_for_1_or_30_rows(api, tenant, path):
    def add(n: int) -> None:
        for index in range(n):
            account = account_make(tenant, "tiktok")
            post_make(tenant, [account], media=media_make(tenant, 1))
            event_build(
                tenant=tenant,
                endpoint="GET /v1/x",
                code="system.internal",
                status_code=500,
                message="x",
                category="x",
                action="x",
            ).save()
            SandboxWebhookEndpoint.objects.create(
                id=f"wh_{path}{n}{index}", tenant=tenant, url="https://h.example.com", secret="s"
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(path).status_code == 200
        return len(ctx.captured_queries)

    add(1)
    one = queries()
    add(29)
    assert queries() == one
