"""The /v1 plumbing: key → tenant, request ids, faults, error bodies, call and event logs.

Every endpoint is a plain function `(ctx, **url_kwargs) -> HttpResponse` that raises
`ApiError` for failures; `api_view` wraps it so each concern is handled in one place.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from sandbox.checks import storage_figures, world_dialect
from sandbox.errors import ApiError, api_error, error_response, field_invalid
from sandbox.eventlog import event_build
from sandbox.faults import fault_apply
from sandbox.ids import request_id_for
from sandbox.models import SandboxCall, SandboxTenant
from sandbox.services import storage_growth_apply

API_PREFIX = "/v1"


@dataclass
class Ctx:
    """One API call being served; handlers note the account/resource it concerns."""

    request: HttpRequest
    tenant: SandboxTenant
    request_id: str
    account_id: str = ""
    platform: str = ""
    resource_id: str = ""

    def absolute(self, path: str) -> str:
        """An absolute URL on the host the caller used."""
        return self.request.build_absolute_uri(path)


Handler = Callable[..., HttpResponse]


@dataclass(frozen=True)
class Op:
    """An endpoint's handler for one method, with its events-log category and action."""

    handler: Handler
    category: str
    action: str
    storage_headers: bool = False
    billing_exempt: bool = False


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as upstream writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop absent (None) fields, as upstream's `omitempty` does."""
    return {key: value for key, value in data.items() if value is not None}


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or a 400 `validation.body_invalid`."""
    try:
        data = json.loads(request.body or b"")
    except (ValueError, RecursionError, RequestDataTooBig):
        raise api_error("validation.body_invalid", "Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise api_error("validation.body_invalid", "Request body must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, *, required: bool, max_len: int = 2000) -> str:
    """A string field of a JSON body ('' when optional and absent)."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise api_error("validation.field_required", f"{name} is required", field=name)
        return ""
    if not isinstance(value, str):
        raise api_error("validation.field_invalid", f"{name} must be a string", field=name)
    if len(value) > max_len:
        raise api_error("validation.field_invalid", f"{name} is too long", field=name, max=max_len)
    return value


def as_uuid(value: str) -> uuid.UUID | None:
    """A UUID (media ids), or None for anything else."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def moment_field(raw: str, name: str) -> datetime | None:
    """An RFC 3339 time (naive ones are UTC); None when blank, a 400 when not a time."""
    if not raw:
        return None
    try:
        moment = parse_datetime(raw)
    except ValueError:
        moment = None
    if moment is None:
        raise field_invalid(name, "must be an RFC 3339 time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def limit_param(request: HttpRequest, *, default: int, maximum: int = 100) -> int:
    """The `limit` query parameter: a positive integer, capped at `maximum`."""
    raw = request.GET.get("limit", "")
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise api_error(
            "validation.field_invalid", "limit must be a positive integer", field="limit"
        )
    return min(int(raw), maximum)


def list_end_mark(ctx: Ctx, target: dict[str, Any]) -> None:
    """Mark a last page as this tenant's upstream does: `next_cursor: ""`, or no cursor.

    The docs allow both; a client that pages on an empty cursor loops forever.
    """
    if ctx.tenant.list_end == SandboxTenant.ListEnd.EMPTY:
        target["next_cursor"] = ""


def no_such_endpoint() -> ApiError:
    """404 for a path, or a method on a path, that upstream does not have."""
    return api_error("resource.not_found", "No such endpoint", record=False)


def dialect_for(tenant: SandboxTenant | None) -> str:
    """The tenant's dialect; with no tenant (bad or missing key), the sandbox-wide one."""
    return tenant.dialect if tenant is not None else world_dialect()


def tenant_for_key(header: str | None) -> tuple[SandboxTenant | None, ApiError | None]:
    """The tenant behind `Authorization: Bearer <key>`, or the 401 to answer."""
    if header is None or not header.strip():
        return None, api_error("auth.missing_header", "Missing Authorization header", record=False)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None, api_error(
            "auth.invalid_key", "Authorization must be 'Bearer <api key>'", record=False
        )
    token = token.strip()
    if not token:
        return None, api_error("auth.empty_token", "The bearer token is empty", record=False)
    tenant = SandboxTenant.objects.filter(api_key=token[:80]).first()
    if tenant is None or tenant.key_revoked:
        # A revoked key still answers in its account's dialect.
        error = api_error("auth.invalid_key", "Invalid or revoked API key", record=False)
        return tenant, error
    return tenant, None


def _api_path(request: HttpRequest) -> str:
    """The path after `/v1` (e.g. `/media/<id>`)."""
    _, _, rest = request.path_info.partition(API_PREFIX + "/")
    return "/" + rest


def api_view(route: str, ops: dict[str, Op]) -> Callable[..., HttpResponse]:
    """Wrap the handlers of one route (e.g. `/media/{id}`) into a Django view."""

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: str) -> HttpResponse:
        """Serve one call: key, method, faults, billing, handler, logs."""
        started = time.monotonic()
        request_id = request_id_for(request.headers.get("X-Request-ID"))
        method = (request.method or "GET").upper()
        # A NUL in the path never gets here: RejectNulBytesMiddleware answers 400 first.
        path = _api_path(request)
        op = ops.get(method)
        tenant, error = tenant_for_key(request.headers.get("Authorization"))
        ctx = None
        fault = ""
        try:
            if op is None:
                # No such method on this path in the docs or the OpenAPI file (e.g. GET
                # /accounts/{id}: there is no get-one endpoint): no endpoint at all.
                raise no_such_endpoint()
            if error is not None:
                raise error
            assert tenant is not None
            storage_growth_apply(tenant=tenant)  # uploads of the tenant's own, if it grows
            outcome = fault_apply(tenant=tenant, method=method, path=path)
            fault = outcome.label
            if outcome.error is not None:
                raise outcome.error
            if outcome.response is not None:
                response = outcome.response
            else:
                if tenant.billing_blocked and not op.billing_exempt:
                    raise api_error(
                        "billing.past_due",
                        "Your subscription is past due. API access is paused until "
                        "the invoice is paid.",
                    )
                ctx = Ctx(request, tenant, request_id)
                response = op.handler(ctx, **kwargs)
        except ApiError as failure:
            response = error_response(failure, dialect=dialect_for(tenant), request_id=request_id)
            if tenant is not None and op is not None and failure.record:
                event_build(
                    tenant=tenant,
                    endpoint=f"{method} {API_PREFIX}{route}",
                    code=failure.code,
                    status_code=response.status_code,
                    message=failure.message,
                    category=op.category,
                    action=op.action,
                    platform=(ctx.platform if ctx else "") or (failure.platform or ""),
                    account_id=ctx.account_id if ctx else "",
                    resource_id=(ctx.resource_id if ctx else "") or kwargs.get("id", ""),
                    request_id=request_id,
                    duration_ms=int((time.monotonic() - started) * 1000),
                ).save(force_insert=True)
        if op is not None and op.storage_headers and ctx is not None:
            used, _ = storage_figures(ctx.tenant)
            response["X-Storage-Used"] = str(used)
            response["X-Storage-Limit"] = str(ctx.tenant.storage_limit_bytes)
        response["X-Request-ID"] = request_id
        SandboxCall.objects.create(
            tenant=tenant,
            method=method[:10],
            path=(API_PREFIX + path)[:300],
            status=response.status_code,
            media_id=kwargs.get("id", "")[:64] if route.startswith("/media/{") else "",
            request_id=request_id,
            fault=fault,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return response

    return view


@csrf_exempt
def unknown_endpoint(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other /v1 path: a 404 whatever the key, in the dialect of the key's tenant."""
    request_id = request_id_for(request.headers.get("X-Request-ID"))
    tenant, _ = tenant_for_key(request.headers.get("Authorization"))
    response = error_response(
        no_such_endpoint(), dialect=dialect_for(tenant), request_id=request_id
    )
    response["X-Request-ID"] = request_id
    return response
