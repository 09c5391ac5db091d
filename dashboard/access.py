"""Who may see and do what in a workspace.

Every workspace page is under `/w/<slug>/`; `workspace_view` resolves the slug for the
signed-in person. Non-members get 404 (the workspace does not exist for them), except
support staff, who read any workspace (audited). State changes need an admin; triage
actions accept support staff too. A workspace that requires two-factor sign-in sends a
session without it to set it up first (`mfa.gate`), support staff included.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django_htmx.middleware import HtmxDetails

from dashboard.models import Membership, Workspace

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class HtmxRequest(HttpRequest):
    """An HttpRequest as HtmxMiddleware leaves it."""

    htmx: HtmxDetails


class WorkspaceRequest(HtmxRequest):
    """An HttpRequest inside a workspace (set by `workspace_view`)."""

    workspace: Workspace
    membership: Membership | None
    can_act: bool  # workspace admin: may change things
    can_triage: bool  # admin or support staff: may resolve/ignore/annotate errors
    is_support_view: bool  # support staff looking at a workspace they are not in


def workspace_for_user(*, user: Any, slug: str) -> tuple[Workspace, Membership | None]:
    """The workspace and the person's membership; 404 when they may not see it."""
    # One query for the common case (a member); secrets stay encrypted until read.
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace__slug=slug, user=user)
        .first()
    )
    if membership is not None:
        return membership.workspace, membership
    workspace = Workspace.objects.filter(slug=slug).first() if user.is_staff else None
    if workspace is None:
        raise Http404("No such workspace")
    return workspace, None


def workspace_view(*, admin: bool = False, triage: bool = False) -> Callable[[View], View]:
    """Decorate a view taking `workspace_slug`; `admin`/`triage` guard state changes."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(
            request: HttpRequest, workspace_slug: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            workspace, membership = workspace_for_user(user=request.user, slug=workspace_slug)
            if workspace.mfa_required:
                from mfa.gate import two_factor_gate

                held = two_factor_gate(request)
                if held is not None:
                    return held
            req = cast(WorkspaceRequest, request)
            req.workspace = workspace
            req.membership = membership
            req.can_act = membership is not None and membership.is_admin
            req.can_triage = req.can_act or bool(request.user.is_staff)
            req.is_support_view = membership is None
            if admin and not req.can_act:
                raise PermissionDenied("Only workspace admins can do this.")
            if triage and not req.can_triage:
                raise PermissionDenied("Only workspace admins and support staff can do this.")
            if req.is_support_view:
                from dashboard.support import support_view_record

                support_view_record(req)
            # Remembered only when it changes: no session write per page.
            if membership is not None and request.session.get("workspace") != workspace.slug:
                request.session["workspace"] = workspace.slug
            return view(req, *args, **kwargs)

        # Read by the tenant-isolation test to know what each role may do here.
        wrapper.workspace_access = "admin" if admin else "triage" if triage else "read"  # type: ignore[attr-defined]
        return cast(View, wrapper)

    return decorator


def staff_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_staff:
            raise PermissionDenied("Support staff only.")
        return view(request, *args, **kwargs)

    wrapper.workspace_access = "staff"  # type: ignore[attr-defined]
    return cast(View, wrapper)
