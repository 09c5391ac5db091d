"""The fake platform's consent screen at `auth_url` (no dashboard login needed)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from sandbox.connect import connect_request_open, consent_choices, consent_decide
from socialapi.platforms import platform_name


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, request_id: str) -> HttpResponse:
    """Show who you could continue as; Approve/Deny send the browser back with the result."""
    connect_request = connect_request_open(request_id)
    if connect_request is None:
        return render(request, "sandbox/consent_gone.html", status=404)
    choices = consent_choices(connect_request)
    context = {
        "connect": connect_request,
        "platform_name": platform_name(connect_request.platform),
        "choices": choices,
        "brand_name": connect_request.brand.name if connect_request.brand else "a new brand",
    }
    if request.method == "GET":
        return render(request, "sandbox/consent.html", context)
    decision = request.POST.get("decision", "")
    identity = request.POST.get("identity", "new")
    if decision not in ("approve", "deny") or identity not in {"new", *(a.id for a in choices)}:
        context["error"] = "Choose an identity, then Approve or Deny."
        return render(request, "sandbox/consent.html", context, status=400)
    url, params = consent_decide(
        connect_request=connect_request, approve=decision == "approve", identity=identity
    )
    if url is None:
        # No redirect_uri given at connect: upstream shows its own result page.
        return render(request, "sandbox/consent_done.html", {**context, "result": params})
    return HttpResponseRedirect(url)
