"""Outbound HTTP to URLs that people typed (alert channels): one guarded, timed POST.

No Django here, like `socialapi/`. The private-network guard is socialapi's own
`PublicNetworkTransport` (one guard for every outbound call): the host is resolved once,
refused if any address is not public, and the checked address is the one connected to,
so DNS tricks and rebinding never reach an inside host. Every call has a connect and a
read timeout, never follows a redirect and ignores environment proxies and ~/.netrc.

httpx is imported here and in `socialapi/` only (and in the sandbox, which plays the
upstream). What comes back is an `Outcome` with words for a person: the URL itself is a
secret (a Slack or Teams webhook URL is its own credential), so it never appears in one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from socialapi.transport import BlockedAddress, PublicNetworkTransport, Transport

__all__ = ["MAX_RETRY_AFTER", "Outcome", "post"]

USER_AGENT = "socialapi-dashboard/1.0 (alerts)"
# Enough of an error answer to say why (Slack answers `invalid_token`, `no_service`…).
SNIPPET_BYTES = 2048
REASON_LIMIT = 300
# A Retry-After longer than this is not waited for: the send is retried on our schedule.
MAX_RETRY_AFTER = 900.0
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Outcome:
    """What one POST did: delivered or not, why, and whether trying again may help."""

    delivered: bool
    reason: str
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None


def post(
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: float,
    connect_timeout: float,
    block_private_networks: bool = True,
    transport: Transport | None = None,
) -> Outcome:
    """POST `content` to `url` once; never raises for anything the far end or the network
    does. `block_private_networks` connects only to public internet addresses (every URL
    except those the operator trusts); a `transport` passed in is used as given."""
    if transport is None:
        transport = (
            PublicNetworkTransport()
            if block_private_networks
            else httpx.HTTPTransport(trust_env=False)
        )
    sent_headers = {"User-Agent": USER_AGENT, **headers}
    try:
        with (
            httpx.Client(
                transport=transport,
                timeout=httpx.Timeout(timeout, connect=connect_timeout),
                follow_redirects=False,
                trust_env=False,
            ) as client,
            client.stream("POST", url, content=content, headers=sent_headers) as response,
        ):
            # A success needs no body; an error's first bytes say why (read for at most
            # `timeout` seconds in all, so a far end trickling bytes cannot hold us).
            snippet = "" if response.is_success else _read_some(response, timeout)
            return _answered(response, snippet, url)
    except BlockedAddress as exc:
        return Outcome(
            False,
            f"Refused before connecting: {exc.host} resolves to {exc.address}, which is not "
            "a public internet address.",
        )
    except httpx.TimeoutException as exc:
        stage = "connect" if isinstance(exc, httpx.ConnectTimeout) else "answer"
        limit = connect_timeout if stage == "connect" else timeout
        return Outcome(False, f"Timed out: no {stage} within {limit:g} s.", retryable=True)
    except httpx.ConnectError as exc:
        return Outcome(False, _connect_reason(str(exc), url), retryable=True)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return Outcome(False, "The URL cannot be used: remove this channel and add it again.")
    except httpx.HTTPError as exc:  # the connection broke mid-answer, protocol errors
        reason = f"{type(exc).__name__}: {_clean(str(exc), url)}"
        return Outcome(False, _cut(reason), retryable=True)


def _read_some(response: httpx.Response, budget: float) -> str:
    """The start of the answer's body, as text fit for one line."""
    deadline = time.monotonic() + budget
    buffer = b""
    try:
        for chunk in response.iter_bytes():
            buffer += chunk
            if len(buffer) >= SNIPPET_BYTES or time.monotonic() > deadline:
                break
    except httpx.HTTPError:  # the status already says what matters
        pass
    return buffer[:SNIPPET_BYTES].decode("utf-8", errors="replace")


def _answered(response: httpx.Response, snippet: str, url: str) -> Outcome:
    status = response.status_code
    phrase = f"HTTP {status}" + (f" {response.reason_phrase}" if response.reason_phrase else "")
    if response.is_success:
        return Outcome(True, phrase, status)
    if response.is_redirect:
        location = urlsplit(response.headers.get("Location", "")).hostname or "another address"
        return Outcome(
            False,
            f"{phrase}: redirected to {location}. Redirects are not followed: add the "
            "channel again with the final URL.",
            status,
        )
    said = _clean(snippet, url)
    reason = _cut(f"{phrase}: {said}" if said else phrase)
    return Outcome(
        False,
        reason,
        status,
        retryable=status in RETRY_STATUSES,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    if not value or not value.strip().isdigit():
        return None
    return min(float(value.strip()), MAX_RETRY_AFTER)


def _connect_reason(message: str, url: str) -> str:
    lowered = message.lower()
    if "refused" in lowered:
        return "Connection refused: nothing answers at this address."
    if "gaierror" in lowered or "name or service not known" in lowered or "resolve" in lowered:
        return "Host name not found (DNS)."
    if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        return _cut(f"TLS failed: {_clean(message, url)}")
    return _cut(f"Could not connect: {_clean(message, url)}")


def _clean(text: str, url: str) -> str:
    """One line of text from the far end, with the URL (a secret) taken out."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if len(secret) > 1:
            text = text.replace(secret, "…")
    return " ".join(_CONTROL.sub(" ", text).split())


def _cut(text: str) -> str:
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1].rstrip() + "…"
