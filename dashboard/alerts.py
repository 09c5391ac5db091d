"""Alert emails to workspace admins: once per subject and period, with opt-out.

`alert_send` is the only way alerts go out. The `AlertSent` row is written first in the
same transaction, so a crash or a second worker can never send the same alert twice.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from dashboard.models import Membership, Workspace
from events.models import AlertSent

log = logging.getLogger(__name__)

# Which Membership flag lets a person opt out of each kind of alert.
PREFERENCE_FOR_KIND = {
    "account_broken": "alert_accounts",
    "account_reminder": "alert_accounts",
    "storage": "alert_storage",
    "quota": "alert_quota",
}


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
    """Email the admins unless this alert was already sent; True when it went out now.

    `kind` picks the opt-out flag by its prefix (`storage_80` → `alert_storage`).
    `template` renders the plain-text body; it gets `workspace` and `site_url` too.
    """
    preference = PREFERENCE_FOR_KIND.get(kind) or PREFERENCE_FOR_KIND[kind.split("_")[0]]
    recipients = alert_recipients(workspace=workspace, preference=preference)
    try:
        with transaction.atomic():
            AlertSent.objects.create(
                workspace=workspace,
                kind=kind,
                subject_key=subject_key[:100],
                period_key=period_key[:100],
                recipients=len(recipients),
            )
    except IntegrityError:
        return False  # already sent for this subject and period
    if not recipients:
        return True
    body = render_to_string(
        template, {**context, "workspace": workspace, "site_url": settings.SITE_URL}
    )
    full_subject = f"[{workspace.name}] {subject}"
    messages = [(full_subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients]
    send_mass_mail(messages, fail_silently=False)
    log.info("alert %s sent to %d admins of workspace %s", kind, len(recipients), workspace.pk)
    return True
