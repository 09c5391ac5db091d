"""Admin actions on one account: check now, disconnect, update credentials."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import AccountStatus, AccountTransition, SocialAccount
from dashboard.models import AuditEvent
from sandbox.models import SandboxAccount
from tests.accounts.conftest import account_json, accounts_body, error_body, mirror

pytestmark = pytest.mark.django_db


def action(name: str, account: SocialAccount) -> str:
    return reverse(f"accounts:{name}", args=[account.workspace.slug, account.pk])


# --- check now --------------------------------------------------------------------------


def test_check_now_swaps_the_row_and_polls_until_the_check_is_done(
    as_admin, api, make_account, django_capture_on_commit_callbacks
):
    account = make_account(AccountStatus.RECONNECT_REQUIRED)
    with django_capture_on_commit_callbacks() as queued:
        response = as_admin.post(action("check", account), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith(
        f'<tr id="account-{account.pk}"'
    )
    assert 'hx-trigger="every 2s"' in html and "Checking…" in html
    assert len(queued) == 1

    api.get("/accounts").respond(json=accounts_body(account_json(account, status="active")))
    queued[0]()  # the worker runs the check
    row = as_admin.get(action("row", account)).content.decode()
    assert "every 2s" not in row and "Active" in row
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.check_requested_at is None


def test_check_now_without_javascript_redirects_back_with_a_message(as_admin, make_account):
    account = make_account()
    back = reverse("accounts:list", args=[account.workspace.slug]) + "?status=active"
    response = as_admin.post(action("check", account), {"next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    assert "Checking" in response.content.decode()


def test_next_never_leaves_the_site(as_admin, make_account):
    account = make_account()
    response = as_admin.post(action("check", account), {"next": "https://evil.example/"})
    assert response["Location"].startswith("/w/acme/accounts/")


def test_members_cannot_check(as_member, make_account):
    account = make_account()
    assert as_member.post(action("check", account)).status_code == 403
    account.refresh_from_db()
    assert account.check_requested_at is None


# --- disconnect -------------------------------------------------------------------------


def test_disconnect_asks_first_then_deletes_upstream(as_admin, api, make_account, admin):
    account = make_account(name="Old page")
    page = as_admin.get(action("disconnect", account))
    assert page.status_code == 200 and "Disconnect Old page?" in page.content.decode()
    assert not api.calls  # the confirmation page calls nothing
    delete = api.delete(f"/accounts/{account.upstream_id}").respond(204)
    response = as_admin.post(action("disconnect", account), follow=True)
    assert delete.called
    assert "is disconnected from SocialAPI" in response.content.decode()
    account.refresh_from_db()
    assert account.status == AccountStatus.DISCONNECTED
    assert AccountTransition.objects.get(account=account).actor == admin
    assert AuditEvent.objects.filter(
        action="account.disconnect", target_id=str(account.pk)
    ).exists()


def test_disconnecting_an_account_already_gone_upstream_counts_as_done(as_admin, api, make_account):
    account = make_account()
    api.delete(f"/accounts/{account.upstream_id}").respond(
        404, json=error_body("account.not_found")
    )
    as_admin.post(action("disconnect", account))
    account.refresh_from_db()
    assert account.status == AccountStatus.DISCONNECTED


def test_a_failed_disconnect_says_why_and_changes_nothing(as_admin, api, make_account):
    account = make_account()
    api.delete(f"/accounts/{account.upstream_id}").respond(
        500, json=error_body("system.internal", request_id="req_d")
    )
    response = as_admin.post(action("disconnect", account), follow=True)
    html = response.content.decode()
    assert "was not disconnected" in html and "req_d" in html
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert not AuditEvent.objects.filter(action="account.disconnect").exists()


def test_members_cannot_disconnect(as_member, api, make_account):
    account = make_account()
    assert as_member.get(action("disconnect", account)).status_code == 403
    assert as_member.post(action("disconnect", account)).status_code == 403
    assert not api.calls


# --- credentials ----------------------------------------------------------------------------


def test_new_credentials_fix_a_telegram_bot_in_the_sandbox(as_admin, sandbox):
    upstream = sandbox.account("telegram", credentials_valid=False, name="Kitchen bot")
    bot = mirror(sandbox, upstream, status=AccountStatus.CREDENTIALS_INVALID)
    form = as_admin.get(action("credentials", bot))
    assert form.status_code == 200 and 'type="password"' in form.content.decode()
    response = as_admin.post(
        action("credentials", bot), {"bot_token": "123456:NEW-TOKEN"}, follow=True
    )
    html = response.content.decode()
    assert "is active again" in html
    assert "NEW-TOKEN" not in html
    bot.refresh_from_db()
    upstream.refresh_from_db()
    assert bot.status == AccountStatus.ACTIVE and upstream.credentials_valid
    audit = AuditEvent.objects.get(action="account.credentials_update")
    assert "NEW-TOKEN" not in json.dumps(audit.detail) and audit.detail["fields"] == ["bot_token"]


def test_credentials_the_platform_rejects_leave_the_account_as_it_was(as_admin, sandbox):
    upstream = sandbox.account("whatsapp", credentials_valid=False)
    line = mirror(sandbox, upstream, status=AccountStatus.CREDENTIALS_INVALID)
    response = as_admin.post(
        action("credentials", line), {"phone_number_id": "10987", "access_token": "revoked-token"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Credentials invalid" in html and "revoked-token" not in html
    line.refresh_from_db()
    assert line.status == AccountStatus.CREDENTIALS_INVALID
    assert not SandboxAccount.objects.get(pk=upstream.pk).credentials_valid


def test_the_credentials_form_needs_every_field(as_admin, api, make_account):
    line = make_account(AccountStatus.CREDENTIALS_INVALID, platform="whatsapp")
    response = as_admin.post(action("credentials", line), {"phone_number_id": "1"})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not api.calls


def test_oauth_accounts_have_no_credentials_form(as_admin, make_account):
    account = make_account()
    response = as_admin.get(action("credentials", account), follow=True)
    assert "use Reconnect" in response.content.decode()


def test_support_staff_cannot_act(as_support, make_account):
    account = make_account(AccountStatus.RECONNECT_REQUIRED)
    for name in ("check", "reconnect", "disconnect", "link_create", "credentials"):
        assert as_support.post(action(name, account)).status_code == 403
    assert SocialAccount.objects.get(pk=account.pk).status == AccountStatus.RECONNECT_REQUIRED


def test_new_credentials_for_an_account_whose_brand_is_unknown_are_not_sent(
    as_admin, api, make_account
):
    bot = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram", brand_id="")
    response = as_admin.post(action("credentials", bot), {"bot_token": "123456:NEW-TOKEN"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Wait for the next check so the account&#x27;s brand is known" in html
    assert not api.calls  # a connect without brand_id would create a new brand upstream
    bot.refresh_from_db()
    assert bot.status == AccountStatus.CREDENTIALS_INVALID
