"""Alert emails to workspace admins: once per subject and period, with opt-out.

`alert_send` is the only way alerts go out. It claims the alert with an `AlertSent` row
(unique per subject and period, so a second worker never sends it twice) and sends the
mail once the caller's transaction commits. A rolled-back transaction sends nothing; a
mail server failure gives the claim back, so a later run sends it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.models import Membership, Workspace
from events.models import AlertSent

log = logging.getLogger(__name__)

Mail = tuple[str, str, str, list[str]]  # subject, body, sender, recipients

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


def _alert_deliver(
    *,
    claim_id: int,
    kind: str,
    workspace: Workspace,
    messages: list[Mail],
) -> bool:
    """Send a claimed alert; on failure give the claim back so a later run retries."""
    try:
        send_mass_mail(tuple(messages), fail_silently=False)
    except Exception as exc:  # SMTP, socket, backend misconfiguration: all retried later
        AlertSent.objects.filter(pk=claim_id).delete()
        log.warning(
            "alert %s for workspace %s not sent (%s); a later run retries",
            kind,
            workspace.pk,
            type(exc).__name__,
        )
        return False
    log.info("alert %s sent to %d admins of workspace %s", kind, len(messages), workspace.pk)
    return True
