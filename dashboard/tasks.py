"""Background work for the workspace core. Tasks take ids and call a service."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from django.utils import timezone

from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.scheduling import syncs_due, workspaces_configured
from dashboard.upstream import WorkspaceNotConfigured
from dashboard.usage import usage_sync as usage_sync_service
from dashboard.watch import workspace_watch as watch_service
from socialapi import SocialAPIError

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def workspace_syncs_dispatch() -> int:
    """Enqueue every workspace's due syncs; returns how many were enqueued."""
    now = timezone.now()
    enqueued = 0
    for workspace in workspaces_configured():
        for sync in syncs_due(workspace=workspace, now=now):
            task = current_app.tasks.get(sync.task)
            if task is None:
                log.warning("periodic task %s is not registered", sync.task)
                continue
            last = getattr(workspace, sync.stamp)
            # Only the dispatcher that moves the stamp from the value it read enqueues:
            # two beats (or a slow one overlapping the next) never send the same sync twice.
            claimed = Workspace.objects.filter(pk=workspace.pk, **{sync.stamp: last}).update(
                **{sync.stamp: now}
            )
            if not claimed:
                continue
            try:
                task.delay(workspace.pk)
            except Exception as exc:  # the broker refused: give the slot back for the next beat
                Workspace.objects.filter(pk=workspace.pk, **{sync.stamp: now}).update(
                    **{sync.stamp: last}
                )
                log.warning(
                    "could not enqueue %s for workspace %s: %s",
                    sync.task,
                    workspace.pk,
                    type(exc).__name__,
                )
                continue
            enqueued += 1
    return enqueued


@shared_task(ignore_result=True)
def workspace_watch(workspace_id: int) -> None:
    """The storage figure, the events log and their follow-ups (every watch_seconds)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    result = watch_service(workspace=workspace)
    log.info("watch of workspace %s: %s", workspace_id, result)


@shared_task(ignore_result=True)
def usage_sync(workspace_id: int) -> None:
    """Refresh plan and usage figures. Also the probe that lifts an API-key/billing pause."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        usage_sync_service(workspace=workspace)
    except (SocialAPIError, WorkspaceNotConfigured) as exc:
        # Already recorded as an error event by the client hook; nothing else to do.
        log.info("usage sync for workspace %s failed: %s", workspace_id, exc)
    except SecretDecryptionError:
        # The stored key needs an encryption key this server lacks; retrying cannot help
        # until an admin pastes the key again (the settings page says so).
        log.warning("usage sync for workspace %s: the API key cannot be decrypted", workspace_id)
