"""`manage.py sandbox <subcommand>`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sandbox.checks import world_dialect
from sandbox.models import SandboxAccount, SandboxMedia, SandboxTenant
from sandbox.services import sandbox_tenant_create
from tests.sandbox.conftest import account_make, post_make


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox", *args, stdout=out)
    return out.getvalue()


def test_status_shows_tenants_accounts_and_switches(tenant):
    account_make(tenant, "instagram", username="acme.gram")
    text = run("status")
    assert tenant.name in text and tenant.api_key in text and "acme.gram" in text


def test_it_needs_a_tenant_when_there_are_several(tenant):
    sandbox_tenant_create(name="Second")
    with pytest.raises(CommandError, match="several tenants"):
        run("billing", "past-due")
    run("billing", "past-due", "--tenant", "second")
    assert SandboxTenant.objects.get(name="Second").billing_blocked is True
    run("billing", "ok", "--tenant", tenant.api_key[:20])
    assert SandboxTenant.objects.get(pk=tenant.pk).billing_blocked is False


def test_an_unknown_tenant_is_a_clear_error(tenant):
    with pytest.raises(CommandError, match="No tenant matches"):
        run("reset", "--tenant", "nobody")


def test_expire_token_and_invalidate_credentials(tenant):
    oauth = account_make(tenant, "instagram")
    creds = account_make(tenant, "telegram")
    run("expire-token", oauth.id, "--reason", "The user changed their password")
    run("invalidate-credentials")
    oauth.refresh_from_db(), creds.refresh_from_db()
    assert oauth.status == "reconnect_required"
    assert oauth.reconnect_reason == "The user changed their password"
    assert creds.credentials_valid is False
    with pytest.raises(CommandError, match="No telegram/whatsapp"):
        run("invalidate-credentials")


def test_expire_token_refuses_unknown_accounts(tenant):
    with pytest.raises(CommandError, match="No live account"):
        run("expire-token", "acc_nope")


def test_fill_storage_exhaust_allowance_and_throttle(tenant):
    run("fill-storage", "50")
    assert SandboxMedia.objects.filter(tenant=tenant).exists()
    run("exhaust-allowance")
    run("throttle", "instagram", "--minutes", "3")
    tenant.refresh_from_db()
    assert tenant.posts_used == tenant.posts_limit and "instagram" in tenant.throttles
    run("throttle", "clear")
    tenant.refresh_from_db()
    assert tenant.throttles == {}
    with pytest.raises(CommandError, match="Unknown platform"):
        run("throttle", "myspace")


def test_faults_take_every_option(tenant):
    text = run(
        "faults",
        "--5xx-rate",
        "0.2",
        "--html-rate",
        "0.1",
        "--latency-ms",
        "50",
        "--timeout-rate",
        "0.05",
        "--timeout-seconds",
        "20",
        "--next-5xx",
        "3",
        "--next-html",
        "1",
        "--scope",
        "DELETE /media",
        "--seed",
        "4",
    )
    tenant.refresh_from_db()
    assert (tenant.fault_5xx_rate, tenant.fault_html_rate, tenant.fault_latency_ms) == (
        0.2,
        0.1,
        50,
    )
    assert (tenant.fault_next_5xx, tenant.fault_scope, tenant.fault_seed) == (3, "DELETE /media", 4)
    assert "next 5xx 3" in text
    run("faults", "--clear")
    tenant.refresh_from_db()
    assert tenant.fault_next_5xx == 0 and tenant.fault_scope == ""


def test_bad_fault_values_are_command_errors(tenant):
    with pytest.raises(CommandError, match="between 0 and 1"):
        run("faults", "--5xx-rate", "2")


def test_dialect_key_and_reset(tenant):
    run("dialect", "legacy")
    run("key", "revoke")
    tenant.refresh_from_db()
    assert tenant.dialect == "legacy" and tenant.key_revoked
    run("reset")
    tenant.refresh_from_db()
    assert tenant.key_revoked is False and tenant.dialect == "legacy"


def test_fail_post_and_webhook(tenant):
    post = post_make(tenant, [account_make(tenant), account_make(tenant, "tiktok")])
    run("fail-post", "--partial")
    post.refresh_from_db()
    assert post.status == "partial"
    run("webhook", "https://hooks.example.com/in", "secret")
    tenant.refresh_from_db()
    assert tenant.webhook_url == "https://hooks.example.com/in"
    with pytest.raises(CommandError, match="secret"):
        run("webhook", "https://hooks.example.com/in")


def test_create_tenant_and_seed_demo_print_the_key(db):
    text = run("create-tenant", "Initech", "--plan", "pro")
    assert SandboxTenant.objects.get(name="Initech").api_key in text
    text = run("seed-demo", "--webhook-url", "http://127.0.0.1:8000/hooks", "--webhook-secret", "s")
    demo = SandboxTenant.objects.get(name="Demo Co")
    assert demo.api_key in text
    assert SandboxAccount.objects.filter(tenant=demo).count() == 13


def test_without_tenants_status_says_so(db):
    assert "No tenants" in run("status")
    with pytest.raises(CommandError, match="no sandbox tenant"):
        run("reset")


def test_list_end_and_world_dialect_switch_from_the_terminal(tenant):
    assert 'next_cursor ""' in run("list-end", "empty")
    assert SandboxTenant.objects.get(pk=tenant.pk).list_end == "empty"
    assert "no next_cursor" in run("list-end", "missing")
    assert SandboxTenant.objects.get(pk=tenant.pk).list_end == "missing"
    assert "legacy dialect" in run("world-dialect", "legacy")
    assert world_dialect() == "legacy"
    assert "Calls without a valid key: legacy dialect." in run("status")
    with pytest.raises(CommandError):
        run("world-dialect", "klingon")
