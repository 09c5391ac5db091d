"""Transports: a guard that only connects to public addresses, and an in-process one.

Callers outside this package pass transports around as `Transport` and build them with
the helpers here, so httpx stays an implementation detail of `socialapi`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

Transport = httpx.BaseTransport
Resolver = Callable[..., list[tuple[Any, ...]]]

# httpx's own defaults (httpx.Limits()), which a hand-built pool does not get for free.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_EXPIRY = 5.0
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The host resolved to a loopback, private or reserved address: nothing was sent."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        super().__init__(f"{host} resolves to {address}, which is not a public internet address")


def address_is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not address_is_public(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Resolves the host once, refuses if any address is not public, then connects to
    the checked address itself, so a second (rebinding) DNS answer is never used."""

    def __init__(self, resolve: Resolver | None) -> None:
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            resolve = self._resolve or socket.getaddrinfo
            infos = resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise httpcore.ConnectError(f"{host} did not resolve")
        for address in addresses:
            if not address_is_public(address):
                raise BlockedAddress(host, address)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next address, like the OS would
                failure = exc
        assert failure is not None
        raise failure


class PublicNetworkTransport(httpx.HTTPTransport):
    """httpx's HTTP transport, connecting only to public internet addresses.

    Checked when connecting, not when the URL is typed: catches numeric host forms,
    DNS names pointing inside (127.0.0.1.nip.io) and DNS rebinding. Environment proxies
    are not used (they would connect on our behalf, unchecked).
    """

    def __init__(self, *, resolve: Resolver | None = None) -> None:
        super().__init__(trust_env=False)
        self._pool.close()
        # httpx does not expose httpcore's network_backend; this is its pool, rebuilt.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            network_backend=_PublicOnlyBackend(resolve),
        )


def wsgi_transport(app: Callable[..., Any]) -> Transport:
    """Answer every call in-process from a WSGI app (the sandbox for demos and tests)."""
    return httpx.WSGITransport(app=app)
