"""Headless Chromium on a live server: an admin adds a Slack channel on Settings, sends a
test alert to a local receiver, sees it delivered in the send record, and removes it; a
private address is refused on screen. No serious or critical axe-core violation, on a
desktop and a 375 px wide screen."""

from __future__ import annotations

import pytest

from alert_channels.models import AlertChannel
from tests.browser import accessibility_problems, messages, press, shoot, signed_in, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_tests_and_removes_a_channel_in_a_browser(
    live_server, browser, workspace, admin, receiver, settings
):
    site = live_server.url
    settings.SITE_URL = site
    context = signed_in(browser, site, admin, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page, site)
    page.goto(f"{site}/w/acme/settings/#channels")
    section = page.locator("#channels")
    assert "No channels yet" in section.inner_text()
    problems += accessibility_problems(page)

    # A private address: refused with words, nothing stored.
    section.get_by_label("Name").fill("#ops-alerts")
    section.get_by_label("Webhook URL").fill("https://10.0.0.5/hooks/x")
    sent = press(section.get_by_role("button", name="Add channel"))
    assert sent["origin"] == site
    section = page.locator("#channels")
    assert "This address is on a private network." in section.inner_text()
    assert not AlertChannel.objects.exists()
    problems += accessibility_problems(page)  # the form with its error
    # The refused form is answered 400, which Chromium reports on the console: expected.
    problems[:] = [p for p in problems if "status of 400" not in p]

    section.get_by_label("Slack").check()
    section.get_by_label("Name").fill("#ops-alerts")
    section.get_by_label("Webhook URL").fill(receiver.url("/services/T1/B2/secret-part"))
    press(section.get_by_role("button", name="Add channel"))
    assert "Alert channel #ops-alerts added." in messages(page)
    row = page.locator("#channels tbody tr").first
    assert "#ops-alerts" in row.inner_text()
    assert "secret-part" not in page.content()

    press(page.get_by_role("button", name="Send a test alert to #ops-alerts"))
    assert "Test alert delivered to #ops-alerts (HTTP 200 OK)." in messages(page)
    record = page.locator("#channels table").nth(1).locator("tbody tr").first
    assert "Test alert from the SocialAPI Dashboard" in record.inner_text()
    assert record.locator(".badge-ok").inner_text() == "Delivered"
    [hit] = receiver.received
    assert hit.path == "/services/T1/B2/secret-part"
    assert hit.json["blocks"][2]["elements"][0]["url"] == f"{site}/w/acme/settings/#channels"
    problems += accessibility_problems(page)
    shoot(page, "settings-channels-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    page.locator("#channels").scroll_into_view_if_needed()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the settings page scrolls sideways by {overflow}px at 375 px"
    problems += accessibility_problems(page)
    shoot(page, "settings-channels-mobile")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.once("dialog", lambda dialog: dialog.accept())  # "Remove #ops-alerts?"
    press(page.get_by_role("button", name="Remove #ops-alerts"))
    assert "Alert channel #ops-alerts removed; its URL is forgotten." in messages(page)
    assert "No channels yet" in page.locator("#channels").inner_text()
    assert not AlertChannel.objects.exists()
    assert problems == [], problems
    context.close()


def test_the_sandbox_alert_inbox_reads_well_in_a_browser(live_server, browser, support):
    from sandbox.models import SandboxInboxMessage
    from tests.browser import AXE

    SandboxInboxMessage.objects.create(
        kind="slack",
        title="Storage is 90 % full",
        text="Storage of Demo Co is 90 % full.",
        link=f"{live_server.url}/w/demo/storage/",
        body="{}",
    )
    SandboxInboxMessage.objects.create(
        kind="webhook", title="Test alert", signed=True, answered=503, body="{}"
    )
    context = signed_in(browser, live_server.url, support)
    page = context.new_page()
    problems = watch(page, live_server.url)
    page.goto(f"{live_server.url}/sandbox/control/#sandbox-inbox")
    inbox = page.locator("#sandbox-inbox")
    assert "Storage is 90 % full" in inbox.inner_text()
    assert inbox.locator(".badge-danger").inner_text() == "503"
    if AXE.exists():
        page.evaluate(AXE.read_text())
        found = page.evaluate(
            "async () => (await axe.run('#sandbox-inbox', {resultTypes: ['violations']}))"
            ".violations"
        )
        problems += [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in found
            if v["impact"] in ("serious", "critical")
        ]
    assert problems == [], problems
    context.close()
