"""Triage: resolving, ignoring and reopening error groups, and notes. Audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from dashboard.audit import audit_record
from dashboard.models import Workspace
from events.models import ErrorGroup, ErrorGroupActivity

NOTE_MAX_CHARS = 5000

_ACTIVITY_FOR_STATE = {
    ErrorGroup.State.RESOLVED: ErrorGroupActivity.Kind.RESOLVED,
    ErrorGroup.State.IGNORED: ErrorGroupActivity.Kind.IGNORED,
    ErrorGroup.State.OPEN: ErrorGroupActivity.Kind.REOPENED,
}
_AUDIT_FOR_STATE = {
    ErrorGroup.State.RESOLVED: "triage.resolve",
    ErrorGroup.State.IGNORED: "triage.ignore",
    ErrorGroup.State.OPEN: "triage.reopen",
}


class TriageError(ValueError):
    """A triage request that cannot be applied (unknown state, empty note)."""


def _label(user: Any) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else "system"


def error_group_state_set(
    *,
    workspace: Workspace,
    group_id: int,
    state: str,
    user: Any,
    request: HttpRequest | None = None,
) -> ErrorGroup:
    """Move a group to open / resolved / ignored. A resolved group reopens by itself on
    the next event that happens after this moment (a regression)."""
    if state not in _ACTIVITY_FOR_STATE:
        raise TriageError(f"Unknown state {state!r}.")
    with transaction.atomic():
        group = ErrorGroup.objects.select_for_update().get(workspace=workspace, pk=group_id)
        if group.state == state:
            return group
        previous = group.state
        now = timezone.now()
        group.state = state
        group.state_changed_at = now
        group.state_changed_by = user if getattr(user, "is_authenticated", False) else None
        group.regressed_at = None
        group.save(update_fields=["state", "state_changed_at", "state_changed_by", "regressed_at"])
        ErrorGroupActivity.objects.create(
            group=group,
            kind=_ACTIVITY_FOR_STATE[ErrorGroup.State(state)],
            actor=group.state_changed_by,
            actor_label=_label(user),
            created_at=now,
        )
        audit_record(
            action=_AUDIT_FOR_STATE[ErrorGroup.State(state)],
            workspace=workspace,
            actor=user,
            target=group,
            detail={"code": group.code, "platform": group.platform, "from": previous, "to": state},
            request=request,
        )
    return group


def error_group_note_add(
    *, workspace: Workspace, group_id: int, user: Any, body: str, request: HttpRequest | None = None
) -> ErrorGroupActivity:
    """Add a note to a group's history (for the team, and for support)."""
    text = (body or "").strip()
    if not text:
        raise TriageError("Write something first.")
    if len(text) > NOTE_MAX_CHARS:
        raise TriageError(f"Keep notes under {NOTE_MAX_CHARS} characters.")
    group = ErrorGroup.objects.get(workspace=workspace, pk=group_id)
    with transaction.atomic():
        note = ErrorGroupActivity.objects.create(
            group=group,
            kind=ErrorGroupActivity.Kind.NOTE,
            actor=user if getattr(user, "is_authenticated", False) else None,
            actor_label=_label(user),
            body=text,
        )
        audit_record(
            action="triage.note",
            workspace=workspace,
            actor=user,
            target=group,
            detail={"note": text[:200]},
            request=request,
        )
    return note
