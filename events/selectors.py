"""Reads about error events and groups, always scoped to one workspace."""

from __future__ import annotations

from events.models import ErrorGroup
from dashboard.models import Workspace


def error_groups_recent(*, workspace: Workspace, limit: int = 5) -> list[ErrorGroup]:
    """The most recently seen open groups."""
    return list(
        ErrorGroup.objects.filter(workspace=workspace, state=ErrorGroup.State.OPEN).order_by("-last_seen", "-id")[
            :limit
        ]
    )
