"""The audit log page: who did what, when (UTC), from where; filters, keyset pages, CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard import selectors
from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.exports import csv_lines
from dashboard.forms import AuditFilterForm
from dashboard.models import AuditEvent

CSV_LIMIT = 50_000


def _filters(request: WorkspaceRequest) -> tuple[AuditFilterForm, selectors.AuditFilters]:
    """The filter form and the filters it yields; invalid fields are reported and ignored."""
    actions, actors = selectors.audit_filter_choices(workspace=request.workspace)
    form = AuditFilterForm(request.GET or None, actions=actions, actors=actors)
    if not request.GET:
        return form, selectors.AuditFilters()
    form.is_valid()  # invalid fields are shown with their error and left out of the filter
    data = form.cleaned_data
    return form, selectors.AuditFilters(
        action=data.get("action") or "",
        actor=data.get("actor") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
    )


@require_GET
@workspace_view()
def audit_log(request: WorkspaceRequest) -> HttpResponse:
    form, filters = _filters(request)
    page = selectors.audit_events_page(
        workspace=request.workspace, filters=filters, cursor=request.GET.get("after", "")
    )
    ctx = {
        "form": form,
        "filters": filters,
        "page": page,
        "support_visitors": selectors.support_visits_recent(workspace=request.workspace),
    }
    template = "dashboard/audit.html#entries" if request.htmx else "dashboard/audit.html"
    return render(request, template, ctx)


@require_GET
@workspace_view()
def audit_export(request: WorkspaceRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered log as CSV (newest first, at most CSV_LIMIT rows)."""
    _, filters = _filters(request)
    entries = selectors.audit_events_filtered(workspace=request.workspace, filters=filters)

    def rows() -> Iterator[list[str]]:
        yield [
            "time_utc",
            "person",
            "action",
            "description",
            "target_type",
            "target_id",
            "target",
            "ip",
            "detail",
        ]
        entry: AuditEvent
        for entry in entries[:CSV_LIMIT].iterator(chunk_size=1000):
            yield [
                entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                entry.actor_label,
                entry.action,
                selectors.audit_action_label(entry.action),
                entry.target_type,
                entry.target_id,
                entry.target_label,
                entry.ip or "",
                entry.detail,
            ]

    response = StreamingHttpResponse(csv_lines(rows()), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-{request.workspace.slug}-{stamp}.csv"'
    )
    return response
