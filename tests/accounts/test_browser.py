"""A real browser on a live server with demo data: the accounts page, a reconnect through
the sandbox's consent screen, the Facebook page picker and the bad-state page, on a
desktop and a 375 px wide screen. Screenshots land in var/screenshots/ for review."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.health import health_sync
from accounts.models import AccountStatus, SocialAccount
from dashboard.models import Workspace
from events.recording import EventInput, error_events_record
from sandbox.models import SandboxEvent
from sandbox.seed import sandbox_demo_seed
from socialapi import classify

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium"),
]
SHOTS = Path(django_settings.VAR_DIR) / "screenshots"


def events_import(workspace: Workspace) -> None:
    """What the events sync does, enough for "last error" columns to be realistic."""
    inputs = []
    for event in SandboxEvent.objects.filter(tenant__api_key=workspace.api_key).exclude(
        account_id=""
    ):
        code = str(event.metadata.get("error_code", ""))
        found = classify(code, event.status_code, platform=event.platform)
        inputs.append(
            EventInput(
                occurred_at=event.created_at,
                source="events_sync",
                code=found.code,
                family=str(found.family),
                http_status=event.status_code,
                raw_code=code,
                message=event.error_message,
                request_id=str(event.metadata.get("request_id", "")),
                endpoint="/posts",
                platform=found.platform or event.platform,
                account_upstream_id=event.account_id,
                upstream_id=event.id,
            )
        )
    error_events_record(workspace=workspace, events=inputs)


@pytest.fixture
def demo(live_server: Any, settings: Any, workspace: Workspace, admin: Any) -> Workspace:
    settings.SITE_URL = live_server.url
    tenant = sandbox_demo_seed(
        name="Demo Co",
        webhook_url=f"{live_server.url}/webhooks/socialapi/acme",
        webhook_secret="s3cret",
    )
    workspace.api_key = tenant.api_key
    workspace.base_url = f"{live_server.url}/sandbox/v1"
    workspace.webhook_secret = "s3cret"
    workspace.save()
    # Our accounts were last checked a while ago; the imported failures are newer.
    health_sync(workspace=workspace)
    events_import(workspace)  # the events sync's first run finds a month of failures
    health_sync(workspace=workspace)  # the next sync double-checks the bot they name
    return workspace


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def watch(page: Any, origin: str) -> list[str]:
    """Collect CSP violations, console errors and any request leaving the origin."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def check(request: Any) -> None:
        if not request.url.startswith((origin, "data:")):
            problems.append(f"left the origin: {request.url}")

    page.on("request", check)
    return problems


def signed_in(browser: Any, url: str, user: Any, **options: Any) -> Any:
    """A browser context carrying a session for `user` (the login page is not under test)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}]
    )
    return context


AXE = Path(__file__).parent.parent / "e2e" / "vendor" / "axe-4.14.1.min.js"


def accessibility_problems(page: Any) -> list[str]:
    """Serious or critical axe-core violations on this page (banners belong to events/)."""
    if not AXE.exists():
        return []
    page.evaluate(AXE.read_text())  # through DevTools: the page's CSP does not apply
    found = page.evaluate(
        "async () => (await axe.run({exclude: [['#banners']]}, {resultTypes: ['violations']}))"
        ".violations"
    )
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']}: {v['nodes'][0]['target']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.screenshot(path=str(SHOTS / f"{name}-full.png"), full_page=True)


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
