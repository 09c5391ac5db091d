from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import WorkspaceRequest, workspace_view


@require_GET
@workspace_view()
def storage_page(request: WorkspaceRequest) -> HttpResponse:
    return render(request, "media/storage.html", {})
