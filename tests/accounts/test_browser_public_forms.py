"""The forms an account owner without a dashboard login submits, in headless Chromium:
the reconnect link page, the sandbox's consent screen, the Facebook page picker and the
Google profile picker after the OAuth return, each ending on the page that says how it went.

Each POST is checked for the `Origin` Chromium really sent: CSRF protection refuses
`Origin: null`, which is what a page with `Referrer-Policy: no-referrer` makes it send.
"""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory

from accounts.links import reconnect_link_create
from accounts.models import AccountStatus, ReconnectLink, SocialAccount
from sandbox.models import SandboxAccount
from tests.browser import messages, press, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def broken(platform: str) -> SocialAccount:
    """The demo's account on `platform`, needing a reconnect here and upstream."""
    account = SocialAccount.objects.get(platform=platform)
    SandboxAccount.objects.filter(pk=account.upstream_id).update(
        status=SandboxAccount.Status.RECONNECT_REQUIRED, reconnect_reason="Expired"
    )
    SocialAccount.objects.filter(pk=account.pk).update(status=AccountStatus.RECONNECT_REQUIRED)
    return account


def link_for(account: SocialAccount, admin) -> str:
    """A reconnect link an admin made for the account's owner (the URL shown once)."""
    request = RequestFactory().post("/")
    request.user = admin
    return reconnect_link_create(account=account, request=request).url


def to_consent(page, site: str, link: str) -> None:
    """Open the link as its owner and press Continue: the platform's consent screen."""
    page.goto(link)
    sent = press(page.get_by_role("button", name=re.compile(r"^Continue to ")))
    assert sent["origin"] == site
    page.wait_for_url(f"{site}/sandbox/oauth/authorize/**")


def approve(page, site: str, *, as_someone_else: bool = False) -> None:
    if as_someone_else:
        page.get_by_role("radio", name=re.compile("A different account")).check()
    assert press(page.get_by_role("button", name="Approve"))["origin"] == site


@pytest.fixture
def owner(browser, demo, live_server):
    """A stranger's browser tab (no dashboard session); console errors are collected."""
    context = browser.new_context()
    page = context.new_page()
    page.problems = watch(page, live_server.url)
    yield page
    context.close()


def test_a_link_owner_picks_the_facebook_page_and_the_account_is_fixed(owner, live_server, admin):
    site = live_server.url
    facebook = broken("facebook")
    to_consent(owner, site, link_for(facebook, admin))
    approve(owner, site)
    owner.wait_for_url(f"{site}/oauth/select/")
    assert "Choose the Facebook pages to connect" in owner.get_by_role("heading").inner_text()

    # Nothing ticked: the picker explains and stays usable.
    owner.get_by_role("checkbox").first.uncheck()
    sent = press(owner.get_by_role("button", name="Connect selected"))
    assert sent["origin"] == site
    assert owner.get_by_role("alert").inner_text() == "Choose at least one of the pages listed."

    owner.get_by_role("checkbox").first.check()
    sent = press(owner.get_by_role("button", name="Connect selected"))
    assert sent["origin"] == site
    owner.wait_for_url(f"{site}/oauth/done/")
    # Named as the admin knew it (awkward characters and all), before the re-check renamed it.
    assert f"{facebook.label} (Facebook) is reconnected and active again." in messages(owner)
    facebook.refresh_from_db()
    assert facebook.status == AccountStatus.ACTIVE
    assert ReconnectLink.objects.get(account=facebook).used_at is not None
    assert [p for p in owner.problems if "status of 400" not in p] == [], owner.problems


def test_a_link_owner_who_cancels_the_page_choice_is_told_nothing_changed(
    owner, live_server, admin
):
    site = live_server.url
    facebook = broken("facebook")
    to_consent(owner, site, link_for(facebook, admin))
    approve(owner, site)
    owner.wait_for_url(f"{site}/oauth/select/")
    sent = press(owner.get_by_role("button", name="Cancel"))
    assert sent["origin"] == site
    owner.wait_for_url(f"{site}/oauth/done/")
    assert "You cancelled the page choice, so nothing changed" in messages(owner)
    facebook.refresh_from_db()
    assert facebook.status == AccountStatus.RECONNECT_REQUIRED
    assert owner.problems == []


def test_a_link_owner_picks_a_google_profile_of_another_login_and_is_told_so(
    owner, live_server, admin
):
    site = live_server.url
    google = broken("google")
    to_consent(owner, site, link_for(google, admin))
    approve(owner, site, as_someone_else=True)
    owner.wait_for_url(f"{site}/oauth/select/")
    assert "Choose the business profile to connect" in owner.get_by_role("heading").inner_text()

    sent = press(owner.get_by_role("button", name="Connect selected"))  # none chosen
    assert sent["origin"] == site
    assert owner.get_by_role("alert").inner_text() == "Choose one of the profiles listed."

    owner.get_by_role("radio").nth(1).check()
    press(owner.get_by_role("button", name="Connect selected"))
    owner.wait_for_url(f"{site}/oauth/done/")
    said = messages(owner)
    assert "You signed in to Google Business Profile as another account" in said
    assert "This link is now used up" in said
    google.refresh_from_db()
    assert google.status == AccountStatus.RECONNECT_REQUIRED
    assert [p for p in owner.problems if "status of 400" not in p] == [], owner.problems


def test_a_link_owner_who_denies_access_is_told_and_can_use_the_link_again(
    owner, live_server, admin
):
    site = live_server.url
    instagram = SocialAccount.objects.get(platform="instagram", status="reconnect_required")
    link = link_for(instagram, admin)
    to_consent(owner, site, link)
    assert press(owner.get_by_role("button", name="Deny"))["origin"] == site
    owner.wait_for_url(f"{site}/oauth/done/")  # the return said error=access_denied
    assert "Sign-in to Instagram was cancelled, so nothing changed" in messages(owner)
    instagram.refresh_from_db()
    assert instagram.status == AccountStatus.RECONNECT_REQUIRED

    to_consent(owner, site, link)
    approve(owner, site)
    owner.wait_for_url(f"{site}/oauth/done/")
    assert f"{instagram.label} (Instagram) is reconnected and active again." in messages(owner)
    instagram.refresh_from_db()
    assert instagram.status == AccountStatus.ACTIVE
    assert owner.problems == []
