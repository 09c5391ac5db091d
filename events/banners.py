"""Quota and health banners, computed from stored events and the latest figures."""

from __future__ import annotations

from typing import Any

from dashboard.models import Workspace


def banners_for(*, workspace: Workspace, user: Any) -> list[Any]:
    """Banners for this person in this workspace, most severe first."""
    return []
