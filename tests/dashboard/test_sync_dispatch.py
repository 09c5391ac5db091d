"""The per-workspace sync dispatcher: each due sync enqueued once, none lost to a broker error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone
from kombu.exceptions import OperationalError

from dashboard import tasks
from dashboard.models import Workspace
from dashboard.scheduling import SYNCS, syncs_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every enqueued task, instead of a broker."""
    calls: list[tuple[str, int]] = []
    current_app.loader.import_default_modules()  # autodiscovery: every app's tasks.py
    for sync in SYNCS:
        monkeypatch.setattr(
            current_app.tasks[sync.task], "delay", lambda pk, n=sync.task: calls.append((n, pk))
        )
    return calls


def test_it_enqueues_every_due_sync_once_and_moves_its_stamp(workspace, sent):
    assert tasks.workspace_syncs_dispatch() == len(SYNCS)

    assert sorted(sent) == sorted((sync.task, workspace.pk) for sync in SYNCS)
    saved = Workspace.objects.get(pk=workspace.pk)
    assert syncs_due(workspace=saved) == []
    assert tasks.workspace_syncs_dispatch() == 0


def test_a_second_dispatcher_that_read_the_same_stamps_enqueues_nothing(
    workspace, sent, monkeypatch
):
    # Two beats overlapping: both loaded the workspace before either moved a stamp.
    stale = [Workspace.objects.get(pk=workspace.pk)]
    monkeypatch.setattr(tasks, "workspaces_configured", lambda: stale)

    first = tasks.workspace_syncs_dispatch()
    second = tasks.workspace_syncs_dispatch()

    assert (first, second) == (len(SYNCS), 0)
    assert len(sent) == len(SYNCS)


def test_a_sync_the_broker_refused_stays_due_for_the_next_beat(
    workspace, sent, monkeypatch, caplog
):
    usage = current_app.tasks["dashboard.tasks.usage_sync"]
    earlier = timezone.now() - timedelta(days=1)
    Workspace.objects.filter(pk=workspace.pk).update(usage_enqueued_at=earlier)

    def broker_down(pk):
        raise OperationalError("connection refused")

    monkeypatch.setattr(usage, "delay", broker_down)

    assert tasks.workspace_syncs_dispatch() == len(SYNCS) - 1

    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.usage_enqueued_at == earlier  # not marked as run
    assert [s.task for s in syncs_due(workspace=saved)] == ["dashboard.tasks.usage_sync"]
    assert "could not enqueue dashboard.tasks.usage_sync" in caplog.text
