"""A scripted SocialAPI for the dashboard tests: every upstream call goes through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts.health import health_sync
from dashboard import upstream
from dashboard.models import Workspace
from dashboard.upstream import transport_override
from dashboard.usage import usage_sync
from dashboard.watch import workspace_watch
from events.banners import workspace_banners
from media.library import media_library_sync
from sandbox import services as weather
from sandbox.ids import prefixed
from sandbox.models import SandboxAccount, SandboxBrand, SandboxTenant
from tests.conftest import SANDBOX_URL, in_process_transport


@dataclass
class FakeUpstream:
    """Answers by (method, path suffix); records every request. An unscripted call fails
    the test: it raises AssertionError in the caller and again when the test ends (in case
    the code under test swallowed it)."""

    replies: dict[tuple[str, str], Any] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    unscripted: list[str] = field(default_factory=list)
    # For tests about something else than upstream (the access matrix): the answer to
    # every unscripted call, instead of failing the test.
    otherwise: tuple[int, Any] | None = None

    def on(
        self,
        method: str,
        path: str,
        status: int = 200,
        body: Any = None,
        *,
        error: type[Exception] | None = None,
    ) -> None:
        self.replies[(method, path)] = [(status, body, error)]

    def then(self, method: str, path: str, status: int = 200, body: Any = None) -> None:
        """Answer the next call differently; the last answer keeps being given."""
        self.replies[(method, path)].append((status, body, None))

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for (method, path), answers in self.replies.items():
            if request.method == method and request.url.path.endswith(path):
                status, body, error = answers.pop(0) if len(answers) > 1 else answers[0]
                if error is not None:
                    raise error("scripted failure", request=request)
                content = (
                    body
                    if isinstance(body, bytes)
                    else json.dumps(body if body is not None else {}).encode()
                )
                return httpx.Response(
                    status, content=content, headers={"Content-Type": "application/json"}
                )
        if self.otherwise is not None:
            status, body = self.otherwise
            return httpx.Response(status, json=body)
        call = f"{request.method} {request.url.path}"
        self.unscripted.append(call)
        raise AssertionError(f"unscripted upstream call: {call}")

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.endswith(path)]


@pytest.fixture
def fake_upstream(settings: Any) -> Iterator[FakeUpstream]:
    settings.SOCIALAPI_MAX_ATTEMPTS = 1  # no retries, no backoff sleeps
    fake = FakeUpstream()
    with transport_override(httpx.MockTransport(fake.handler)):
        yield fake
    assert not fake.unscripted, f"unscripted upstream calls: {fake.unscripted}"


def users_me(plan: str = "free", **extra: Any) -> dict[str, Any]:
    return {
        "id": "usr_1",
        "email": "owner@acme.test",
        "plan": plan,
        "billing_blocked": False,
        **extra,
    }


# --- the sandbox as the upstream's "weather" -------------------------------------------
# `up`: the workspace on a sandbox tenant served in-process; tests flip the sandbox's
# switches (sandbox.services, what its control page does) and run the watch.


@dataclass
class Upstream:
    tenant: SandboxTenant
    workspace: Workspace
    accounts: dict[str, SandboxAccount]
    clock: Clock

    def later(self, seconds: float = 2) -> None:
        """Time passes (upstream stamps its events to the second)."""
        self.clock.offset += timedelta(seconds=seconds)

    def watch(self) -> list[str]:
        """One watch, as the task runs it (a fresh row), committing its after-commit work."""
        fresh = Workspace.objects.get(pk=self.workspace.pk)
        result = workspace_watch(workspace=fresh)
        return result.steps

    def banners(self) -> dict[str, Any]:
        ws = Workspace.objects.get(pk=self.workspace.pk)
        return {b.key: b for b in workspace_banners(workspace=ws)}

    def reload(self) -> SandboxTenant:
        self.tenant.refresh_from_db()
        return self.tenant


class Clock:
    """Django's clock (the dashboard's and the sandbox's), moved forward by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta(0)
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() + self.offset)


@pytest.fixture
def up(
    workspace: Workspace,
    admin: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> Iterator[Upstream]:
    """The `workspace` on a Free sandbox tenant with an Instagram and a Telegram account,
    after its first syncs; follow-ups run at once (no waiting in a test)."""
    settings.SOCIALAPI_MAX_ATTEMPTS = 2
    settings.SOCIALAPI_MAX_RETRY_SECONDS = 0.02
    settings.SERVER_ERROR_QUIET_SECONDS = 0
    settings.THROTTLE_PROBE_SECONDS = 0
    settings.USAGE_RECHECK_SECONDS = 0
    settings.MEDIA_RESYNC_SECONDS = 0
    with upstream.transport_override(in_process_transport()):
        tenant = weather.sandbox_tenant_create(name="Watched", plan="free")
        brand = SandboxBrand.objects.create(id=prefixed("b"), tenant=tenant, name="Main")
        accounts = {
            platform: SandboxAccount.objects.create(
                id=prefixed("acc"),
                tenant=tenant,
                brand=brand,
                platform=platform,
                name=f"{platform} account",
                username=f"{platform}_user",
            )
            for platform in ("instagram", "telegram")
        }
        workspace.api_key = tenant.api_key
        workspace.base_url = SANDBOX_URL
        workspace.save()
        with django_capture_on_commit_callbacks(execute=True):
            health_sync(workspace=workspace)
            media_library_sync(workspace=workspace)
            usage_sync(workspace=workspace)
        up = Upstream(
            tenant=tenant, workspace=workspace, accounts=accounts, clock=Clock(monkeypatch)
        )
        up.later()
        with django_capture_on_commit_callbacks(execute=True):
            up.watch()
        assert up.banners() == {}
        up.later()
        yield up
