"""Writes about connected accounts: status transitions, mirroring upstream, disconnect,
credential updates. The reconnect flow, health sync, links, webhooks and alerts have
modules of their own; they all change an account's status through `account_status_apply`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, AccountTransition, SocialAccount
from dashboard.audit import audit_record
from dashboard.models import Membership, Workspace
from dashboard.upstream import upstream, upstream_ok
from events.fixes import fix_for
from posts.selectors import failed_posts_words
from socialapi import Account, SocialAPIError, auth_kind

log = logging.getLogger(__name__)

# Normalised codes we store as the reason for a status we set ourselves.
CODE_RECONNECT = "account.reconnection_required"
CODE_GONE = "account.not_found"


def oauth_callback_url() -> str:
    """The one redirect URI registered upstream for every workspace."""
    return settings.SITE_URL + reverse("oauth_callback")


def status_for_auth_kind(platform: str, status: str) -> str:
    """The status as the account's auth kind allows it: an API-key (credentials) platform
    has no OAuth login to lose, so what would be "reconnect required" is "credentials
    invalid" there (its only fix is new credentials)."""
    if status == AccountStatus.RECONNECT_REQUIRED and auth_kind(platform) == "credentials":
        return AccountStatus.CREDENTIALS_INVALID
    return status


def account_status_apply(
    *,
    account: SocialAccount,
    status: str,
    source: str,
    code: str = "",
    reason: str = "",
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_label: str = "",
    request_id: str = "",
    at: datetime | None = None,
) -> bool:
    """Move an account to `status`, recording the transition; True when it changed.

    Entering a problem status queues one alert email (see accounts.alerts: accounts that
    break inside one `account_alerts_batched()` block share one email); the alert is keyed
    on the break time, so a later break is alerted afresh. The update is
    conditional on the status we read, so two concurrent syncs record one transition.
    Every source (events, webhooks, syncs) goes through here, so the status follows the
    account's auth kind (`status_for_auth_kind`) whoever asked for it.
    """
    status = status_for_auth_kind(account.platform, status)
    now = at or timezone.now()
    if account.status == status:
        if (code and code != account.status_code) or (reason and reason != account.reason):
            # Same status, better explanation (e.g. upstream's reconnect_reason arrived).
            account.status_code = code or account.status_code
            account.reason = reason or account.reason
            SocialAccount.objects.filter(pk=account.pk).update(
                status_code=account.status_code, reason=account.reason
            )
        return False
    previous = account.status
    account.status = status
    account.status_code = code
    account.reason = reason
    account.status_changed_at = now
    updates: dict[str, Any] = {
        "status": status,
        "status_code": code,
        "reason": reason,
        "status_changed_at": now,
    }
    if not account.is_unhealthy:
        account.scheduled_posts_at_risk = None
        updates["scheduled_posts_at_risk"] = None
    if not SocialAccount.objects.filter(pk=account.pk, status=previous).update(**updates):
        return False  # someone else changed it first; their transition stands
    user: Any = actor if actor is not None and actor.is_authenticated else None
    AccountTransition.objects.create(
        account=account,
        from_status=previous,
        to_status=status,
        code=code[:100],
        reason=reason,
        source=source[:20],
        actor=user,
        actor_label=(user.get_username() if user is not None else actor_label)[:150],
        request_id=request_id[:64],
        created_at=now,
    )
    if account.is_unhealthy:
        from accounts.alerts import account_alert_queue

        account_alert_queue(account.pk)
    return True


def upstream_status(item: Account, *, current: str) -> tuple[str, str, str]:
    """What upstream's own `status` says: (our status, code, reason)."""
    credentials_platform = auth_kind(item.platform) == "credentials"
    if item.status == "reconnect_required":
        if credentials_platform:
            # API-key platforms cannot be fixed by signing in: new credentials are needed.
            return (
                AccountStatus.CREDENTIALS_INVALID,
                "byok.credentials_invalid",
                item.reconnect_reason or "",
            )
        return AccountStatus.RECONNECT_REQUIRED, CODE_RECONNECT, item.reconnect_reason or ""
    if item.status == "active":
        if current == AccountStatus.CREDENTIALS_INVALID and credentials_platform:
            # Upstream lists credential accounts as active even when the platform rejects
            # them; only a successful call (see health.credentials_probe) clears this.
            return current, "", ""
        return AccountStatus.ACTIVE, "", ""
    return AccountStatus.UNKNOWN, "", f"SocialAPI reports the status “{item.status[:40]}”."


def account_mirror(
    *,
    workspace: Workspace,
    item: Account,
    source: str,
    existing: SocialAccount | None = None,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_label: str = "",
    checked_at: datetime | None = None,
    stamp: bool = True,
) -> tuple[SocialAccount, bool]:
    """Create or refresh our copy of one upstream account; (account, status changed).

    `stamp=False` leaves `last_checked_at` to the caller (the sync stamps every row in
    one query) and writes nothing when nothing changed.
    """
    now = checked_at or timezone.now()
    account = existing
    if account is None:
        account, _ = SocialAccount.objects.get_or_create(
            workspace=workspace,
            upstream_id=item.id[:100],
            defaults={"platform": item.platform[:40], "created_at": now},
        )
    values = {
        "platform": item.platform[:40] or account.platform,
        "name": item.name[:200],
        "username": item.username[:200],
        "page_name": (item.page_name or "")[:200],
        "brand_id": item.brand_id[:100],
        "profile_picture_url": _safe_picture(item.profile_picture_url),
    }
    changed = {k: v for k, v in values.items() if getattr(account, k) != v}
    for key, value in changed.items():
        setattr(account, key, value)
    account.last_checked_at = now
    account.check_error = ""
    if stamp:
        SocialAccount.objects.filter(pk=account.pk).update(
            **changed, last_checked_at=now, check_error=""
        )
    elif changed:
        SocialAccount.objects.filter(pk=account.pk).update(**changed)
    status, code, reason = upstream_status(item, current=account.status)
    flipped = account_status_apply(
        account=account,
        status=status,
        code=code,
        reason=reason,
        source=source,
        actor=actor,
        actor_label=actor_label,
        at=now,
    )
    return account, flipped


def _safe_picture(url: str | None) -> str:
    """Only http(s) URLs are kept; the template decides whether the origin may be shown."""
    if url and url.startswith(("https://", "http://")) and len(url) <= 1000:
        return url
    return ""


@dataclass(frozen=True)
class ActionResult:
    """What a person-initiated action did, in words for a flash message."""

    ok: bool
    message: str
    request_id: str = ""


def error_words(exc: SocialAPIError) -> str:
    """One sentence for a failed call: the fix's title and action, and the request id."""
    fix = fix_for(family=str(exc.family), code=exc.code)
    detail = f" ({exc.message[:200]})" if exc.message and fix.title != exc.message else ""
    ref = f" Request id: {exc.request_id}." if exc.request_id else ""
    return f"{fix.title}{detail}. {fix.action}{ref}"


def brand_unknown_words(account: SocialAccount) -> str:
    """Why a connect call is not made for an account whose brand we have not learned."""
    return (
        f"The dashboard does not know yet which brand {account.label} belongs to, and "
        "SocialAPI would create a new brand for a connect without one, so nothing was sent. "
        "Wait for the next check so the account's brand is known (an admin can press Check "
        "now), then try again."
    )


def account_disconnect(*, account: SocialAccount, request: HttpRequest) -> ActionResult:
    """`DELETE /v1/accounts/{id}`; an account already gone upstream counts as done."""
    workspace = account.workspace
    try:
        # Reference: https://docs.social-api.ai/api-reference — DELETE /v1/accounts/{id}
        upstream(workspace).account_disconnect(account.upstream_id, platform=account.platform)
    except SocialAPIError as exc:
        if exc.code != CODE_GONE:
            return ActionResult(False, f"{account.label} was not disconnected: {error_words(exc)}")
    else:
        upstream_ok(workspace)
    with transaction.atomic():
        account_status_apply(
            account=account,
            status=AccountStatus.DISCONNECTED,
            code=CODE_GONE,
            reason="Disconnected from the dashboard.",
            source="disconnect",
            actor=request.user,
        )
        audit_record(
            action="account.disconnect",
            workspace=workspace,
            request=request,
            target=account,
            target_label=f"{account.label} ({account.platform})",
            detail={"upstream_id": account.upstream_id},
        )
    return ActionResult(True, f"{account.label} is disconnected from SocialAPI.")


def account_credentials_update(
    *, account: SocialAccount, credentials: dict[str, str], request: HttpRequest
) -> ActionResult:
    """Send new credentials for an API-key platform (connect again in the same brand).

    The values are sent upstream and nowhere else: not stored, logged or audited.
    """
    workspace = account.workspace
    if not account.brand_id:
        # Without brand_id upstream connects the account into a brand of its own.
        return ActionResult(False, brand_unknown_words(account))
    try:
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/accounts/connect
        result = upstream(workspace).accounts_connect(
            account.platform,
            redirect_uri=oauth_callback_url(),
            state=secrets.token_urlsafe(16),
            brand_id=account.brand_id,
            metadata=dict(credentials),
        )
    except SocialAPIError as exc:
        return ActionResult(False, error_words(exc), exc.request_id or "")
    upstream_ok(workspace)
    if result.kind != "direct" or result.account is None:
        return ActionResult(
            False,
            "SocialAPI asked for a browser sign-in instead of credentials; nothing was changed. "
            "Use Reconnect for this account.",
        )
    new_id = result.account.account_id
    with transaction.atomic():
        if new_id == account.upstream_id:
            account_status_apply(
                account=account,
                status=AccountStatus.ACTIVE,
                reason="",
                source="credentials",
                actor=request.user,
            )
            SocialAccount.objects.filter(pk=account.pk).update(
                last_checked_at=timezone.now(), check_error=""
            )
            message = f"New credentials saved: {account.label} is active again."
            message += failed_posts_words(account=account)
        else:
            other, _ = SocialAccount.objects.get_or_create(
                workspace=workspace,
                upstream_id=new_id[:100],
                defaults={
                    "platform": account.platform,
                    "name": result.account.display_name[:200],
                    "username": result.account.username[:200],
                    "brand_id": account.brand_id,
                },
            )
            account_status_apply(
                account=other, status=AccountStatus.ACTIVE, source="credentials", actor=request.user
            )
            message = (
                f"These credentials belong to a different account ({other.label}); it is now "
                f"connected. {account.label} still has invalid credentials."
            )
        audit_record(
            action="account.credentials_update",
            workspace=workspace,
            request=request,
            target=account,
            target_label=f"{account.label} ({account.platform})",
            detail={"fields": sorted(credentials), "result_account": new_id},
        )
    return ActionResult(True, message)


def account_check_request(*, account: SocialAccount) -> None:
    """Queue a live check of one account ("Check now"); the row polls until it is done."""
    from accounts.tasks import account_check

    now = timezone.now()
    SocialAccount.objects.filter(pk=account.pk).update(check_requested_at=now)
    account.check_requested_at = now
    account_pk = account.pk
    transaction.on_commit(lambda: account_check.delay(account_pk))


def account_alerts_preference_set(*, membership: Membership, enabled: bool) -> None:
    """One person's opt-in/out of account alert emails for one workspace."""
    Membership.objects.filter(pk=membership.pk).update(alert_accounts=enabled)
    membership.alert_accounts = enabled
