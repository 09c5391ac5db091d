"""The reconnect flow against the sandbox (in-process): its consent page decides."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AccountStatus, ReconnectState, SocialAccount
from sandbox.models import SandboxAccount
from tests.accounts.conftest import follow_consent, local, mirror, problem

pytestmark = pytest.mark.django_db


def press_reconnect(client: Client, account: SocialAccount) -> str:
    response = client.post(reverse("accounts:reconnect", args=[account.workspace.slug, account.pk]))
    assert response.status_code == 302, response.content[:300]
    return str(response["Location"])


def test_approving_as_the_same_account_makes_it_active(as_admin, sandbox):
    upstream = sandbox.account(
        "instagram", status="reconnect_required", reconnect_reason="Password changed"
    )
    ours = mirror(sandbox, upstream)
    auth_url = press_reconnect(as_admin, ours)
    back = follow_consent(as_admin, auth_url, identity=upstream.id)
    assert back.startswith("http://testserver/oauth/callback/?")
    response = as_admin.get(local(back))
    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.status == AccountStatus.ACTIVE
    assert "reconnected and active" in as_admin.get(response["Location"]).content.decode()
    # the live re-check really asked upstream after the callback
    assert ("GET", "/v1/accounts") in sandbox.calls()


def test_denying_leaves_everything_as_it_was(as_admin, sandbox):
    upstream = sandbox.account("tiktok", status="reconnect_required", reconnect_reason="Expired")
    ours = mirror(sandbox, upstream)
    back = follow_consent(
        as_admin, press_reconnect(as_admin, ours), decision="deny", identity=upstream.id
    )
    since = sandbox.last_call_id()
    response = as_admin.get(local(back))
    assert "Sign-in to TikTok was cancelled" in as_admin.get(response["Location"]).content.decode()
    assert sandbox.calls(since) == []  # a denial needs no call upstream
    ours.refresh_from_db()
    upstream.refresh_from_db()
    assert ours.status == AccountStatus.RECONNECT_REQUIRED
    assert upstream.status == SandboxAccount.Status.RECONNECT_REQUIRED


def test_signing_in_as_someone_else_is_called_out(as_admin, sandbox):
    upstream = sandbox.account("instagram", status="reconnect_required", name="Demo Co")
    ours = mirror(sandbox, upstream)
    back = follow_consent(as_admin, press_reconnect(as_admin, ours), identity="new")
    response = as_admin.get(local(back))
    html = as_admin.get(response["Location"]).content.decode()
    assert "which is a different account from Demo Co" in html
    ours.refresh_from_db()
    assert ours.status == AccountStatus.RECONNECT_REQUIRED
    assert SocialAccount.objects.filter(workspace=sandbox.workspace).count() == 2


def test_facebook_goes_through_the_page_picker(as_admin, sandbox):
    upstream = sandbox.account(
        "facebook",
        status="reconnect_required",
        name="Dana",
        page_name="Demo Page",
        platform_account_id="5550001",
        login_id="lgn_1",
        metadata={"page_ids": ["5550001"]},
    )
    ours = mirror(sandbox, upstream)
    back = follow_consent(as_admin, press_reconnect(as_admin, ours), identity=upstream.id)
    response = as_admin.get(local(back))
    assert response["Location"] == reverse("reconnect_select")
    since = sandbox.last_call_id()
    picker = as_admin.get(reverse("reconnect_select"))
    assert picker.status_code == 200 and "Demo Page" in picker.content.decode()
    assert sandbox.calls(since) == []  # the picker renders from stored candidates
    done = as_admin.post(reverse("reconnect_select"), {"page_ids": ["5550001"], "action": "select"})
    assert done.status_code == 302
    ours.refresh_from_db()
    assert ours.status == AccountStatus.ACTIVE
    assert any(
        method == "POST" and path.endswith("/select") for method, path in sandbox.calls(since)
    )


def test_legacy_workspaces_exchange_the_code(as_admin, legacy_sandbox):
    upstream = legacy_sandbox.account(
        "youtube", status="reconnect_required", reconnect_reason="Revoked"
    )
    ours = mirror(legacy_sandbox, upstream)
    back = follow_consent(as_admin, press_reconnect(as_admin, ours), identity=upstream.id)
    assert "code=" in back and "status=" not in back
    since = legacy_sandbox.last_call_id()
    response = as_admin.get(local(back))
    assert response.status_code == 302
    exchanges = [c for c in legacy_sandbox.calls(since) if c[1].endswith("/oauth/exchange")]
    assert len(exchanges) == 1
    ours.refresh_from_db()
    assert ours.status == AccountStatus.ACTIVE
    # replaying the same return is refused before any call
    since = legacy_sandbox.last_call_id()
    problem(as_admin, as_admin.get(local(back)))
    assert legacy_sandbox.calls(since) == []
    assert ReconnectState.objects.get().outcome == "succeeded"
