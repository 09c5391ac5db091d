"""Reacting to stored error events: keep each account's last error and mark broken ones.

Only the token family (`reconnect`), the credentials family and "account gone" change a
status. Temporary families (server, platform_throttle, …) only update "last error".
An event older than what we last learned about the account changes nothing: a week-old
failure imported by the events sync must not undo today's reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from accounts.alerts import account_alerts_batched
from accounts.models import AccountStatus, SocialAccount
from accounts.services import CODE_GONE, account_status_apply
from dashboard.models import Workspace
from events.models import ErrorEvent
from events.recording import error_events_recorded

log = logging.getLogger(__name__)

STATUS_FOR_FAMILY = {
    "reconnect": AccountStatus.RECONNECT_REQUIRED,
    "credentials": AccountStatus.CREDENTIALS_INVALID,
}


def _status_for(event: ErrorEvent) -> str | None:
    if event.code == CODE_GONE:
        return AccountStatus.DISCONNECTED
    return STATUS_FOR_FAMILY.get(event.family)


@receiver(error_events_recorded, dispatch_uid="accounts.error_events_recorded")
def account_errors_apply(
    sender: Any, *, workspace: Workspace, events: Sequence[ErrorEvent], **kwargs: Any
) -> None:
    """Stamp each named account's last error; flip the status on account-level families.

    Runs inside the recording transaction: a failure here is logged and rolled back to a
    savepoint so it can never lose the error events themselves.
    """
    named = [e for e in events if e.account_id or e.account_upstream_id]
    if not named:
        return
    try:
        # Accounts this batch breaks are announced in one email, not one each.
        with transaction.atomic(), account_alerts_batched():
            _apply(workspace, named)
    except Exception:
        log.exception("marking accounts from %d error events failed", len(named))


def _apply(workspace: Workspace, named: Sequence[ErrorEvent]) -> None:
    pks = {e.account_id for e in named if e.account_id}
    upstream_ids = {e.account_upstream_id for e in named if e.account_upstream_id}
    # Rows are locked in primary-key order: two batches naming the same accounts (ingest
    # requests side by side) then wait for each other instead of deadlocking.
    accounts = list(
        SocialAccount.objects.filter(workspace=workspace)
        .filter(Q(pk__in=pks) | Q(upstream_id__in=upstream_ids))
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    by_pk = {a.pk: a for a in accounts}
    by_upstream = {a.upstream_id: a for a in accounts}
    recheck: set[int] = set()
    newest: dict[int, SocialAccount] = {}
    for event in sorted(named, key=lambda e: e.occurred_at):
        account = (
            by_pk.get(event.account_id)
            if event.account_id
            else by_upstream.get(event.account_upstream_id)
        )
        if account is None:
            continue
        if account.last_error_at is None or event.occurred_at >= account.last_error_at:
            account.last_error_code = event.code[:100]
            account.last_error_at = event.occurred_at
            account.last_error_request_id = event.request_id[:64]
            newest[account.pk] = account
        status = _status_for(event)
        if status is None:
            continue
        known_since = max(
            (t for t in (account.status_changed_at, account.last_checked_at) if t is not None),
            default=None,
        )
        if known_since is not None and event.occurred_at <= known_since:
            if status == AccountStatus.CREDENTIALS_INVALID and account.status != status:
                # Upstream lists API-key accounts as active whatever the platform thinks of
                # their credentials, so "checked since" proves nothing here: ask again.
                recheck.add(account.pk)
            continue
        account_status_apply(
            account=account,
            status=status,
            code=event.code,
            reason=event.message[:500],
            source="event",
            request_id=event.request_id,
            at=event.occurred_at,
        )
    for account in newest.values():  # one write per account, however many events
        SocialAccount.objects.filter(pk=account.pk).update(
            last_error_code=account.last_error_code,
            last_error_at=account.last_error_at,
            last_error_request_id=account.last_error_request_id,
        )
    if recheck:
        from accounts.tasks import account_check

        for pk in sorted(recheck):
            transaction.on_commit(partial(account_check.delay, pk))
    unknown = {
        e.account_upstream_id
        for e in named
        if e.family in STATUS_FOR_FAMILY
        and e.account_upstream_id not in by_upstream
        and e.account_id not in by_pk
    }
    if unknown:
        health_check_soon(workspace)


# A token or credentials failure on an account the mirror does not know yet (connected
# since the last health sync) asks for a health sync, at most this often.
HEALTH_CHECK_SOON_SECONDS = 60


def health_check_soon(workspace: Workspace) -> bool:
    """Run the health sync now instead of at its next interval (the stamp the dispatcher
    reads is claimed, so it is not run twice); True when it was enqueued."""
    from accounts.tasks import health_sync

    now = timezone.now()
    claimed = (
        Workspace.objects.filter(pk=workspace.pk)
        .filter(
            Q(health_enqueued_at__isnull=True)
            | Q(health_enqueued_at__lt=now - timedelta(seconds=HEALTH_CHECK_SOON_SECONDS))
        )
        .update(health_enqueued_at=now)
    )
    if claimed:
        transaction.on_commit(partial(health_sync.delay, workspace.pk))
    return bool(claimed)
