"""Emails to workspace admins about broken accounts: one per break, one reminder, and
never a flood.

Each account break has its own claim (`events.AlertSent`, keyed on the account and its
break time), so a sync that sees the same broken account every ten minutes never mails
it twice, and a new break after a fix is a new alert. Accounts that break together (one
health sync, one batch of error events) are announced in one email per admin that lists
them all and links to the accounts page filtered to them; reminders are grouped per
workspace the same way. A mail the server refused gives its claims back, and the hourly
task sends break alerts that never went out; a mail refused for what it says (one
account's data) is split, so one account never costs the others their alert. People opt
out per workspace (Membership.alert_accounts). The same claims feed the workspace's
alert channels (`alert_channels`), one message per channel per digest.

The claim-then-send logic mirrors `dashboard.alerts.alert_send` for several subjects at
once; it belongs there if other apps need digests too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import UNHEALTHY_STATUSES, AccountStatus, SocialAccount
from accounts.selectors import MAX_FILTER_ACCOUNTS
from alert_channels.payloads import ChannelAlert
from alert_channels.services import alert_channels_queue, alert_key
from dashboard.alerts import Delivery, alert_recipients, header_text, mail_deliver
from dashboard.models import Workspace
from events.fixes import fix_for
from events.models import AlertSent
from socialapi import platform_name

log = logging.getLogger(__name__)

KIND_BROKEN = "account_broken"
KIND_REMINDER = "account_reminder"
REMINDER_AFTER = timedelta(days=2)
# A break alert not out this long after the break is sent again by the hourly task.
UNSENT_AFTER = timedelta(minutes=10)
# Accounts described one by one in an email; the link shows every one of them.
MAX_LISTED = 50
TEMPLATE = "accounts/email/account_broken.txt"
CHANNEL_TEMPLATE = "accounts/channel/account_broken.txt"

# Account ids that broke inside `account_alerts_batched()` (None outside one).
_batch: ContextVar[list[int] | None] = ContextVar("account_alert_batch", default=None)


@contextmanager
def account_alerts_batched() -> Iterator[None]:
    """Accounts that break inside this block are announced together, in one email.

    The email is queued when the surrounding transaction commits (at once outside one);
    a rolled-back transaction queues nothing. Nested blocks join the outer one.
    """
    if _batch.get() is not None:
        yield
        return
    broken: list[int] = []
    token = _batch.set(broken)
    try:
        yield
    finally:
        _batch.reset(token)
        if broken:
            _queue(list(dict.fromkeys(broken)))


def account_alert_queue(account_pk: int) -> None:
    """An account entered a problem status: alert the admins once this commits."""
    broken = _batch.get()
    if broken is not None:
        broken.append(account_pk)
    else:
        _queue([account_pk])


def _queue(account_pks: list[int]) -> None:
    from accounts.tasks import account_alerts_send as task

    transaction.on_commit(lambda: task.delay(account_pks))


def accounts_page_url(workspace: Workspace, accounts: Sequence[SocialAccount]) -> str:
    """The accounts page filtered to these accounts (to every problem when too many)."""
    path = reverse("accounts:list", args=[workspace.slug])
    if len(accounts) > MAX_FILTER_ACCOUNTS:
        return f"{settings.SITE_URL}{path}?status=problems"
    return f"{settings.SITE_URL}{path}?" + urlencode([("account", a.pk) for a in accounts])


def account_alerts_send(*, account_ids: Iterable[int], now: datetime | None = None) -> int:
    """Tell the admins these accounts broke: one email per workspace naming those still
    broken and not yet announced. Returns how many accounts the emails name."""
    accounts = (
        SocialAccount.objects.filter(
            pk__in=list(account_ids),
            status__in=UNHEALTHY_STATUSES,
            status_changed_at__isnull=False,
        )
        .select_related("workspace")
        .order_by("workspace_id", "severity", "name", "pk")
    )
    return _per_workspace(accounts, kind=KIND_BROKEN, now=now or timezone.now())


def account_alerts_unsent_send(*, now: datetime | None = None) -> int:
    """Break alerts that never went out (mail server down, task lost): send them now.

    Only breaks younger than the reminder delay: an older one gets its reminder instead.
    """
    now = now or timezone.now()
    due = (
        SocialAccount.objects.filter(
            status__in=UNHEALTHY_STATUSES,
            status_changed_at__lte=now - UNSENT_AFTER,
            status_changed_at__gt=now - REMINDER_AFTER,
        )
        .filter(Q(alerted_at__isnull=True) | Q(alerted_at__lt=F("status_changed_at")))
        .select_related("workspace")
        .order_by("workspace_id", "severity", "name", "pk")
    )
    return _per_workspace(due, kind=KIND_BROKEN, now=now)


def account_alert_reminders_send(*, now: datetime | None = None) -> int:
    """Remind admins of accounts still broken two days after they broke (once per break)."""
    now = now or timezone.now()
    due = (
        SocialAccount.objects.filter(
            status__in=UNHEALTHY_STATUSES, status_changed_at__lte=now - REMINDER_AFTER
        )
        .filter(Q(reminded_at__isnull=True) | Q(reminded_at__lt=F("status_changed_at")))
        .select_related("workspace")
        .order_by("workspace_id", "severity", "name", "pk")
    )
    return _per_workspace(due, kind=KIND_REMINDER, now=now)


def _per_workspace(accounts: QuerySet[SocialAccount], *, kind: str, now: datetime) -> int:
    """One email per workspace (`accounts` is ordered by workspace)."""
    named = 0
    rows = accounts.iterator(chunk_size=500)
    for _, group in groupby(rows, key=lambda a: a.workspace_id):
        listed = list(group)
        named += _digest_send(listed[0].workspace, listed, kind=kind, now=now)
    return named


def _settle(kind: str, account_pks: Sequence[int], now: datetime) -> None:
    """This break's alert (or reminder) needs nothing more."""
    if not account_pks:
        return
    field = "alerted_at" if kind == KIND_BROKEN else "reminded_at"
    for start in range(0, len(account_pks), 500):
        SocialAccount.objects.filter(pk__in=account_pks[start : start + 500]).update(**{field: now})


def _digest_send(
    workspace: Workspace, accounts: Sequence[SocialAccount], *, kind: str, now: datetime
) -> int:
    """Claim each account's alert, then email every admin one message naming the accounts
    claimed here. Returns how many it names (the mail goes when the transaction commits)."""
    recipients = alert_recipients(workspace=workspace, preference="alert_accounts")
    claims: dict[int, int] = {}  # account pk → AlertSent pk
    told_before: list[int] = []
    for account in accounts:
        assert account.status_changed_at is not None
        try:
            with transaction.atomic():
                claim = AlertSent.objects.create(
                    workspace=workspace,
                    kind=kind,
                    subject_key=f"account:{account.pk}",
                    period_key=account.status_changed_at.isoformat(),
                    recipients=len(recipients),
                )
        except IntegrityError:
            told_before.append(account.pk)  # already sent (or being sent) for this break
        else:
            claims[account.pk] = claim.pk
    _settle(kind, told_before, now)
    claimed = [a for a in accounts if a.pk in claims]
    if not claimed:
        return 0
    _channels_queue(workspace, claimed, kind=kind, now=now)
    if not recipients:
        _settle(kind, list(claims), now)  # nobody wants it: settled all the same
        return len(claimed)
    transaction.on_commit(
        lambda: _deliver(workspace, claimed, claims, kind=kind, now=now, recipients=recipients)
    )
    return len(claimed)


def _deliver(
    workspace: Workspace,
    accounts: Sequence[SocialAccount],
    claims: dict[int, int],
    *,
    kind: str,
    now: datetime,
    recipients: Sequence[str],
) -> None:
    """Mail the admins one message naming `accounts`, once the claims are committed.

    The mail server down: the claims are given back and the hourly task retries. The
    message itself refused (something in one account's data): each account is mailed on
    its own, so one bad account never costs the others their alert.
    """
    try:
        subject, body = _compose(workspace, accounts, kind=kind, now=now)
    except Exception as exc:  # a template or data problem, not the mail server
        delivery = Delivery(errors=[exc])
    else:
        messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients]
        delivery = mail_deliver(messages)
    pks = [a.pk for a in accounts]
    if delivery.sent:
        _settle(kind, pks, timezone.now())
        log.info(
            "%s alert for %d accounts sent to %d of %d admins of workspace %s%s",
            kind,
            len(pks),
            delivery.sent,
            len(recipients),
            workspace.pk,
            f" ({delivery.reasons})" if delivery.errors else "",
        )
        return
    if delivery.server_unavailable:
        AlertSent.objects.filter(pk__in=[claims[pk] for pk in pks]).delete()
        log.warning(
            "%s alert for %d accounts of workspace %s not sent (%s); the hourly task retries",
            kind,
            len(pks),
            workspace.pk,
            delivery.reasons,
        )
        return
    if len(accounts) > 1:
        for account in accounts:
            _deliver(workspace, [account], claims, kind=kind, now=now, recipients=recipients)
        return
    # This one account's alert cannot be built or sent, and would fail the same way
    # every hour: settled, and said loudly.
    _settle(kind, pks, timezone.now())
    log.error(
        "%s alert for account %s of workspace %s cannot be sent (%s)",
        kind,
        pks[0],
        workspace.pk,
        delivery.reasons,
    )


def _channels_queue(
    workspace: Workspace, accounts: Sequence[SocialAccount], *, kind: str, now: datetime
) -> None:
    """The claimed alerts to the workspace's alert channels too, once this commits: one
    message naming the accounts a channel was not told about yet."""
    items: list[tuple[str, SocialAccount]] = []
    for account in accounts:
        assert account.status_changed_at is not None
        period = account.status_changed_at.isoformat()
        items.append((alert_key(kind, f"account:{account.pk}", period), account))
    alert_channels_queue(
        workspace=workspace,
        kind=kind,
        items=items,
        compose=lambda subset: _channel_alert(workspace, subset, kind=kind, now=now),
    )


def _channel_alert(
    workspace: Workspace, accounts: Sequence[SocialAccount], *, kind: str, now: datetime
) -> ChannelAlert:
    """The alert as channels show it: the email's subject, one paragraph, the link."""
    first = accounts[0]
    assert first.status_changed_at is not None
    text = render_to_string(
        CHANNEL_TEMPLATE,
        {
            "items": [
                {
                    "account": first,
                    "platform": platform_name(first.platform),
                    "fix": fix_for(family=first.status_family, code=first.status_code),
                    "reason": first.reason,
                    "broken_for": now - first.status_changed_at,
                }
            ],
            "count": len(accounts),
            "names": _names(accounts),
            "posts_at_risk": sum(a.scheduled_posts_at_risk or 0 for a in accounts),
            "reminder": kind == KIND_REMINDER,
            "workspace": workspace,
        },
    )
    return ChannelAlert(
        kind=kind,
        title=header_text(_digest_subject(accounts, reminder=kind == KIND_REMINDER)),
        text=" ".join(str(text).split()),
        url=accounts_page_url(workspace, accounts),
    )


def _subject(account: SocialAccount) -> str:
    platform = platform_name(account.platform)
    if account.status == AccountStatus.CREDENTIALS_INVALID:
        return f"Update the credentials of {account.label} ({platform})"
    return f"Reconnect {account.label} ({platform})"


def _names(accounts: Sequence[SocialAccount], shown: int = 3) -> str:
    labels = [a.label for a in accounts[:shown]]
    rest = len(accounts) - len(labels)
    if rest:
        return f"{', '.join(labels)} and {rest} more"
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def _digest_subject(accounts: Sequence[SocialAccount], *, reminder: bool) -> str:
    if len(accounts) == 1:
        return ("Still broken: " if reminder else "") + _subject(accounts[0])
    if reminder:
        return f"Still broken: {len(accounts)} accounts ({_names(accounts)})"
    return f"{len(accounts)} accounts stopped working: {_names(accounts)}"


def _compose(
    workspace: Workspace, accounts: Sequence[SocialAccount], *, kind: str, now: datetime
) -> tuple[str, str]:
    reminder = kind == KIND_REMINDER
    subject = _digest_subject(accounts, reminder=reminder)
    items: list[dict[str, Any]] = []
    for account in accounts[:MAX_LISTED]:
        assert account.status_changed_at is not None
        items.append(
            {
                "account": account,
                "platform": platform_name(account.platform),
                "fix": fix_for(family=account.status_family, code=account.status_code),
                "reason": account.reason,
                "broken_for": now - account.status_changed_at,
            }
        )
    body = render_to_string(
        TEMPLATE,
        {
            "items": items,
            "count": len(accounts),
            "more": len(accounts) - len(items),
            "url": accounts_page_url(workspace, accounts),
            "reminder": reminder,
            "workspace": workspace,
            "site_url": settings.SITE_URL,
            "accounts_url": f"{settings.SITE_URL}{reverse('accounts:list', args=[workspace.slug])}",
        },
    )
    return f"[{workspace.name}] {subject}", str(body)
