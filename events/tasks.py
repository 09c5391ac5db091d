"""Background work for error events. Tasks take ids and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured
from events import retention
from events import sync as sync_service
from events.alerts import threshold_alerts_check as threshold_alerts_check_service
from events.banners import banner_dismissals_expire
from socialapi import SocialAPIError

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def events_sync(workspace_id: int) -> None:
    """Copy new failed events from upstream's log, then re-arm banners and check alerts."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    result = None
    try:
        result = sync_service.events_sync(workspace=workspace)
    except (SocialAPIError, WorkspaceNotConfigured) as exc:
        # Already recorded as an error event by the client hook; the cursor is kept.
        log.info("events sync for workspace %s failed: %s", workspace_id, exc)
    except SecretDecryptionError:
        log.warning(
            "events sync for workspace %s: stored secrets cannot be decrypted", workspace_id
        )
    banner_dismissals_expire(workspace=workspace)
    threshold_alerts_check_service(workspace=workspace)
    if result is not None and not result.complete and not result.error:
        # More pages than one run takes: continue right away from the saved cursor.
        transaction.on_commit(lambda: events_sync.delay(workspace_id))


@shared_task(ignore_result=True)
def threshold_alerts_check(workspace_id: int) -> None:
    """Storage and allowance emails after fresh figures arrived."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        threshold_alerts_check_service(workspace=workspace)


@shared_task(ignore_result=True)
def error_events_prune() -> int:
    """Retention (beat, every 6 hours)."""
    return retention.error_events_prune()
