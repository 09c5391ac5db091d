"""The fixed cast and guards shared by every test.

Cast: `workspace` (Acme) with `admin` and `member`; `other_workspace` with its own admin,
`outsider`; `support` staff who belong to no workspace. `as_<person>` fixtures are
Django test clients already signed in.

The sandbox in-process: `in_process_sandbox` sends every workspace client's calls to this
Django app's own sandbox, and the sandbox's webhooks (its registration ping included) back
to this app's receiver (no socket either way); `in_process_transport()` builds such a
transport for a client made by hand; `SANDBOX_URL` is the base URL that reaches it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client

from dashboard import upstream
from dashboard.models import Membership, Workspace
from socialapi import Transport, wsgi_transport

# Headless Chromium (`browser`) and its helpers, for the tests marked `browser`.
pytest_plugins = ["tests.browser"]

TEST_API_KEY = "sapi_key_" + "ab" * 31
SANDBOX_URL = "http://testserver/sandbox/v1"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any unplanned network call: only loopback (live server, DB, Redis) is allowed."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def _fresh_upstream_clients() -> Iterator[None]:
    yield
    upstream.clients_reset()


def error_body(code: str, message: str = "nope", request_id: str = "req_up_1") -> dict[str, Any]:
    """An error answer in the current dialect, as upstream sends it."""
    return {"error": {"code": code, "message": message, "meta": {}}, "request_id": request_id}


def make_user(username: str, *, staff: bool = False, email: str = "") -> User:
    return User.objects.create_user(
        username=username,
        password=username,
        email=email or f"{username}@example.com",
        is_staff=staff,
    )


@pytest.fixture
def workspace(db: Any) -> Workspace:
    return Workspace.objects.create(
        slug="acme",
        name="Acme",
        base_url="https://api.social-api.ai/v1",
        api_key=TEST_API_KEY,
        api_key_hint=TEST_API_KEY[-4:],
    )


@pytest.fixture
def other_workspace(db: Any) -> Workspace:
    return Workspace.objects.create(
        slug="globex",
        name="Globex",
        api_key="sapi_key_" + "cd" * 31,
        api_key_hint="cdcd",
    )


@pytest.fixture
def admin(workspace: Workspace) -> User:
    user = make_user("alice")
    Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def member(workspace: Workspace) -> User:
    user = make_user("bob")
    Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def outsider(other_workspace: Workspace) -> User:
    user = make_user("mallory")
    Membership.objects.create(user=user, workspace=other_workspace, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def support(db: Any) -> User:
    return make_user("sam", staff=True)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_admin(admin: User) -> Client:
    return _client_for(admin)


@pytest.fixture
def as_member(member: User) -> Client:
    return _client_for(member)


@pytest.fixture
def as_outsider(outsider: User) -> Client:
    return _client_for(outsider)


@pytest.fixture
def as_support(support: User) -> Client:
    return _client_for(support)


@pytest.fixture
def celery_worker_process(transactional_db: Any) -> Iterator[Any]:
    """A real worker process on its own queue; stopped (or killed) after the test."""
    from tests.workers import WorkerProcess

    worker = WorkerProcess()
    try:
        yield worker
    finally:
        worker.stop()
        worker.log_path.unlink(missing_ok=True)


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


def in_process_transport() -> Transport:
    """Answer SocialAPI calls from this app's sandbox, in-process."""
    return wsgi_transport(InProcessApp())


@pytest.fixture
def in_process_sandbox() -> Iterator[None]:
    """Every workspace client's call goes to the sandbox of this very process, and every
    webhook the sandbox sends to this process's receiver (no sockets)."""
    from sandbox.webhooks import sender_transport_override

    with (
        upstream.transport_override(in_process_transport()),
        sender_transport_override(in_process_transport()),
    ):
        yield
