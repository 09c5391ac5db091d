"""Retention: old error events are deleted in batches; per-day counts and groups stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import AlertSent, BannerDismissal, ErrorEvent

BATCH_SIZE = 5000
ALERT_MEMORY = timedelta(days=400)


def error_events_prune(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete events older than ERROR_EVENT_RETENTION_DAYS; returns how many.

    Batches keep each transaction (and lock) short, so ingest and pages are never held up;
    a run stopped half-way simply leaves the rest for the next one. Groups, their counts
    and the daily counts behind the sparklines are kept.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ERROR_EVENT_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(
            ErrorEvent.objects.filter(occurred_at__lt=cutoff)
            .order_by("occurred_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            deleted, _ = ErrorEvent.objects.filter(pk__in=ids).delete()
        total += deleted
    # Housekeeping of small tables: expired snoozes and alert records of long-gone periods.
    BannerDismissal.objects.filter(snoozed_until__lt=now - timedelta(days=1)).delete()
    AlertSent.objects.filter(sent_at__lt=now - ALERT_MEMORY).delete()
    return total
