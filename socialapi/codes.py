"""Upstream error codes: the one table, a pure classifier and a never-raising body parser."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Literal

from socialapi.platforms import auth_kind, canonical_slug

Dialect = Literal["legacy", "current", "unparseable"]


class Family(StrEnum):
    """What the dashboard does about an error; one exception class per family."""

    API_KEY = "api_key"
    RECONNECT = "reconnect"
    CREDENTIALS = "credentials"
    STORAGE_QUOTA = "storage_quota"
    MONTHLY_LIMIT = "monthly_limit"
    PLATFORM_THROTTLE = "platform_throttle"
    BILLING = "billing"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    NOT_SUPPORTED = "not_supported"
    VALIDATION = "validation"
    SERVER = "server"
    UNKNOWN = "unknown"


F = Family

# THE table: every code of docs/socialapi.md and of the OpenAPI file. Each row: raw code
# (either dialect; `platform.<name>.x` is looked up as `platform.x`), HTTP status when the
# same raw code means two things (else None), normalised (current-dialect,
# platform-agnostic) code, family, and why. A code the seed page never had comes back with
# its dotted spelling in a legacy body too, so one row serves both dialects. The family
# is the one for an OAuth platform (or none known); `family_for_platform` adjusts it for
# the platform's auth kind. The words for each code are in events/fixes.py.
CODE_TABLE: tuple[tuple[str, int | None, str, Family, str], ...] = (
    # Legacy flat codes (the seed page) -> current codes.
    ("missing_metadata", None, "validation.field_required", F.VALIDATION, "seed 400"),
    ("unsupported_platform", None, "account.unsupported_platform", F.VALIDATION, "seed 400"),
    ("unauthorized", None, "auth.invalid_key", F.API_KEY, "seed 401: the workspace key"),
    ("unauthorized", 403, "auth.state_mismatch", F.VALIDATION, "seed 403: see auth.state_mismatch"),
    ("invalid_token", None, "account.reconnection_required", F.RECONNECT, "seed 401: OAuth token"),
    ("invalid_credentials", None, "byok.credentials_invalid", F.CREDENTIALS, "seed 401"),
    ("account_not_found", None, "account.not_found", F.NOT_FOUND, "seed 404"),
    ("not_found", None, "resource.not_found", F.NOT_FOUND, "seed 404"),
    ("account_already_linked", None, "account.already_linked", F.CONFLICT, "seed 409"),
    ("storage_quota_exceeded", None, "billing.storage_quota", F.STORAGE_QUOTA, "seed 413"),
    # "interaction" in the message switches it to validation.interaction_limit_exhausted.
    ("rate_limit_exceeded", None, "validation.post_limit_exhausted", F.MONTHLY_LIMIT, "seed 429"),
    ("platform_rate_limit", None, "platform.rate_limit", F.PLATFORM_THROTTLE, "seed 429"),
    ("not_supported", None, "resource.not_supported", F.NOT_SUPPORTED, "seed 501"),
    ("-", None, "system.internal", F.SERVER, "seed 500 has no code"),
    # Current dotted codes.
    ("validation.field_required", None, "validation.field_required", F.VALIDATION, "400"),
    ("validation.field_invalid", None, "validation.field_invalid", F.VALIDATION, "400"),
    ("validation.body_invalid", None, "validation.body_invalid", F.VALIDATION, "400"),
    # POST /v1/webhooks: upstream's reachability ping of the URL failed (flat spelling).
    (
        "webhook_verification_failed",
        None,
        "webhook_verification_failed",
        F.VALIDATION,
        "400 ping failed",
    ),
    ("auth.missing_header", None, "auth.missing_header", F.API_KEY, "workspace key missing"),
    ("auth.empty_token", None, "auth.empty_token", F.API_KEY, "workspace key empty"),
    ("auth.invalid_key", None, "auth.invalid_key", F.API_KEY, "workspace key invalid/revoked"),
    # The trap: the caller's bearer token, not a social account token. No Reconnect button.
    ("auth.invalid_token", None, "auth.invalid_token", F.API_KEY, "workspace key, not OAuth"),
    # OAuth state issued for another API key: the reconnect attempt failed and must be
    # restarted; the account and the key are both fine, so it is a request-level failure.
    ("auth.state_mismatch", None, "auth.state_mismatch", F.VALIDATION, "restart the flow"),
    ("account.reconnection_required", None, "account.reconnection_required", F.RECONNECT, "403"),
    ("account.unsupported_platform", None, "account.unsupported_platform", F.VALIDATION, "400"),
    # OpenAPI (reviews, 422): the account's platform lacks the operation -> hide the feature.
    ("account.platform_unsupported", None, "account.platform_unsupported", F.NOT_SUPPORTED, "422"),
    ("account.not_found", None, "account.not_found", F.NOT_FOUND, "mark disconnected"),
    ("account.already_linked", None, "account.already_linked", F.CONFLICT, "409"),
    ("byok.credentials_invalid", None, "byok.credentials_invalid", F.CREDENTIALS, "BYOK keys"),
    ("resource.not_found", None, "resource.not_found", F.NOT_FOUND, "404"),
    ("media.not_found", None, "media.not_found", F.NOT_FOUND, "404"),
    ("media.in_use", None, "media.in_use", F.CONFLICT, "409: bulk delete skips it"),
    ("resource.not_supported", None, "resource.not_supported", F.NOT_SUPPORTED, "501"),
    ("billing.storage_quota", None, "billing.storage_quota", F.STORAGE_QUOTA, "413"),
    ("billing.post_limit", None, "billing.post_limit", F.MONTHLY_LIMIT, "429 monthly"),
    (
        "validation.post_limit_exhausted",
        None,
        "validation.post_limit_exhausted",
        F.MONTHLY_LIMIT,
        "429 monthly",
    ),
    (
        "validation.interaction_limit_exhausted",
        None,
        "validation.interaction_limit_exhausted",
        F.MONTHLY_LIMIT,
        "429 monthly",
    ),
    ("billing.past_due", None, "billing.past_due", F.BILLING, "402: every call blocked"),
    # Plan limits answered on connect (403): this one request is refused, nothing is
    # paused and nothing resets monthly, so neither `billing` nor `monthly_limit`.
    (
        "billing.platform_not_available",
        None,
        "billing.platform_not_available",
        F.VALIDATION,
        "403 plan limit on connect",
    ),
    ("billing.brands_limit", None, "billing.brands_limit", F.VALIDATION, "403 plan limit"),
    ("system.internal", None, "system.internal", F.SERVER, "500"),
    # OpenAPI (POST /v1/posts): every target platform refused the post.
    (
        "publishing.delivery.all_failed",
        None,
        "publishing.delivery.all_failed",
        F.VALIDATION,
        "422 each target says why",
    ),
    # POST /v1/posts/{pid}/retry (and publish): the OpenAPI file gives the statuses but no
    # codes; these are the codes upstream emits, as named by its official SDK's error
    # table (socialapi 0.4.0, _exceptions._ERROR_CODE_MAP).
    ("post.not_found", None, "post.not_found", F.NOT_FOUND, "404 the post does not exist"),
    ("post.state_invalid", None, "post.state_invalid", F.CONFLICT, "409 not failed/partial"),
    (
        "post.no_retryable_deliveries",
        None,
        "post.no_retryable_deliveries",
        F.VALIDATION,
        "400 no target left to retry",
    ),
    # platform.<name>.<suffix>, looked up without the platform name.
    ("platform.rate_limit", None, "platform.rate_limit", F.PLATFORM_THROTTLE, "uses no quota"),
    # On a credentials platform the credentials family (see family_for_platform).
    ("platform.auth", None, "platform.auth", F.RECONNECT, "OAuth token dead"),
    # OpenAPI: refusals of one request by the platform; the account stays healthy.
    (
        "platform.private_reply_ineligible",
        None,
        "platform.private_reply_ineligible",
        F.VALIDATION,
        "400 one private reply per comment, within 7 days",
    ),
    (
        "platform.window_closed",
        None,
        "platform.window_closed",
        F.VALIDATION,
        "400 the recipient must write first",
    ),
    (
        "platform.permission_denied",
        None,
        "platform.permission_denied",
        F.VALIDATION,
        "403 the platform refused this request",
    ),
    ("platform.page_cap", None, "platform.page_cap", F.VALIDATION, "403 five Facebook Pages"),
    ("platform.230", None, "platform.230", F.VALIDATION, "403 Instagram: no consent to disclose"),
    (
        "platform.media_required",
        None,
        "platform.media_required",
        F.VALIDATION,
        "post target: needs media",
    ),
    # OpenAPI: accounts connected before the scope existed "must be reconnected".
    (
        "platform.insights_scope_missing",
        None,
        "platform.insights_scope_missing",
        F.RECONNECT,
        "403 reconnect to grant the scope",
    ),
)

_BY_CODE: dict[tuple[str, int | None], tuple[str, Family]] = {
    (raw, status): (code, family) for raw, status, code, family, _ in CODE_TABLE
}

# Unrecognised codes: the family follows the HTTP status only when it is unambiguous.
STATUS_FAMILIES: dict[int, Family] = {
    400: F.VALIDATION,
    402: F.BILLING,
    404: F.NOT_FOUND,
    409: F.CONFLICT,
    422: F.VALIDATION,
    # No 429: it is either a monthly allowance (never retry) or a platform throttle (retry,
    # banner naming the platform). Without a known code neither can be claimed: unknown.
    501: F.NOT_SUPPORTED,
}

# What an unrecognised (or missing) code means on an endpoint that can fail only one way
# with that status: the legacy dialect may name no code the table knows for it.
ENDPOINT_CODES: dict[tuple[str, str, int], str] = {
    # OpenAPI: DELETE /v1/media/{id} answers 409 only for media attached to a post.
    ("DELETE", "/media/{id}", 409): "media.in_use",
    # OpenAPI: POST /v1/posts/{pid}/retry documents one meaning per status (a legacy body
    # may carry only a seed code, or none): 400 "not retryable", 404 "post not found",
    # 409 "not in a retryable state", 429 "monthly post limit exceeded".
    ("POST", "/posts/{pid}/retry", 400): "post.no_retryable_deliveries",
    ("POST", "/posts/{pid}/retry", 404): "post.not_found",
    ("POST", "/posts/{pid}/retry", 409): "post.state_invalid",
    ("POST", "/posts/{pid}/retry", 429): "billing.post_limit",
}

_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")
_KEY_PATTERN = re.compile(r"sapi_key_[A-Za-z0-9]+")
MAX_BODY_BYTES = 8 * 1024
MAX_MESSAGE_CHARS = 2000
MAX_JSON_DEPTH = 20


@dataclass(frozen=True)
class Classification:
    """A normalised code, its family and the platform it concerns."""

    code: str
    family: Family
    platform: str | None = None


def _family_for_status(status: int | None) -> Family:
    """Return the family implied by an HTTP status alone."""
    if status is None:
        return F.UNKNOWN
    if status in STATUS_FAMILIES:
        return STATUS_FAMILIES[status]
    return F.SERVER if 500 <= status <= 599 else F.UNKNOWN


def _family_for_pattern(code: str, status: int | None) -> Family | None:
    """Return the family of a code not in the table, from its shape."""
    if code.endswith("_limit_exhausted"):
        return F.MONTHLY_LIMIT
    if code.endswith(".not_found"):
        return F.NOT_FOUND
    if code.endswith(".not_supported"):
        return F.NOT_SUPPORTED
    if code.startswith("system."):
        return F.SERVER
    if code.startswith("validation."):
        return F.VALIDATION
    if code.startswith("auth.") and status in (None, 401):
        return F.API_KEY
    return None


def family_for_platform(family: Family | str, platform: object) -> Family:
    """The family of an error once the platform's auth kind is known.

    A credentials (API-key, bot-token) platform has no OAuth login to lose: whatever says
    "reconnect" for it (`account.reconnection_required`, `invalid_token`, `platform.<x>.auth`)
    is fixed by new credentials, never by a browser sign-in.
    """
    family = Family(family)
    if family is F.RECONNECT and auth_kind(platform) == "credentials":
        return F.CREDENTIALS
    return family


def _lookup(code: str, status: int | None) -> tuple[str, Family] | None:
    return _BY_CODE.get((code, status)) or _BY_CODE.get((code, None))


def classify(
    raw_code: str | None,
    status: int | None,
    *,
    message: str = "",
    platform: str | None = None,
    dialect: str | None = None,
    method: str = "",
    endpoint: str = "",
) -> Classification:
    """Map a raw code (either dialect) and HTTP status to a normalised code and family.

    `platform` is the platform the call was for, when the caller knows it (a code that
    names one wins); `method` and `endpoint` (the template, "/media/{id}") place codes
    that mean one thing on that endpoint (ENDPOINT_CODES).
    """
    code = str(raw_code or "").strip().lower()
    slug = canonical_slug(platform) or None
    lookup = code
    parts = code.split(".")
    if parts[0] == "platform" and len(parts) >= 3:
        slug = canonical_slug(parts[1]) or slug
        lookup = code = "platform." + ".".join(parts[2:])

    found = _lookup(lookup, status) if code not in ("", "-") else None
    if found is None and status is not None:
        implied = ENDPOINT_CODES.get((method.upper(), endpoint, status))
        found = _lookup(implied, status) if implied else None
    if found is None:
        if code in ("", "-"):
            # The seed documents its 500 as "-"; an uncoded legacy 500 means the same.
            if status == 500 and (code == "-" or dialect == "legacy"):
                return Classification("system.internal", F.SERVER, slug)
            return Classification("unknown", _family_for_status(status), slug)
        family = _family_for_pattern(code, status) or _family_for_status(status)
        return Classification(code, family_for_platform(family, slug), slug)
    code, family = found
    if code == "validation.post_limit_exhausted" and "interaction" in message.lower():
        code = "validation.interaction_limit_exhausted"
    return Classification(code, family_for_platform(family, slug), slug)


@dataclass(frozen=True)
class ParsedError:
    """What could be read from an error response body, whatever its shape."""

    raw_code: str | None
    message: str
    meta: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    dialect: Dialect = "unparseable"


def header_get(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Look a header up case-insensitively in any mapping."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def body_text(body: bytes | str | None) -> str:
    """Decode a body for storage, capped at 8 KB."""
    if body is None:
        return ""
    if isinstance(body, str):
        body = body.encode("utf-8", errors="replace")
    return body[:MAX_BODY_BYTES].decode("utf-8", errors="replace")


def _clean_id(value: object) -> str | None:
    """Return a request id if it looks like one."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()[:128]
        return text or None
    return None


def _code_text(value: object) -> str | None:
    """Return a code as text when it is a string or number."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _message_text(value: object) -> str:
    """Return a message as capped text."""
    return value[:MAX_MESSAGE_CHARS] if isinstance(value, str) else ""


def parse_error_body(
    status: int | None,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
) -> ParsedError:
    """Read an error body in the legacy or current dialect; never raises."""
    header_id = _clean_id(header_get(headers, "X-Request-ID"))
    try:
        raw = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body or ""
        data: object = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError, TypeError):
        data = None
    if not isinstance(data, dict):
        return ParsedError(None, "", {}, header_id, "unparseable")

    request_id = _clean_id(data.get("request_id"))
    error = data.get("error")
    if isinstance(error, dict):
        meta = error.get("meta")
        return ParsedError(
            raw_code=_code_text(error.get("code")),
            message=_message_text(error.get("message")),
            meta=meta if isinstance(meta, dict) else {},
            request_id=request_id or _clean_id(error.get("request_id")) or header_id,
            dialect="current",
        )
    if isinstance(error, str) or (error is None and "code" in data):
        message = error if isinstance(error, str) else data.get("message")
        return ParsedError(
            raw_code=_code_text(data.get("code")),
            message=_message_text(message),
            meta={},
            request_id=request_id or header_id,
            dialect="legacy",
        )
    return ParsedError(None, "", {}, request_id or header_id, "unparseable")


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return Retry-After in seconds (delta-seconds or HTTP-date), None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove API keys (the given ones and anything shaped like one) from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("sapi_key_[redacted]", text)


def redact_json(value: Any, secrets: tuple[str, ...] = (), *, depth: int = 0) -> Any:
    """Return a JSON value with `redact` applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value, secrets)
    if depth >= MAX_JSON_DEPTH and isinstance(value, dict | list):
        return "[too deep]"
    if isinstance(value, dict):
        return {
            redact(str(key), secrets): redact_json(item, secrets, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item, secrets, depth=depth + 1) for item in value]
    return value
