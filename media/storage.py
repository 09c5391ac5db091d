"""Storage figures: snapshots from `GET /v1/media/storage` and fresh headers."""

from __future__ import annotations

from django.utils import timezone

from dashboard.models import Workspace
from media.models import StorageSnapshot
from socialapi import FreshFigures


def storage_latest(*, workspace: Workspace) -> StorageSnapshot | None:
    return StorageSnapshot.objects.filter(workspace=workspace).order_by("-taken_at", "-id").first()


def storage_figures_apply(*, workspace_id: int, figures: FreshFigures) -> None:
    """Fresh X-Storage-* headers: a new snapshot when the figure moved."""
    if figures.storage_used is None or figures.storage_limit is None:
        return
    latest = StorageSnapshot.objects.filter(workspace_id=workspace_id).order_by("-taken_at", "-id").first()
    if latest and (latest.used_bytes, latest.limit_bytes) == (figures.storage_used, figures.storage_limit):
        return
    StorageSnapshot.objects.create(
        workspace_id=workspace_id,
        used_bytes=figures.storage_used,
        limit_bytes=figures.storage_limit,
        count=latest.count if latest else None,
        taken_at=timezone.now(),
        source="header",
    )
