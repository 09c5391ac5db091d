"""The support console: every workspace with its health, for support staff only."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard import selectors
from dashboard.access import HtmxRequest, staff_required
from dashboard.forms import SupportSearchForm


@require_GET
@staff_required
def support_console(request: HtmxRequest) -> HttpResponse:
    form = SupportSearchForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    query = selectors.SupportQuery(
        q=(data.get("q") or "").strip(),
        sort=data.get("sort") or "problems",
        problems_only=bool(data.get("problems")),
    )
    page = selectors.support_workspaces(query=query, page=request.GET.get("page", 1))
    ctx = {"form": form, "query": query, "page": page}
    template = "dashboard/support.html#results" if request.htmx else "dashboard/support.html"
    return render(request, template, ctx)
