"""The reconnect flow's state: start a reconnect, and decide whether a return can be trusted.

Our `state` is a random value bound to the browser session, the person (or the reconnect
link), the workspace and the account. Only its sha256 is stored; the value travels in the
URL and the session. It is checked before any upstream call and consumed exactly once.
What happens after a trusted return is in accounts/callback.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import ReconnectLink, ReconnectState, SocialAccount
from accounts.selectors import workspace_admin_is
from accounts.services import brand_unknown_words, error_words, oauth_callback_url
from dashboard.audit import audit_record
from dashboard.crypto import token_hash
from dashboard.upstream import upstream, upstream_ok
from socialapi import SocialAPIError, is_oauth, platform_name

SESSION_STATES = "reconnect_states"  # raw state values started in this session (newest last)
SESSION_SELECTING = "reconnect_selecting"  # raw state value whose selection is in progress
# Reconnects a session may have under way at once (one per tab); the oldest is dropped.
MAX_SESSION_STATES = 20
# Upstream keeps a pending connection for 30 minutes.
SELECTION_MINUTES = 30
LINK_OWNER = "reconnect link owner"


class ReconnectProblem(Exception):
    """The callback or picker cannot be trusted; nothing is done and nothing changes."""

    def __init__(self, reason: str, record: ReconnectState | None = None) -> None:
        self.reason = reason
        self.record = record
        super().__init__(reason)


class ReconnectNotStarted(Exception):
    """Starting the flow failed before the browser left (message is for a person)."""


@dataclass(frozen=True)
class ReconnectResult:
    """How a callback or selection ended, for the message and the redirect."""

    level: str  # success | warning | error
    message: str
    account: SocialAccount
    link_flow: bool
    select: bool = False


def session_hash(request: HttpRequest) -> str:
    """sha256 of this browser's session key (the session is created when it has none)."""
    if request.session.session_key is None:
        request.session.save()
    return token_hash(request.session.session_key or "")


def actor_kwargs(request: HttpRequest, link: ReconnectLink | None) -> dict[str, Any]:
    if link is not None and not request.user.is_authenticated:
        return {"actor_label": LINK_OWNER}
    return {}


def reconnect_start(
    *, account: SocialAccount, request: HttpRequest, link: ReconnectLink | None = None
) -> str:
    """Create the state, ask upstream to connect the same platform and brand; the auth URL."""
    if not is_oauth(account.platform):
        raise ReconnectNotStarted(
            f"{platform_name(account.platform)} accounts connect with credentials, not a sign-in. "
            "Use Update credentials instead."
        )
    if not account.brand_id:
        # Without brand_id upstream connects the account into a brand of its own.
        raise ReconnectNotStarted(brand_unknown_words(account))
    workspace = account.workspace
    value = secrets.token_urlsafe(32)
    redirect_uri = oauth_callback_url()
    try:
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/accounts/connect
        result = upstream(workspace).accounts_connect(
            account.platform,
            redirect_uri=redirect_uri,
            state=value,
            brand_id=account.brand_id,
        )
    except SocialAPIError as exc:
        raise ReconnectNotStarted(f"Reconnect could not start: {error_words(exc)}") from exc
    upstream_ok(workspace)
    if result.form == "legacy":
        # The legacy flow returns with upstream's own state (bound to the API key).
        value = result.state or ""
    auth_url = result.auth_url or ""
    if result.kind != "oauth" or not value or not auth_url.startswith(("https://", "http://")):
        raise ReconnectNotStarted(
            "SocialAPI did not return a sign-in address for this account; nothing was changed. "
            "Try again, or quote the time to SocialAPI support."
        )
    now = timezone.now()
    with transaction.atomic():
        ReconnectState.objects.create(
            workspace=workspace,
            account=account,
            user=request.user if request.user.is_authenticated and link is None else None,
            link=link,
            state_hash=token_hash(value),
            session_hash=session_hash(request),
            dialect=result.form,
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.RECONNECT_STATE_MINUTES),
        )
        audit_record(
            action="reconnect.start",
            workspace=workspace,
            request=request,
            target=account,
            target_label=f"{account.label} ({account.platform})",
            detail={"platform": account.platform, "via": "link" if link else "dashboard"},
            **actor_kwargs(request, link),
        )
    states = [s for s in request.session.get(SESSION_STATES, []) if isinstance(s, str)]
    request.session[SESSION_STATES] = [*states, value][-MAX_SESSION_STATES:]
    return auth_url


def _record_for(value: str) -> ReconnectState | None:
    return (
        ReconnectState.objects.select_related("account", "workspace", "link", "account__workspace")
        .filter(state_hash=token_hash(value))
        .first()
    )


def _binding_check(record: ReconnectState, request: HttpRequest, *, in_session: bool) -> None:
    """Same session, same person (still an admin) or a still-valid link."""
    if record.session_hash != session_hash(request):
        raise ReconnectProblem("other_session", record)
    if not in_session:
        # Started in this very session, but dropped from it when newer reconnects pushed
        # it out of the MAX_SESSION_STATES kept.
        raise ReconnectProblem("replaced", record)
    if record.user_id is not None:
        if record.user_id != request.user.pk:
            raise ReconnectProblem("other_user", record)
        if not workspace_admin_is(workspace_id=record.workspace_id, user_id=record.user_id):
            raise ReconnectProblem("other_user", record)
    elif record.link is None or not record.link.is_usable:
        raise ReconnectProblem("link_closed", record)


def reconnect_state_check(*, request: HttpRequest, value: str | None) -> ReconnectState:
    """The pending state for this callback, or ReconnectProblem. Changes nothing."""
    if not value:
        raise ReconnectProblem("missing")
    record = _record_for(value)
    if record is None:
        raise ReconnectProblem("unknown")
    if record.used_at is not None:
        raise ReconnectProblem("replayed", record)
    if record.expires_at <= timezone.now():
        raise ReconnectProblem("expired", record)
    started_here = value in request.session.get(SESSION_STATES, [])
    _binding_check(record, request, in_session=started_here)
    return record


def state_consume(record: ReconnectState, request: HttpRequest, value: str) -> None:
    """Single use: only the first request to get here proceeds."""
    used = ReconnectState.objects.filter(pk=record.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not used:
        raise ReconnectProblem("replayed", record)
    request.session[SESSION_STATES] = [
        s for s in request.session.get(SESSION_STATES, []) if s != value
    ]


def reconnect_selection_get(*, request: HttpRequest) -> ReconnectState:
    """The selection in progress in this session, or ReconnectProblem."""
    value = request.session.get(SESSION_SELECTING)
    if not isinstance(value, str) or not value:
        raise ReconnectProblem("missing")
    record = _record_for(value)
    if record is None:
        raise ReconnectProblem("unknown")
    if record.outcome != ReconnectState.Outcome.SELECTING:
        raise ReconnectProblem("replayed", record)
    started = record.used_at or record.created_at
    if started + timedelta(minutes=SELECTION_MINUTES) <= timezone.now():
        raise ReconnectProblem("expired", record)
    _binding_check(record, request, in_session=True)
    return record


PROBLEMS: dict[str, tuple[str, str]] = {
    "missing": (
        "This sign-in cannot be checked",
        "The page came back without the security token that proves the sign-in was started "
        "here, in this browser. Nothing was changed.",
    ),
    "unknown": (
        "This sign-in is not one we started",
        "The security token does not match any reconnect started from this dashboard. The "
        "address may be incomplete, or it was started from somewhere else. Nothing was changed.",
    ),
    "expired": (
        "This sign-in took too long",
        f"For your security a reconnect must be finished within "
        f"{settings.RECONNECT_STATE_MINUTES} minutes (page choices within {SELECTION_MINUTES}). "
        "Nothing was changed.",
    ),
    "replayed": (
        "This sign-in was already used",
        "Each sign-in can be completed only once; this one already was (the page may have been "
        "reloaded or opened twice). Nothing else was changed.",
    ),
    "other_session": (
        "This sign-in was started in another browser",
        "A reconnect has to be finished in the same browser (and the same session) that "
        "started it. Nothing was changed.",
    ),
    "replaced": (
        "This reconnect was replaced by a newer one",
        f"This browser started more than {MAX_SESSION_STATES} reconnects, so this older one "
        "was replaced by a newer one and can no longer finish. Nothing was changed; start "
        "again.",
    ),
    "other_user": (
        "This sign-in belongs to someone else",
        "It was started by another person, or your role no longer allows reconnecting "
        "accounts in this workspace. Nothing was changed.",
    ),
    "link_closed": (
        "This reconnect link is no longer valid",
        "The link expired, was revoked or was already used. Nothing was changed.",
    ),
}


def reconnect_states_prune(*, workspace_id: int, keep_days: int = 30) -> int:
    """Drop old finished or abandoned attempts (the audit log keeps what happened)."""
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = ReconnectState.objects.filter(
        workspace_id=workspace_id, created_at__lt=cutoff
    ).delete()
    return deleted
