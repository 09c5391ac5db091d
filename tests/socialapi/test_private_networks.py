"""`block_private_networks`: the client connects only to public internet addresses."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import respx

from socialapi import (
    ClientConfig,
    PublicNetworkTransport,
    SocialAPI,
    UpstreamUnavailable,
    address_is_public,
)
from tests.socialapi.helpers import API_KEY, Recorder

PUBLIC_IP = "93.184.216.34"


def guarded(base_url: str, recorder: Recorder | None = None, **kwargs: Any) -> SocialAPI:
    config = ClientConfig(
        base_url=base_url, api_key=API_KEY, block_private_networks=True, max_attempts=3
    )
    recorder = recorder or Recorder()
    return SocialAPI(
        config,
        sleep=recorder.sleep,
        clock=recorder.clock,
        on_error=recorder.errors.append,
        **kwargs,
    )


def answers(*addresses: str) -> Any:
    """A getaddrinfo stand-in answering these addresses for any host, counting lookups."""
    lookups: list[str] = []

    def resolve(host, port, *args, **kwargs):
        lookups.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    resolve.lookups = lookups  # type: ignore[attr-defined]
    return resolve


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection the client opens; each is refused, so nothing leaves."""
    seen: list[tuple[str, int]] = []

    def refuse(address, *args, **kwargs):
        seen.append(address)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return seen


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address to judge, not to bind
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
        ("not an address", False),
    ],
)
def test_it_tells_public_addresses_from_private_ones(address, public):
    assert address_is_public(address) is public


@pytest.mark.parametrize(
    "base_url",
    [
        "https://127.0.0.1/v1",
        "https://127.1/v1",
        "https://0x7f.0.0.1/v1",
        "https://2130706433/v1",
        "https://localhost/v1",
        "https://[::1]/v1",
        "https://[::ffff:127.0.0.1]/v1",
    ],
)
def test_it_refuses_loopback_in_any_spelling_before_connecting(base_url, connects):
    recorder = Recorder()
    with guarded(base_url, recorder) as api, pytest.raises(UpstreamUnavailable) as caught:
        api.users_me()

    assert caught.value.code == "network.blocked_address"
    assert connects == []
    assert recorder.sleeps == []  # not retried: the answer would be the same
    assert recorder.errors == [caught.value]
    assert API_KEY not in str(caught.value)


def test_it_refuses_a_public_name_that_resolves_to_a_private_address(connects):
    # 127.0.0.1.nip.io and friends: the name looks public, the address is not.
    transport = PublicNetworkTransport(resolve=answers("127.0.0.1"))
    with (
        guarded("https://127.0.0.1.nip.io/v1", transport=transport) as api,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        api.users_me()

    assert caught.value.code == "network.blocked_address"
    assert "127.0.0.1.nip.io resolves to 127.0.0.1" in caught.value.message
    assert connects == []


def test_it_refuses_when_any_resolved_address_is_private(connects):
    transport = PublicNetworkTransport(resolve=answers(PUBLIC_IP, "10.0.0.7"))
    with (
        guarded("https://api.example.com/v1", transport=transport) as api,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        api.users_me()

    assert caught.value.code == "network.blocked_address"
    assert connects == []


def test_it_connects_to_the_address_it_checked_so_dns_rebinding_cannot_swap_it(connects):
    resolve = answers(PUBLIC_IP)
    transport = PublicNetworkTransport(resolve=resolve)
    with (
        guarded("https://api.example.com/v1", transport=transport) as api,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        api.users_me()

    # One lookup per connection attempt, and the socket is opened on that very address,
    # never on the name (which a second DNS answer could point inside).
    assert caught.value.code == "network.connection_error"
    assert connects == [(PUBLIC_IP, 443)] * 3
    assert resolve.lookups == ["api.example.com"] * 3


def test_it_ignores_environment_proxies_that_would_connect_unchecked(monkeypatch, connects):
    monkeypatch.setenv("HTTPS_PROXY", f"http://{PUBLIC_IP}:3128")
    monkeypatch.setenv("ALL_PROXY", f"http://{PUBLIC_IP}:3128")

    with guarded("https://127.0.0.1/v1") as api, pytest.raises(UpstreamUnavailable) as caught:
        api.users_me()

    assert caught.value.code == "network.blocked_address"
    assert connects == []


def test_it_is_off_by_default(connects):
    config = ClientConfig(base_url="https://127.0.0.1:9/v1", api_key=API_KEY, max_attempts=1)
    with SocialAPI(config) as api, pytest.raises(UpstreamUnavailable) as caught:
        api.users_me()

    assert caught.value.code == "network.connection_error"
    assert connects == [("127.0.0.1", 9)]


def test_a_transport_passed_in_is_used_as_given():
    with respx.MockRouter(base_url="https://127.0.0.1/v1") as router:
        router.get("/users/me").respond(200, json={"id": "usr_1", "plan": "free"})
        transport = httpx.MockTransport(router.handler)
        with guarded("https://127.0.0.1/v1", transport=transport) as api:
            assert api.users_me().plan == "free"
