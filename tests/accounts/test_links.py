"""Reconnect links: created by admins, shown once, revocable, single browser, audited."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, ReconnectLink, ReconnectState, SocialAccount
from dashboard.models import AuditEvent
from tests.accounts.conftest import account_json, accounts_body, problem

pytestmark = pytest.mark.django_db

LINK = re.compile(r'id="new-link-url" type="text" value="(http://testserver/r/[^"]+)"')


@pytest.fixture
def broken(make_account):
    return make_account(AccountStatus.RECONNECT_REQUIRED, name="Demo Co", brand_id="b_demo")


def create_link(client: Client, account: SocialAccount) -> str:
    response = client.post(
        reverse("accounts:link_create", args=[account.workspace.slug, account.pk])
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    found = LINK.search(page)
    assert found, "the new link is not shown"
    return found.group(1)


def test_an_admin_creates_a_link_shown_once_and_stored_hashed(as_admin, broken, settings):
    url = create_link(as_admin, broken)
    token = url.rsplit("/r/", 1)[1].rstrip("/")
    link = ReconnectLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(list(ReconnectLink.objects.values()), default=str)
    assert link.expires_at - link.created_at == timedelta(days=settings.RECONNECT_LINK_DAYS)
    detail = reverse("accounts:detail", args=[broken.workspace.slug, broken.pk])
    again = as_admin.get(detail).content.decode()
    assert url not in again  # shown once only
    assert "Revoke" in again  # but listed, with a revoke button
    assert AuditEvent.objects.filter(action="reconnect_link.create").count() == 1


def test_members_cannot_create_or_revoke_links(as_member, as_admin, broken):
    assert (
        as_member.post(
            reverse("accounts:link_create", args=[broken.workspace.slug, broken.pk])
        ).status_code
        == 403
    )
    create_link(as_admin, broken)
    link = ReconnectLink.objects.get()
    assert (
        as_member.post(
            reverse("accounts:link_revoke", args=[broken.workspace.slug, link.pk])
        ).status_code
        == 403
    )
    assert ReconnectLink.objects.get().revoked_at is None


def test_other_workspaces_links_are_invisible(as_outsider, as_admin, broken, other_workspace):
    create_link(as_admin, broken)
    link = ReconnectLink.objects.get()
    response = as_outsider.post(
        reverse("accounts:link_revoke", args=[other_workspace.slug, link.pk])
    )
    assert response.status_code == 404


def test_no_links_for_credential_platforms(as_admin, make_account):
    bot = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram")
    response = as_admin.post(
        reverse("accounts:link_create", args=[bot.workspace.slug, bot.pk]), follow=True
    )
    assert "cannot help" in response.content.decode()
    assert not ReconnectLink.objects.exists()


def test_opening_a_link_explains_and_calls_nothing(client, as_admin, api, broken):
    url = create_link(as_admin, broken)
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Reconnect your Instagram account" in html and "Demo Co" in html and "Acme" in html
    # the token is in the URL: it may reach our own origin only, and is never cached
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"] == "no-store" and response["X-Robots-Tag"] == "noindex"
    assert not api.calls
    assert ReconnectLink.objects.get().claimed_at is None


def test_the_owner_starts_the_flow_for_that_account_only(
    client, as_admin, api, broken, make_account
):
    make_account(AccountStatus.RECONNECT_REQUIRED, name="Another one")
    url = create_link(as_admin, broken)
    route = api.post("/accounts/connect").respond(
        202, json={"auth_url": "https://platform.example/auth"}
    )
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "https://platform.example/auth"
    sent = json.loads(route.calls.last.request.content)
    assert sent["platform"] == "instagram" and sent["brand_id"] == "b_demo"
    record = ReconnectState.objects.get()
    assert (
        record.account == broken
        and record.user is None
        and record.link == ReconnectLink.objects.get()
    )
    assert (
        AuditEvent.objects.filter(
            action="reconnect_link.use", actor_label="reconnect link owner"
        ).count()
        == 1
    )

    # success from the link: the account is fixed and the link dies
    api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken))
    )
    done = client.get(
        "/oauth/callback/?"
        + f"status=success&state={sent['state']}&account_id={broken.upstream_id}"
    )
    assert done["Location"] == reverse("reconnect_done")
    broken.refresh_from_db()
    assert broken.status == AccountStatus.ACTIVE
    assert ReconnectLink.objects.get().used_at is not None
    assert client.get(url).status_code == 410


def test_a_link_works_in_the_first_browser_only(client, as_admin, api, broken):
    url = create_link(as_admin, broken)
    api.post("/accounts/connect").respond(202, json={"auth_url": "https://platform.example/auth"})
    assert client.post(url).status_code == 302
    assert (
        client.post(url).status_code == 302
    )  # the same browser may start again (e.g. after denying)
    stranger = Client()
    response = stranger.post(url)
    assert response.status_code == 403
    assert "opened in another browser" in response.content.decode()
    assert ReconnectState.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"revoked_at": timezone.now()}, 410, "withdrawn"),
        ({"used_at": timezone.now()}, 410, "already reconnected"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, 410, "expired"),
    ],
)
def test_closed_links_explain_themselves_and_call_nothing(
    client, as_admin, api, broken, change, status, words
):
    url = create_link(as_admin, broken)
    ReconnectLink.objects.update(**change)
    for response in (client.get(url), client.post(url)):
        assert response.status_code == status
        assert words in response.content.decode()
    assert not api.calls and not ReconnectState.objects.exists()


def test_an_unknown_token_is_a_404(client, db):
    response = client.get(reverse("reconnect_link", args=["made-up-token"]))
    assert response.status_code == 404 and "not valid" in response.content.decode()


def test_revoking_stops_a_flow_already_under_way(client, as_admin, api, broken):
    url = create_link(as_admin, broken)
    route = api.post("/accounts/connect").respond(
        202, json={"auth_url": "https://platform.example/auth"}
    )
    client.post(url)
    state = json.loads(route.calls.last.request.content)["state"]
    link = ReconnectLink.objects.get()
    as_admin.post(reverse("accounts:link_revoke", args=[broken.workspace.slug, link.pk]))
    calls = len(api.calls)
    response = client.get(
        f"/oauth/callback/?status=success&state={state}&account_id={broken.upstream_id}"
    )
    assert "no longer valid" in problem(client, response).content.decode()
    assert len(api.calls) == calls
    assert AuditEvent.objects.filter(action="reconnect_link.revoke").count() == 1


def start_from_link(client: Client, url: str, api) -> str:
    """Open the link and press Continue; the state value sent upstream."""
    route = api.post("/accounts/connect").respond(
        202, json={"auth_url": "https://platform.example/auth"}
    )
    assert client.post(url).status_code == 302
    return str(json.loads(route.calls.last.request.content)["state"])


def test_signing_in_as_another_account_through_a_link_spends_it_and_changes_nothing(
    client, as_admin, api, broken
):
    url = create_link(as_admin, broken)
    state = start_from_link(client, url, api)
    calls = len(api.calls)
    done = client.get(f"/oauth/callback/?status=success&state={state}&account_id=acc_intruder")
    assert done["Location"] == reverse("reconnect_done")
    page = client.get(done["Location"]).content.decode()
    assert "You signed in to Instagram as another account, not Demo Co" in page
    assert "nothing changed for Demo Co" in page and "ask the person who sent it" in page
    # nothing mirrored, nothing asked upstream: the next health sync lists what upstream has
    assert list(SocialAccount.objects.values_list("upstream_id", flat=True)) == [broken.upstream_id]
    assert len(api.calls) == calls
    broken.refresh_from_db()
    assert broken.status == AccountStatus.RECONNECT_REQUIRED
    link = ReconnectLink.objects.get()
    assert link.used_at is not None
    assert (link.used_outcome, link.used_account_id) == ("other_account", "acc_intruder")
    used = AuditEvent.objects.filter(action="reconnect_link.use").order_by("pk")
    assert [u.detail["outcome"] for u in used] == ["opened", "other_account"]
    assert used.last().detail["result_account"] == "acc_intruder"

    # the link cannot bring in another account again, and says what happened
    again = client.get(url)
    assert again.status_code == 410 and "already used" in again.content.decode()
    assert client.post(url).status_code == 410
    # the admin sees it on the account page
    detail = as_admin.get(
        reverse("accounts:detail", args=[broken.workspace.slug, broken.pk])
    ).content.decode()
    assert "signed in as a different account; nothing changed" in detail
    assert "acc_intruder" in detail


def test_a_success_that_leaves_the_account_broken_also_spends_the_link(
    client, as_admin, api, broken
):
    url = create_link(as_admin, broken)
    state = start_from_link(client, url, api)
    api.get("/accounts", params={"brand_id": "b_demo"}).respond(
        json=accounts_body(account_json(broken, status="reconnect_required"))
    )
    done = client.get(
        f"/oauth/callback/?status=success&state={state}&account_id={broken.upstream_id}"
    )
    page = client.get(done["Location"]).content.decode()
    assert "still reports that Demo Co needs reconnecting" in page
    assert "This link is now used up" in page
    assert ReconnectLink.objects.get().used_outcome == "still_broken"
    assert client.get(url).status_code == 410


def test_a_denied_sign_in_keeps_the_link_open_for_another_try(client, as_admin, api, broken):
    url = create_link(as_admin, broken)
    state = start_from_link(client, url, api)
    done = client.get(f"/oauth/callback/?status=error&error=access_denied&state={state}")
    assert "Open your reconnect link again" in client.get(done["Location"]).content.decode()
    link = ReconnectLink.objects.get()
    assert link.used_at is None and link.used_outcome == ""
    assert client.get(url).status_code == 200
    start_from_link(client, url, api)  # the same browser starts again
    assert ReconnectState.objects.count() == 2
