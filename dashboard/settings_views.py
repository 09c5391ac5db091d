"""The settings page: SocialAPI connection, webhooks, ingest token, background checks,
members, two-factor requirement, alert channels (their actions live in
`alert_channels.views`) and the person's own alert preferences.

Every form posts to its own URL. A secret shown once (webhook secret, ingest token,
invitation link) is rendered straight into the POST response with `no-store`: it is
never put in the session, a message or a log.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from alert_channels.forms import KIND_HELP, AlertChannelForm
from alert_channels.selectors import alert_channels_list, alert_sends_recent
from dashboard import selectors, services
from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.forms import (
    AlertPreferencesForm,
    ConnectionForm,
    InviteForm,
    SyncIntervalsForm,
    WebhookSecretForm,
    sandbox_base_url,
)
from dashboard.models import Membership
from mfa.forms import WorkspaceMfaForm
from mfa.services import workspace_mfa_requirement_set

TEMPLATE = "dashboard/settings.html"


def settings_context(request: WorkspaceRequest, **overrides: Any) -> dict[str, Any]:
    """Everything the page shows; bound forms with errors come in through `overrides`."""
    workspace = request.workspace
    ctx: dict[str, Any] = {
        "connection_form": ConnectionForm(
            initial={"base_url": workspace.base_url, "dialect": workspace.dialect}
        ),
        "webhook_secret_form": WebhookSecretForm(),
        "sync_form": SyncIntervalsForm(
            initial={
                "health_sync_minutes": workspace.health_sync_minutes,
                "watch_seconds": workspace.watch_seconds,
            }
        ),
        "invite_form": InviteForm(),
        "mfa_form": WorkspaceMfaForm(initial={"mfa_required": workspace.mfa_required}),
        "alerts_form": AlertPreferencesForm(instance=request.membership)
        if request.membership
        else None,
        "channel_form": AlertChannelForm(),
        "channels": list(alert_channels_list(workspace=workspace)),
        "channel_sends": alert_sends_recent(workspace=workspace),
        "channel_kind_help": KIND_HELP,
        "members": selectors.members_list(workspace=workspace),
        "invitations": selectors.invitations_pending(workspace=workspace)
        if request.can_act
        else [],
        "webhook_url": selectors.webhook_url(workspace),
        "webhook_events": services.WEBHOOK_EVENTS,
        "ingest_url": selectors.ingest_url(),
        "base_url_options": [
            (settings.SOCIALAPI_DEFAULT_BASE_URL, "SocialAPI (production)"),
            *([(sandbox_base_url(), "Local sandbox (demo data)")] if sandbox_base_url() else []),
        ],
        "is_default_base_url": workspace.base_url.rstrip("/")
        == settings.SOCIALAPI_DEFAULT_BASE_URL.rstrip("/"),
        "is_sandbox_base_url": workspace.base_url.rstrip("/") == sandbox_base_url(),
        "secret_unreadable": request.can_act and workspace.secrets_unreadable,
        "site_url_is_https": settings.SITE_URL.startswith("https://"),
        "admin_count": 0,
        "invitation_days": settings.INVITATION_DAYS,
        "revealed": None,
    }
    ctx["admin_count"] = sum(1 for m in ctx["members"] if m.is_admin)
    ctx["members_with_mfa"] = sum(1 for m in ctx["members"] if m.has_mfa)
    ctx.update(overrides)
    return ctx


def settings_page_render(
    request: WorkspaceRequest, status: int = 200, **overrides: Any
) -> HttpResponse:
    """The settings page, some forms or a revealed value replaced (members.py uses it too)."""
    response = render(request, TEMPLATE, settings_context(request, **overrides), status=status)
    if overrides.get("revealed"):
        add_never_cache_headers(response)
    return response


@require_GET
@workspace_view()
def settings_page(request: WorkspaceRequest) -> HttpResponse:
    return settings_page_render(request)


@require_POST
@workspace_view(admin=True)
def connection_save(request: WorkspaceRequest) -> HttpResponse:
    form = ConnectionForm(request.POST)
    if not form.is_valid():
        return settings_page_render(request, 400, connection_form=form)
    try:
        outcome = services.workspace_connection_update(
            workspace=request.workspace,
            api_key=form.cleaned_data["api_key"],
            base_url=form.cleaned_data["base_url"],
            dialect=form.cleaned_data["dialect"],
            request=request,
        )
    except services.ServiceRefused as refused:
        form.add_error(None, str(refused))
        return settings_page_render(request, 400, connection_form=form)
    messages.success(request, outcome)
    return redirect(reverse("settings", args=[request.workspace.slug]) + "#connection")


@require_POST
@workspace_view(admin=True)
def connection_check(request: WorkspaceRequest) -> HttpResponse:
    try:
        messages.success(request, services.workspace_connection_check(workspace=request.workspace))
    except services.ServiceRefused as refused:
        messages.error(request, str(refused))
    return redirect("settings", request.workspace.slug)


@require_POST
@workspace_view(admin=True)
def webhook_register(request: WorkspaceRequest) -> HttpResponse:
    try:
        done = services.webhook_register(workspace=request.workspace, request=request)
    except services.ServiceRefused as refused:
        messages.error(request, str(refused))
        return redirect("settings", request.workspace.slug)
    if not done.secret:
        messages.info(
            request,
            f"Already registered with SocialAPI (endpoint {done.endpoint_id}) and the signing "
            "secret is stored: nothing was created. To start over with a new secret, delete "
            "that endpoint in SocialAPI's dashboard, then register again.",
        )
        return redirect("settings", request.workspace.slug)
    note = (
        "The dashboard stored it (encrypted) and checks every delivery with it. "
        "This is the only time it is shown."
    )
    if done.removed:
        note += f" The older endpoint ({', '.join(done.removed)}) was removed."
    if done.left_over:
        note += (
            f" SocialAPI kept the older endpoint ({', '.join(done.left_over)}) for this URL: "
            "delete it in SocialAPI's dashboard, or every event arrives twice."
        )
    revealed = {
        "title": "Webhook registered",
        "label": "Signing secret",
        "value": done.secret,
        "note": note,
        "error": bool(done.left_over),
    }
    return settings_page_render(request, revealed=revealed)


@require_POST
@workspace_view(admin=True)
def webhook_secret_save(request: WorkspaceRequest) -> HttpResponse:
    form = WebhookSecretForm(request.POST)
    if not form.is_valid():
        return settings_page_render(request, 400, webhook_secret_form=form)
    services.webhook_secret_set(
        workspace=request.workspace, secret=form.cleaned_data["secret"], request=request
    )
    messages.success(request, "Signing secret saved. Deliveries signed with it are now accepted.")
    return redirect("settings", request.workspace.slug)


@require_POST
@workspace_view(admin=True)
def ingest_token_rotate(request: WorkspaceRequest) -> HttpResponse:
    had_token = bool(request.workspace.ingest_token_hash)
    token = services.ingest_token_rotate(workspace=request.workspace, request=request)
    revealed = {
        "title": "New ingest token" if not had_token else "Ingest token replaced",
        "label": "Ingest token",
        "value": token,
        "note": "Copy it into your backend's configuration now: only a fingerprint is kept, "
        "so it cannot be shown again."
        + (" The previous token no longer works." if had_token else ""),
    }
    return settings_page_render(request, revealed=revealed)


@require_POST
@workspace_view(admin=True)
def ingest_token_revoke(request: WorkspaceRequest) -> HttpResponse:
    if services.ingest_token_revoke(workspace=request.workspace, request=request):
        messages.success(request, "Ingest token revoked: calls with it are now refused.")
    else:
        messages.info(request, "There was no ingest token to revoke.")
    return redirect("settings", request.workspace.slug)


@require_POST
@workspace_view(admin=True)
def sync_intervals_save(request: WorkspaceRequest) -> HttpResponse:
    form = SyncIntervalsForm(request.POST)
    if not form.is_valid():
        return settings_page_render(request, 400, sync_form=form)
    changed = services.workspace_sync_intervals_update(
        workspace=request.workspace, request=request, **form.cleaned_data
    )
    messages.success(request, "Check intervals saved." if changed else "Nothing to change.")
    return redirect("settings", request.workspace.slug)


@require_POST
@workspace_view(admin=True)
def mfa_requirement_save(request: WorkspaceRequest) -> HttpResponse:
    form = WorkspaceMfaForm(request.POST)
    if not form.is_valid():  # a checkbox: only a tampered request gets here
        return settings_page_render(request, 400, mfa_form=form)
    required = form.cleaned_data["mfa_required"]
    try:
        changed = workspace_mfa_requirement_set(
            workspace=request.workspace, required=required, request=request
        )
    except services.ServiceRefused as refused:
        form.add_error(None, str(refused))
        return settings_page_render(request, 400, mfa_form=form)
    if not changed:
        messages.info(request, "Nothing to change.")
    elif required:
        messages.success(
            request,
            "Two-factor sign-in is now required here: people without it are asked to set it "
            "up the next time they open this workspace.",
        )
    else:
        messages.success(request, "Two-factor sign-in is no longer required here.")
    return redirect(reverse("settings", args=[request.workspace.slug]) + "#two-factor")


@require_POST
@workspace_view()
def alert_preferences_save(request: WorkspaceRequest) -> HttpResponse:
    """Each person's own choice: members may change it, support staff have none."""
    membership: Membership | None = request.membership
    if membership is None:
        raise PermissionDenied("Only people in this workspace have alert preferences.")
    form = AlertPreferencesForm(request.POST, instance=membership)
    if not form.is_valid():  # booleans: only a tampered request gets here
        return settings_page_render(request, 400, alerts_form=form)
    services.alert_preferences_update(membership=membership, **form.cleaned_data)
    if request.htmx:
        ctx = {"alerts_form": AlertPreferencesForm(instance=membership), "alerts_saved": True}
        return render(request, f"{TEMPLATE}#alerts", ctx)
    messages.success(request, "Your alert preferences are saved.")
    return redirect("settings", request.workspace.slug)
