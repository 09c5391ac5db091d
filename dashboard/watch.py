"""The watch: what each workspace's background work does every few seconds.

Two cheap calls see most changes upstream: the storage figure (`GET /v1/media/storage`)
and the events log since the last run (`GET /v1/events?status=failed`: throttling,
refused uploads, monthly limits, broken accounts, whatever the customer's own backend
hit). What they bring decides the follow-ups, each made only while there is a reason:

- a storage figure whose file count or bytes disagree with the media library mirror:
  resync the mirror (`media.library.media_library_follow`);
- a monthly limit banner: usage figures again (they are what says there is room again);
- a platform throttling banner: one call on that platform (does it answer again?);
- 5xx need no follow-up of their own: the next watch is the probe, and a success ends
  the outage (`events.recovery`);
- while the API key or billing pauses background work, the watch only asks `users/me`,
  which lifts the pause once the key (or the bill) is good again.

Webhooks (`account.disconnected` …) and headers on other calls arrive in between.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured
from socialapi import SocialAPIError

log = logging.getLogger(__name__)

FAILURES = (SocialAPIError, WorkspaceNotConfigured, SecretDecryptionError)


@dataclass
class WatchResult:
    """What one watch did (for logs and tests)."""

    steps: list[str] = field(default_factory=list)  # storage, events, usage, mirror, probe:<p>
    failed: list[str] = field(default_factory=list)

    def note(self, step: str, ok: bool = True) -> None:
        (self.steps if ok else self.failed).append(step)


def _paused(workspace: Workspace) -> bool:
    """The pause as stored now (a call in this watch may just have set it)."""
    family = Workspace.objects.filter(pk=workspace.pk).values_list("paused_family", flat=True)
    workspace.paused_family = family.first() or ""
    return workspace.is_paused


def _usage(workspace: Workspace, result: WatchResult) -> None:
    from dashboard.usage import usage_sync

    try:
        usage_sync(workspace=workspace)
    except FAILURES as exc:
        log.info("watch of workspace %s: usage failed: %s", workspace.pk, exc)
        result.note("usage", ok=False)
    else:
        result.note("usage")


def _storage(workspace: Workspace, result: WatchResult) -> None:
    from media.library import media_library_follow
    from media.storage import storage_snapshot_failed, storage_snapshot_take

    try:
        snapshot = storage_snapshot_take(workspace=workspace)
    except FAILURES as exc:
        log.info("watch of workspace %s: storage figure failed: %s", workspace.pk, exc)
        storage_snapshot_failed(workspace=workspace, exc=exc)
        result.note("storage", ok=False)
        return
    result.note("storage")
    if media_library_follow(workspace=workspace, used=snapshot.used_bytes, count=snapshot.count):
        result.note("mirror")


def _events(workspace: Workspace, result: WatchResult) -> int:
    from events.sync import events_sync

    try:
        synced = events_sync(workspace=workspace)
    except FAILURES as exc:
        log.info("watch of workspace %s: events log failed: %s", workspace.pk, exc)
        result.note("events", ok=False)
        return 0
    result.note("events", ok=not synced.error)
    if not synced.complete and not synced.error:
        # More pages than one run takes: continue at once from the saved cursor.
        from events.tasks import events_sync as events_task

        events_task.delay(workspace.pk)
    return synced.stored


def workspace_watch(*, workspace: Workspace) -> WatchResult:
    """One watch of the workspace (see the module docstring); never raises for an
    upstream failure (each is recorded as an error event by the client hook)."""
    from events.alerts import threshold_alerts_check
    from events.banners import banner_dismissals_expire, workspace_banners
    from events.recovery import throttle_probes_run

    result = WatchResult()
    if workspace.is_paused:
        _usage(workspace, result)  # users/me: lifts the pause once it works again
        if _paused(workspace):
            return result
    _storage(workspace, result)
    if _paused(workspace):
        return result  # the key or the bill was refused just now: nothing else would work
    stored = _events(workspace, result)

    now = timezone.now()
    banners = workspace_banners(workspace=workspace, now=now)
    # Half a beat early is on time (watches come a little irregularly).
    slack = timedelta(seconds=max(0, int(settings.DISPATCH_SECONDS)) / 2)
    recheck = timedelta(seconds=max(0, int(settings.USAGE_RECHECK_SECONDS))) - slack
    usage_at = Workspace.objects.filter(pk=workspace.pk).values_list("usage_synced_at", flat=True)
    last_usage = usage_at.first()
    if (
        any(b.kind == "monthly_limit" for b in banners)
        and "usage" not in result.steps + result.failed
        and (last_usage is None or now - last_usage >= recheck)
    ):
        _usage(workspace, result)
    throttled = [b.key.split(":", 1)[1] for b in banners if b.kind == "platform_throttle"]
    for platform in throttle_probes_run(workspace=workspace, platforms=throttled, now=now):
        result.note(f"probe:{platform}")
    banner_dismissals_expire(workspace=workspace)
    if stored or "usage" in result.steps:
        threshold_alerts_check(workspace=workspace)  # monthly limits refused or refilled
    return result
