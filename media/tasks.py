"""Background work for media: thin wrappers that take ids and call a service."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured
from media import bulk_deletion, library, storage
from socialapi import SocialAPIError

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def storage_snapshot_take(workspace_id: int) -> None:
    """Store a fresh storage figure (on schedule, on Refresh, after quota errors)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        storage.storage_snapshot_take(workspace=workspace)
    except (SocialAPIError, WorkspaceNotConfigured) as exc:
        # Already recorded as an error event by the client hook; the page shows the last
        # figure and, to whoever pressed Refresh, why no fresh one came.
        log.info("storage snapshot for workspace %s failed: %s", workspace_id, exc)
        storage.storage_snapshot_failed(workspace=workspace, exc=exc)
    except SecretDecryptionError as exc:
        log.warning(
            "storage snapshot for workspace %s: stored secrets cannot be decrypted", workspace_id
        )
        storage.storage_snapshot_failed(workspace=workspace, exc=exc)


@shared_task(ignore_result=True)
def media_library_sync(workspace_id: int) -> None:
    """Mirror the upstream media library (every MEDIA_SYNC_MINUTES and on "Sync now")."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        library.media_library_sync(workspace=workspace)
    except (SocialAPIError, WorkspaceNotConfigured) as exc:
        log.info("media library sync for workspace %s failed: %s", workspace_id, exc)
    except SecretDecryptionError:
        log.warning(
            "media library sync for workspace %s: stored secrets cannot be decrypted", workspace_id
        )


@shared_task(ignore_result=True)
def bulk_deletion_run(job_id: int) -> None:
    """Work through a bulk deletion; safe to run twice or to kill at any line."""
    result = bulk_deletion.bulk_deletion_run(job_id=job_id)
    log.info("bulk deletion %s: %s after %d DELETE(s)", job_id, result.outcome, result.sent)


@shared_task(ignore_result=True)
def bulk_deletion_sweep() -> None:
    """Every minute (beat): hand unfinished jobs without a live runner to a new one."""
    bulk_deletion.bulk_deletion_sweep()
