"""POST/GET /v1/webhooks and the signed deliveries the sandbox sends."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from django.db import transaction

from sandbox.models import SandboxWebhookDelivery, SandboxWebhookEndpoint
from sandbox.posts import post_fail
from sandbox.services import (
    account_remove,
    account_token_expire,
    billing_set,
    webhook_configure,
)
from socialapi.webhooks import verify_signature
from tests.sandbox.conftest import account_make, post_make

HOOK = "https://hooks.example.com/socialapi"
SECRET = "whsec_test_secret"


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def receiver(router, tenant):
    webhook_configure(tenant=tenant, url=HOOK, secret=SECRET)
    return router.post(HOOK).mock(return_value=httpx.Response(200))


def delivered(route) -> list[tuple[dict, httpx.Request]]:
    return [(json.loads(call.request.content), call.request) for call in route.calls]


def test_registering_a_webhook_pings_it_and_returns_the_secret_once(api, router):
    route = router.post(HOOK).mock(return_value=httpx.Response(204))
    response = api.post("/webhooks", {"url": HOOK, "events": ["account.disconnected"]})
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{64}", body["secret"]) and body["id"].startswith("wh_")
    assert body["events"] == ["account.disconnected"] and body["message"]
    ((ping, request),) = delivered(route)
    assert ping["event"] == "webhook.test"
    assert request.headers["X-SocialAPI-Event"] == "webhook.test"
    assert "X-SocialAPI-Delivery" not in request.headers  # as upstream: the ping has none
    # signed with the secret the caller is only now being given
    assert verify_signature(body["secret"], request.content, request.headers) == "v2"
    listed = api.get("/webhooks").json()
    assert listed["count"] == 1 and "secret" not in listed["data"][0]
    assert listed["data"][0]["is_active"] is True


@pytest.mark.parametrize(
    "answer", [httpx.Response(500), httpx.Response(301), httpx.ConnectError("refused")]
)
def test_a_failed_ping_refuses_the_webhook(api, router, answer):
    route = router.post(HOOK)
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    response = api.post("/webhooks", {"url": HOOK, "events": ["post.failed"]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_verification_failed"
    assert not SandboxWebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://hooks.example.com/x", "events": ["post.failed"]},
        {"url": HOOK},
        {"url": HOOK, "events": ["post.exploded"]},
        {"url": HOOK, "events": "post.failed"},
        {"events": ["post.failed"]},
    ],
)
def test_it_refuses_bad_webhook_registrations_without_pinging(api, router, body):
    route = router.post(HOOK).mock(return_value=httpx.Response(200))
    assert api.post("/webhooks", body).status_code == 400
    assert not route.called


def test_an_expired_token_sends_a_signed_account_disconnected(
    tenant, receiver, django_capture_on_commit_callbacks
):
    account = account_make(tenant, "instagram")
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id, reason="Password changed")
    ((body, request),) = delivered(receiver)
    assert body == {
        "event": "account.disconnected",
        "data": {
            "account_id": account.id,
            "platform": "instagram",
            "reason": "access_revoked",
            "reconnect_required": True,
        },
    }
    assert request.headers["X-SocialAPI-Event"] == "account.disconnected"
    assert request.headers["X-SocialAPI-Delivery"].startswith("whd_")
    assert verify_signature(SECRET, request.content, request.headers) == "v2"
    v1_only = {"X-SocialAPI-Signature": request.headers["X-SocialAPI-Signature"]}
    assert verify_signature(SECRET, request.content, v1_only, require_v2=False) == "v1"


def test_a_removed_account_is_disconnected_without_reconnect(
    tenant, receiver, django_capture_on_commit_callbacks
):
    account = account_make(tenant, "facebook")
    with django_capture_on_commit_callbacks(execute=True):
        account_remove(tenant=tenant, account_id=account.id)
    ((body, _),) = delivered(receiver)
    assert body["data"]["reason"] == "all_pages_removed"
    assert body["data"]["reconnect_required"] is False


def test_a_failed_delivery_is_retried_with_the_same_delivery_id(
    tenant, router, django_capture_on_commit_callbacks
):
    webhook_configure(tenant=tenant, url=HOOK, secret=SECRET)
    route = router.post(HOOK).mock(
        side_effect=[httpx.Response(500), httpx.ConnectTimeout("slow"), httpx.Response(200)]
    )
    account = account_make(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id)
    assert route.call_count == 3
    assert len({call.request.headers["X-SocialAPI-Delivery"] for call in route.calls}) == 1
    delivery = SandboxWebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_a_delivery_gives_up_after_five_attempts(
    tenant, router, django_capture_on_commit_callbacks
):
    webhook_configure(tenant=tenant, url=HOOK, secret=SECRET)
    route = router.post(HOOK).mock(return_value=httpx.Response(503))
    account = account_make(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id)
    assert route.call_count == 5
    delivery = SandboxWebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("failed", 503)


def test_a_rolled_back_change_sends_nothing(tenant, receiver, django_capture_on_commit_callbacks):
    account = account_make(tenant)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        account_token_expire(tenant=tenant, account_id=account.id)
        raise RuntimeError("rollback")
    assert not receiver.called
    assert not SandboxWebhookDelivery.objects.exists()


def test_registered_endpoints_get_only_their_events(
    tenant, router, django_capture_on_commit_callbacks
):
    wanted = router.post("https://a.example.com/hook").mock(return_value=httpx.Response(200))
    other = router.post("https://b.example.com/hook").mock(return_value=httpx.Response(200))
    SandboxWebhookEndpoint.objects.create(
        id="wh_a",
        tenant=tenant,
        url="https://a.example.com/hook",
        events=["account.disconnected"],
        secret="sa",
    )
    SandboxWebhookEndpoint.objects.create(
        id="wh_b",
        tenant=tenant,
        url="https://b.example.com/hook",
        events=["post.failed"],
        secret="sb",
    )
    account = account_make(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id)
    assert wanted.call_count == 1 and not other.called
    request = wanted.calls[0].request
    assert verify_signature("sa", request.content, request.headers) == "v2"


def test_registering_the_configured_url_replaces_the_configured_webhook(
    api, tenant, receiver, django_capture_on_commit_callbacks
):
    """The demo configures its webhook URL with one secret; registering that URL from the
    dashboard's Settings gets a new secret: events must then come once, signed with it."""
    created = api.post("/webhooks", {"url": HOOK, "events": ["account.disconnected"]}).json()
    receiver.reset()  # forget the registration ping
    account = account_make(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id)
    ((_, request),) = delivered(receiver)
    assert verify_signature(created["secret"], request.content, request.headers) == "v2"


def test_a_deleted_endpoint_is_gone_and_gets_nothing_more(
    api, tenant, router, django_capture_on_commit_callbacks
):
    route = router.post(HOOK).mock(return_value=httpx.Response(200))
    endpoint = api.post("/webhooks", {"url": HOOK, "events": ["account.disconnected"]}).json()
    other = SandboxWebhookEndpoint.objects.create(
        id="wh_other", tenant=tenant, url=HOOK, events=["post.failed"], secret="s"
    )
    route.reset()  # forget the registration ping

    response = api.delete(f"/webhooks/{endpoint['id']}")
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert [e["id"] for e in api.get("/webhooks").json()["data"]] == [other.id]
    again = api.delete(f"/webhooks/{endpoint['id']}")
    assert (again.status_code, again.json()["error"]["code"]) == (404, "resource.not_found")
    account = account_make(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id)
    assert route.call_count == 0


def test_an_endpoint_of_another_tenant_cannot_be_deleted(api, client):
    from sandbox.services import sandbox_tenant_create
    from tests.sandbox.conftest import Api

    stranger = sandbox_tenant_create(name="Stranger")
    theirs = SandboxWebhookEndpoint.objects.create(
        id="wh_theirs", tenant=stranger, url=HOOK, events=["post.failed"], secret="s"
    )
    assert api.delete(f"/webhooks/{theirs.id}").status_code == 404
    assert SandboxWebhookEndpoint.objects.filter(pk=theirs.pk).exists()
    assert Api(client, stranger.api_key).delete(f"/webhooks/{theirs.id}").status_code == 200


def test_the_dashboard_client_deletes_an_endpoint_once(tenant):
    from socialapi import ClientConfig, SocialAPI
    from tests.conftest import SANDBOX_URL, in_process_transport

    SandboxWebhookEndpoint.objects.create(
        id="wh_old", tenant=tenant, url=HOOK, events=["post.failed"], secret="s"
    )
    client = SocialAPI(
        ClientConfig(base_url=SANDBOX_URL, api_key=tenant.api_key),
        transport=in_process_transport(),
    )
    assert client.webhooks_delete("wh_old") is True
    assert client.webhooks_delete("wh_old") is False  # already gone
    assert client.webhooks_list() == []


def test_deliveries_pause_while_billing_is_blocked_and_resume_after(
    tenant, receiver, django_capture_on_commit_callbacks
):
    billing_set(tenant=tenant, past_due=True)
    account = account_make(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account_token_expire(tenant=tenant, account_id=account.id)
    assert not receiver.called
    assert SandboxWebhookDelivery.objects.get().status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        billing_set(tenant=tenant, past_due=False)
    assert receiver.call_count == 1
    assert SandboxWebhookDelivery.objects.get().status == "delivered"


def test_a_failed_post_carries_per_target_errors(
    tenant, receiver, django_capture_on_commit_callbacks
):
    healthy = account_make(tenant, "instagram")
    broken = account_make(tenant, "linkedin", status="reconnect_required", reconnect_reason="gone")
    post = post_make(tenant, [healthy, broken])
    with django_capture_on_commit_callbacks(execute=True):
        post_fail(tenant=tenant, partial=True)
    ((body, request),) = delivered(receiver)
    assert body["event"] == "post.partial" == request.headers["X-SocialAPI-Event"]
    assert body["data"]["post_id"] == post.id and body["data"]["status"] == "partial"
    first, second = body["data"]["targets"]
    assert first["status"] == "published" and "error" not in first
    assert second["error"] == {
        "category": "auth",
        "caused_by": "user",
        "code": "account.reconnection_required",
        "message": "gone",
    }


def test_connecting_an_account_sends_account_connected(
    api, tenant, client, receiver, django_capture_on_commit_callbacks
):
    response = api.post(
        "/accounts/connect",
        {"platform": "threads", "redirect_uri": "https://app.example.com/cb", "state": "s"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(urlsplit(response.json()["auth_url"]).path, {"decision": "approve"})
    ((body, _),) = delivered(receiver)
    assert body["event"] == "account.connected" and body["data"]["platform"] == "threads"
