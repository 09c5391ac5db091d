"""Alert emails to workspace admins: once per subject and period, with opt-out.

`alert_send` is the only way alerts go out. It claims the alert with an `AlertSent` row
(unique per subject and period, so a second worker never sends it twice) and sends the
mail once the caller's transaction commits. A rolled-back transaction sends nothing; a
mail server failure gives the claim back, so a later run sends it.

Every alert mail goes out through `mail_deliver`: one message per recipient, each on its
own (a refused address never stops the others), subjects made header-safe by
`header_text` (account and workspace names come from outside: a line break in one must
never become a header, nor make the mail fail).

A claimed alert also goes to the workspace's alert channels (Slack, Teams, webhooks:
`alert_channels`), from the same claim, whoever receives the email.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.models import Membership, Workspace
from events.models import AlertSent

log = logging.getLogger(__name__)

Mail = tuple[str, str, str, list[str]]  # subject, body, sender, recipients

# What may not stand in a header: C0 and C1 controls (CR, LF, tab, NUL…) and the Unicode
# line and paragraph separators.
_NOT_IN_HEADERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
SUBJECT_LIMIT = 200


def header_text(value: str, *, limit: int = SUBJECT_LIMIT) -> str:
    """`value` fit for one mail header line: every control character and line break
    becomes a space, runs of spaces one, and it is cut at `limit` characters."""
    text = " ".join(_NOT_IN_HEADERS.sub(" ", value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class Delivery:
    """What `mail_deliver` did: how many messages went, and why the others did not."""

    sent: int = 0
    errors: list[Exception] = field(default_factory=list)

    @property
    def reasons(self) -> str:
        return ", ".join(sorted({type(e).__name__ for e in self.errors}))

    @property
    def server_unavailable(self) -> bool:
        """Nothing went because of the mail server (worth retrying), not the messages."""
        return not self.sent and all(isinstance(e, OSError) for e in self.errors)


def mail_deliver(messages: Sequence[Mail]) -> Delivery:
    """Send each message on its own over one connection (subjects made header-safe);
    a message that fails is logged and the others still go."""
    delivery = Delivery()
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:  # SMTP, socket, backend misconfiguration
        delivery.errors.append(exc)
        return delivery
    try:
        for subject, body, sender, recipients in messages:
            try:
                EmailMessage(
                    header_text(subject), body, sender, recipients, connection=connection
                ).send()
            except Exception as exc:
                delivery.errors.append(exc)
            else:
                delivery.sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # the server hung up first: nothing left to close
            log.debug("mail connection close failed", exc_info=True)
    return delivery


# Which Membership flag lets a person opt out of each kind of alert.
PREFERENCE_FOR_KIND = {
    "account_broken": "alert_accounts",
    "account_reminder": "alert_accounts",
    "storage": "alert_storage",
    "quota": "alert_quota",
}


def alert_preferences_url(workspace: Workspace) -> str:
    """The settings section where each person turns alerts on or off for themselves."""
    return f"{settings.SITE_URL}{reverse('settings', args=[workspace.slug])}#alerts"


def alert_recipients(*, workspace: Workspace, preference: str) -> list[str]:
    """Emails of the workspace's admins who did not opt out of this kind of alert."""
    return list(
        Membership.objects.filter(
            workspace=workspace, role=Membership.Role.ADMIN, **{preference: True}
        )
        .exclude(user__email="")
        .filter(user__is_active=True)
        .values_list("user__email", flat=True)
    )


def alert_send(
    *,
    workspace: Workspace,
    kind: str,
    subject_key: str,
    period_key: str,
    subject: str,
    template: str,
    context: dict[str, Any],
) -> bool:
    """Email the admins unless this alert was already sent; False when it was, or when
    sending failed (outside a transaction). Inside one, True means "goes at commit".

    `kind` picks the opt-out flag by its prefix (`storage_80` → `alert_storage`).
    `template` renders the plain-text body; it gets `workspace`, `site_url` and
    `preferences_url` (where each person turns alerts off for themselves) too.
    """
    preference = PREFERENCE_FOR_KIND.get(kind) or PREFERENCE_FOR_KIND[kind.split("_")[0]]
    recipients = alert_recipients(workspace=workspace, preference=preference)
    try:
        with transaction.atomic():
            claim = AlertSent.objects.create(
                workspace=workspace,
                kind=kind,
                subject_key=subject_key[:100],
                period_key=period_key[:100],
                recipients=len(recipients),
            )
    except IntegrityError:
        return False  # already sent (or being sent) for this subject and period
    _channels_queue(
        workspace=workspace,
        kind=kind,
        key=(kind, subject_key, period_key),
        subject=subject,
        template=template,
        context=context,
    )
    if not recipients:
        return True
    body = render_to_string(
        template,
        {
            **context,
            "workspace": workspace,
            "site_url": settings.SITE_URL,
            "preferences_url": alert_preferences_url(workspace),
        },
    )
    full_subject = f"[{workspace.name}] {subject}"
    messages: list[Mail] = [
        (full_subject, str(body), settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients
    ]
    outcome: list[bool] = []
    transaction.on_commit(
        lambda: outcome.append(
            _alert_deliver(claim_id=claim.pk, kind=kind, workspace=workspace, messages=messages)
        )
    )
    # Outside a transaction on_commit ran it already; inside one it goes at commit.
    return outcome[0] if outcome else True


def channel_template(template: str) -> str:
    """The one-paragraph version of an alert email's template, for alert channels."""
    return template.replace("/email/", "/channel/", 1)


def _channels_queue(
    *,
    workspace: Workspace,
    kind: str,
    key: tuple[str, str, str],
    subject: str,
    template: str,
    context: dict[str, Any],
) -> None:
    """The claimed alert to the workspace's alert channels too, when this commits: the
    subject, one paragraph (`channel_template`) and the page that fixes it (`url`)."""
    from alert_channels.payloads import ChannelAlert
    from alert_channels.services import alert_channels_queue, alert_key

    def compose(_: list[None]) -> ChannelAlert:
        text = render_to_string(channel_template(template), {**context, "workspace": workspace})
        return ChannelAlert(
            kind=kind,
            title=header_text(subject),
            text=" ".join(str(text).split()),
            url=str(context.get("url") or alert_preferences_url(workspace)),
        )

    alert_channels_queue(
        workspace=workspace, kind=kind, items=[(alert_key(*key), None)], compose=compose
    )


def _alert_deliver(
    *,
    claim_id: int,
    kind: str,
    workspace: Workspace,
    messages: list[Mail],
) -> bool:
    """Send a claimed alert; when it reached nobody, give the claim back so a later run
    retries. An admin whose address was refused is logged; the others have it."""
    delivery = mail_deliver(messages)
    if not delivery.sent:
        AlertSent.objects.filter(pk=claim_id).delete()
        log.warning(
            "alert %s for workspace %s not sent (%s); a later run retries",
            kind,
            workspace.pk,
            delivery.reasons,
        )
        return False
    if delivery.errors:
        log.warning(
            "alert %s for workspace %s not sent to %d of %d admins (%s)",
            kind,
            workspace.pk,
            len(delivery.errors),
            len(messages),
            delivery.reasons,
        )
    log.info("alert %s sent to %d admins of workspace %s", kind, delivery.sent, workspace.pk)
    return True
