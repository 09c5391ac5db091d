"""Headless Chromium for the browser tests against pytest-django's `live_server`.

Loaded for every test by `pytest_plugins` in tests/conftest.py: the `browser` fixture
(skips with a message when Debian's Chromium is not installed) and helpers to sign a
context in, watch a page for CSP or console errors, press a submit button (returning the
headers its POST carried), run axe-core and take screenshots. Mark the tests
`pytest.mark.browser` and `pytest.mark.django_db(transaction=True)` (the live server
thread only sees committed data).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
AXE = Path(__file__).parent / "e2e" / "vendor" / "axe-4.14.1.min.js"
SHOTS = Path(django_settings.VAR_DIR) / "screenshots"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
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


def press(button: Any) -> dict[str, str]:
    """Press a form's submit button and wait for the answer; the headers the browser sent
    with the POST (its `Origin` is what CSRF protection checks first)."""
    page = button.page
    with page.expect_request(lambda r: r.method == "POST" and r.is_navigation_request()) as sent:
        button.click()
    page.wait_for_load_state()
    return dict(sent.value.all_headers())


def messages(page: Any) -> str:
    """The flashed messages at the top of the page (what the last action did)."""
    return str(page.locator("#messages").inner_text())


def signed_in(browser: Any, url: str, user: Any, **options: Any) -> Any:
    """A browser context carrying a session for `user` (when the login page is not under test)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}]
    )
    return context


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
