"""Every code of the table, in both dialects, for every auth kind, over real HTTP.

A threaded `http.server` on a loopback socket answers each case in turn; the client
reaches it through its own network transport (no mock transport, no respx), so this is
what the client does with bytes that came over the wire. test_errors.py proves the table
on bodies; this proves the client applies it to what comes back, with the platform the
call was for: the raised class, the family, the request id and the hook, the same in the
legacy and the current dialect.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from socialapi import ClientConfig, SocialAPI, SocialAPIError
from socialapi.errors import FAMILY_CLASSES
from tests.socialapi.helpers import API_KEY
from tests.socialapi.test_errors import (
    AUTH_KINDS,
    CREDENTIAL_PLATFORMS,
    CURRENT_CODES,
    SEED_CODES,
    current_body,
    expected_family,
    legacy_body,
)

# (raw code, HTTP status, message, normalised code, family, platform named by the code)
CASES = list(SEED_CODES) + [
    (raw, status, "", code, family, named) for raw, status, code, family, named in CURRENT_CODES
]


CASE_IDS = itertools.count(1)


class Upstream(ThreadingHTTPServer):
    """Answers `GET /v1/accounts/<id>/limits` with the answer filed under that id."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.seen: list[dict[str, str]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: Upstream
    wbufsize = 64 * 1024  # head and body leave in one write, not two small packets

    def do_GET(self) -> None:
        self.server.seen.append({key.lower(): value for key, value in self.headers.items()})
        parts = self.path.split("/")  # "", "v1", "accounts", <id>, "limits"
        status, body = self.server.answers.get(parts[3] if len(parts) > 3 else "", (599, b""))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", "hdr_req_1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def call(upstream: Upstream) -> Iterator[Any]:
    """One client for the module (building one costs more than the calls it makes)."""
    reported: list[SocialAPIError] = []
    with pytest.MonkeyPatch.context() as env:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            env.delenv(name, raising=False)  # read once, here: straight to the socket
        config = ClientConfig(base_url=upstream.base_url, api_key=API_KEY, max_attempts=1)
        client = SocialAPI(config, on_error=reported.append)

    def send(case_id: str, status: int, body: bytes, platform: str | None) -> SocialAPIError:
        upstream.answers[case_id] = (status, body)
        reported.clear()
        with pytest.raises(SocialAPIError) as caught:
            client.account_limits(case_id, platform=platform)
        assert reported == [caught.value]  # the hook heard of it, once
        return caught.value

    yield send
    client.close()


@pytest.mark.parametrize(("raw", "status", "message", "code", "family", "named"), CASES)
@pytest.mark.parametrize("kind", list(AUTH_KINDS))
def test_every_code_reads_the_same_in_both_dialects_over_a_socket(
    call, upstream, kind, raw, status, message, code, family, named
):
    platform = AUTH_KINDS[kind]
    legacy = call(f"acc_{next(CASE_IDS)}", status, legacy_body(raw, message), platform)
    current = call(f"acc_{next(CASE_IDS)}", status, current_body(raw, message), platform)

    concerned = named or platform
    want = expected_family(family, "credentials" if concerned in CREDENTIAL_PLATFORMS else "oauth")
    for error in (legacy, current):
        assert type(error) is FAMILY_CLASSES[want]
        assert (error.status, error.code, error.family, error.platform) == (
            status,
            code,
            want,
            concerned,
        )
        assert (error.method, error.endpoint) == ("GET", "/accounts/{id}/limits")
    assert (legacy.dialect, current.dialect) == ("legacy", "current")
    # The legacy body carries no request id: the response header's is kept.
    assert (legacy.request_id, current.request_id) == ("hdr_req_1", "a1b2c3d4")
    sent = upstream.seen[-1]
    assert sent["authorization"] == f"Bearer {API_KEY}"
    assert sent["x-request-id"].startswith("dash_")
