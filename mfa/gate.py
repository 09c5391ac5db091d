"""Where two-factor sign-in is required, a session without it is sent to get it.

Required for a workspace's pages when its admins turned on "members must use two-factor
sign-in" (checked by `dashboard.access.workspace_view`, after the workspace is known to
be the person's: outsiders still get 404), and for support staff everywhere when
MFA_REQUIRED_FOR_STAFF is on (`mfa.middleware`). A person without an authenticator is
sent to set one up; one whose session was never verified (a session older than their
authenticator) is asked for a code. Their other workspaces keep working meanwhile.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from mfa.selectors import two_factor_enabled

# Reachable while held: leaving must always work.
EXEMPT_URL_NAMES = frozenset({"logout"})


def two_factor_gate(request: HttpRequest) -> HttpResponse | None:
    """None when this session may go on; else the redirect to setup or to the code step."""
    user = request.user
    if user.is_verified():  # type: ignore[union-attr]
        return None
    target = "mfa:sign_in_code" if two_factor_enabled(user=user) else "mfa:setup"
    url = reverse(target)
    # Only a page can be come back to; a form post is not replayed.
    if request.method == "GET" and not getattr(request, "htmx", False):
        url += "?" + urlencode({"next": request.get_full_path()})
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)
