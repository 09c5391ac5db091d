"""A fresh clone's `make run`, driven over HTTP as a person would.

The server runs exactly as `make run` starts it (migrate, demo_load, web + worker +
beat, SQLite and the filesystem broker), whatever database the rest of the suite uses.
"""

from __future__ import annotations

import re
import secrets
import time
from contextlib import closing

import httpx
import pytest

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

WORKSPACE_PAGES = {
    "/w/demo/": "Account health",
    "/w/demo/accounts/": "Accounts",
    "/w/demo/storage/": "Storage",
    "/w/demo/errors/": "Errors",
    "/w/demo/settings/": "Settings",
    "/w/demo/audit/": "Audit log",
}


def signed_in(base_url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=True)
    page = client.get("/login/")
    token = CSRF.search(page.text)
    assert token, "the login page has a CSRF token"
    response = client.post(
        "/login/",
        data={"username": username, "password": username, "csrfmiddlewaretoken": token.group(1)},
    )
    assert response.status_code == 200
    assert "Sign in" not in response.text.split("<main", 1)[-1][:400], "login succeeded"
    return client


def test_it_shows_the_demo_logins_on_the_login_page(dashboard_url):
    page = httpx.get(f"{dashboard_url}/login/")
    assert page.status_code == 200
    for login in ("admin", "member", "support"):
        assert f"<code>{login}</code>" in page.text


@pytest.mark.parametrize("username", ["admin", "member", "support"])
def test_every_workspace_page_opens_for_each_demo_login(dashboard_url, username):
    with closing(signed_in(dashboard_url, username)) as client:
        for path, heading in WORKSPACE_PAGES.items():
            response = client.get(path)
            assert response.status_code == 200, f"{username} {path}: {response.status_code}"
            assert heading in response.text, f"{username} {path} lacks {heading!r}"


def test_the_admin_picks_a_workspace_and_finds_its_data(dashboard_url):
    with closing(signed_in(dashboard_url, "admin")) as client:
        picker = client.get("/").text
        assert "Demo Co" in picker and "Northwind Agency" in picker
        client.get("/w/demo/")
        assert str(client.get("/").url).endswith("/w/demo/"), "the last workspace is remembered"
        accounts = client.get("/w/demo/accounts/").text
        assert "Reconnect" in accounts, "two demo accounts need reconnecting"
        storage = client.get("/w/demo/storage/").text
        assert "MB" in storage
        # A month of figures from the demo loader: a real trend line and a forecast.
        assert 'class="trend-line"' in storage
        assert re.search(r"Full in about \d+ days</strong> at the last 7 days' rate", storage)
        assert "Last 30 days</dt>" in storage
        unlimited = client.get("/w/northwind/storage/").text
        assert "Unlimited plan: storage never fills up." in unlimited


def test_support_staff_reach_the_console_and_the_sandbox_controls(dashboard_url):
    with closing(signed_in(dashboard_url, "support")) as client:
        assert "Demo Co" in client.get("/support/").text
        assert client.get("/sandbox/control/").status_code == 200


def test_the_sandbox_answers_through_the_running_server(dashboard_url):
    response = httpx.get(f"{dashboard_url}/sandbox/v1/accounts")
    assert response.status_code == 401
    assert response.headers["X-Request-ID"]


def test_loading_the_demo_again_keeps_the_data(dashboard_url, embedded_var_dir):
    import subprocess
    import sys

    from tests.e2e.server import BASE_DIR, embedded_env

    with closing(signed_in(dashboard_url, "admin")) as client:
        before = client.get("/w/demo/audit/").text.count("<tr")
    again = subprocess.run(
        [sys.executable, "manage.py", "demo_load"],
        cwd=BASE_DIR,
        env=embedded_env(embedded_var_dir, 0),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "already loaded; keeping it" in again.stdout
    with closing(signed_in(dashboard_url, "admin")) as client:
        assert client.get("/w/demo/audit/").text.count("<tr") >= before
        assert "Demo Co" in client.get("/").text


def test_an_admin_registers_the_webhook_while_the_server_answers_its_own_ping(dashboard_url):
    """Under `make run` the sandbox's registration ping comes back to the same server while
    the admin's request (and the sandbox's call) are still open: it must not deadlock."""
    settings_path = "/w/northwind/settings/"
    with closing(signed_in(dashboard_url, "admin")) as client:
        page = client.get(settings_path).text
        assert "None received yet" in page
        token = CSRF.search(page)
        assert token
        answer = client.post(
            f"{settings_path}webhook/register/",
            data={"csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": dashboard_url + settings_path},
        )
        assert answer.status_code == 200, answer.text[-3000:]
        assert "Webhook registered" in answer.text
        assert re.search(r'value="[0-9a-f]{64}"', answer.text), "the new secret is shown once"
        page = client.get(settings_path).text
        ping = re.search(r"<dt>Last test ping from SocialAPI</dt>\s*<dd>(.*?)</dd>", page)
        assert ping and "just now" in ping.group(1)
        assert "Register again" in page


def test_errors_show_the_products_own_pages_and_leave_the_terminal_quiet(
    dashboard_url, embedded_var_dir
):
    log = embedded_var_dir / "server.log"
    start = log.stat().st_size
    missing = httpx.get(f"{dashboard_url}/no-such-page/")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert "Using the URLconf" not in missing.text  # Django's debug page lists every URL
    token = secrets.token_urlsafe(32)
    assert httpx.get(f"{dashboard_url}/r/{token}/").status_code == 404
    with closing(signed_in(dashboard_url, "member")) as client:
        page = client.get("/w/demo/settings/")
        csrf = CSRF.search(page.text)
        assert csrf
        refused = client.post("/w/demo/settings/checks/", data={"csrfmiddlewaretoken": csrf[1]})
    assert refused.status_code == 403
    assert "You can't do that here" in refused.text

    deadline = time.monotonic() + 30
    printed = ""
    while "Forbidden (Permission denied)" not in printed and time.monotonic() < deadline:
        time.sleep(0.2)
        printed = log.read_bytes()[start:].decode(errors="replace")
    assert "Forbidden (Permission denied): /w/demo/settings/checks/" in printed
    assert "Traceback" not in printed, printed
    assert token not in printed, printed


def test_the_demos_first_alerts_reach_the_sandbox_alert_inbox_through_the_worker(dashboard_url):
    """Demo Co's alert channel points at the sandbox's inbox: the alerts of the first
    syncs (broken accounts, storage at 90 %) go out from the worker over a real socket."""
    deadline = time.monotonic() + 90
    with closing(signed_in(dashboard_url, "support")) as support:
        inbox = ""
        while "Nothing received yet." in (inbox or "Nothing received yet.") or (
            "Storage of Demo Co" not in inbox
        ):
            assert time.monotonic() < deadline, "no alert reached the sandbox inbox:\n" + inbox
            time.sleep(1)
            page = support.get("/sandbox/control/").text
            inbox = page.split('id="sandbox-inbox"', 1)[-1].split("</section>", 1)[0]
    assert "slack" in inbox
    assert "stopped working" in inbox or "Reconnect" in inbox
    with closing(signed_in(dashboard_url, "admin")) as admin:
        page = admin.get("/w/demo/settings/").text
        channels = page.split('id="channels"', 1)[-1].split("</section>", 1)[0]
    assert "Sandbox alert inbox" in channels
    assert "Delivered" in channels
    assert "Failed" not in channels
