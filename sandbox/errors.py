"""Errors the sandbox answers, and the one function that writes them in either dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

from socialapi.platforms import auth_kind

# What the sandbox says for each current code: HTTP status, the legacy (seed page) code
# and, when it differs, the legacy HTTP status. Codes the seed page never had keep their
# dotted spelling in the legacy body so a client can still classify them. The dashboard's
# reading of these codes is `socialapi.codes`; tests check both dialects classify alike.
DIALECTS: dict[str, tuple[int, str | None, int | None]] = {
    "auth.missing_header": (401, "unauthorized", None),
    "auth.empty_token": (401, "unauthorized", None),
    "auth.invalid_key": (401, "unauthorized", None),
    "auth.state_mismatch": (403, "unauthorized", None),
    "validation.field_required": (400, "missing_metadata", None),
    "validation.field_invalid": (400, "missing_metadata", None),
    "validation.body_invalid": (400, "missing_metadata", None),
    "account.unsupported_platform": (400, "unsupported_platform", None),
    "account.reconnection_required": (403, "invalid_token", 401),
    "account.not_found": (404, "account_not_found", None),
    "account.already_linked": (409, "account_already_linked", None),
    "resource.not_found": (404, "not_found", None),
    "media.not_found": (404, "not_found", None),
    "media.in_use": (409, "media.in_use", None),
    "resource.not_supported": (501, "not_supported", None),
    "billing.storage_quota": (413, "storage_quota_exceeded", None),
    "billing.post_limit": (429, "rate_limit_exceeded", None),
    "billing.past_due": (402, "billing.past_due", None),
    "billing.brands_limit": (403, "billing.brands_limit", None),
    "platform.rate_limit": (429, "platform_rate_limit", None),
    "platform.auth": (401, "invalid_token", None),  # credential platforms: see below
    "webhook_verification_failed": (400, "webhook_verification_failed", None),
    # POST /v1/posts/{pid}/retry: statuses from the OpenAPI file, codes from upstream's
    # official SDK (the seed page had none of them, so they keep their dotted spelling).
    "post.not_found": (404, "not_found", None),
    "post.state_invalid": (409, "post.state_invalid", None),
    "post.no_retryable_deliveries": (400, "post.no_retryable_deliveries", None),
    "system.internal": (500, None, None),
}


@dataclass
class ApiError(Exception):
    """One error answer, described once; `error_response` renders it per dialect."""

    code: str
    message: str
    meta: dict[str, Any] = field(default_factory=dict)
    platform: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # False for answers upstream would not log against the account (bad key, unknown URL).
    record: bool = True

    @property
    def generic_code(self) -> str:
        """`platform.instagram.auth` → `platform.auth`."""
        parts = self.code.split(".")
        if parts[0] == "platform" and len(parts) >= 3:
            return "platform." + ".".join(parts[2:])
        return self.code

    @property
    def status(self) -> int:
        """HTTP status in the current dialect."""
        return DIALECTS[self.generic_code][0]

    def legacy(self) -> tuple[int, str | None]:
        """HTTP status and flat code in the legacy dialect."""
        status, code, legacy_status = DIALECTS[self.generic_code]
        if self.generic_code == "platform.auth" and auth_kind(self.platform) == "credentials":
            code = "invalid_credentials"
        return legacy_status or status, code

    @property
    def error_category(self) -> str:
        """The events log's `error_category` for this error."""
        return error_category(self.code)


def error_category(code: str) -> str:
    """Group a current code the way the events log's `error_category` does."""
    parts = code.split(".")
    generic = f"platform.{parts[-1]}" if parts[0] == "platform" and len(parts) >= 3 else code
    if generic.startswith(("auth.", "account.reconnection", "byok.")) or generic == "platform.auth":
        return "auth"
    if generic in ("platform.rate_limit", "billing.post_limit") or "limit_exhausted" in generic:
        return "rate_limit"
    if generic.startswith("billing."):
        return "billing"
    if generic.startswith("system."):
        return "system"
    if generic.startswith("platform."):
        return "platform"
    return "validation"


def api_error(
    code: str,
    message: str,
    *,
    platform: str | None = None,
    headers: dict[str, str] | None = None,
    record: bool = True,
    **meta: Any,
) -> ApiError:
    """Build an ApiError; `platform.<x>` codes take the platform's slug."""
    if code.startswith("platform.") and platform:
        code = f"platform.{platform}.{code.removeprefix('platform.')}"
    return ApiError(code, message, dict(meta), platform, dict(headers or {}), record)


def error_response(error: ApiError, *, dialect: str, request_id: str) -> JsonResponse:
    """Render an error as upstream would: nested (current) or flat (legacy)."""
    if dialect == "legacy":
        status, code = error.legacy()
        body: dict[str, Any] = {"error": error.message}
        if code:
            body["code"] = code
    else:
        status = error.status
        body = {
            "error": {"code": error.code, "message": error.message, "meta": error.meta},
            "request_id": request_id,
        }
    response = JsonResponse(body, status=status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def field_required(name: str) -> ApiError:
    """400: a required field is missing."""
    return api_error("validation.field_required", f"{name} is required", field=name)


def field_invalid(name: str, why: str) -> ApiError:
    """400: a field has the wrong type or value."""
    return api_error("validation.field_invalid", f"{name} {why}", field=name)


def not_found(code: str, what: str, ident: str) -> ApiError:
    """404 for an id this tenant does not have."""
    resource = code.split(".")[0]
    return api_error(code, f"{what} not found", resource=resource, id=ident[:100])


def internal() -> ApiError:
    """500 as upstream answers it."""
    return api_error("system.internal", "Internal server error. Please contact support.")
