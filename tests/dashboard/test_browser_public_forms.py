"""Every dashboard form a person reaches before belonging to a workspace, submitted in
headless Chromium: sign in, password reset (request and new password), and the invitation
(a new person, a signed-in person, someone who signs in or out on the way).

The Django test client sends no `Origin` header; Chromium does, and sends `Origin: null`
from a page whose Referrer-Policy is `no-referrer`, which CSRF protection refuses. So each
test also checks the Origin the browser really sent.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command

from dashboard.models import Membership, Workspace
from tests.browser import messages, press, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSPHRASE = "a-long-Passphrase-42"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Sign-in lock-outs and reset-email limits are counted in the cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site(live_server, settings):
    """The live server's base URL, also the one printed and emailed links start with."""
    settings.SITE_URL = live_server.url
    return live_server.url


def workspace_create(name: str, email: str) -> str:
    """`manage.py workspace_create`; the invitation link it prints (its last line)."""
    out = StringIO()
    call_command("workspace_create", name, "--admin-email", email, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def sign_in(page, username: str, password: str) -> dict[str, str]:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    return press(page.get_by_role("button", name="Sign in"))


def test_it_signs_in_from_the_login_page_and_explains_a_wrong_password(
    browser, site, workspace, admin
):
    page = browser.new_page()
    problems = watch(page, site)
    page.goto(f"{site}/login/")
    sent = sign_in(page, "alice", "not-her-password")
    assert sent["origin"] == site
    assert "Please enter a correct username and password" in page.locator("form").inner_text()

    sent = sign_in(page, "alice", "alice")
    assert sent["origin"] == site
    page.wait_for_url(f"{site}/w/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"
    assert "alice" in page.locator(".sidebar-foot").inner_text()
    assert problems == []


def test_it_resets_a_forgotten_password_through_the_emailed_link(browser, site, admin):
    page = browser.new_page()
    problems = watch(page, site)
    page.goto(f"{site}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("alice@example.com")
    sent = press(page.get_by_role("button", name="Send the link"))
    assert sent["origin"] == site
    assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    link = re.search(r"(http://\S+/password-reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    assert link.group(1).startswith(f"{site}/password-reset/")  # built from SITE_URL
    page.goto(link.group(1))
    assert page.get_by_role("heading", level=1).inner_text() == "Choose a new password"
    assert "set-password" in page.url  # the token left the address bar
    page.get_by_label("New password", exact=True).fill(PASSPHRASE)
    page.get_by_label("New password confirmation").fill(PASSPHRASE)
    sent = press(page.get_by_role("button", name="Save the new password"))
    assert sent["origin"] == site
    assert page.get_by_role("heading", level=1).inner_text() == "Your password is changed"

    page.get_by_role("link", name="Sign in").click()
    sign_in(page, "alice", "alice")  # the old password is gone
    assert "Please enter a correct username and password" in page.locator("form").inner_text()
    sign_in(page, "alice", PASSPHRASE)
    page.wait_for_url(f"{site}/w/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"
    assert problems == []


def test_the_first_admin_of_a_new_workspace_joins_through_the_printed_link(browser, site):
    link = workspace_create("Fresh Co", "first@fresh.test")
    assert link.startswith(f"{site}/invitations/inv_")
    page = browser.new_page()
    problems = watch(page, site)
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Join Fresh Co"

    # A typo first: the page explains and keeps working.
    page.get_by_label("Username").fill("fiona")
    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Password confirmation").fill(PASSPHRASE + "x")
    sent = press(page.get_by_role("button", name="Create account and join"))
    assert sent["origin"] == site
    assert "password fields didn" in page.locator("form").inner_text()
    assert not User.objects.filter(username="fiona").exists()

    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Password confirmation").fill(PASSPHRASE)
    sent = press(page.get_by_role("button", name="Create account and join"))
    assert sent["origin"] == site
    page.wait_for_url(f"{site}/w/fresh-co/")
    assert "Your account is ready. Welcome to Fresh Co." in messages(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Fresh Co"

    # The new person is the workspace's admin, on its members list.
    page.goto(f"{site}/w/fresh-co/settings/")
    row = page.locator("#members tbody tr").filter(has_text="fiona")
    assert row.count() == 1
    assert "first@fresh.test" in row.inner_text() and "Admin" in row.inner_text()
    workspace = Workspace.objects.get(slug="fresh-co")
    assert Membership.objects.get(workspace=workspace).user.username == "fiona"
    # The typo is answered 400 on purpose; the browser logs that as a console error.
    assert [p for p in problems if "status of 400" not in p] == [], problems


def test_a_signed_in_person_joins_with_one_press(browser, site, workspace, admin):
    link = workspace_create("Fresh Co", "alice@example.com")
    page = browser.new_page()
    problems = watch(page, site)
    page.goto(f"{site}/login/")
    sign_in(page, "alice", "alice")
    page.wait_for_url(f"{site}/w/acme/")

    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Join Fresh Co"
    sent = press(page.get_by_role("button", name="Join as alice"))
    assert sent["origin"] == site
    page.wait_for_url(f"{site}/w/fresh-co/")
    assert "Welcome to Fresh Co." in messages(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Fresh Co"
    # Still in Acme too: the workspace switcher offers both.
    page.locator(".switcher summary").click()
    assert page.locator(".switcher ul").inner_text().split("\n") == ["Acme", "Fresh Co"]
    assert problems == []


def test_someone_with_an_account_signs_in_from_the_invitation_then_joins(
    browser, site, other_workspace, outsider
):
    link = workspace_create("Fresh Co", "mallory@example.com")
    page = browser.new_page()
    problems = watch(page, site)
    page.goto(link)
    page.get_by_role("link", name="I have an account: sign in").click()
    sent = sign_in(page, "mallory", "mallory")
    assert sent["origin"] == site
    page.wait_for_url(link)  # back to the invitation
    press(page.get_by_role("button", name="Join as mallory"))
    page.wait_for_url(f"{site}/w/fresh-co/")
    assert "Welcome to Fresh Co." in messages(page)
    assert problems == []


def test_someone_signed_in_as_another_person_signs_out_and_creates_their_own_account(
    browser, site, other_workspace, outsider
):
    link = workspace_create("Fresh Co", "fiona@fresh.test")
    page = browser.new_page()
    problems = watch(page, site)
    page.goto(f"{site}/login/")
    sign_in(page, "mallory", "mallory")
    page.wait_for_url(f"{site}/w/globex/")

    page.goto(link)
    assert "You are signed in as mallory" in page.get_by_role("main").inner_text()
    sent = press(page.get_by_role("button", name="Sign out"))
    assert sent["origin"] == site
    page.wait_for_url(f"{site}/login/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"

    page.goto(link)
    page.get_by_label("Username").fill("fiona")
    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Password confirmation").fill(PASSPHRASE)
    press(page.get_by_role("button", name="Create account and join"))
    page.wait_for_url(f"{site}/w/fresh-co/")
    assert "Welcome to Fresh Co." in messages(page)
    assert "fiona" in page.locator(".sidebar-foot").inner_text()
    assert problems == []
