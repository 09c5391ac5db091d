"""Template context for every page: the current workspace, the person's role, banners."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from dashboard.models import Workspace


def _user_workspaces(request: HttpRequest) -> list[Workspace]:
    if not request.user.is_authenticated:
        return []
    return list(Workspace.objects.filter(memberships__user=request.user).order_by("name"))


def workspace(request: HttpRequest) -> dict[str, Any]:
    ws = getattr(request, "workspace", None)
    context: dict[str, Any] = {
        "workspace": ws,
        "membership": getattr(request, "membership", None),
        "can_act": getattr(request, "can_act", False),
        "can_triage": getattr(request, "can_triage", False),
        "is_support_view": getattr(request, "is_support_view", False),
        "user_workspaces": SimpleLazyObject(lambda: _user_workspaces(request)),
        "sandbox_enabled": settings.SANDBOX_ENABLED,
    }
    if ws is not None and request.user.is_authenticated:
        from dashboard.live import moment_context

        # Pages with live regions put their own moment in the context (it wins); on the
        # others the banners (and the poller's versions) come from this one, lazily.
        def moment() -> dict[str, Any]:
            return moment_context(request, None)

        context["banners"] = SimpleLazyObject(lambda: moment()["banners"])
        context["hidden_banners"] = SimpleLazyObject(lambda: moment()["hidden_banners"])
        context["live_version"] = SimpleLazyObject(lambda: moment()["live_version"])
        context["live_poll_seconds"] = max(1, int(settings.LIVE_POLL_SECONDS))
    return context
