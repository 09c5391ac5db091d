"""End to end over real HTTP: a browser (httpx) against a live server running the
dashboard and the sandbox. Reconnect → consent → callback → active, and a denial."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from accounts.models import AccountStatus, AccountTransition, ReconnectState, SocialAccount
from dashboard.models import AuditEvent, Workspace
from sandbox.models import SandboxAccount
from tests.accounts.conftest import Sandbox, csrf_token, mirror, sandbox_for

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Live:
    url: str
    sandbox: Sandbox
    browser: httpx.Client

    def login(self, username: str) -> None:
        page = self.browser.get("/login/")
        answer = self.browser.post(
            "/login/",
            data={
                "username": username,
                "password": username,
                "csrfmiddlewaretoken": csrf_token(page.text),
            },
        )
        assert answer.status_code == 302, answer.text[:500]

    def press(self, path: str, page_path: str) -> httpx.Response:
        """Submit the form whose action is `path` on the page at `page_path`."""
        page = self.browser.get(page_path)
        assert path in page.text, f"{path} is not on {page_path}"
        return self.browser.post(
            path,
            data={"csrfmiddlewaretoken": csrf_token(page.text)},
            headers={"Referer": self.url + page_path},
        )


@pytest.fixture
def live(live_server: Any, settings: Any, workspace: Workspace, admin: Any) -> Iterator[Live]:
    settings.SITE_URL = live_server.url  # the callback our connect call registers
    sandbox = sandbox_for(workspace, live_server.url + "/sandbox/v1")
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30) as browser:
        yield Live(url=live_server.url, sandbox=sandbox, browser=browser)


def consent(live: Live, auth_url: str, *, decision: str, identity: str) -> str:
    assert auth_url.startswith(live.url + "/sandbox/oauth/authorize/")
    page = live.browser.get(auth_url)
    assert page.status_code == 200
    answer = live.browser.post(
        auth_url,
        data={
            "csrfmiddlewaretoken": csrf_token(page.text),
            "decision": decision,
            "identity": identity,
        },
    )
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["location"]


def test_the_whole_reconnect_flow_over_http(live):
    upstream = live.sandbox.account(
        "instagram", status="reconnect_required", reconnect_reason="Token expired"
    )
    ours = mirror(
        live.sandbox, upstream, reason="Token expired", status_code="account.reconnection_required"
    )
    live.login("alice")
    list_path = f"/w/{ours.workspace.slug}/accounts/"
    reconnect = live.press(f"/w/{ours.workspace.slug}/accounts/{ours.pk}/reconnect/", list_path)
    assert reconnect.status_code == 302
    auth_url = reconnect.headers["location"]

    back = consent(live, auth_url, decision="approve", identity=upstream.id)
    assert back.startswith(live.url + "/oauth/callback/?") and "state=" in back

    landing = live.browser.get(back)
    assert landing.status_code == 302
    assert landing.headers["referrer-policy"] == "no-referrer"
    clean = landing.headers["location"]
    assert "state=" not in clean and "code=" not in clean and "account_id=" not in clean

    page = live.browser.get(clean)
    assert page.status_code == 200
    assert "reconnected and active again" in page.text
    ours.refresh_from_db()
    upstream.refresh_from_db()
    assert ours.status == AccountStatus.ACTIVE
    assert upstream.status == SandboxAccount.Status.ACTIVE
    fixed = AccountTransition.objects.get(account=ours)
    assert (fixed.to_status, fixed.source, fixed.actor_label) == ("active", "reconnect", "alice")
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "reconnect.start",
        "reconnect.finish",
    }

    # the same return, replayed, is refused without reaching upstream
    since = live.sandbox.last_call_id()
    replay = live.browser.get(back)
    assert replay.status_code == 302 and replay.headers["location"] == "/oauth/problem/"
    explained = live.browser.get(replay.headers["location"])
    assert explained.status_code == 400 and "already used" in explained.text
    assert live.sandbox.calls(since) == []


def test_denying_consent_over_http_changes_nothing(live):
    upstream = live.sandbox.account(
        "linkedin", status="reconnect_required", reconnect_reason="Revoked"
    )
    ours = mirror(live.sandbox, upstream)
    live.login("alice")
    list_path = f"/w/{ours.workspace.slug}/accounts/"
    reconnect = live.press(f"/w/{ours.workspace.slug}/accounts/{ours.pk}/reconnect/", list_path)
    back = consent(live, reconnect.headers["location"], decision="deny", identity=upstream.id)
    landing = live.browser.get(back)
    page = live.browser.get(landing.headers["location"])
    assert "Sign-in to LinkedIn was cancelled, so nothing changed" in page.text
    ours.refresh_from_db()
    assert ours.status == AccountStatus.RECONNECT_REQUIRED
    assert ReconnectState.objects.get().outcome == "failed"


def test_a_reconnect_link_lets_an_owner_without_login_fix_the_account(live):
    upstream = live.sandbox.account(
        "threads", status="reconnect_required", reconnect_reason="Expired"
    )
    ours = mirror(live.sandbox, upstream)
    live.login("alice")
    detail = f"/w/{ours.workspace.slug}/accounts/{ours.pk}/"
    created = live.press(f"{detail}links/", detail)
    assert created.status_code == 302
    shown = live.browser.get(detail)
    link = shown.text.split('id="new-link-url" type="text" value="')[1].split('"')[0]
    assert link.startswith(live.url + "/r/")
    assert link not in live.browser.get(detail).text  # shown once

    with httpx.Client(follow_redirects=False, timeout=30) as owner:  # a stranger's browser
        landing = owner.get(link)
        assert landing.status_code == 200 and "Continue to Threads" in landing.text
        assert landing.headers["referrer-policy"] == "same-origin"  # the token stays on our origin
        start = owner.post(link, data={"csrfmiddlewaretoken": csrf_token(landing.text)})
        assert start.status_code == 302
        auth_url = start.headers["location"]
        page = owner.get(auth_url)
        back = owner.post(
            auth_url,
            data={
                "csrfmiddlewaretoken": csrf_token(page.text),
                "decision": "approve",
                "identity": upstream.id,
            },
        ).headers["location"]
        done = owner.get(back)
        assert done.headers["location"] == "/oauth/done/"
        assert "reconnected and active again" in owner.get(live.url + "/oauth/done/").text
        # the link is spent
        assert owner.get(link).status_code == 410
    ours.refresh_from_db()
    assert ours.status == AccountStatus.ACTIVE
    assert AccountTransition.objects.get(account=ours).actor_label == "reconnect link owner"
    uses = AuditEvent.objects.filter(action="reconnect_link.use").order_by("pk")
    assert [u.detail["outcome"] for u in uses] == ["opened", "reconnected"]
    assert SocialAccount.objects.count() == 1
