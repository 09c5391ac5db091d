"""Emails to workspace admins about broken accounts: one per break, one reminder.

`dashboard.alerts.alert_send` dedupes on (kind, account, break time), so a sync that sees
the same broken account every ten minutes never sends a second mail, and a new break
after a fix is a new alert. People opt out per workspace (Membership.alert_accounts).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import UNHEALTHY_STATUSES, AccountStatus, SocialAccount
from dashboard.alerts import alert_send
from events.fixes import fix_for
from socialapi import platform_name

REMINDER_AFTER = timedelta(days=2)


def account_page_url(account: SocialAccount) -> str:
    """The accounts page filtered to this one account (what an alert links to)."""
    path = reverse("accounts:list", args=[account.workspace.slug])
    return f"{settings.SITE_URL}{path}?account={account.pk}"


def _subject(account: SocialAccount) -> str:
    platform = platform_name(account.platform)
    if account.status == AccountStatus.CREDENTIALS_INVALID:
        return f"Update the credentials of {account.label} ({platform})"
    return f"Reconnect {account.label} ({platform})"


def _send(account: SocialAccount, *, kind: str, now: datetime) -> bool:
    assert account.status_changed_at is not None
    fix = fix_for(family=account.status_family, code=account.status_code)
    reminder = kind == "account_reminder"
    return alert_send(
        workspace=account.workspace,
        kind=kind,
        subject_key=f"account:{account.pk}",
        period_key=account.status_changed_at.isoformat(),
        subject=("Still broken: " if reminder else "") + _subject(account),
        template="accounts/email/account_broken.txt",
        context={
            "account": account,
            "platform": platform_name(account.platform),
            "fix": fix,
            "reason": account.reason,
            "url": account_page_url(account),
            "reminder": reminder,
            "broken_for": now - account.status_changed_at,
        },
    )


def account_alert_send(*, account: SocialAccount) -> bool:
    """Tell the admins this account broke; False when fixed meanwhile or already told."""
    account = SocialAccount.objects.select_related("workspace").get(pk=account.pk)
    if account.status not in UNHEALTHY_STATUSES or account.status_changed_at is None:
        return False
    now = timezone.now()
    sent = _send(account, kind="account_broken", now=now)
    if sent:
        SocialAccount.objects.filter(pk=account.pk).update(alerted_at=now)
    return sent


def account_alert_reminders_send(*, now: datetime | None = None) -> int:
    """Remind admins of accounts still broken two days after they broke (once per break)."""
    now = now or timezone.now()
    due = (
        SocialAccount.objects.filter(
            status__in=UNHEALTHY_STATUSES, status_changed_at__lte=now - REMINDER_AFTER
        )
        .filter(Q(reminded_at__isnull=True) | Q(reminded_at__lt=F("status_changed_at")))
        .select_related("workspace")
        .order_by("pk")
    )
    sent = 0
    for account in due.iterator(chunk_size=200):
        if _send(account, kind="account_reminder", now=now):
            sent += 1
        # Marked even when nobody opted in: the reminder for this break is settled.
        SocialAccount.objects.filter(pk=account.pk).update(reminded_at=now)
    return sent
