"""Settings, audit log and support console pages (completed by the permissions work)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import WorkspaceRequest, staff_required, workspace_view
from dashboard.models import AuditEvent, Workspace


@require_GET
@workspace_view()
def settings_page(request: WorkspaceRequest) -> HttpResponse:
    return render(request, "dashboard/settings.html", {})


@require_GET
@workspace_view()
def audit_log(request: WorkspaceRequest) -> HttpResponse:
    entries = AuditEvent.objects.filter(workspace=request.workspace).select_related(None)[:100]
    return render(request, "dashboard/audit.html", {"entries": entries})


@require_GET
@staff_required
def support_console(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/support.html", {"workspaces": Workspace.objects.all()})
