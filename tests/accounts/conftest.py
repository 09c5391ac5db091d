"""Fixtures for the accounts tests: account builders, a respx upstream, the sandbox (in-process,
or seeded with demo data behind a live server for the browser tests)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import respx
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone

from accounts.health import health_sync
from accounts.models import AccountStatus, SocialAccount
from dashboard import upstream
from dashboard.models import Workspace
from events.recording import EventInput, error_events_record
from sandbox.ids import account_id_new, brand_id_new
from sandbox.models import SandboxAccount, SandboxBrand, SandboxCall, SandboxEvent, SandboxTenant
from sandbox.seed import sandbox_demo_seed
from sandbox.services import sandbox_tenant_create
from socialapi import classify

UPSTREAM = "https://api.social-api.ai/v1"  # the `workspace` fixture's base URL
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _fast_retries(settings: Any) -> None:
    """Retried calls give up at once instead of sleeping through real backoff."""
    settings.SOCIALAPI_MAX_ATTEMPTS = 2
    settings.SOCIALAPI_MAX_RETRY_SECONDS = 0.02


@pytest.fixture(autouse=True)
def _site_url(settings: Any) -> None:
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def make_account(workspace: Workspace) -> Callable[..., SocialAccount]:
    counter = iter(range(1, 10_000))

    def make(
        status: str = AccountStatus.ACTIVE, platform: str = "instagram", **fields: Any
    ) -> SocialAccount:
        n = next(counter)
        values: dict[str, Any] = {
            "upstream_id": f"acc_{n:04d}",
            "name": f"Account {n:02d}",
            "username": f"account{n:02d}",
            "brand_id": "b_main",
            "status": status,
            "status_changed_at": timezone.now(),
            "last_checked_at": timezone.now(),
            **fields,
        }
        return SocialAccount.objects.create(workspace=workspace, platform=platform, **values)

    return make


def account_json(account: SocialAccount | None = None, **overrides: Any) -> dict[str, Any]:
    """An upstream Account object (as GET /v1/accounts lists it)."""
    data: dict[str, Any] = {
        "id": account.upstream_id if account else "acc_new",
        "platform": account.platform if account else "instagram",
        "name": account.name if account else "New account",
        "username": account.username if account else "newaccount",
        "brand_id": account.brand_id if account else "b_main",
        "status": "active",
    }
    data.update(overrides)
    return data


def accounts_body(*items: dict[str, Any]) -> dict[str, Any]:
    return {"count": len(items), "data": list(items)}


def error_body(code: str, message: str = "nope", request_id: str = "req_up_1") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "meta": {}}, "request_id": request_id}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The workspace's upstream, mocked; any unplanned call fails the test."""
    with respx.mock(base_url=UPSTREAM, assert_all_called=False) as router:
        # Brand names are fetched by every health sync; tests can replace this answer
        # through `api.routes["brands"]`.
        router.get("/brands", name="brands").respond(json={"count": 0, "data": []})
        yield router


# --- the sandbox, in-process ---------------------------------------------------------


@dataclass
class Sandbox:
    """A sandbox tenant wired to the `workspace` fixture (calls go through WSGI)."""

    tenant: SandboxTenant
    workspace: Workspace
    brand: SandboxBrand

    def account(self, platform: str = "instagram", **fields: Any) -> SandboxAccount:
        # As awkward as real data: HTML and unicode in names, ids of either shape.
        values = {
            "name": f"{platform} account <b>Café</b> & Co 🚀",
            "username": f"{platform}_user",
            **fields,
        }
        brand = values.pop("brand", self.brand)
        return SandboxAccount.objects.create(
            id=account_id_new(), tenant=self.tenant, brand=brand, platform=platform, **values
        )

    def calls(self, since: int = 0) -> list[tuple[str, str]]:
        """(method, path) of every /v1 call after call id `since`, oldest first."""
        rows = SandboxCall.objects.filter(tenant=self.tenant, pk__gt=since).order_by("pk")
        return [(c.method, c.path) for c in rows]

    def last_call_id(self) -> int:
        return SandboxCall.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def sandbox_for(
    workspace: Workspace, base_url: str, *, dialect: str = "current", name: str = "Acme"
) -> Sandbox:
    tenant = sandbox_tenant_create(name=f"{name} sandbox {dialect}", dialect=dialect, plan="pro")
    brand = SandboxBrand.objects.create(id=brand_id_new(), tenant=tenant, name="Acme «main»")
    workspace.api_key = tenant.api_key
    workspace.base_url = base_url
    workspace.dialect = dialect
    workspace.save()
    return Sandbox(tenant=tenant, workspace=workspace, brand=brand)


class InProcessApp:
    """This Django app as a WSGI callable for httpx, sharing the test's DB connection.

    A real WSGI server closes "old" connections at the start and end of each request,
    which would close the test transaction's connection under our feet (Django's own
    test client turns this off around its requests the same way).
    """

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
                result.close()  # fires request_finished, harmless now
        finally:
            if started:
                request_started.connect(close_old_connections)
            if finished:
                request_finished.connect(close_old_connections)


def in_process_transport() -> httpx.WSGITransport:
    return httpx.WSGITransport(app=InProcessApp())


@pytest.fixture
def sandbox(workspace: Workspace) -> Iterator[Sandbox]:
    """The sandbox served by this same Django app, called in-process (no socket)."""
    with upstream.transport_override(in_process_transport()):
        yield sandbox_for(workspace, "http://testserver/sandbox/v1")


@pytest.fixture
def legacy_sandbox(workspace: Workspace) -> Iterator[Sandbox]:
    with upstream.transport_override(in_process_transport()):
        yield sandbox_for(workspace, "http://testserver/sandbox/v1", dialect="legacy")


def mirror(sandbox: Sandbox, account: SandboxAccount, **fields: Any) -> SocialAccount:
    """Our copy of a sandbox account, as a health sync would have stored it."""
    values: dict[str, Any] = {
        "platform": account.platform,
        "name": account.name,
        "username": account.username,
        "page_name": account.page_name,
        "brand_id": account.brand_id,
        "status": account.status,
        "status_changed_at": timezone.now(),
        **fields,
    }
    return SocialAccount.objects.create(
        workspace=sandbox.workspace, upstream_id=account.id, **values
    )


def csrf_token(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def follow_consent(
    client: Client, auth_url: str, *, decision: str = "approve", identity: str = "new"
) -> str:
    """Decide on the sandbox consent page (in-process); the URL it sends the browser to."""
    path = httpx.URL(auth_url).raw_path.decode()
    page = client.get(path)
    assert page.status_code == 200, page.content[:500]
    answer = client.post(path, {"decision": decision, "identity": identity})
    assert answer.status_code == 302, answer.content[:500]
    return str(answer["Location"])


def local(url: str) -> str:
    """Path and query of an absolute URL (for the Django test client)."""
    parsed = httpx.URL(url)
    return parsed.raw_path.decode()


def aware(value: str) -> datetime:
    return datetime.fromisoformat(value)


def problem(client: Client, response: Any) -> Any:
    """Follow the callback's redirect to the problem page (asserting it is clean)."""
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == "/oauth/problem/"
    assert response["Referrer-Policy"] == "no-referrer"
    page = client.get(response["Location"])
    assert page.status_code == 400
    return page


# --- the demo sandbox behind a live server (browser tests) ---------------------------


def events_import(workspace: Workspace) -> None:
    """What the events sync does, enough for "last error" columns to be realistic."""
    inputs = []
    for event in SandboxEvent.objects.filter(tenant__api_key=workspace.api_key).exclude(
        account_id=""
    ):
        code = str(event.metadata.get("error_code", ""))
        found = classify(code, event.status_code, platform=event.platform)
        inputs.append(
            EventInput(
                occurred_at=event.created_at,
                source="events_sync",
                code=found.code,
                family=str(found.family),
                http_status=event.status_code,
                raw_code=code,
                message=event.error_message,
                request_id=str(event.metadata.get("request_id", "")),
                endpoint="/posts",
                platform=found.platform or event.platform,
                account_upstream_id=event.account_id,
                upstream_id=event.id,
            )
        )
    error_events_record(workspace=workspace, events=inputs)


@pytest.fixture
def demo(live_server: Any, settings: Any, workspace: Workspace, admin: Any) -> Workspace:
    """Acme wired to a sandbox seeded with the demo data, both served by `live_server`."""
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
    # Our accounts were last checked a while ago; the imported failures are newer.
    health_sync(workspace=workspace)
    events_import(workspace)  # the events sync's first run finds a month of failures
    health_sync(workspace=workspace)  # the next sync double-checks the bot they name
    return workspace
