"""Which background syncs each workspace is due for.

Beat runs `workspace_syncs_dispatch` every minute; it asks this module what is due and
enqueues the tasks. The `*_enqueued_at` stamps live on the Workspace row and are written
when a sync is enqueued, so a slow worker never gets the same sync twice per interval;
each sync's service writes its `*_synced_at` stamp when it succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from dashboard.models import Workspace


@dataclass(frozen=True)
class Sync:
    task: str  # registered Celery task name, taking the workspace id
    stamp: str  # Workspace field holding the last time it was enqueued
    minutes: str  # Workspace field or settings name with the interval in minutes
    runs_when_paused: bool = False  # API key / billing problems pause the others

    @property
    def kind(self) -> str:
        """health | storage | media | usage | events"""
        return self.stamp.removesuffix("_enqueued_at")

    @property
    def success_stamp(self) -> str:
        """Workspace field holding the last time it succeeded."""
        return f"{self.kind}_synced_at"


SYNCS = (
    Sync("accounts.tasks.health_sync", "health_enqueued_at", "health_sync_minutes"),
    Sync("media.tasks.storage_snapshot_take", "storage_enqueued_at", "storage_sync_minutes"),
    Sync("media.tasks.media_library_sync", "media_enqueued_at", "MEDIA_SYNC_MINUTES"),
    Sync(
        "dashboard.tasks.usage_sync",
        "usage_enqueued_at",
        "USAGE_SYNC_MINUTES",
        runs_when_paused=True,
    ),
    Sync("events.tasks.events_sync", "events_enqueued_at", "EVENTS_SYNC_MINUTES"),
)


def sync_interval(workspace: Workspace, sync: Sync) -> timedelta:
    value = getattr(workspace, sync.minutes, None)
    if value is None:
        value = getattr(settings, sync.minutes)
    return timedelta(minutes=max(1, int(value)))


def syncs_due(*, workspace: Workspace, now: datetime | None = None) -> list[Sync]:
    """The syncs this workspace should run now."""
    now = now or timezone.now()
    due = []
    for sync in SYNCS:
        if workspace.is_paused and not sync.runs_when_paused:
            continue
        last = getattr(workspace, sync.stamp)
        if last is None or now - last >= sync_interval(workspace, sync):
            due.append(sync)
    return due


def workspaces_configured() -> list[Workspace]:
    return list(Workspace.objects.exclude(Q(api_key="") | Q(api_key__isnull=True)))
