"""Reactions to other apps' records: fresh storage or usage figures may cross a threshold."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def figures_saved(sender: Any, *, instance: Any, created: bool, **kwargs: Any) -> None:
    """A new StorageSnapshot or UsageSnapshot: check the alert thresholds after commit."""
    if not created:
        return
    from events.tasks import threshold_alerts_check

    workspace_id = instance.workspace_id
    transaction.on_commit(lambda: threshold_alerts_check.delay(workspace_id))
