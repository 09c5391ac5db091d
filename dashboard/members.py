"""Members of a workspace: invitations (and the public accept page), roles, removal."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import selectors, services
from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.forms import InvitationSignupForm, InviteForm, RoleForm
from dashboard.models import Invitation, Membership
from dashboard.settings_views import settings_page_render


def _members_url(request: WorkspaceRequest) -> str:
    return reverse("settings", args=[request.workspace.slug]) + "#members"


def _membership_or_404(request: WorkspaceRequest, membership_id: int) -> Membership:
    membership = selectors.membership_in_workspace(
        workspace=request.workspace, membership_id=membership_id
    )
    if membership is None:
        raise Http404("No such member in this workspace")
    return membership


@require_POST
@workspace_view(admin=True)
def member_invite(request: WorkspaceRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        return settings_page_render(request, 400, invite_form=form)
    try:
        invitation, token = services.invitation_create(
            workspace=request.workspace,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            request=request,
        )
    except services.ServiceRefused as refused:
        form.add_error("email", str(refused))
        return settings_page_render(request, 400, invite_form=form)
    sent = services.invitation_email_send(invitation=invitation, token=token, inviter=request.user)
    if sent:
        note = (
            f"We emailed {invitation.email} this link. You can also send it yourself; it works "
            f"once, until {invitation.expires_at:%d %b %Y %H:%M} UTC."
        )
    else:
        note = (
            f"The email to {invitation.email} could not be sent (the mail server refused). "
            "Send them this link yourself; it works once."
        )
    revealed = {
        "title": f"Invitation for {invitation.email}",
        "label": "Invitation link",
        "value": services.invitation_link(token),
        "note": note,
        "error": not sent,
    }
    return settings_page_render(request, revealed=revealed)


@require_POST
@workspace_view(admin=True)
def member_role_change(request: WorkspaceRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin or member.")
        return redirect(_members_url(request))
    try:
        changed = services.membership_role_change(
            workspace=request.workspace,
            membership=membership,
            role=form.cleaned_data["role"],
            request=request,
        )
    except services.ServiceRefused as refused:
        messages.error(request, str(refused))
        return redirect(_members_url(request))
    name = membership.user.get_username()
    if changed:
        messages.success(request, f"{name} is now {membership.get_role_display().lower()}.")
    else:
        messages.info(request, f"{name} already had that role.")
    if membership.user_id == request.user.pk and not membership.is_admin:
        # They demoted themselves: the settings forms are no longer theirs to use.
        return redirect("settings", request.workspace.slug)
    return redirect(_members_url(request))


@require_http_methods(["GET", "POST"])
@workspace_view(admin=True)
def member_remove(request: WorkspaceRequest, membership_id: int) -> HttpResponse:
    """GET asks for confirmation (works without JavaScript); POST removes."""
    membership = _membership_or_404(request, membership_id)
    is_self = membership.user_id == request.user.pk
    if request.method == "GET":
        return render(
            request, "dashboard/member_remove.html", {"target": membership, "is_self": is_self}
        )
    try:
        services.membership_remove(
            workspace=request.workspace, membership=membership, request=request
        )
    except services.ServiceRefused as refused:
        messages.error(request, str(refused))
        return redirect(_members_url(request))
    if is_self:
        messages.success(request, f"You left {request.workspace.name}.")
        request.session.pop("workspace", None)
        return redirect("home")
    messages.success(
        request, f"{membership.user.get_username()} was removed from {request.workspace.name}."
    )
    return redirect(_members_url(request))


@require_POST
@workspace_view(admin=True)
def invitation_revoke(request: WorkspaceRequest, invitation_id: int) -> HttpResponse:
    invitation = selectors.invitation_in_workspace(
        workspace=request.workspace, invitation_id=invitation_id
    )
    if invitation is None:
        raise Http404("No such invitation in this workspace")
    if services.invitation_revoke(
        workspace=request.workspace, invitation=invitation, request=request
    ):
        messages.success(request, f"The invitation for {invitation.email} was withdrawn.")
    else:
        messages.info(request, f"The invitation for {invitation.email} was no longer open.")
    return redirect(_members_url(request))


# --- the public accept page ------------------------------------------------------------


def _invitation_page(
    request: HttpRequest,
    invitation: Invitation | None,
    *,
    status: int = 200,
    form: InvitationSignupForm | None = None,
    problem: str = "",
) -> HttpResponse:
    already_member = (
        invitation is not None
        and request.user.is_authenticated
        and selectors.membership_exists(workspace=invitation.workspace, user=request.user)
    )
    ctx = {
        "invitation": invitation,
        "signup_form": form,
        "problem": problem,
        "already_member": already_member,
        "email_differs": invitation is not None
        and request.user.is_authenticated
        and (request.user.email or "").lower() != invitation.email.lower(),
    }
    # The token is in this page's URL. The site's `same-origin` Referrer-Policy already keeps
    # it from other sites; `no-referrer` would make browsers send `Origin: null` with the
    # page's own forms, which CSRF protection refuses (nobody could join).
    response = render(request, "dashboard/invitation.html", ctx, status=status)
    # One person's sign-up page: never cached by a shared proxy, never indexed.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Anyone with the link: sign in (or create an account), then join the workspace."""
    invitation = selectors.invitation_for_token(token)
    if invitation is None:
        return _invitation_page(
            request,
            None,
            status=404,
            problem="This invitation link is not valid. Check that you copied all of it, "
            "or ask a workspace admin to invite you again.",
        )
    if not invitation.is_pending:
        return _invitation_page(
            request,
            invitation,
            status=410,
            problem=services.invitation_state_words(invitation.state),
        )
    if request.method == "GET":
        form = (
            None if request.user.is_authenticated else InvitationSignupForm(email=invitation.email)
        )
        return _invitation_page(request, invitation, form=form)

    if request.user.is_authenticated:
        try:
            services.invitation_accept(invitation=invitation, user=request.user, request=request)
        except services.ServiceRefused as refused:
            return _invitation_page(request, invitation, status=410, problem=str(refused))
        messages.success(request, f"Welcome to {invitation.workspace.name}.")
        return redirect("overview", invitation.workspace.slug)

    form = InvitationSignupForm(request.POST, email=invitation.email)
    if not form.is_valid():
        return _invitation_page(request, invitation, status=400, form=form)
    try:
        with transaction.atomic():
            user = form.save()
            services.invitation_accept(invitation=invitation, user=user, request=request)
    except services.ServiceRefused as refused:
        return _invitation_page(request, invitation, status=410, problem=str(refused))
    except IntegrityError:
        # Someone took the name between the form's check and the insert.
        if not selectors.username_taken(form.cleaned_data["username"]):
            raise
        form.add_error("username", InvitationSignupForm.USERNAME_TAKEN)
        return _invitation_page(request, invitation, status=400, form=form)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Your account is ready. Welcome to {invitation.workspace.name}.")
    return redirect("overview", invitation.workspace.slug)
