"""Workspace core pages: home, overview and its live refresh, health check."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.live import moment_context, page_of, regions_changed
from dashboard.models import Workspace


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
    """Banners and cards from one moment (dashboard.live): they always agree."""
    return render(request, "dashboard/overview.html", moment_context(request, "overview"))


@require_GET
@workspace_view()
def live(request: WorkspaceRequest) -> HttpResponse:
    """What changed on the open page since it was rendered (the poller in base.html).

    204 while nothing did; else every changed region, from one moment, as out-of-band
    swaps, and the poller itself with the new versions.
    """
    page = page_of(request)
    ctx = moment_context(request, page)
    changed = regions_changed(page, ctx, request.GET.get("v", ""))
    if not changed:
        response = HttpResponse(status=204)
    else:
        context = {**ctx, "oob": True}
        parts = [render_to_string("includes/_live.html", context, request=request)]
        parts += [render_to_string(r.template, context, request=request) for r in changed]
        response = HttpResponse("".join(parts))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
