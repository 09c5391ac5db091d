"""Background work for connected accounts. Thin wrappers: take ids, call a service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

from accounts.models import SocialAccount, WebhookDelivery
from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured
from socialapi import SocialAPIError

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def health_sync(workspace_id: int) -> None:
    """Mirror the workspace's accounts (dispatched every Workspace.health_sync_minutes)."""
    from accounts.health import health_sync as health_sync_service

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    housekeeping(workspace)
    try:
        result = health_sync_service(workspace=workspace)
    except (SocialAPIError, WorkspaceNotConfigured) as exc:
        # Recorded as an error event by the client hook; statuses stay as they were.
        log.info("health sync for workspace %s failed: %s", workspace_id, exc)
        return
    except SecretDecryptionError:
        # Every page says so (banner); the next sync after the key is back catches up.
        log.warning(
            "health sync for workspace %s: stored secrets cannot be decrypted", workspace_id
        )
        return
    log.info(
        "health sync for workspace %s: %d accounts, %d new, %d changed",
        workspace_id,
        result.seen,
        result.created,
        len(result.changed),
    )


def housekeeping(workspace: Workspace) -> None:
    """Runs with every health sync: finish lost webhook work, forget stale records."""
    from accounts.reconnect import reconnect_states_prune
    from accounts.webhooks import webhook_deliveries_prune, webhook_deliveries_unprocessed

    for delivery_id in webhook_deliveries_unprocessed(
        workspace=workspace, older_than=timedelta(minutes=5)
    ):
        webhook_delivery_process.delay(delivery_id)
    reconnect_states_prune(workspace_id=workspace.pk)
    webhook_deliveries_prune(workspace=workspace)


@shared_task(ignore_result=True)
def account_check(account_id: int) -> None:
    """Live re-check of one account ("Check now")."""
    from accounts.health import account_check as account_check_service

    account = SocialAccount.objects.select_related("workspace").filter(pk=account_id).first()
    if account is None:
        return
    try:
        account_check_service(account=account)
    except WorkspaceNotConfigured:
        SocialAccount.objects.filter(pk=account_id).update(
            check_requested_at=None, check_error="no API key configured"
        )
    except SecretDecryptionError:
        SocialAccount.objects.filter(pk=account_id).update(
            check_requested_at=None, check_error="stored secrets cannot be decrypted"
        )


@shared_task(ignore_result=True)
def account_alerts_send(account_ids: list[int]) -> None:
    """Email the admins that these accounts broke (one email for all, once per break)."""
    from accounts.alerts import account_alerts_send as account_alerts_send_service

    account_alerts_send_service(account_ids=account_ids)


@shared_task(ignore_result=True)
def account_alert_reminders() -> int:
    """Hourly: break alerts that never went out, and reminders of accounts still broken
    after two days. Returns how many accounts the emails name."""
    from accounts.alerts import account_alert_reminders_send, account_alerts_unsent_send

    return account_alerts_unsent_send() + account_alert_reminders_send()


@shared_task(ignore_result=True)
def webhook_delivery_process(delivery_id: int) -> None:
    """Act on one stored webhook delivery (idempotent)."""
    from accounts.webhooks import webhook_delivery_process as process

    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is not None:
        process(delivery=delivery)
