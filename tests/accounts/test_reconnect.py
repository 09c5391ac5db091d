"""The reconnect flow against a mocked upstream: start, callback outcomes, bad states."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, AccountTransition, ReconnectState, SocialAccount
from accounts.reconnect import MAX_SESSION_STATES, SESSION_STATES
from dashboard.models import AuditEvent, Membership, Workspace
from tests.accounts.conftest import account_json, accounts_body, error_body, problem
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

AUTH_URL = "https://platform.example/oauth/authorize?client_id=1"
CALLBACK = "/oauth/callback/"


@pytest.fixture
def broken(make_account):
    return make_account(
        AccountStatus.RECONNECT_REQUIRED,
        name="Demo Co",
        brand_id="b_demo",
        status_code="account.reconnection_required",
        reason="Password changed",
    )


def start(
    client: Client,
    api: Any,
    account: SocialAccount,
    *,
    auth_url: str = AUTH_URL,
    legacy_state: str = "",
) -> str:
    """Press Reconnect; return the state value sent upstream (or upstream's, legacy)."""
    body = {"auth_url": auth_url, "state": legacy_state or None, "message": "Redirect the user"}
    route = api.post("/accounts/connect").respond(202, json=body)
    response = client.post(reverse("accounts:reconnect", args=[account.workspace.slug, account.pk]))
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == auth_url
    sent = json.loads(route.calls.last.request.content)
    return legacy_state or sent["state"]


def callback(client: Client, **params: str) -> Any:
    return client.get(CALLBACK + "?" + urlencode(params))


def messages_of(client: Client, url: str) -> str:
    return client.get(url).content.decode()


# --- starting -------------------------------------------------------------------------


def test_reconnect_binds_a_hashed_single_use_state_and_sends_platform_and_brand(
    as_admin, api, broken, admin
):
    route = api.post("/accounts/connect").respond(202, json={"auth_url": AUTH_URL, "state": "x"})
    response = as_admin.post(reverse("accounts:reconnect", args=[broken.workspace.slug, broken.pk]))
    assert response.status_code == 302 and response["Location"] == AUTH_URL
    sent = json.loads(route.calls.last.request.content)
    assert sent["platform"] == "instagram" and sent["brand_id"] == "b_demo"
    assert sent["redirect_uri"] == "http://testserver/oauth/callback/"
    record = ReconnectState.objects.get()
    assert record.state_hash == hashlib.sha256(sent["state"].encode()).hexdigest()
    assert sent["state"] not in str(ReconnectState.objects.values().get())  # never stored in clear
    assert record.account == broken and record.user == admin and record.link is None
    assert record.session_hash == hashlib.sha256(as_admin.session.session_key.encode()).hexdigest()
    assert record.expires_at - record.created_at == timedelta(minutes=10)
    assert as_admin.session[SESSION_STATES] == [sent["state"]]
    assert AuditEvent.objects.filter(action="reconnect.start", target_id=str(broken.pk)).exists()


def test_members_cannot_start_a_reconnect(as_member, api, broken):
    response = as_member.post(
        reverse("accounts:reconnect", args=[broken.workspace.slug, broken.pk])
    )
    assert response.status_code == 403
    assert not api.calls and not ReconnectState.objects.exists()


def test_reconnect_is_refused_on_get(as_admin, api, broken):
    response = as_admin.get(reverse("accounts:reconnect", args=[broken.workspace.slug, broken.pk]))
    assert response.status_code == 405 and not api.calls


def test_a_refused_connect_explains_and_stores_nothing(as_admin, api, broken):
    api.post("/accounts/connect").respond(
        403,
        json=error_body(
            "billing.brands_limit", "Your free plan allows 2 brands.", request_id="req_plan"
        ),
    )
    response = as_admin.post(
        reverse("accounts:reconnect", args=[broken.workspace.slug, broken.pk]), follow=True
    )
    html = response.content.decode()
    assert "Reconnect could not start" in html and "req_plan" in html
    assert not ReconnectState.objects.exists()


def test_credential_platforms_are_sent_to_the_credentials_form(as_admin, api, make_account):
    bot = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram")
    response = as_admin.post(
        reverse("accounts:reconnect", args=[bot.workspace.slug, bot.pk]), follow=True
    )
    assert "Use Update credentials instead" in response.content.decode()
    assert not api.calls


# --- callback outcomes ----------------------------------------------------------------


def test_success_is_confirmed_live_then_the_account_is_active(as_admin, api, broken, admin):
    state = start(as_admin, api, broken)
    listed = api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken, status="active"))
    )
    response = callback(
        as_admin, status="success", platform="instagram", state=state, account_id=broken.upstream_id
    )
    assert response.status_code == 302
    assert response["Referrer-Policy"] == "no-referrer"
    clean = reverse("accounts:list", args=[broken.workspace.slug]) + f"?account={broken.pk}"
    assert response["Location"] == clean  # no code or state left in the address bar
    assert listed.called
    broken.refresh_from_db()
    assert broken.status == AccountStatus.ACTIVE
    transition = AccountTransition.objects.get(account=broken)
    assert (transition.source, transition.actor) == ("reconnect", admin)
    assert ReconnectState.objects.get().outcome == "succeeded"
    assert "is reconnected and active again" in messages_of(as_admin, clean)
    assert AuditEvent.objects.filter(action="reconnect.finish").exists()


def test_success_for_another_account_says_so_and_leaves_the_broken_one(as_admin, api, broken):
    state = start(as_admin, api, broken)
    other = account_json(None, id="acc_other", name="Someone Else", brand_id="b_demo")
    api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken), other)
    )
    response = callback(as_admin, status="success", state=state, account_id="acc_other")
    html = messages_of(as_admin, response["Location"])
    assert "Someone Else, which is a different account from Demo Co" in html
    broken.refresh_from_db()
    assert broken.status == AccountStatus.RECONNECT_REQUIRED
    assert SocialAccount.objects.get(upstream_id="acc_other").status == AccountStatus.ACTIVE


def test_success_that_cannot_be_confirmed_changes_nothing_and_checks_again(
    as_admin, api, broken, django_capture_on_commit_callbacks
):
    state = start(as_admin, api, broken)
    api.get("/accounts").respond(503, json=error_body("system.internal", request_id="req_down"))
    with django_capture_on_commit_callbacks() as queued:
        response = callback(as_admin, status="success", state=state, account_id=broken.upstream_id)
    html = messages_of(as_admin, response["Location"])
    assert "could not confirm Demo Co yet" in html and "req_down" in html
    broken.refresh_from_db()
    assert broken.status == AccountStatus.RECONNECT_REQUIRED
    assert broken.check_requested_at is not None and queued  # a check is queued


def test_access_denied_is_a_friendly_message_and_changes_nothing(as_admin, api, broken):
    state = start(as_admin, api, broken)
    calls = len(api.calls)
    response = callback(
        as_admin,
        status="error",
        error="access_denied",
        error_description="The user denied the request",
        platform="instagram",
        state=state,
    )
    html = messages_of(as_admin, response["Location"])
    assert "Sign-in to Instagram was cancelled, so nothing changed" in html
    assert len(api.calls) == calls  # no upstream call
    broken.refresh_from_db()
    assert (
        broken.status == AccountStatus.RECONNECT_REQUIRED and not AccountTransition.objects.exists()
    )
    assert ReconnectState.objects.get().outcome == "failed"
    assert AuditEvent.objects.filter(action="reconnect.fail").exists()


def test_other_errors_show_the_upstream_description_escaped(as_admin, api, broken):
    state = start(as_admin, api, broken)
    response = callback(
        as_admin,
        status="error",
        error="server_error",
        error_description="<b>Platform</b> is down",
        state=state,
    )
    html = messages_of(as_admin, response["Location"])
    assert "&lt;b&gt;Platform&lt;/b&gt; is down" in html


def test_facebook_selection_stores_candidates_then_selects_the_chosen_pages(
    as_admin, api, make_account
):
    page = make_account(
        AccountStatus.RECONNECT_REQUIRED, platform="facebook", page_name="Demo Page"
    )
    state = start(as_admin, api, page)
    api.get("/accounts/pending/pc_1").respond(
        json={
            "connection_id": "pc_1",
            "platform": "facebook",
            "pages": [
                {
                    "platform_page_id": "111",
                    "name": "Demo Page",
                    "assigned_account_id": page.upstream_id,
                },
                {"platform_page_id": "222", "name": "Side Project"},
                {
                    "platform_page_id": "333",
                    "name": "Taken",
                    "assignable": False,
                    "assigned_brand_name": "Other",
                },
            ],
        }
    )
    response = callback(as_admin, status="selection_required", connection_id="pc_1", state=state)
    assert response["Location"] == reverse("reconnect_select")
    calls = len(api.calls)
    picker = as_admin.get(reverse("reconnect_select"))
    html = picker.content.decode()
    assert picker.status_code == 200 and len(api.calls) == calls  # rendered from stored data
    inputs = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<input type="checkbox"[^>]*value="(\d+)"[^>]*>', html)
    }
    assert "checked" in inputs["111"] and "checked" not in inputs["222"]  # the reconnected page
    assert "disabled" in inputs["333"]
    assert "Side Project" in html and "already in brand Other" in html

    # a page that was not offered (or is not assignable) is refused without a call
    refused = as_admin.post(
        reverse("reconnect_select"), {"page_ids": ["111", "333"], "action": "select"}
    )
    assert refused.status_code == 400 and len(api.calls) == calls

    select = api.post("/accounts/pending/pc_1/select").respond(
        201, json={"account_id": page.upstream_id, "platform": "facebook"}
    )
    api.get("/accounts").respond(json=accounts_body(account_json(page, status="active")))
    done = as_admin.post(
        reverse("reconnect_select"), {"page_ids": ["111", "222"], "action": "select"}
    )
    assert json.loads(select.calls.last.request.content) == {"page_ids": ["111", "222"]}
    assert done.status_code == 302 and done["Referrer-Policy"] == "no-referrer"
    page.refresh_from_db()
    assert page.status == AccountStatus.ACTIVE
    # the picker is single use
    assert as_admin.get(reverse("reconnect_select")).status_code == 400


def test_google_profile_selection(as_admin, api, make_account):
    place = make_account(
        AccountStatus.RECONNECT_REQUIRED, platform="google", name="Kitchen (Downtown)"
    )
    state = start(as_admin, api, place)
    api.get("/accounts/pending/pc_g").respond(
        json={
            "connection_id": "pc_g",
            "platform": "google",
            "profiles": [
                {
                    "platform_account_id": "accounts/1/locations/1",
                    "display_name": "Kitchen (Downtown)",
                },
                {
                    "platform_account_id": "accounts/1/locations/2",
                    "display_name": "Kitchen (Airport)",
                },
            ],
        }
    )
    callback(as_admin, status="selection_required", connection_id="pc_g", state=state)
    select = api.post("/accounts/pending/pc_g/select").respond(
        201, json={"account_id": place.upstream_id}
    )
    api.get("/accounts").respond(json=accounts_body(account_json(place, status="active")))
    as_admin.post(
        reverse("reconnect_select"), {"profile": "accounts/1/locations/1", "action": "select"}
    )
    assert json.loads(select.calls.last.request.content) == {
        "platform_account_id": "accounts/1/locations/1"
    }
    place.refresh_from_db()
    assert place.status == AccountStatus.ACTIVE


def test_cancelling_the_picker_changes_nothing(as_admin, api, make_account):
    page = make_account(AccountStatus.RECONNECT_REQUIRED, platform="facebook")
    state = start(as_admin, api, page)
    api.get("/accounts/pending/pc_1").respond(
        json={
            "connection_id": "pc_1",
            "platform": "facebook",
            "pages": [{"platform_page_id": "1", "name": "P"}],
        }
    )
    callback(as_admin, status="selection_required", connection_id="pc_1", state=state)
    calls = len(api.calls)
    response = as_admin.post(reverse("reconnect_select"), {"action": "cancel"})
    assert "You cancelled the page choice" in messages_of(as_admin, response["Location"])
    assert len(api.calls) == calls
    page.refresh_from_db()
    assert page.status == AccountStatus.RECONNECT_REQUIRED


# --- legacy workspaces ----------------------------------------------------------------


@pytest.fixture
def legacy(workspace):
    workspace.dialect = "legacy"
    workspace.save()
    return workspace


def test_legacy_flow_exchanges_the_code_once(as_admin, api, legacy, broken):
    upstream_state = "a" * 32
    state = start(as_admin, api, broken, legacy_state=upstream_state)
    connect_body = json.loads(api.calls[0].request.content)
    assert connect_body["metadata"]["redirect_uri"] == "http://testserver/oauth/callback/"
    assert "state" not in connect_body  # upstream issues its own
    exchange = api.post("/oauth/exchange").respond(
        201, json={"account_id": broken.upstream_id, "platform": "instagram"}
    )
    api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken))
    )
    response = callback(as_admin, code="AQcode", state=state)
    assert response.status_code == 302
    sent = json.loads(exchange.calls.last.request.content)
    assert sent == {
        "platform": "instagram",
        "code": "AQcode",
        "metadata": {"redirect_uri": "http://testserver/oauth/callback/", "state": upstream_state},
    }
    broken.refresh_from_db()
    assert broken.status == AccountStatus.ACTIVE


def test_a_failed_legacy_exchange_is_never_retried(as_admin, api, legacy, broken):
    state = start(as_admin, api, broken, legacy_state="b" * 32)
    exchange = api.post("/oauth/exchange").respond(
        500, json=error_body("system.internal", request_id="req_x")
    )
    response = callback(as_admin, code="AQcode", state=state)
    assert exchange.call_count == 1  # POST, never retried by the client
    html = messages_of(as_admin, response["Location"])
    assert "could not be completed" in html and "req_x" in html
    # reloading the callback does not try again either: the state is spent
    problem(as_admin, callback(as_admin, code="AQcode", state=state))
    assert exchange.call_count == 1
    broken.refresh_from_db()
    assert broken.status == AccountStatus.RECONNECT_REQUIRED


def test_a_legacy_denial_needs_no_exchange(as_admin, api, legacy, broken):
    state = start(as_admin, api, broken, legacy_state="c" * 32)
    exchange = api.post("/oauth/exchange")
    response = callback(as_admin, error="access_denied", error_description="denied", state=state)
    assert "was cancelled" in messages_of(as_admin, response["Location"])
    assert not exchange.called


# --- states that cannot be trusted ------------------------------------------------------


def _second_admin(workspace: Workspace) -> Client:
    other = make_user("carol")
    Membership.objects.create(user=other, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(other)
    return client


@pytest.mark.parametrize(
    "case", ["missing", "unknown", "expired", "replayed", "other_session", "other_user"]
)
def test_an_untrustworthy_state_gets_a_4xx_page_no_upstream_call_and_no_change(
    as_admin, api, broken, admin, case
):
    state = start(as_admin, api, broken)
    params = {"status": "success", "account_id": broken.upstream_id, "state": state}
    client = as_admin
    if case == "missing":
        params.pop("state")
    elif case == "unknown":
        params["state"] = "not-a-state-we-issued"
    elif case == "expired":
        ReconnectState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "replayed":
        ReconnectState.objects.update(used_at=timezone.now())
    elif case == "other_session":
        client = Client()
        client.force_login(admin)  # same person, another browser
    elif case == "other_user":
        client = _second_admin(broken.workspace)
        session = client.session
        session[SESSION_STATES] = [state]  # even holding the value does not help
        session.save()
    before = ReconnectState.objects.values().get()
    calls = len(api.calls)

    response = problem(client, callback(client, **params))

    html = response.content.decode()
    assert "Start again" in html and "Nothing" in html
    assert len(api.calls) == calls  # no upstream call
    assert ReconnectState.objects.values().get() == before  # nothing changed, not even consumed
    broken.refresh_from_db()
    assert broken.status == AccountStatus.RECONNECT_REQUIRED
    assert not AccountTransition.objects.exists()


def test_the_problem_page_offers_the_admin_a_way_back_to_the_account(as_admin, api, broken):
    state = start(as_admin, api, broken)
    ReconnectState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    html = problem(
        as_admin, callback(as_admin, status="success", state=state, account_id="x")
    ).content.decode()
    assert reverse("accounts:list", args=[broken.workspace.slug]) + f"?account={broken.pk}" in html


def test_a_state_works_once_even_when_the_callback_is_reloaded(as_admin, api, broken):
    state = start(as_admin, api, broken)
    api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken))
    )
    first = callback(as_admin, status="success", state=state, account_id=broken.upstream_id)
    second = problem(
        as_admin, callback(as_admin, status="success", state=state, account_id=broken.upstream_id)
    )
    assert first.status_code == 302 and first["Location"] != "/oauth/problem/"
    assert "already used" in second.content.decode()


def test_the_callback_never_redirects_off_site(as_admin, api, broken):
    state = start(as_admin, api, broken)
    response = callback(
        as_admin, status="error", error="access_denied", state=state, next="https://evil.example/"
    )
    assert response["Location"].startswith("/") and "evil" not in response["Location"]


def test_a_connect_answer_with_a_dangerous_auth_url_is_refused(as_admin, api, broken):
    api.post("/accounts/connect").respond(202, json={"auth_url": "javascript:alert(1)"})
    response = as_admin.post(reverse("accounts:reconnect", args=[broken.workspace.slug, broken.pk]))
    assert response.status_code == 302 and not response["Location"].startswith("javascript")
    assert not ReconnectState.objects.exists()


def test_a_demoted_admin_cannot_finish_their_reconnect(as_admin, api, broken, admin):
    state = start(as_admin, api, broken)
    Membership.objects.filter(user=admin).update(role=Membership.Role.MEMBER)
    response = problem(
        as_admin, callback(as_admin, status="success", state=state, account_id=broken.upstream_id)
    )
    assert "belongs to someone else" in response.content.decode()


@pytest.mark.parametrize("junk", ["%00", "x" * 5000, "é💥", "' OR 1=1 --"])
def test_garbage_parameters_never_cause_a_500(as_admin, api, broken, junk):
    start(as_admin, api, broken)
    response = as_admin.get(
        CALLBACK + "?" + urlencode({"state": junk, "status": junk, "code": junk})
    )
    problem(as_admin, response)


def test_selection_page_without_a_selection_is_a_4xx(as_admin):
    response = as_admin.get(reverse("reconnect_select"))
    assert response.status_code == 400 and "Start again" in response.content.decode()


def test_unconfirmed_success_page_is_plain_for_an_anonymous_visitor(client, db):
    response = problem(client, client.get(CALLBACK + "?state=abc&status=success"))
    assert "sign in" in response.content.decode()


def test_upstream_timeouts_during_selection_fetch_fail_cleanly(as_admin, api, make_account):
    page = make_account(AccountStatus.RECONNECT_REQUIRED, platform="facebook")
    state = start(as_admin, api, page)
    api.get("/accounts/pending/pc_1").mock(side_effect=httpx.ReadTimeout("slow"))
    response = callback(as_admin, status="selection_required", connection_id="pc_1", state=state)
    assert response.status_code == 302
    assert "could not be loaded" in messages_of(as_admin, response["Location"])


def test_twenty_reconnects_started_in_one_session_can_all_finish(as_admin, api, broken):
    states = [start(as_admin, api, broken) for _ in range(20)]  # e.g. one per tab
    api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken, status="active"))
    )
    response = callback(as_admin, status="success", state=states[0], account_id=broken.upstream_id)
    assert "is reconnected and active again" in messages_of(as_admin, response["Location"])


def test_a_reconnect_pushed_out_by_newer_ones_says_it_was_replaced(as_admin, api, broken):
    oldest = start(as_admin, api, broken)
    for _ in range(MAX_SESSION_STATES):
        start(as_admin, api, broken)
    calls = len(api.calls)
    page = problem(
        as_admin,
        callback(as_admin, status="success", state=oldest, account_id=broken.upstream_id),
    )
    html = page.content.decode()
    assert "This reconnect was replaced by a newer one" in html and "start again" in html
    assert "another browser" not in html
    assert len(api.calls) == calls
    broken.refresh_from_db()
    assert broken.status == AccountStatus.RECONNECT_REQUIRED


def test_an_account_whose_brand_is_unknown_is_not_reconnected_into_a_new_brand(
    as_admin, api, make_account
):
    account = make_account(AccountStatus.RECONNECT_REQUIRED, name="No brand yet", brand_id="")
    response = as_admin.post(
        reverse("accounts:reconnect", args=[account.workspace.slug, account.pk]), follow=True
    )
    html = response.content.decode()
    assert "wait for the next check so the account&#x27;s brand is known" in html.lower()
    assert not api.calls and not ReconnectState.objects.exists()
