"""A scripted SocialAPI for the dashboard tests: every upstream call goes through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from dashboard.upstream import transport_override


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
