"""In Chromium, against the demo sandbox on a live server: an admin reconnects the broken
Instagram account, sees "3 posts failed while this account was broken", presses Retry
them, confirms what the credits allow, and watches the job finish with a result per post.
Every new screen passes axe-core (no serious or critical violation) and fits 375 px."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from accounts.health import health_sync
from accounts.models import SocialAccount
from dashboard.usage import usage_sync
from events.sync import events_sync
from posts import tasks
from posts.describe import failed_posts_describe
from posts.models import FailedPost, PostRetryItem
from posts.retry_runner import post_retry_job_run
from sandbox.models import SandboxPost
from sandbox.seed import sandbox_demo_seed
from sandbox.services import faults_set
from tests.browser import accessibility_problems, messages, press, shoot, signed_in, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server: Any, settings: Any, workspace: Any, admin: Any) -> Any:
    """Acme on the demo sandbox, after its first syncs (as `manage.py demo_load` runs them)."""
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
    health_sync(workspace=workspace)
    assert events_sync(workspace=workspace).complete
    failed_posts_describe(workspace=workspace)
    usage_sync(workspace=workspace)
    # Retries a little slow, so the job's progress can be watched.
    faults_set(tenant=tenant, latency_ms=700, scope="POST /posts")
    return tenant


@pytest.fixture
def background_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job runs in a thread of its own, as a worker would, a moment after the click."""

    def run(job_id: int) -> None:
        try:
            post_retry_job_run(job_id=job_id)
        finally:
            connections.close_all()

    monkeypatch.setattr(
        tasks.post_retry_run, "delay", lambda job_id: threading.Timer(0.5, run, (job_id,)).start()
    )


def test_reconnect_then_retry_the_posts_a_broken_account_cost(
    live_server, demo, browser, admin, background_runner
):
    url = live_server.url
    instagram = SocialAccount.objects.get(platform="instagram", status="reconnect_required")
    assert FailedPost.objects.filter(account=instagram, state="open").count() == 3
    context = signed_in(browser, url, admin, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page, url)

    # The first look: the broken account already says what it cost.
    page.goto(f"{url}/w/acme/accounts/{instagram.pk}/")
    section = page.locator(f"#failed-posts-{instagram.pk}")
    assert "3 posts failed while this account was broken" in section.inner_text()
    assert "Fix the account first (reconnect it)" in section.inner_text()
    assert "Our autumn menu is here" in section.inner_text()  # read back from SocialAPI
    assert section.get_by_role("link", name="Retry them").count() == 0
    problems += accessibility_problems(page)
    shoot(page, "failed-posts-broken-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shoot(page, "failed-posts-broken-mobile")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Reconnect in the browser, through the sandbox's consent screen.
    page.get_by_role("button", name="Reconnect", exact=True).click()
    page.wait_for_url(f"{url}/sandbox/oauth/authorize/**")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{url}/w/acme/accounts/?account=*")
    assert "3 posts failed while this account was broken" in messages(page)
    landing = page.locator(f"#failed-posts-{instagram.pk}")
    assert "3 posts failed while this account was broken" in landing.inner_text()
    problems += accessibility_problems(page)
    shoot(page, "failed-posts-reconnected-desktop")

    # Retry them: the confirmation says what it uses and stops at the limit (8 of 10 used).
    landing.get_by_role("link", name="Retry them").click()
    page.wait_for_url(f"{url}/w/acme/posts/accounts/{instagram.pk}/retry/")
    assert page.locator("h1").inner_text() == "Retry 2 failed posts?"
    body = page.locator("main").inner_text()
    assert "2 of 10 are left this month; this retry uses 2, leaving 0." in body
    assert "Only 2 credits left: 1 post waits." in body
    assert "due at a time that has passed" in body
    problems += accessibility_problems(page)
    shoot(page, "failed-posts-confirm-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shoot(page, "failed-posts-confirm-mobile")
    page.set_viewport_size({"width": 1280, "height": 900})

    headers = press(page.get_by_role("button", name="Yes, retry 2 posts (2 credits)"))
    assert headers.get("origin") == url
    page.wait_for_url(f"{url}/w/acme/posts/retries/*/")
    assert "Retrying 2 posts of Demo Co ☕ Café" in messages(page)

    # The progress refreshes in place until the job is finished, with each post's result.
    progress = page.locator("[id^=retry-][id$=-progress]")
    progress.get_by_text("Finished", exact=True).wait_for(timeout=30_000)
    rows = progress.locator("tbody tr")
    assert rows.count() == 2
    for index in range(2):
        assert "Published" in rows.nth(index).inner_text()
    assert "2 of 2 posts done" in progress.inner_text()
    assert "not at its original time" in progress.inner_text()
    problems += accessibility_problems(page)
    shoot(page, "failed-posts-job-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    shoot(page, "failed-posts-job-mobile")

    # Upstream retried each once; the third post waits for the next period.
    assert SandboxPost.objects.filter(tenant=demo, retry_count=1).count() == 2
    assert list(PostRetryItem.objects.values_list("state", flat=True)) == ["published"] * 2
    page.goto(f"{url}/w/acme/accounts/{instagram.pk}/")
    assert "1 post failed while this account was broken" in page.locator("main").inner_text()
    assert problems == [], problems
    context.close()
