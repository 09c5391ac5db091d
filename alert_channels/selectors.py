"""Reads for the alert channels section of the settings page, scoped to the workspace."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from alert_channels.models import AlertChannel, AlertSend
from dashboard.models import Workspace

RECENT_SENDS = 20


def alert_channels_list(*, workspace: Workspace) -> QuerySet[AlertChannel]:
    # The encrypted URL and secret stay unread (and undecrypted): the page shows hints.
    return AlertChannel.objects.filter(workspace=workspace).defer("url", "secret")


def alert_channel_get(*, workspace: Workspace, channel_id: int) -> AlertChannel:
    channel = AlertChannel.objects.filter(workspace=workspace, pk=channel_id).first()
    if channel is None:
        raise Http404("No such alert channel")
    channel.workspace = workspace  # already loaded: no second query
    return channel


def alert_sends_recent(*, workspace: Workspace, limit: int = RECENT_SENDS) -> list[AlertSend]:
    return list(
        AlertSend.objects.filter(workspace=workspace)
        .select_related("channel")
        .defer("channel__url", "channel__secret", "text")
        .order_by("-created_at", "-id")[:limit]
    )
