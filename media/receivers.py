"""Reactions to other apps' signals."""

from __future__ import annotations

from typing import Any

from dashboard.models import Workspace
from media.storage import storage_snapshot_request

STORAGE_FAMILY = "storage_quota"


def storage_quota_error_received(
    sender: Any, *, workspace: Workspace, events: list[Any], **kwargs: Any
) -> None:
    """A storage-quota error (upload refused) means the figure moved: refresh it, debounced."""
    if any(getattr(event, "family", "") == STORAGE_FAMILY for event in events):
        storage_snapshot_request(workspace=workspace)
