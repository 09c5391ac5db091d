"""Exceptions for failed SocialAPI calls, one class per family, built from any response."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from socialapi.codes import (
    CODE_TABLE,
    STATUS_FAMILIES,
    Classification,
    Dialect,
    Family,
    ParsedError,
    body_text,
    classify,
    family_for_platform,
    header_get,
    parse_error_body,
    parse_retry_after,
    redact,
    redact_json,
)

__all__ = [
    "CODE_TABLE",
    "STATUS_FAMILIES",
    "ApiKeyInvalid",
    "BillingBlocked",
    "Classification",
    "Conflict",
    "CredentialsInvalid",
    "Dialect",
    "Family",
    "MonthlyLimitReached",
    "NotFound",
    "NotSupported",
    "ParsedError",
    "PlatformThrottled",
    "ReconnectRequired",
    "ServerError",
    "SocialAPIError",
    "StorageQuotaExceeded",
    "UnknownError",
    "UpstreamUnavailable",
    "ValidationFailed",
    "classify",
    "error_from_response",
    "family_for_platform",
    "network_error",
    "parse_error_body",
    "parse_retry_after",
]

ErrorDialect = Literal["legacy", "current", "unparseable", "none"]


class SocialAPIError(Exception):
    """A failed SocialAPI call: what upstream said, normalised, and where it happened."""

    family: Family = Family.UNKNOWN

    def __init__(
        self,
        *,
        status: int | None,
        code: str,
        raw_code: str | None = None,
        message: str = "",
        meta: dict[str, Any] | None = None,
        request_id: str | None = None,
        family: Family | None = None,
        platform: str | None = None,
        method: str = "",
        endpoint: str = "",
        path: str = "",
        path_params: dict[str, str] | None = None,
        retry_after: float | None = None,
        body: str = "",
        dialect: ErrorDialect = "none",
        attempts: int = 1,
        sent: bool | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.raw_code = raw_code
        self.message = message
        self.meta: dict[str, Any] = dict(meta or {})
        self.request_id = request_id
        self.family = family or type(self).family
        self.platform = platform
        self.method = method
        self.endpoint = endpoint
        self.path = path
        self.path_params: dict[str, str] = dict(path_params or {})
        self.retry_after = retry_after
        self.body = body
        self.dialect: ErrorDialect = dialect
        self.attempts = attempts
        # Whether the request reached upstream: True when it answered, False when it
        # certainly did not (no connection, refused before connecting), None when it may
        # have (a timeout or a connection lost after sending). A call that is not safe to
        # repeat (POST /posts/{pid}/retry) is never sent again when this is None.
        self.sent = True if status is not None and sent is None else sent
        super().__init__(self._summary())

    def _summary(self) -> str:
        """Return the one-line description used by str()."""
        status = str(self.status) if self.status is not None else "no response"
        text = f"{status} {self.code}"
        if self.message:
            text += ": " + " ".join(self.message.split())
        if self.request_id:
            text += f" (request id {self.request_id})"
        if self.endpoint:
            text += f" [{self.method} {self.endpoint}]"
        return text

    def __str__(self) -> str:
        return self._summary()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, endpoint={self.endpoint!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.as_dict()))

    def as_dict(self) -> dict[str, Any]:
        """Return every attribute as JSON-friendly values (for storing an error event)."""
        return {
            "status": self.status,
            "code": self.code,
            "raw_code": self.raw_code,
            "message": self.message,
            "meta": self.meta,
            "request_id": self.request_id,
            "family": str(self.family),
            "platform": self.platform,
            "method": self.method,
            "endpoint": self.endpoint,
            "path": self.path,
            "path_params": self.path_params,
            "retry_after": self.retry_after,
            "body": self.body,
            "dialect": self.dialect,
            "attempts": self.attempts,
            "sent": self.sent,
        }


def _restore(cls: type[SocialAPIError], state: dict[str, Any]) -> SocialAPIError:
    """Rebuild a pickled error."""
    state = dict(state)
    state["family"] = Family(state["family"])
    return cls(**state)


class ApiKeyInvalid(SocialAPIError):
    """The workspace API key is missing, invalid or revoked: fix it in settings."""

    family = Family.API_KEY


class ReconnectRequired(SocialAPIError):
    """A connected account's OAuth token is dead: run the reconnect flow."""

    family = Family.RECONNECT


class CredentialsInvalid(SocialAPIError):
    """The platform rejected stored credentials (API-key platforms): update them."""

    family = Family.CREDENTIALS


class StorageQuotaExceeded(SocialAPIError):
    """The upload would exceed the plan's media storage."""

    family = Family.STORAGE_QUOTA


class MonthlyLimitReached(SocialAPIError):
    """The monthly post or interaction allowance is used up; never retry."""

    family = Family.MONTHLY_LIMIT


class PlatformThrottled(SocialAPIError):
    """The platform itself throttles; retry later, no quota used."""

    family = Family.PLATFORM_THROTTLE


class BillingBlocked(SocialAPIError):
    """The subscription is past due and every call is blocked."""

    family = Family.BILLING


class NotFound(SocialAPIError):
    """The account or resource does not exist upstream."""

    family = Family.NOT_FOUND


class Conflict(SocialAPIError):
    """The request conflicts with upstream state (already linked, media in use)."""

    family = Family.CONFLICT


class NotSupported(SocialAPIError):
    """The operation is not available on that platform: hide the feature."""

    family = Family.NOT_SUPPORTED


class ValidationFailed(SocialAPIError):
    """Upstream refused the request as sent (bad field, plan limit, failed OAuth state)."""

    family = Family.VALIDATION


class ServerError(SocialAPIError):
    """Upstream fault (5xx)."""

    family = Family.SERVER


class UpstreamUnavailable(ServerError):
    """No response at all: timeout or connection failure."""


class UnknownError(SocialAPIError):
    """Anything the table and the HTTP status cannot place."""

    family = Family.UNKNOWN


FAMILY_CLASSES: dict[Family, type[SocialAPIError]] = {
    cls.family: cls
    for cls in (
        ApiKeyInvalid,
        ReconnectRequired,
        CredentialsInvalid,
        StorageQuotaExceeded,
        MonthlyLimitReached,
        PlatformThrottled,
        BillingBlocked,
        NotFound,
        Conflict,
        NotSupported,
        ValidationFailed,
        ServerError,
        UnknownError,
    )
}


def error_from_response(
    status: int | None,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "",
    endpoint: str = "",
    path: str = "",
    path_params: dict[str, str] | None = None,
    platform: str | None = None,
    attempts: int = 1,
    secrets: tuple[str, ...] = (),
) -> SocialAPIError:
    """Build the exception for an error response, picking the class by family."""
    parsed = parse_error_body(status, body, headers)
    # Upstream may echo the key anywhere it was sent: scrub every string it chose.
    message = redact(parsed.message, secrets)
    raw_code = redact(parsed.raw_code, secrets) if parsed.raw_code is not None else None
    request_id = redact(parsed.request_id, secrets) if parsed.request_id is not None else None
    meta: dict[str, Any] = redact_json(parsed.meta, secrets)
    meta_platform = meta.get("platform")
    hint = platform or (meta_platform if isinstance(meta_platform, str) else None)
    found = classify(
        raw_code,
        status,
        message=message,
        platform=hint,
        dialect=parsed.dialect,
        method=method,
        endpoint=endpoint,
    )
    cls = FAMILY_CLASSES.get(found.family, UnknownError)
    return cls(
        status=status,
        code=found.code,
        raw_code=raw_code,
        message=message,
        meta=meta,
        request_id=request_id,
        family=found.family,
        platform=found.platform,
        method=method,
        endpoint=endpoint,
        path=path,
        path_params=path_params,
        retry_after=parse_retry_after(header_get(headers, "Retry-After"), now=time.time()),
        body=redact(body_text(body), secrets),
        dialect=parsed.dialect,
        attempts=attempts,
    )


def network_error(
    code: Literal["network.timeout", "network.connection_error", "network.blocked_address"],
    detail: str,
    *,
    method: str = "",
    endpoint: str = "",
    path: str = "",
    path_params: dict[str, str] | None = None,
    request_id: str | None = None,
    attempts: int = 1,
    secrets: tuple[str, ...] = (),
    sent: bool | None = None,
) -> UpstreamUnavailable:
    """Build the exception for a call that got no response (`sent`: see SocialAPIError)."""
    return UpstreamUnavailable(
        status=None,
        code=code,
        message=redact(detail, secrets),
        request_id=request_id,
        family=Family.SERVER,
        method=method,
        endpoint=endpoint,
        path=path,
        path_params=path_params,
        dialect="none",
        attempts=attempts,
        sent=sent,
    )
