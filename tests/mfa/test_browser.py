"""Two-factor sign-in in headless Chromium: turn it on from the QR code page (the code
computed here from the key the page shows, with django-otp's TOTP, as a phone would),
sign out, sign in with a code, with a recovery code once (the second use is refused),
and a workspace that requires it sending a member without it to the setup first.

Every new page is checked with axe (no serious or critical violation) and under the
CSP (no console error, nothing loaded from another origin).
"""

from __future__ import annotations

import time
from base64 import b32decode, b32encode

import pytest
from django_otp.oath import TOTP

from dashboard.models import AuditEvent, Workspace
from mfa.models import AuthenticatorDevice
from tests.browser import accessibility_problems, messages, press, shoot, signed_in, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, settings):
    settings.SITE_URL = live_server.url
    return live_server.url


def app_code(secret: str, *, steps: int = 0) -> str:
    """What an authenticator app holding `secret` shows (or will show `steps` later)."""
    totp = TOTP(b32decode(secret.replace(" ", "")), step=30, digits=6)
    totp.time = time.time() + 30 * steps
    return f"{totp.token():06d}"


def sign_in(page, site: str, username: str) -> None:
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    press(page.get_by_role("button", name="Sign in"))


def sign_out(page) -> None:
    press(page.get_by_role("button", name="Sign out"))
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"


def code_step(page, code: str) -> None:
    assert page.get_by_role("heading", level=1).inner_text() == "Two-factor sign-in"
    page.get_by_label("Code").fill(code)
    press(page.get_by_role("button", name="Sign in"))


def turn_on(page, problems: list[str], shot: str) -> tuple[str, list[str]]:
    """From the setup page: scan (read the key), confirm a code; the key and the codes."""
    assert page.get_by_role("heading", level=1).inner_text() == "Set up two-factor sign-in"
    problems += accessibility_problems(page)
    press(page.get_by_role("button", name="Show the QR code"))
    qr = page.get_by_role("img", name="QR code with the setup key for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the CSP lets it show
    problems += accessibility_problems(page)
    shoot(page, f"{shot}-setup")
    secret = page.get_by_label("Or type this setup key into the app").input_value()
    page.get_by_label("6-digit code from the app").fill(app_code(secret))
    press(page.get_by_role("button", name="Turn on two-factor sign-in"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your recovery codes"
    assert "Two-factor sign-in is on." in messages(page)
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    problems += accessibility_problems(page)
    shoot(page, f"{shot}-codes")
    return secret, codes


def test_it_turns_on_two_factor_then_signs_in_with_a_code_and_a_recovery_code_once(
    browser, site, workspace, admin
):
    page = browser.new_page()
    problems = watch(page, site)
    sign_in(page, site, "alice")
    page.wait_for_url(f"{site}/w/acme/")

    page.goto(f"{site}/w/acme/settings/")
    page.locator("#account").get_by_role("link", name="Two-factor sign-in").click()
    assert page.get_by_role("heading", level=2, name="Authenticator app").is_visible()
    assert "Off" in page.locator("main .badge").first.inner_text()
    problems += accessibility_problems(page)
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    secret, codes = turn_on(page, problems, "mfa")
    page.get_by_role("link", name="I have saved them: continue").click()
    assert "Recovery codes left" in page.get_by_role("main").inner_text()
    problems += accessibility_problems(page)
    shoot(page, "mfa-manage")

    # Now that alice uses it, she can require it in Acme.
    page.goto(f"{site}/w/acme/settings/#two-factor")
    page.get_by_label("Members must use two-factor sign-in").check()
    press(page.locator("#two-factor").get_by_role("button", name="Save"))
    assert "Two-factor sign-in is now required here" in messages(page)

    sign_out(page)
    sign_in(page, site, "alice")
    assert page.url == f"{site}/login/code/"
    problems += accessibility_problems(page)
    shoot(page, "mfa-code")
    code_step(page, app_code(secret, steps=1))  # the setup's code was this step's
    page.wait_for_url(f"{site}/w/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"

    sign_out(page)
    sign_in(page, site, "alice")
    code_step(page, codes[0])
    page.wait_for_url(f"{site}/w/acme/")
    assert "You signed in with a recovery code; it will not work again. 9 left" in messages(page)

    sign_out(page)
    sign_in(page, site, "alice")
    code_step(page, codes[0])
    assert page.url == f"{site}/login/code/"
    assert "That code is not right" in page.locator("form").inner_text()
    assert page.locator(".sidebar-foot").count() == 0  # nobody signed in
    assert problems == []


def test_a_workspace_that_requires_it_sends_a_member_without_it_to_the_setup(
    browser, site, workspace, member
):
    Workspace.objects.filter(pk=workspace.pk).update(mfa_required=True)
    page = browser.new_page()
    problems = watch(page, site)
    sign_in(page, site, "bob")
    page.wait_for_url(f"{site}/account/two-factor/setup/?next=%2Fw%2Facme%2F")
    assert "Acme requires two-factor sign-in" in page.get_by_role("main").inner_text()
    turn_on(page, problems, "mfa-required")
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_url(f"{site}/w/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"
    assert problems == []


def test_a_passkey_added_on_the_page_then_stands_in_for_the_code(browser, site, workspace, admin):
    """Chromium's virtual authenticator plays the security key (fingerprint accepted)."""
    from tests.mfa.conftest import authenticator_give

    authenticator_give(admin)
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    problems = watch(page, site)
    sign_in(page, site, "alice")
    device = AuthenticatorDevice.objects.get(user=admin)
    code_step(page, app_code(b32encode(device.seed).decode()))
    page.wait_for_url(f"{site}/w/acme/")

    page.goto(f"{site}/account/two-factor/")
    with page.expect_navigation():  # the page reloads once the passkey is stored
        page.get_by_role("button", name="Add a passkey").click()
    passkeys = page.locator("#passkeys li")
    assert passkeys.count() == 1 and "Passkey · added" in passkeys.inner_text()
    problems += accessibility_problems(page)
    assert AuditEvent.objects.filter(action="mfa.passkey_add", workspace=workspace).exists()

    sign_out(page)
    sign_in(page, site, "alice")
    assert page.get_by_role("heading", level=1).inner_text() == "Two-factor sign-in"
    problems += accessibility_problems(page)
    page.get_by_role("button", name="Use a passkey instead").click()
    page.wait_for_url(f"{site}/w/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"
    context.close()
    assert problems == []


def test_the_two_factor_pages_fit_a_phone_screen(browser, site, workspace, admin, member):
    from tests.mfa.conftest import authenticator_give

    authenticator_give(admin)
    context = signed_in(browser, site, member, viewport={"width": 375, "height": 800})
    page = context.new_page()
    problems = watch(page, site)
    pages = []
    page.goto(f"{site}/account/two-factor/setup/")
    press(page.get_by_role("button", name="Show the QR code"))
    pages.append(page.url)
    overflow = [page.evaluate("document.documentElement.scrollWidth - window.innerWidth")]
    page.goto(f"{site}/account/two-factor/")
    pages.append(page.url)
    overflow.append(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    context.close()

    phone = browser.new_page(viewport={"width": 375, "height": 800})
    problems += watch(phone, site)
    sign_in(phone, site, "alice")
    pages.append(phone.url)
    overflow.append(phone.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    assert pages[-1] == f"{site}/login/code/"
    assert all(extra <= 1 for extra in overflow), dict(zip(pages, overflow, strict=True))
    assert problems == []
