"""Retention: old events go in batches; groups, counts and per-day counts stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import ErrorDailyCount, ErrorEvent, ErrorGroup
from events.retention import error_events_prune
from events.selectors import error_group_sparklines
from events.tasks import error_events_prune as prune_task

pytestmark = pytest.mark.django_db


def test_it_deletes_old_events_in_batches_and_keeps_daily_counts(workspace, record, settings):
    settings.ERROR_EVENT_RETENTION_DAYS = 30
    record(code="system.internal", n=7, minutes_ago=60 * 24 * 40)
    record(code="system.internal", n=2, minutes_ago=60 * 24 * 2)
    group = ErrorGroup.objects.get()
    days_before = dict(ErrorDailyCount.objects.values_list("day", "count"))
    assert error_events_prune(batch_size=3) == 7
    assert ErrorEvent.objects.count() == 2
    group.refresh_from_db()
    assert group.event_count == 9
    assert dict(ErrorDailyCount.objects.values_list("day", "count")) == days_before
    assert sum(error_group_sparklines(group_ids=[group.pk])[group.pk]) == 2
    assert error_events_prune() == 0


def test_the_beat_task_uses_the_setting(workspace, record, settings):
    settings.ERROR_EVENT_RETENTION_DAYS = 180
    record(code="system.internal", minutes_ago=60 * 24 * 181)
    record(code="system.internal", minutes_ago=60 * 24 * 179)
    assert prune_task() == 1


def test_retention_spans_every_workspace(workspace, other_workspace, record, settings):
    settings.ERROR_EVENT_RETENTION_DAYS = 1
    record(code="system.internal", minutes_ago=60 * 24 * 3)
    record(code="system.internal", minutes_ago=60 * 24 * 3, target=other_workspace)
    assert error_events_prune(now=timezone.now() + timedelta(minutes=1)) == 2
