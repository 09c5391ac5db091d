"""The one HTTP session to SocialAPI: auth, request ids, retries, hooks and logging."""

from __future__ import annotations

import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from socialapi.codes import body_text, redact
from socialapi.errors import (
    Family,
    SocialAPIError,
    UnknownError,
    ValidationFailed,
    error_from_response,
    network_error,
)
from socialapi.models import FreshFigures
from socialapi.platforms import canonical_slug
from socialapi.transport import BlockedAddress, PublicNetworkTransport, Transport

logger = logging.getLogger("socialapi")

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
IDEMPOTENT_METHODS = frozenset({"GET", "DELETE"})
# Transport errors where the request never reached upstream: safe to resend anything.
NEVER_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
# Transport errors after which upstream may have acted: resend only idempotent calls.
MAYBE_SENT: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
RETRY_FAMILIES = frozenset({Family.SERVER, Family.PLATFORM_THROTTLE})
# Path parameter values that would leave their path once httpx normalises the URL
# ("/media/.." is "/"), or that no upstream id ever is.
DOT_SEGMENTS = frozenset({"", ".", ".."})

ErrorHook = Callable[[SocialAPIError], None]
FiguresHook = Callable[[FreshFigures], None]


@dataclass(frozen=True)
class ClientConfig:
    """How to reach one workspace's SocialAPI; the key never shows in repr."""

    base_url: str
    api_key: str = field(repr=False)
    # Only picks which connect form `accounts_connect` sends.
    dialect: Literal["current", "legacy"] = "current"
    timeout: float = 10.0
    connect_timeout: float = 5.0
    user_agent: str = "socialapi-dashboard/1.0"
    max_attempts: int = 4
    max_retry_seconds: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # Connect only to public internet addresses (checked on the resolved address, so DNS
    # tricks and rebinding are caught). Applies to the network transport the client
    # builds; a transport passed in (tests, in-process sandbox) is used as given.
    block_private_networks: bool = False

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_key.isascii() or not self.api_key.isprintable():
            # Never echo the value: it is a secret.
            raise ValueError("api_key must be non-empty printable ASCII")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


def mask_key(key: str) -> str:
    """Return a key shown safely: prefix and last four characters at most."""
    prefix = "sapi_key_" if key.startswith("sapi_key_") else ""
    tail = key[-4:] if len(key) - len(prefix) >= 16 else ""
    return f"{prefix}…{tail}"


def _path_param_ok(value: str) -> bool:
    """True for a value that stays one path segment whatever normalises the URL."""
    return value not in DOT_SEGMENTS and "/" not in value and "\\" not in value


def new_request_id() -> str:
    """Return a fresh X-Request-ID for one attempt."""
    return "dash_" + secrets.token_hex(12)


@dataclass
class Reply:
    """A successful response and how it was obtained."""

    response: httpx.Response
    method: str
    endpoint: str
    path: str
    path_params: dict[str, str]
    request_id: str
    attempts: int
    # The platform the call was for, when the caller said (see `Session.request`).
    platform: str | None = None


class Session:
    """Sends requests with retries in one place; raises SocialAPIError subclasses."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_error: ErrorHook | None = None,
        on_figures: FiguresHook | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._secrets = (config.api_key,)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self.on_error = on_error
        self.on_figures = on_figures
        if transport is None and config.block_private_networks:
            transport = PublicNetworkTransport()
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/") + "/",
            headers={
                "Authorization": f"Bearer {config.api_key}",
                "User-Agent": config.user_agent,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            follow_redirects=False,
            transport=transport,
            # httpx already ignores environment proxies when handed a transport (the guard
            # always is); this also keeps ~/.netrc credentials off guarded calls.
            trust_env=not config.block_private_networks,
        )

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        accept: tuple[int, ...] = (),
        retry: bool = True,
        platform: str | None = None,
    ) -> Reply:
        """Send one call, retrying where safe; `accept` lists non-2xx answers to return.

        `platform` is the platform of the account the call is for, when the caller knows
        it: a legacy error body names none, and the family of some codes depends on the
        platform's auth kind, so both dialects then raise the same error.
        """
        platform = canonical_slug(platform) or None
        pp = {key: str(value) for key, value in (path_params or {}).items()}
        bad = [key for key, value in pp.items() if not _path_param_ok(value)]
        if bad:
            # Never sent: DELETE /media/.. would be DELETE /v1 after normalisation.
            refused = ValidationFailed(
                status=None,
                code="request.invalid_path_param",
                message=f"refused to send: unusable value for path parameter {bad[0]!r}",
                method=method,
                endpoint=endpoint,
                path=endpoint,
                path_params={key: redact(value, self._secrets)[:100] for key, value in pp.items()},
                platform=platform,
                sent=False,
            )
            raise self.fail(refused, 0)
        path = endpoint.format(**{key: quote(value, safe="") for key, value in pp.items()})
        query = {key: value for key, value in (params or {}).items() if value is not None}
        idempotent = method in IDEMPOTENT_METHODS
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            request_id = new_request_id()
            try:
                response = self._http.request(
                    method,
                    path.lstrip("/"),
                    params=query,
                    json=json,
                    files=files,
                    headers={"X-Request-ID": request_id},
                )
            except httpx.RequestError as exc:
                failure, retryable = self._transport_failure(exc, idempotent)
                failure.request_id = request_id
            except BlockedAddress as exc:
                # Refused before connecting: the key never left. Retrying cannot help.
                failure = network_error(
                    "network.blocked_address",
                    str(exc),
                    request_id=request_id,
                    secrets=self._secrets,
                    sent=False,
                )
                retryable = False
            else:
                self._report_figures(response)
                if response.is_success or response.status_code in accept:
                    return Reply(
                        response, method, endpoint, path, pp, request_id, attempt, platform
                    )
                failure = error_from_response(
                    response.status_code,
                    response.content,
                    response.headers,
                    method=method,
                    endpoint=endpoint,
                    platform=platform,
                    secrets=self._secrets,
                )
                failure.request_id = failure.request_id or request_id
                retryable = idempotent and failure.family in RETRY_FAMILIES
            failure.method, failure.endpoint, failure.path = method, endpoint, path
            failure.path_params = pp
            failure.platform = failure.platform or platform
            self._log_attempt(failure, attempt)
            if not retry or not retryable or attempt >= self.config.max_attempts:
                break
            wait = failure.retry_after
            if wait is None:
                ceiling = self.config.backoff_base * 2 ** (attempt - 1)
                wait = self._rng.uniform(0, min(self.config.backoff_cap, ceiling))
            remaining = self.config.max_retry_seconds - (self._clock() - started)
            if wait > remaining:
                failure.retry_after = wait
                break
            self._sleep(wait)
        # Raised outside the except block so no httpx exception (which holds the request
        # and its Authorization header) is chained as __context__.
        raise self.fail(failure, attempt)

    def fail(self, failure: SocialAPIError, attempts: int) -> SocialAPIError:
        """Finalise an error, tell the on_error hook once, and return it for raising."""
        failure.attempts = attempts
        if self.on_error is not None:
            try:
                self.on_error(failure)
            except Exception as exc:  # a broken hook must not break the call
                logger.warning("socialapi on_error hook failed: %s", type(exc).__name__)
        return failure

    def gone_or_raise(self, reply: Reply) -> bool:
        """Return False for upstream's own 404 on a DELETE; raise for any other 404."""
        response = reply.response
        failure = error_from_response(
            response.status_code,
            response.content,
            response.headers,
            method=reply.method,
            endpoint=reply.endpoint,
            platform=reply.platform,
            secrets=self._secrets,
        )
        # An HTML 404 (wrong base URL, proxy) must not count as "already deleted".
        if failure.family is Family.NOT_FOUND and failure.dialect != "unparseable":
            return False
        failure.request_id = failure.request_id or reply.request_id
        failure.method, failure.endpoint, failure.path = reply.method, reply.endpoint, reply.path
        failure.path_params = reply.path_params
        self._log_attempt(failure, reply.attempts)
        raise self.fail(failure, reply.attempts)

    def invalid_reply(self, reply: Reply, why: str) -> SocialAPIError:
        """Return the error for a 2xx answer whose body cannot be used."""
        response = reply.response
        failure = UnknownError(
            status=response.status_code,
            code="response.invalid",
            message=why,
            request_id=response.headers.get("X-Request-ID") or reply.request_id,
            method=reply.method,
            endpoint=reply.endpoint,
            path=reply.path,
            path_params=reply.path_params,
            body=redact(body_text(response.content), self._secrets),
            dialect="unparseable",
            platform=reply.platform,
        )
        self._log_attempt(failure, reply.attempts)
        return self.fail(failure, reply.attempts)

    def _transport_failure(
        self, exc: httpx.RequestError, idempotent: bool
    ) -> tuple[SocialAPIError, bool]:
        """Map an httpx transport error to UpstreamUnavailable and say if it may be retried."""
        timeout = isinstance(exc, httpx.TimeoutException)
        never_sent = isinstance(exc, NEVER_SENT)
        failure = network_error(
            "network.timeout" if timeout else "network.connection_error",
            f"{type(exc).__name__}: {exc}"[:500],
            secrets=self._secrets,
            sent=False if never_sent else None,
        )
        if never_sent:
            return failure, True
        return failure, idempotent and isinstance(exc, MAYBE_SENT)

    def _report_figures(self, response: httpx.Response) -> None:
        """Pass quota figures found in response headers to the on_figures hook."""
        if self.on_figures is None:
            return
        figures = FreshFigures.from_headers(response.headers)
        if figures is None:
            return
        try:
            self.on_figures(figures)
        except Exception as exc:  # a broken hook must not break the call
            logger.warning("socialapi on_figures hook failed: %s", type(exc).__name__)

    def _log_attempt(self, failure: SocialAPIError, attempt: int) -> None:
        """Log one failed attempt: never the key, never the Authorization header."""
        logger.warning(
            "socialapi %s %s failed: status=%s code=%s request_id=%s attempt=%d",
            failure.method,
            failure.endpoint,
            failure.status,
            failure.code,
            failure.request_id,
            attempt,
        )
