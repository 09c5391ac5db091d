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
    """Answers by (method, path suffix); records every request. Unscripted calls get a 500."""

    replies: dict[tuple[str, str], Any] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(
        self,
        method: str,
        path: str,
        status: int = 200,
        body: Any = None,
        *,
        error: type[Exception] | None = None,
    ) -> None:
        self.replies[(method, path)] = (status, body, error)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for (method, path), (status, body, error) in self.replies.items():
            if request.method == method and request.url.path.endswith(path):
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
        return httpx.Response(
            500, json={"error": {"code": "system.internal", "message": "unscripted call"}}
        )

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.endswith(path)]


@pytest.fixture
def fake_upstream(settings: Any) -> Iterator[FakeUpstream]:
    settings.SOCIALAPI_MAX_ATTEMPTS = 1  # no retries, no backoff sleeps
    fake = FakeUpstream()
    with transport_override(httpx.MockTransport(fake.handler)):
        yield fake


def users_me(plan: str = "free", **extra: Any) -> dict[str, Any]:
    return {
        "id": "usr_1",
        "email": "owner@acme.test",
        "plan": plan,
        "billing_blocked": False,
        **extra,
    }


def error_body(code: str, message: str = "nope", request_id: str = "req_up_1") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "meta": {}}, "request_id": request_id}
