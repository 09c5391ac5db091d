"""After a trusted OAuth return: success (confirmed live), denial, page/profile selection,
and the legacy code exchange. Every outcome is recorded on the state and audited.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.health import account_find
from accounts.models import AccountStatus, ReconnectLink, ReconnectState, SocialAccount
from accounts.reconnect import (
    LINK_OWNER,
    SESSION_SELECTING,
    ReconnectProblem,
    ReconnectResult,
    actor_kwargs,
    reconnect_state_check,
    state_consume,
)
from accounts.services import account_check_request, account_mirror, error_words
from dashboard.audit import audit_record
from dashboard.upstream import upstream, upstream_ok
from posts.selectors import failed_posts_words
from socialapi import (
    Account,
    ConnectedAccount,
    Family,
    PendingConnection,
    SocialAPIError,
    platform_name,
)


def reconnect_callback(*, request: HttpRequest, params: dict[str, str]) -> ReconnectResult:
    """Handle the browser's return from the platform (current or legacy form)."""
    value = params.get("state", "")
    record = reconnect_state_check(request=request, value=value)
    state_consume(record, request, value)
    status = params.get("status", "")
    if status == "success":
        account_id = params.get("account_id", "")
        if not account_id:
            return _fail(record, request, "missing_account", _unexpected(record))
        return _success(record, request, account_id)
    if status == "error" or (not status and params.get("error")):
        return _denied(record, request, params)
    if status == "selection_required":
        return _selection_begin(record, request, value, params.get("connection_id", ""))
    if not status and params.get("code") and record.dialect == "legacy":
        return _exchange(record, request, value, params["code"])
    return _fail(record, request, "unexpected_callback", _unexpected(record))


def _unexpected(record: ReconnectState) -> str:
    return (
        f"SocialAPI sent the sign-in back in a form the dashboard does not understand, so "
        f"nothing was changed. Start the reconnect of {record.account.label} again."
    )


def _denied(
    record: ReconnectState, request: HttpRequest, params: dict[str, str]
) -> ReconnectResult:
    account = record.account
    platform = platform_name(account.platform)
    error = params.get("error", "")[:100]
    again = "Open your reconnect link again" if record.link_id else "Press Reconnect"
    if error == "access_denied":
        message = (
            f"Sign-in to {platform} was cancelled, so nothing changed: {account.label} still needs "
            f"reconnecting. {again} when you are ready to allow access."
        )
    else:
        description = (
            " ".join(params.get("error_description", "").split())[:300]
            or error
            or "no reason given"
        )
        message = (
            f"{platform} did not complete the sign-in: {description}. "
            f"Nothing changed; {again.lower()} to try again."
        )
    return _fail(record, request, error or "error", message)


def _fail(record: ReconnectState, request: HttpRequest, code: str, message: str) -> ReconnectResult:
    now = timezone.now()
    with transaction.atomic():
        ReconnectState.objects.filter(pk=record.pk).update(
            outcome=ReconnectState.Outcome.FAILED, error_code=code[:100], finished_at=now
        )
        audit_record(
            action="reconnect.fail",
            workspace=record.workspace,
            request=request,
            target=record.account,
            target_label=f"{record.account.label} ({record.account.platform})",
            detail={"error": code[:100], "message": message[:300]},
            **actor_kwargs(request, record.link),
        )
    return ReconnectResult("error", message, record.account, link_flow=record.link_id is not None)


def _success(record: ReconnectState, request: HttpRequest, account_id: str) -> ReconnectResult:
    """Upstream says connected: confirm with a live re-check before calling it fixed.

    Through a reconnect link only the link's account may change: another account that
    came back is not mirrored (the next health sync lists whatever upstream now has), and
    the link is used up by any completed sign-in.
    """
    target = record.account
    workspace = record.workspace
    link_flow = record.link_id is not None
    other = bool(account_id) and account_id != target.upstream_id
    actor = request.user if request.user.is_authenticated else None
    item: Account | None = None
    problem = ""
    if not (link_flow and other):
        try:
            item = account_find(
                upstream(workspace), upstream_id=account_id, brand_id=target.brand_id
            )
        except SocialAPIError as exc:
            problem = error_words(exc)
        else:
            upstream_ok(workspace)
            problem = "SocialAPI does not list the account yet."
    now = timezone.now()
    mirrored = target
    with transaction.atomic():
        ReconnectState.objects.filter(pk=record.pk).update(
            outcome=ReconnectState.Outcome.SUCCEEDED,
            result_account_id=account_id[:100],
            finished_at=now,
        )
        if link_flow and other:
            outcome = ReconnectLink.Outcome.OTHER_ACCOUNT
            level, message = "warning", _link_other_account_words(target)
        elif item is None:
            account_check_request(account=target)
            outcome = ReconnectLink.Outcome.UNCONFIRMED
            level = "warning"
            message = (
                f"{platform_name(target.platform)} accepted the sign-in, but the dashboard "
                f"could not confirm {target.label} yet ({problem}) It is being checked again; "
                + (
                    "nothing more is needed from you."
                    if link_flow
                    else "its status will update on this page."
                )
            )
        else:
            mirrored, _ = account_mirror(
                workspace=workspace,
                item=item,
                source="reconnect",
                existing=None if other else target,
                actor=actor,
                actor_label=LINK_OWNER if link_flow else "",
                checked_at=now,
            )
            fixed = mirrored.status == AccountStatus.ACTIVE
            outcome = (
                ReconnectLink.Outcome.RECONNECTED if fixed else ReconnectLink.Outcome.STILL_BROKEN
            )
            level, message = _success_words(target, mirrored, not other, link_flow=link_flow)
            if fixed and not other:
                message += failed_posts_words(account=mirrored, link_flow=link_flow)
        audit_record(
            action="reconnect.finish",
            workspace=workspace,
            request=request,
            target=target,
            target_label=f"{target.label} ({target.platform})",
            detail={
                "result_account": account_id[:100],
                "different_account": other,
                "confirmed": item is not None,
                "status": mirrored.status if item is not None else "",
            },
            **actor_kwargs(request, record.link),
        )
        if link_flow:
            _link_use_up(record, request, outcome=outcome, account_id=account_id, now=now)
    return ReconnectResult(level, message, mirrored, link_flow)


def _link_use_up(
    record: ReconnectState, request: HttpRequest, *, outcome: str, account_id: str, now: datetime
) -> None:
    """A sign-in through the link completed: the link is spent, whatever came back."""
    target = record.account
    link = record.link
    assert link is not None  # a link flow
    ReconnectLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
        used_at=now, used_outcome=outcome, used_account_id=account_id[:100]
    )
    audit_record(
        action="reconnect_link.use",
        workspace=record.workspace,
        request=request,
        target=target,
        target_label=f"{target.label} ({target.platform})",
        detail={"link": link.pk, "outcome": outcome, "result_account": account_id[:100]},
        **actor_kwargs(request, link),
    )


def _link_other_account_words(target: SocialAccount) -> str:
    platform = platform_name(target.platform)
    return (
        f"You signed in to {platform} as another account, not {target.label}, so nothing "
        f"changed for {target.label}: it still needs reconnecting. This link is now used up; "
        f"if {target.label} still needs fixing, ask the person who sent it for a new link and "
        f"sign in to {platform} as {target.label}."
    )


def _success_words(
    target: SocialAccount, mirrored: SocialAccount, same: bool, *, link_flow: bool = False
) -> tuple[str, str]:
    platform = platform_name(target.platform)
    if not same:
        return "warning", (
            f"You signed in to {platform} as {mirrored.label}, which is a different account from "
            f"{target.label}. {mirrored.label} is now connected; {target.label} is unchanged and "
            f"still needs reconnecting — sign in as {target.label} to fix it."
        )
    if mirrored.status == AccountStatus.ACTIVE:
        return "success", f"{target.label} ({platform}) is reconnected and active again."
    reason = f" ({mirrored.reason})" if mirrored.reason else ""
    again = (
        "This link is now used up: ask the person who sent it for a new one, and allow every "
        "permission asked for."
        if link_flow
        else "Try again, making sure to allow every permission asked for."
    )
    return "warning", (
        f"The sign-in finished, but SocialAPI still reports that {target.label} needs "
        f"reconnecting{reason}. {again}"
    )


def _pending_json(pending: PendingConnection) -> dict[str, Any]:
    return {
        "platform": pending.platform,
        "pages": [asdict(p) for p in pending.pages],
        "profiles": [asdict(p) for p in pending.profiles],
        "lost_access": [asdict(p) for p in pending.lost_access],
        "expires_at": pending.expires_at.isoformat() if pending.expires_at else "",
    }


def _selection_begin(
    record: ReconnectState, request: HttpRequest, value: str, connection_id: str
) -> ReconnectResult:
    """Facebook (always) and Google (several profiles): fetch the candidates once, store them."""
    if not connection_id:
        return _fail(record, request, "missing_connection", _unexpected(record))
    try:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts/pending/{id}
        pending = upstream(record.workspace).pending_get(
            connection_id, platform=record.account.platform
        )
    except SocialAPIError as exc:
        return _fail(
            record, request, exc.code, f"The page choice could not be loaded: {error_words(exc)}"
        )
    return _selection_store(record, request, value, connection_id, pending)


def _selection_store(
    record: ReconnectState,
    request: HttpRequest,
    value: str,
    connection_id: str,
    pending: PendingConnection,
) -> ReconnectResult:
    if not pending.pages and not pending.profiles:
        return _fail(
            record,
            request,
            "no_candidates",
            f"This {platform_name(record.account.platform)} login manages no page or profile that "
            "can be connected. Sign in with the login that manages it.",
        )
    ReconnectState.objects.filter(pk=record.pk).update(
        outcome=ReconnectState.Outcome.SELECTING,
        connection_id=connection_id[:100],
        candidates=_pending_json(pending),
    )
    request.session[SESSION_SELECTING] = value
    return ReconnectResult(
        "info", "", record.account, link_flow=record.link_id is not None, select=True
    )


def _exchange(
    record: ReconnectState, request: HttpRequest, value: str, code: str
) -> ReconnectResult:
    """Legacy form: trade the one-use code. Never retried: a second try cannot succeed."""
    account = record.account
    try:
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/oauth/exchange
        result = upstream(record.workspace).oauth_exchange(
            account.platform, code=code[:2000], redirect_uri=record.redirect_uri, state=value
        )
    except SocialAPIError as exc:
        return _fail(
            record, request, exc.code, f"The sign-in could not be completed: {error_words(exc)}"
        )
    if result.kind == "pending" and result.pending is not None:
        connection_id = result.pending.connection_id
        return _selection_store(record, request, value, connection_id, result.pending)
    connected = result.account or ConnectedAccount(account_id="", platform="")
    return _success(record, request, connected.account_id)


class SelectionInvalid(Exception):
    """The choice does not match the candidates; the picker is shown again."""


def reconnect_select(
    *,
    record: ReconnectState,
    request: HttpRequest,
    page_ids: list[str],
    profile_id: str,
    cancel: bool = False,
) -> ReconnectResult:
    """Finish a pending connection with the pages (Facebook) or profile (Google) chosen."""
    if cancel:
        taken = ReconnectState.objects.filter(
            pk=record.pk, outcome=ReconnectState.Outcome.SELECTING
        ).update(outcome=ReconnectState.Outcome.PENDING)
        if not taken:
            raise ReconnectProblem("replayed", record)
        request.session.pop(SESSION_SELECTING, None)
        again = "Open your reconnect link again" if record.link_id else "Press Reconnect"
        return _fail(
            record,
            request,
            "cancelled",
            f"You cancelled the page choice, so nothing changed: {record.account.label} still "
            f"needs reconnecting. {again} to start over.",
        )
    candidates = record.candidates or {}
    if candidates.get("pages"):
        allowed = {p["platform_page_id"] for p in candidates["pages"] if p.get("assignable", True)}
        chosen = [p for p in dict.fromkeys(page_ids) if p in allowed]
        if not chosen or len(chosen) != len(set(page_ids)):
            raise SelectionInvalid("Choose at least one of the pages listed.")
        body: dict[str, Any] = {"page_ids": chosen}
    else:
        allowed = {p["platform_account_id"] for p in candidates.get("profiles", [])}
        if profile_id not in allowed:
            raise SelectionInvalid("Choose one of the profiles listed.")
        body = {"platform_account_id": profile_id}
    # First submission wins (a double click must not select twice).
    taken = ReconnectState.objects.filter(
        pk=record.pk, outcome=ReconnectState.Outcome.SELECTING
    ).update(outcome=ReconnectState.Outcome.PENDING)
    if not taken:
        raise ReconnectProblem("replayed", record)
    try:
        # Reference: https://docs.social-api.ai/api-reference
        #   POST /v1/accounts/pending/{connection_id}/select
        connected = upstream(record.workspace).pending_select(
            record.connection_id, **body, platform=record.account.platform
        )
    except SocialAPIError as exc:
        if exc.family == Family.SERVER:
            # Nothing was selected upstream as far as we know: let the person try again.
            ReconnectState.objects.filter(pk=record.pk).update(
                outcome=ReconnectState.Outcome.SELECTING
            )
            raise SelectionInvalid(f"SocialAPI did not answer: {error_words(exc)}") from exc
        request.session.pop(SESSION_SELECTING, None)
        return _fail(
            record, request, exc.code, f"The selection could not be saved: {error_words(exc)}"
        )
    request.session.pop(SESSION_SELECTING, None)
    return _success(record, request, connected.account_id)
