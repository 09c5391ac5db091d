from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import staff_required


@staff_required
def control(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/control.html", {})
