"""Headless Chromium through every page of the embedded default, as the demo admin.

Checks what only a browser can: the CSP lets the pages work (no console errors), no
request leaves the origin, CSS + JS stay under 60 KB compressed, no serious or critical
axe-core violations, and nothing overflows a 375 px wide screen. Screenshots land in
var/screenshots/ for people to look at.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"
PAGES = {
    "overview": "/w/demo/",
    "accounts": "/w/demo/accounts/",
    "storage": "/w/demo/storage/",
    "errors": "/w/demo/errors/",
    "settings": "/w/demo/settings/",
    "audit": "/w/demo/audit/",
}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.mark.parametrize("width", [1280, 375])
def test_every_page_works_in_a_browser(browser, dashboard_url, width):
    origin = urlsplit(dashboard_url).netloc
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "request",
        lambda req: (
            urlsplit(req.url).netloc not in (origin, "")
            and not req.url.startswith("data:")
            and problems.append(f"left the origin: {req.url}")
        ),
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, dashboard_url, "admin")
    for name, path in PAGES.items():
        weights: dict[str, int] = {}

        def weigh(response, weights=weights):
            if (
                response.request.resource_type in ("stylesheet", "script")
                and response.status == 200
            ):
                weights[response.url] = len(gzip.compress(response.body()))

        page.on("response", weigh)
        response = page.goto(f"{dashboard_url}{path}")
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", weigh)
        assert response is not None and response.status == 200, (
            f"{path}: {response and response.status}"
        )
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        assert sum(weights.values()) <= 60 * 1024, (
            f"{path}: CSS+JS {sum(weights.values())} bytes compressed"
        )
        if width == 375:
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} overflows a 375 px screen by {overflow}px"
        else:
            # Evaluated through the DevTools protocol, so the page's CSP does not block it.
            page.evaluate(AXE.read_text())
            result = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            serious = [
                f"{v['id']} ({v['impact']}): {v['help']}: {v['nodes'][0]['target']}"
                for v in result
                if v["impact"] in ("serious", "critical")
            ]
            assert not serious, f"{path} accessibility: {serious}"
    context.close()
    assert not problems, "\n".join(problems)


def test_the_skip_link_and_navigation_work_from_the_keyboard(browser, dashboard_url):
    page = browser.new_page()
    sign_in(page, dashboard_url, "admin")
    page.goto(f"{dashboard_url}/w/demo/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/w/demo/accounts/")
    page.close()
