"""Views outside any workspace: the ingest API (token-authenticated JSON), its OpenAPI
description, and the support staff's errors page across every workspace."""

from __future__ import annotations

import logging
import time

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from dashboard.access import staff_required
from dashboard.audit import audit_record
from dashboard.models import Workspace
from dashboard.selectors import workspace_for_ingest_token
from events.forms import ErrorFilterForm
from events.ingest import MAX_REQUEST_BYTES, IngestError, error_events_ingest, ingest_items_parse
from events.openapi import openapi_document
from events.selectors import error_groups_page_all
from events.views import filter_choices

SUPPORT_AUDIT_WINDOW_SECONDS = 15 * 60
log = logging.getLogger(__name__)


def _api_error(error: IngestError, **headers: str) -> JsonResponse:
    response = JsonResponse(error.as_json(), status=error.status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@csrf_exempt
def ingest(request: HttpRequest) -> HttpResponse:
    """POST /api/v1/events: one event or a batch of up to 500; answers 202 per item."""
    if request.method != "POST":
        response = _api_error(IngestError(405, "resource.method_not_allowed", "Use POST."))
        response["Allow"] = "POST"
        return response
    token = _bearer(request)
    if not token:
        return _api_error(
            IngestError(
                401,
                "auth.missing_header",
                "Send Authorization: Bearer <the workspace's ingest token>.",
            ),
            WWW_Authenticate='Bearer realm="ingest"',
        )
    workspace = workspace_for_ingest_token(token)
    if workspace is None:
        return _api_error(
            IngestError(
                401,
                "auth.invalid_token",
                "This ingest token is not valid: copy the current one from Settings.",
            ),
            WWW_Authenticate='Bearer realm="ingest", error="invalid_token"',
        )
    content_type = request.content_type or ""
    if content_type and "json" not in content_type:
        return _api_error(
            IngestError(
                415, "ingest.unsupported_media_type", "Send Content-Type: application/json."
            )
        )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    try:
        if declared > MAX_REQUEST_BYTES:
            raise IngestError(
                413,
                "ingest.too_large",
                f"The request body is over {MAX_REQUEST_BYTES // 2**20} MB.",
            )
        # read() rather than .body: the batch limit is ours, not DATA_UPLOAD_MAX_MEMORY_SIZE.
        items = ingest_items_parse(request.read(MAX_REQUEST_BYTES + 1))
    except IngestError as exc:
        return _api_error(exc)
    try:
        result = error_events_ingest(workspace=workspace, items=items)
    except OperationalError:
        # The database is overloaded or unreachable: nothing was stored, sending again is safe.
        log.exception("ingest for workspace %s could not be stored", workspace.pk)
        response = _api_error(
            IngestError(
                503, "ingest.unavailable", "Could not store the batch; send it again shortly."
            )
        )
        response["Retry-After"] = "5"
        return response
    return JsonResponse(result, status=202)


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    """The ingest API's OpenAPI 3 description."""
    response = JsonResponse(openapi_document(), json_dumps_params={"indent": 2})
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _support_view_record(request: HttpRequest) -> None:
    """One audit entry per staff member per window (htmx refreshes are not visits)."""
    if getattr(request, "htmx", False):
        return
    key = "support_view:all_errors"
    last = request.session.get(key)
    now = time.time()
    if last is not None and now - float(last) < SUPPORT_AUDIT_WINDOW_SECONDS:
        return
    request.session[key] = now
    audit_record(
        action="support.view",
        workspace=None,
        request=request,
        target_label=request.path,
        detail={"path": request.path},
    )


@require_GET
@staff_required
def support_errors(request: HttpRequest) -> HttpResponse:
    """Support staff: every workspace's error groups, with a workspace filter and column."""
    _support_view_record(request)
    form = ErrorFilterForm(request.GET)
    filters = form.filters()
    ctx = {
        "form": form,
        "filters": filters,
        "page": error_groups_page_all(
            filters=filters, after=request.GET.get("after"), before=request.GET.get("before")
        ),
        "workspaces": list(Workspace.objects.order_by("name").values_list("slug", "name")),
        **filter_choices(),
    }
    if getattr(request, "htmx", False) and request.htmx.target == "error-results":  # type: ignore[attr-defined]
        return render(request, "events/support_errors.html#results", ctx)
    return render(request, "events/support_errors.html", ctx)
