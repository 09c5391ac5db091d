"""Reconnect links: let an account owner without a login run the reconnect flow for one
account. The token is random (256 bits) and stored only as its sha256; the link expires,
can be revoked, is claimed by the first browser that uses it and dies once a sign-in
through it completes, whatever account came back (a denial leaves it open for another try).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ReconnectLink, SocialAccount
from accounts.reconnect import LINK_OWNER, ReconnectNotStarted, reconnect_start, session_hash
from dashboard.audit import audit_record
from dashboard.crypto import token_hash
from socialapi import is_oauth, platform_name


@dataclass(frozen=True)
class NewLink:
    link: ReconnectLink
    url: str  # shown once; only its hash is stored


class LinkUnusable(Exception):
    """The link cannot start a reconnect; `reason` picks the words."""

    def __init__(self, reason: str, link: ReconnectLink | None = None) -> None:
        self.reason = reason
        self.link = link
        super().__init__(reason)


def reconnect_link_url(token: str) -> str:
    return settings.SITE_URL + reverse("reconnect_link", args=[token])


def reconnect_link_create(*, account: SocialAccount, request: HttpRequest) -> NewLink:
    """A new link for this account; the URL is returned once and never stored."""
    if not is_oauth(account.platform):
        raise ReconnectNotStarted(
            f"{platform_name(account.platform)} accounts are fixed with new credentials, not a "
            "sign-in, so a reconnect link cannot help."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        link = ReconnectLink.objects.create(
            workspace=account.workspace,
            account=account,
            token_hash=token_hash(token),
            created_by=request.user if request.user.is_authenticated else None,
            created_at=now,
            expires_at=now + timedelta(days=settings.RECONNECT_LINK_DAYS),
        )
        audit_record(
            action="reconnect_link.create",
            workspace=account.workspace,
            request=request,
            target=account,
            target_label=f"{account.label} ({account.platform})",
            detail={"link": link.pk, "expires_at": link.expires_at.isoformat()},
        )
    return NewLink(link=link, url=reconnect_link_url(token))


def reconnect_link_revoke(*, link: ReconnectLink, request: HttpRequest) -> bool:
    """Revoke a link that is still open; False when it was already closed."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ReconnectLink.objects.filter(
            pk=link.pk, revoked_at__isnull=True, used_at__isnull=True
        ).update(revoked_at=now, revoked_by=request.user)
        if revoked:
            audit_record(
                action="reconnect_link.revoke",
                workspace=link.workspace,
                request=request,
                target=link.account,
                target_label=f"{link.account.label} ({link.account.platform})",
                detail={"link": link.pk},
            )
    return bool(revoked)


def reconnect_link_resolve(*, token: str) -> ReconnectLink:
    """The open link for a token, or LinkUnusable (unknown, revoked, used, expired)."""
    link = (
        ReconnectLink.objects.select_related("account", "workspace", "account__workspace")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None:
        raise LinkUnusable("unknown")
    if link.revoked_at is not None:
        raise LinkUnusable("revoked", link)
    if link.used_at is not None:
        fixed = link.used_outcome in ("", ReconnectLink.Outcome.RECONNECTED)
        raise LinkUnusable("used" if fixed else "spent", link)
    if link.expires_at <= timezone.now():
        raise LinkUnusable("expired", link)
    return link


def reconnect_link_start(*, link: ReconnectLink, request: HttpRequest) -> str:
    """Claim the link for this browser (first use) and start the flow; the auth URL."""
    browser = session_hash(request)
    if link.claimed_session_hash and link.claimed_session_hash != browser:
        raise LinkUnusable("claimed", link)
    if not link.claimed_session_hash:
        with transaction.atomic():
            claimed = ReconnectLink.objects.filter(pk=link.pk, claimed_session_hash="").update(
                claimed_session_hash=browser, claimed_at=timezone.now()
            )
            if not claimed:
                raise LinkUnusable("claimed", link)
            audit_record(
                action="reconnect_link.use",
                workspace=link.workspace,
                request=request,
                actor_label=LINK_OWNER,
                target=link.account,
                target_label=f"{link.account.label} ({link.account.platform})",
                detail={"link": link.pk, "outcome": "opened"},
            )
    return reconnect_start(account=link.account, request=request, link=link)


LINK_PROBLEMS: dict[str, tuple[str, str]] = {
    "unknown": (
        "This reconnect link is not valid",
        "The address may be incomplete. Copy the whole link from the message you received, or "
        "ask the person who sent it for a new one.",
    ),
    "revoked": (
        "This reconnect link was withdrawn",
        "The person who sent it revoked it. Ask them for a new link if the account still needs "
        "reconnecting.",
    ),
    "used": (
        "This account is already reconnected",
        "The link did its job and cannot be used again. Nothing else is needed.",
    ),
    "spent": (
        "This reconnect link was already used",
        "A sign-in through it has finished, but it did not reconnect the account (for example "
        "another account was signed in). A link works once: ask the person who sent it for a "
        "new one if the account still needs reconnecting.",
    ),
    "expired": (
        "This reconnect link has expired",
        f"Links work for {settings.RECONNECT_LINK_DAYS} days. Ask the person who sent it for a "
        "new one.",
    ),
    "claimed": (
        "This link was opened in another browser",
        "For security a link works in the first browser that used it. Finish there, or ask "
        "the person who sent it for a new link.",
    ),
}
