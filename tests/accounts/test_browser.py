"""A real browser on a live server with demo data: the accounts page, a reconnect through
the sandbox's consent screen, the Facebook page picker and the bad-state page, on a
desktop and a 375 px wide screen. Screenshots land in var/screenshots/ for review."""

from __future__ import annotations

import time

import pytest

from accounts.models import AccountStatus, SocialAccount
from tests.browser import accessibility_problems, shoot, signed_in, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_accounts_page_reconnect_picker_and_bad_state_in_a_browser(
    live_server, demo, browser, admin
):
    url = live_server.url
    for width, height, suffix in ((1280, 900, "desktop"), (375, 812, "mobile")):
        context = signed_in(browser, url, admin, viewport={"width": width, "height": height})
        page = context.new_page()
        problems = watch(page, url)
        page.goto(f"{url}/w/acme/accounts/")
        rows = page.locator("tbody tr")
        assert rows.count() == 13, page.content()[:3000]
        badges = [rows.nth(i).locator(".badge").inner_text() for i in range(3)]
        assert badges == ["Reconnect required", "Reconnect required", "Credentials invalid"]
        # nothing is wider than the screen (readable at 375 px)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{suffix}: page scrolls sideways by {overflow}px"
        shoot(page, f"accounts-list-{suffix}")
        if suffix == "desktop":
            problems += accessibility_problems(page)
            page.goto(f"{url}/w/acme/accounts/webhooks/")
            problems += accessibility_problems(page)
        assert problems == [], problems
        context.close()

    context = signed_in(browser, url, admin, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page, url)
    page.goto(f"{url}/w/acme/accounts/?platform=instagram")

    # Keyboard only: focus Reconnect on the broken Instagram account, press Enter.
    broken = page.locator("tr.row-problem").first
    broken.get_by_role("button", name="Reconnect", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/sandbox/oauth/authorize/**")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{url}/w/acme/accounts/?account=*")
    assert "reconnected and active again" in page.locator("#messages").inner_text()
    assert page.locator("tbody tr .badge").first.inner_text() == "Active"

    # Facebook always asks which pages: the picker, then done.
    facebook = SocialAccount.objects.get(platform="facebook")
    page.goto(f"{url}/w/acme/accounts/{facebook.pk}/")
    page.get_by_role("button", name="Reconnect", exact=True).click()
    page.wait_for_url(f"{url}/sandbox/oauth/authorize/**")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{url}/oauth/select/")
    assert page.get_by_role("checkbox").first.is_checked()  # the page being reconnected
    problems += accessibility_problems(page)
    shoot(page, "reconnect-select-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    shoot(page, "reconnect-select-mobile")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Connect selected").click()
    page.wait_for_url(f"{url}/w/acme/accounts/?account=*")
    assert "reconnected and active again" in page.locator("#messages").inner_text()

    # Check now: htmx swaps the row in place.
    page.goto(f"{url}/w/acme/accounts/?platform=telegram")
    page.get_by_role("button", name="Check now").click()
    page.wait_for_function("!document.querySelector('tbody tr [role=status]')", timeout=15000)
    assert "Credentials invalid" in page.locator("tbody tr .badge").first.inner_text()

    # A forged or stale return: the 4xx page.
    response = page.goto(f"{url}/oauth/callback/?status=success&state=forged&account_id=acc_x")
    assert response is not None and response.status == 400
    assert "not one we started" in page.content()
    problems += accessibility_problems(page)
    shoot(page, "reconnect-problem-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    shoot(page, "reconnect-problem-mobile")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    # Detail page with history, mobile.
    page.goto(f"{url}/w/acme/accounts/{facebook.pk}/")
    shoot(page, "account-detail-mobile")
    page.set_viewport_size({"width": 1280, "height": 900})
    shoot(page, "account-detail-desktop")
    problems += accessibility_problems(page)
    page.goto(f"{url}/w/acme/accounts/{facebook.pk}/credentials/")  # an OAuth account: explained
    telegram = SocialAccount.objects.get(platform="telegram")
    page.goto(f"{url}/w/acme/accounts/{telegram.pk}/credentials/")
    problems += accessibility_problems(page)
    shoot(page, "credentials-desktop")
    time.sleep(0.1)
    # An owner without a login opens a reconnect link: a page of its own, no sidebar.
    from accounts.links import reconnect_link_create

    linkedin = SocialAccount.objects.get(platform="linkedin")
    owner_request = type("R", (), {"user": admin, "META": {}})()
    link_url = reconnect_link_create(account=linkedin, request=owner_request).url
    stranger = browser.new_context(viewport={"width": 375, "height": 812})
    owner = stranger.new_page()
    owner_problems = watch(owner, url)
    owner.goto(link_url)
    assert "Reconnect your LinkedIn account" in owner.content()
    shoot(owner, "reconnect-link-mobile")
    problems += accessibility_problems(owner)
    owner.get_by_role("button", name="Continue to LinkedIn").click()
    owner.wait_for_url(f"{url}/sandbox/oauth/authorize/**")
    owner.get_by_role("button", name="Approve").click()
    owner.wait_for_url(f"{url}/oauth/done/")
    assert "reconnected and active again" in owner.content()
    shoot(owner, "reconnect-done-mobile")
    assert owner.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    stranger.close()
    problems += owner_problems

    # The forged return answers 400 on purpose; the browser logs that as a console error.
    assert [p for p in problems if "status of 400" not in p] == [], problems
    assert SocialAccount.objects.filter(status=AccountStatus.ACTIVE, platform="facebook").exists()
    context.close()
