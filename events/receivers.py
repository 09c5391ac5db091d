"""Reactions to other apps' records: fresh storage or usage figures may cross a threshold."""

from __future__ import annotations

from typing import Any

from django.db import transaction

# Saving these on a stored storage figure means it just crossed the 80 % or 100 % line,
# or the forecast just fell under (or rose back over) STORAGE_FORECAST_DAYS.
LINE_FIELDS = frozenset({"warn_since", "full_since", "forecast_since"})


def figures_saved(
    sender: Any,
    *,
    instance: Any,
    created: bool,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """A new StorageSnapshot or UsageSnapshot, or a storage figure updated in place that
    crossed a line (fresh X-Storage-* headers merge into the newest row): check the alert
    thresholds after commit."""
    if not created and not (update_fields and LINE_FIELDS & set(update_fields)):
        return
    from events.tasks import threshold_alerts_check

    workspace_id = instance.workspace_id
    transaction.on_commit(lambda: threshold_alerts_check.delay(workspace_id))
