"""The Django admin signs people in through the dashboard's own sign-in.

Its own login form would check the password only, so a person with two-factor sign-in
could skip the code there (and its attempts would be throttled apart from ours). Devices
are not listed here: an operator resets a person's two-factor sign-in with
`manage.py mfa_reset`, which is audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    index = reverse("admin:index")
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = index
    if request.user.is_authenticated:
        if not request.user.is_staff:
            raise PermissionDenied("The admin is for support staff only.")
        return redirect(next_url)
    return redirect_to_login(next_url, login_url=reverse("login"))


admin.site.login = admin_login  # type: ignore[method-assign]
