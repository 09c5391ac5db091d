"""Workspace core pages: home, overview, health check."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.selectors import account_status_counts
from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.models import Workspace
from dashboard.usage import usage_latest
from events.selectors import error_groups_recent
from media.storage import storage_latest


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send people to their last workspace, the only one they have, or a picker."""
    user = cast(User, request.user)  # login_required
    workspaces = list(Workspace.objects.filter(memberships__user=user).order_by("name"))
    remembered = request.session.get("workspace")
    for ws in workspaces:
        if ws.slug == remembered:
            return redirect("overview", ws.slug)
    if len(workspaces) == 1:
        return redirect("overview", workspaces[0].slug)
    if not workspaces and request.user.is_staff:
        return redirect("support")
    return render(request, "dashboard/home.html", {"workspaces": workspaces})


@require_GET
@workspace_view()
def overview(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    ctx = {
        "status_counts": account_status_counts(workspace=workspace),
        "storage": storage_latest(workspace=workspace),
        "usage": usage_latest(workspace=workspace),
        "recent_groups": error_groups_recent(workspace=workspace, limit=5),
    }
    return render(request, "dashboard/overview.html", ctx)


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
