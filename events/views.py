from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import WorkspaceRequest, workspace_view


@require_GET
@workspace_view()
def error_list(request: WorkspaceRequest) -> HttpResponse:
    return render(request, "events/errors.html", {})


@require_GET
@workspace_view()
def banners(request: WorkspaceRequest) -> HttpResponse:
    return render(request, "includes/_banners.html", {})
