"""Fixtures for the events tests: event builders, an ingest token, a mocked upstream and
the sandbox served in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone

from dashboard import upstream
from dashboard.crypto import token_hash
from dashboard.models import Workspace
from events.models import ErrorEvent
from events.recording import EventInput, error_events_record
from socialapi import classify

UPSTREAM = "https://api.social-api.ai/v1"  # the `workspace` fixture's base URL
INGEST_TOKEN = "ingest_test_token_0123456789abcdef"


@pytest.fixture(autouse=True)
def _fast_retries(settings: Any) -> None:
    settings.SOCIALAPI_MAX_ATTEMPTS = 2
    settings.SOCIALAPI_MAX_RETRY_SECONDS = 0.02


def event(
    *,
    code: str = "system.internal",
    status: int | None = 500,
    platform: str = "",
    endpoint: str = "/posts",
    at: datetime | None = None,
    source: str = "dashboard",
    **fields: Any,
) -> EventInput:
    """An already classified event (the family comes from the one table)."""
    found = classify(code, status, platform=platform or None)
    return EventInput(
        occurred_at=at or timezone.now(),
        source=source,
        code=found.code,
        family=str(found.family),
        http_status=status,
        raw_code=code,
        platform=found.platform or platform,
        endpoint=endpoint,
        **fields,
    )


@pytest.fixture
def record(workspace: Workspace) -> Callable[..., list[ErrorEvent]]:
    """Store events in the `workspace`: record(code=…, n=3, minutes_ago=…)."""

    def store(
        n: int = 1, minutes_ago: float = 0, target: Workspace | None = None, **kwargs: Any
    ) -> list[ErrorEvent]:
        at = kwargs.pop("at", None) or timezone.now() - timedelta(minutes=minutes_ago)
        inputs = [event(at=at - timedelta(seconds=i), **kwargs) for i in range(n)]
        return error_events_record(workspace=target or workspace, events=inputs)

    return store


@pytest.fixture
def ingest_token(workspace: Workspace) -> str:
    workspace.ingest_token_hash = token_hash(INGEST_TOKEN)
    workspace.ingest_token_hint = INGEST_TOKEN[-4:]
    workspace.save(update_fields=["ingest_token_hash", "ingest_token_hint"])
    return INGEST_TOKEN


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The workspace's upstream, mocked; an unplanned call fails the test."""
    with respx.mock(base_url=UPSTREAM, assert_all_called=False) as router:
        yield router


class InProcessApp:
    """This Django app as a WSGI callable for httpx, sharing the test's DB connection."""

    def __init__(self) -> None:
        self.app = get_wsgi_application()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started = request_started.disconnect(close_old_connections)
        finished = request_finished.disconnect(close_old_connections)
        try:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                result.close()
        finally:
            if started:
                request_started.connect(close_old_connections)
            if finished:
                request_finished.connect(close_old_connections)


@dataclass
class SandboxLink:
    tenant: Any
    workspace: Workspace


@pytest.fixture
def sandbox_link(workspace: Workspace) -> Iterator[Callable[..., SandboxLink]]:
    """Point the `workspace` at a fresh sandbox tenant served in-process."""
    from sandbox.services import sandbox_tenant_create

    with upstream.transport_override(httpx.WSGITransport(app=InProcessApp())):

        def link(
            *, plan: str = "free", dialect: str = "current", name: str = "Events sandbox"
        ) -> SandboxLink:
            tenant = sandbox_tenant_create(name=name, plan=plan, dialect=dialect)
            workspace.api_key = tenant.api_key
            workspace.base_url = "http://testserver/sandbox/v1"
            workspace.dialect = dialect
            workspace.save()
            return SandboxLink(tenant=tenant, workspace=workspace)

        yield link
