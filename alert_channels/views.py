"""The alert channels section of the settings page: add, test, pause and remove.

The section itself is rendered by the settings page (`dashboard.settings_views`); each
action posts here and comes back to it. Only admins act; everyone in the workspace sees
the channels (URLs masked) and the record of what was sent.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from alert_channels import selectors, services
from alert_channels.forms import AlertChannelForm
from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.settings_views import settings_page_render


def _back(request: WorkspaceRequest) -> HttpResponse:
    return redirect(reverse("settings", args=[request.workspace.slug]) + "#channels")


@require_POST
@workspace_view(admin=True)
def channel_add(request: WorkspaceRequest) -> HttpResponse:
    form = AlertChannelForm(request.POST)
    if not form.is_valid():
        return settings_page_render(request, 400, channel_form=form)
    try:
        channel, secret = services.alert_channel_create(
            workspace=request.workspace, request=request, **form.cleaned_data
        )
    except services.ChannelRefused as refused:
        form.add_error(None, str(refused))
        return settings_page_render(request, 400, channel_form=form)
    if secret:
        revealed = {
            "title": f"Alert channel {channel.label} added",
            "label": "Signing secret",
            "value": secret,
            "note": "Every alert is signed with it (X-Dashboard-Signature, see the README): "
            "put it in your receiver's configuration now. It is stored encrypted and "
            "cannot be shown again.",
        }
        return settings_page_render(request, revealed=revealed)
    messages.success(
        request, f"Alert channel {channel.label} added. Send a test alert to check it works."
    )
    return _back(request)


@require_POST
@workspace_view(admin=True)
def channel_test(request: WorkspaceRequest, channel_id: int) -> HttpResponse:
    channel = selectors.alert_channel_get(workspace=request.workspace, channel_id=channel_id)
    try:
        send = services.alert_channel_test(channel=channel, request=request)
    except services.ChannelRefused as refused:
        messages.error(request, str(refused))
        return _back(request)
    if send.delivered:
        messages.success(request, f"Test alert delivered to {channel.label} ({send.reason}).")
    else:
        messages.error(request, f"Test alert to {channel.label} failed: {send.reason}")
    return _back(request)


@require_POST
@workspace_view(admin=True)
def channel_enabled(request: WorkspaceRequest, channel_id: int) -> HttpResponse:
    channel = selectors.alert_channel_get(workspace=request.workspace, channel_id=channel_id)
    enabled = request.POST.get("enabled") == "on"
    if services.alert_channel_enabled_set(channel=channel, enabled=enabled, request=request):
        verb = "resumed: it gets alerts again" if enabled else "paused: it gets no alerts"
        messages.success(request, f"Alert channel {channel.label} {verb}.")
    return _back(request)


@require_POST
@workspace_view(admin=True)
def channel_remove(request: WorkspaceRequest, channel_id: int) -> HttpResponse:
    channel = selectors.alert_channel_get(workspace=request.workspace, channel_id=channel_id)
    services.alert_channel_remove(channel=channel, request=request)
    messages.success(request, f"Alert channel {channel.label} removed; its URL is forgotten.")
    return _back(request)
