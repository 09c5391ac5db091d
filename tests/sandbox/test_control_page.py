"""The control page: staff only, every switch a POST form, bad input changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sandbox.models import SandboxAccount, SandboxMedia, SandboxTenant
from sandbox.services import sandbox_tenant_create
from tests.sandbox.conftest import account_make, media_make, post_make

CONTROL = "/sandbox/control/"


def action_url(tenant: SandboxTenant, action: str) -> str:
    return reverse("sandbox:control_action", args=[tenant.pk, action])


def test_anonymous_people_are_sent_to_log_in(client, tenant):
    response = client.get(CONTROL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post(action_url(tenant, "billing"), {"on": "1"}).status_code == 302
    tenant.refresh_from_db()
    assert tenant.billing_blocked is False


def test_people_who_are_not_staff_get_403(as_admin, tenant):
    assert as_admin.get(CONTROL).status_code == 403
    assert as_admin.post(action_url(tenant, "billing"), {"on": "1"}).status_code == 403
    tenant.refresh_from_db()
    assert tenant.billing_blocked is False


def test_support_staff_see_tenants_and_logs(as_support, tenant, api):
    account_make(tenant, "instagram", username="acme.gram")
    api.get("/accounts")
    page = as_support.get(CONTROL)
    assert page.status_code == 200
    html = page.content.decode()
    assert tenant.name in html and "acme.gram" in html and "/v1/accounts" in html
    assert html.count('method="post"') >= 15


def test_the_page_costs_the_same_queries_for_one_or_many_tenants(as_support, tenant):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_support.get(CONTROL).status_code == 200
        return len(ctx.captured_queries)

    account_make(tenant)
    one = count()
    for n in range(3):
        other = sandbox_tenant_create(name=f"Tenant {n}")
        account_make(other), account_make(other, "tiktok")
        media_make(other, 2)
    assert count() == one


def test_the_call_log_refreshes_as_a_partial(as_support, api):
    api.get("/usage")
    response = as_support.get(CONTROL, {"partial": "calls"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "/v1/usage" in html and "<html" not in html


def fresh(tenant: SandboxTenant) -> SandboxTenant:
    return SandboxTenant.objects.get(pk=tenant.pk)


SWITCHES: list[tuple[str, dict[str, Any], Any]] = [
    ("billing", {"on": "1"}, lambda t: fresh(t).billing_blocked),
    ("key", {"on": "1"}, lambda t: fresh(t).key_revoked),
    ("dialect", {"dialect": "legacy"}, lambda t: fresh(t).dialect == "legacy"),
    (
        "faults",
        {"rate_5xx": "0.3", "next_html": "2", "scope": "DELETE /media"},
        lambda t: (
            (fresh(t).fault_5xx_rate, fresh(t).fault_next_html, fresh(t).fault_scope)
            == (0.3, 2, "DELETE /media")
        ),
    ),
    ("throttle", {"platform": "tiktok", "minutes": "10"}, lambda t: "tiktok" in fresh(t).throttles),
    ("exhaust", {}, lambda t: fresh(t).posts_used == fresh(t).posts_limit),
    ("fill-storage", {"percent": "80"}, lambda t: SandboxMedia.objects.filter(tenant=t).exists()),
    (
        "grow-storage",
        {"mb_per_day": "2.5"},
        lambda t: fresh(t).storage_growth_bytes_per_day == int(2.5 * 1024 * 1024),
    ),
    (
        "webhook",
        {"url": "https://hooks.example.com/x", "secret": "s3"},
        lambda t: fresh(t).webhook_url == "https://hooks.example.com/x",
    ),
]


@pytest.mark.parametrize(("action", "data", "changed"), SWITCHES, ids=[s[0] for s in SWITCHES])
def test_each_switch_changes_state_and_redirects_with_a_message(
    as_support, tenant, action, data, changed
):
    response = as_support.post(action_url(tenant, action), data)
    assert response.status_code == 302 and response["Location"] == CONTROL
    assert changed(tenant)
    page = as_support.get(CONTROL)
    assert b"message-success" in page.content


def test_account_switches_break_the_chosen_account(as_support, tenant):
    oauth = account_make(tenant, "instagram")
    creds = account_make(tenant, "telegram")
    gone = account_make(tenant, "facebook")
    as_support.post(action_url(tenant, "expire-token"), {"account_id": oauth.id, "reason": "pw"})
    as_support.post(action_url(tenant, "invalidate-credentials"), {"account_id": creds.id})
    as_support.post(action_url(tenant, "remove-account"), {"account_id": gone.id})
    oauth.refresh_from_db(), creds.refresh_from_db(), gone.refresh_from_db()
    assert (oauth.status, oauth.reconnect_reason) == ("reconnect_required", "pw")
    assert creds.credentials_valid is False and gone.removed_at is not None


def test_fail_post_and_resets(as_support, tenant):
    post = post_make(tenant, [account_make(tenant)])
    assert as_support.post(action_url(tenant, "fail-post"), {}).status_code == 302
    post.refresh_from_db()
    assert post.status == "failed"
    as_support.post(action_url(tenant, "billing"), {"on": "1"})
    as_support.post(action_url(tenant, "throttle"), {"platform": "instagram", "minutes": "5"})
    assert as_support.post(action_url(tenant, "reset"), {}).status_code == 302
    assert fresh(tenant).billing_blocked is False and fresh(tenant).throttles == {}


BAD_INPUT = [
    ("throttle", {"platform": "myspace", "minutes": "5"}),
    ("throttle", {"platform": "tiktok", "minutes": "0"}),
    ("faults", {"rate_5xx": "5"}),
    ("faults", {"scope": "DROP TABLE"}),
    ("fill-storage", {"percent": "abc"}),
    ("grow-storage", {"mb_per_day": "-1"}),
    ("grow-storage", {"mb_per_day": "nan"}),
    ("grow-storage", {"mb_per_day": "20000"}),
    ("dialect", {"dialect": "klingon"}),
    ("billing", {"on": "maybe"}),
    ("expire-token", {"account_id": "acc_nope"}),
    ("invalidate-credentials", {"account_id": ""}),
    ("webhook", {"url": "ftp://x", "secret": "s"}),
    ("fail-post", {"post_id": "p_nope"}),
]


@pytest.mark.parametrize(
    ("action", "data"), BAD_INPUT, ids=[f"{a}-{i}" for i, (a, _) in enumerate(BAD_INPUT)]
)
def test_bad_input_changes_nothing_and_says_why(as_support, tenant, action, data):
    account_make(tenant)
    before = SandboxTenant.objects.filter(pk=tenant.pk).values().get()
    response = as_support.post(action_url(tenant, action), data)
    assert response.status_code == 400
    assert b"message-error" in response.content and b"nothing changed" in response.content
    assert SandboxTenant.objects.filter(pk=tenant.pk).values().get() == before
    assert not SandboxAccount.objects.exclude(status="active").exists()


def test_expiring_a_credential_account_is_explained(as_support, tenant):
    creds = account_make(tenant, "whatsapp")
    response = as_support.post(action_url(tenant, "expire-token"), {"account_id": creds.id})
    assert response.status_code == 400 and b"invalidate its credentials" in response.content


def test_storage_cannot_be_filled_on_an_unlimited_plan(as_support, db):
    pro = sandbox_tenant_create(name="Pro Co", plan="pro")
    response = as_support.post(action_url(pro, "fill-storage"), {"percent": "50"})
    assert response.status_code == 400 and b"unlimited" in response.content


def test_unknown_actions_and_tenants_are_404(as_support, tenant):
    assert as_support.post(action_url(tenant, "explode"), {}).status_code == 404
    assert (
        as_support.post(f"/sandbox/control/{tenant.pk + 99}/billing/", {"on": "1"}).status_code
        == 404
    )


def test_switches_never_change_state_on_get(as_support, tenant):
    assert as_support.get(action_url(tenant, "billing"), {"on": "1"}).status_code == 405
    assert fresh(tenant).billing_blocked is False


def test_support_can_create_a_tenant(as_support, db):
    response = as_support.post(
        reverse("sandbox:tenant_create"), {"name": "Globex", "plan": "pro", "dialect": "legacy"}
    )
    assert response.status_code == 302
    globex = SandboxTenant.objects.get(name="Globex")
    assert (globex.plan, globex.dialect, globex.storage_limit_bytes) == ("pro", "legacy", -1)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "plan": "free", "dialect": "current"},
        {"name": "Acme Sandbox", "plan": "free", "dialect": "current"},
        {"name": "X", "plan": "gold", "dialect": "current"},
    ],
)
def test_a_bad_tenant_is_not_created(as_support, tenant, data):
    response = as_support.post(reverse("sandbox:tenant_create"), data)
    assert response.status_code == 400 and b"message-error" in response.content
    assert SandboxTenant.objects.count() == 1


@pytest.mark.parametrize("end", ["empty", "missing"])
def test_support_can_switch_how_a_tenants_lists_end(as_support, tenant, api, end):
    media_make(tenant, 1)
    response = as_support.post(action_url(tenant, "list-end"), {"list_end": end})
    assert response.status_code == 302 and fresh(tenant).list_end == end
    assert api.get("/media").json().get("next_cursor", None) == ("" if end == "empty" else None)
    bad = as_support.post(action_url(tenant, "list-end"), {"list_end": "sometimes"})
    assert bad.status_code == 400 and fresh(tenant).list_end == end


def test_support_can_switch_the_dialect_of_calls_without_a_tenant(as_support, api):
    page = as_support.get(CONTROL).content.decode()
    assert "Calls without a tenant" in page
    response = as_support.post(reverse("sandbox:world_set"), {"dialect": "legacy"})
    assert response.status_code == 302
    assert api.get("/accounts", key="sapi_key_unknown").json()["code"] == "unauthorized"
    bad = as_support.post(reverse("sandbox:world_set"), {"dialect": "klingon"})
    assert bad.status_code == 400 and b"nothing changed" in bad.content
    assert api.get("/accounts", key=None).json()["code"] == "unauthorized"


def test_members_cannot_switch_the_sandbox_wide_dialect(as_admin, api):
    assert as_admin.post(reverse("sandbox:world_set"), {"dialect": "legacy"}).status_code == 403
    assert api.get("/accounts", key=None).json()["error"]["code"] == "auth.missing_header"
