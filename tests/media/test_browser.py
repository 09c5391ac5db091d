"""The storage pages in headless Chromium: no CSP violations, keyboard selection, htmx sort."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from media import tasks
from media.library import media_library_summarise
from tests.media.conftest import MB

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs /usr/bin/chromium"),
]


@pytest.fixture
def browser_page(live_server, as_admin, monkeypatch):
    """A signed-in admin's Chromium tab; every console error or CSP violation is kept."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM next to Playwright's loop
    host = urlsplit(live_server.url).hostname
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        context = browser.new_context(viewport={"width": 375, "height": 800})
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": as_admin.cookies[settings.SESSION_COOKIE_NAME].value,
                    "domain": host,
                    "path": "/",
                }
            ]
        )
        page = context.new_page()
        page.problems = []
        page.on("console", lambda msg: msg.type == "error" and page.problems.append(msg.text))
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        yield page
        browser.close()


def test_the_library_works_by_keyboard_and_breaks_no_csp_rule(
    browser_page, live_server, workspace, make_media, make_snapshot, monkeypatch
):
    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", lambda job_id: None)
    make_media(60, size=MB, content_type="image/png")
    make_snapshot(85 * MB)
    media_library_summarise(workspace=workspace)
    page = browser_page

    page.goto(live_server.url + reverse("media:storage", args=[workspace.slug]))
    assert page.locator("svg.gauge.level-warn").count() == 1
    page.goto(live_server.url + reverse("media:library", args=[workspace.slug]))

    # "Select page" by keyboard: app.js ticks every row of this page.
    page.focus("#select-page")
    page.keyboard.press("Space")
    assert page.locator("input[name=media_ids]:checked").count() == 50
    # Sorting through htmx swaps only the results and keeps the address shareable.
    page.click("#sort-name")
    page.wait_for_url("**sort=name**")
    assert page.locator("input[name=media_ids]:checked").count() == 0
    assert page.locator("th[aria-sort=ascending]").inner_text().upper().startswith("FILE")

    page.focus("#select-page")
    page.keyboard.press("Space")
    page.locator("button[name=scope][value=ids]").press("Enter")
    page.wait_for_url("**/storage/delete/")
    assert page.locator("h1").inner_text() == "Delete 50 files?"
    page.locator("button[name=confirm][value=all]").press("Enter")
    page.wait_for_url("**/storage/deletions/*/")
    assert "Deleting 50 files" in page.locator("#messages").inner_text()

    assert page.problems == []


AXE = settings.BASE_DIR / "tests" / "e2e" / "vendor" / "axe-4.14.1.min.js"


def axe_serious(page):
    page.evaluate(AXE.read_text())
    # The whole page but the banners: those belong to events/ and have their own checks.
    violations = page.evaluate(
        "async () => (await axe.run({exclude: [['#banners']]}, "
        "{resultTypes: ['violations']})).violations"
    )

    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.skipif(not AXE.exists(), reason="needs the vendored axe-core")
@pytest.mark.parametrize("width", [1280, 375])
def test_every_storage_screen_passes_axe_and_fits_375_px(
    browser_page, live_server, workspace, make_media, make_snapshot, monkeypatch, width
):
    from django.utils import timezone

    from media.bulk_deletion import bulk_deletion_create
    from media.filters import MediaFilter, Selection
    from media.models import BulkDeletion, BulkDeletionItem

    monkeypatch.setattr(tasks.bulk_deletion_run, "delay", lambda job_id: None)
    make_media(30, size=3 * MB, content_type="video/mp4", in_use=True)
    make_media(40, size=MB, content_type="image/jpeg")
    make_snapshot(96 * MB)
    media_library_summarise(workspace=workspace)
    done = bulk_deletion_create(
        workspace=workspace, selection=Selection(filter=MediaFilter(type="video"))
    )
    BulkDeletionItem.objects.filter(job=done).update(
        state="skipped",
        family="conflict",
        code="media.in_use",
        reason="In use.",
        request_id="r",
        finished_at=timezone.now(),
    )
    BulkDeletion.objects.filter(pk=done.pk).update(
        status="finished", skipped_count=30, started_at=timezone.now(), finished_at=timezone.now()
    )
    running = bulk_deletion_create(
        workspace=workspace, selection=Selection(filter=MediaFilter(type="image"))
    )
    BulkDeletion.objects.filter(pk=running.pk).update(
        status="running", deleted_count=5, started_at=timezone.now()
    )
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    slug = workspace.slug
    screens = [
        reverse("media:storage", args=[slug]),
        reverse("media:library", args=[slug]) + "?usage=unused",
        reverse("media:jobs", args=[slug]),
        reverse("media:job", args=[slug, done.pk]),
        reverse("media:job", args=[slug, running.pk]),
        "confirm",
    ]
    failures = []
    for screen in screens:
        if screen == "confirm":
            page.goto(live_server.url + reverse("media:library", args=[slug]))
            page.click("button[name=scope][value=all]")
            page.wait_for_url("**/storage/delete/")
        else:
            page.goto(live_server.url + screen)
        if width == 375:
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 1:
                failures.append(f"{screen} overflows 375 px by {overflow}px")
        else:
            failures += [f"{screen}: {problem}" for problem in axe_serious(page)]
    assert not failures, "\n".join(failures)
    assert page.problems == []


@pytest.mark.skipif(not AXE.exists(), reason="needs the vendored axe-core")
@pytest.mark.parametrize("width", [1280, 375])
def test_the_forecast_reads_on_screen_passes_axe_and_fits_375_px(
    browser_page, live_server, workspace, width
):
    from tests.media.conftest import storage_history

    storage_history(workspace, [40, 45, 50, 55, 60, 65, 70, 75])  # full in about 5 days
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + reverse("overview", args=[workspace.slug]))
    banner = page.locator("#banners").inner_text()
    assert "Storage full in about 5 days at this rate" in banner
    card = page.locator("#storage-card").inner_text()
    assert "Full in about 5 days at this rate (5 MB a day)." in card
    page.locator("#storage-card a", has_text="Growth and forecast").click()
    page.wait_for_url("**/storage/#forecast-h")
    facts = page.locator(".forecast-facts")
    assert facts.is_visible()
    text = " ".join(facts.inner_text().split())
    assert "Last 7 days grew 35 MB, 5 MB a day" in text
    assert "Full in about 5 days at the last 7 days' rate" in text
    failures = []
    for url in (page.url, live_server.url + reverse("overview", args=[workspace.slug])):
        page.goto(url)
        if width == 375:
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 1:
                failures.append(f"{url} overflows 375 px by {overflow}px")
        else:
            failures += [f"{url}: {problem}" for problem in axe_serious(page)]
    assert not failures, "\n".join(failures)
    assert page.problems == []
