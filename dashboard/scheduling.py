"""Which background syncs each workspace is due for.

Beat runs `workspace_syncs_dispatch` every DISPATCH_SECONDS; it asks this module what is
due and enqueues the tasks. The `*_enqueued_at` stamps live on the Workspace row and are
written when a sync is enqueued, so a slow worker never gets the same sync twice per
interval; each sync's service writes its `*_synced_at` stamp when it succeeds.

The watch (`dashboard.tasks.workspace_watch`) is the frequent one: the storage figure and
upstream's events log every few seconds, and the follow-ups they call for. While the
API key or billing pauses background work, it is the only sync left besides usage, and
it then only asks `users/me` whether the pause is over (every PAUSED_PROBE_SECONDS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from dashboard.models import Workspace


def _minutes(name: str) -> Callable[[Workspace], int]:
    """An interval in minutes, from a Workspace field or else a setting, in seconds."""

    def seconds(workspace: Workspace) -> int:
        value = getattr(workspace, name, None)
        if value is None:
            value = getattr(settings, name)
        return 60 * max(1, int(value))

    return seconds


def watch_interval(workspace: Workspace) -> int:
    """Seconds between two watches of this workspace."""
    if workspace.is_paused:
        return max(1, int(settings.PAUSED_PROBE_SECONDS))
    return max(1, int(workspace.watch_seconds or settings.WATCH_SECONDS))


@dataclass(frozen=True)
class Sync:
    task: str  # registered Celery task name, taking the workspace id
    stamp: str  # Workspace field holding the last time it was enqueued
    seconds: Callable[[Workspace], int]  # the interval for this workspace
    runs_when_paused: bool = False  # API key / billing problems pause the others
    # What a success keeps fresh: each kind's last success is Workspace.<kind>_synced_at
    # (the watch takes the storage figure and reads the events log).
    kinds: tuple[str, ...] = ()

    def success_stamp(self, kind: str) -> str:
        """Workspace field holding the last time this kind succeeded."""
        return f"{kind}_synced_at"


SYNCS = (
    Sync(
        "dashboard.tasks.workspace_watch",
        "watch_enqueued_at",
        watch_interval,
        runs_when_paused=True,
        kinds=("storage", "events"),
    ),
    Sync(
        "accounts.tasks.health_sync",
        "health_enqueued_at",
        _minutes("health_sync_minutes"),
        kinds=("health",),
    ),
    Sync(
        "media.tasks.media_library_sync",
        "media_enqueued_at",
        _minutes("MEDIA_SYNC_MINUTES"),
        kinds=("media",),
    ),
    Sync(
        "dashboard.tasks.usage_sync",
        "usage_enqueued_at",
        _minutes("USAGE_SYNC_MINUTES"),
        runs_when_paused=True,
        kinds=("usage",),
    ),
)


def sync_interval(workspace: Workspace, sync: Sync) -> timedelta:
    """How often this sync runs for this workspace."""
    return timedelta(seconds=sync.seconds(workspace))


def syncs_due(*, workspace: Workspace, now: datetime | None = None) -> list[Sync]:
    """The syncs this workspace should run now.

    Beats come every DISPATCH_SECONDS, a little late or early: a sync is due half a beat
    before its interval has fully passed, so a 20 s watch runs every 20 s on a 10 s beat,
    not every 30 s.
    """
    now = now or timezone.now()
    slack = timedelta(seconds=max(0, int(settings.DISPATCH_SECONDS)) / 2)
    due = []
    for sync in SYNCS:
        if workspace.is_paused and not sync.runs_when_paused:
            continue
        last = getattr(workspace, sync.stamp)
        interval = sync_interval(workspace, sync)
        if last is None or now - last >= interval - min(slack, interval / 2):
            due.append(sync)
    return due


def workspaces_configured() -> list[Workspace]:
    return list(Workspace.objects.exclude(Q(api_key="") | Q(api_key__isnull=True)))
