"""Plan and usage figures: `users/me` then `usage`, and what a blocked bill or key changes."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from dashboard.models import UsageSnapshot, Workspace
from dashboard.tasks import usage_sync as usage_sync_task
from dashboard.usage import usage_sync
from events.models import ErrorEvent
from tests.conftest import error_body
from tests.dashboard.conftest import users_me

pytestmark = pytest.mark.django_db

USAGE = {
    "posts": {"used": 3, "limit": 10},
    "period_end": "2026-06-01T00:00:00Z",
}


def test_it_stores_the_plan_and_a_usage_snapshot(workspace, fake_upstream):
    fake_upstream.on("GET", "/users/me", 200, users_me(plan="pro"))
    fake_upstream.on("GET", "/usage", 200, USAGE)

    snapshot = usage_sync(workspace=workspace)

    assert snapshot is not None
    assert UsageSnapshot.objects.filter(workspace=workspace).count() == 1
    assert Workspace.objects.get(pk=workspace.pk).plan == "pro"


def test_while_billing_is_blocked_it_skips_usage_instead_of_collecting_402s(
    workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", 200, users_me(billing_blocked=True))
    fake_upstream.on("GET", "/usage", 402, error_body("billing.past_due"))

    assert usage_sync(workspace=workspace) is None

    assert fake_upstream.calls("GET", "/usage") == []
    assert not ErrorEvent.objects.filter(workspace=workspace).exists()
    assert Workspace.objects.get(pk=workspace.pk).paused_family == "billing"
    assert not UsageSnapshot.objects.exists()


def test_an_answer_without_a_plan_keeps_the_known_plan(workspace, fake_upstream):
    Workspace.objects.filter(pk=workspace.pk).update(plan="business")
    workspace.refresh_from_db()
    fake_upstream.on("GET", "/users/me", 200, users_me(plan=""))
    fake_upstream.on("GET", "/usage", 200, USAGE)

    usage_sync(workspace=workspace)

    assert Workspace.objects.get(pk=workspace.pk).plan == "business"


def test_the_task_logs_an_undecryptable_key_instead_of_crashing(
    workspace, fake_upstream, settings, caplog
):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the key was lost

    usage_sync_task(workspace.pk)  # runs inline; must not raise

    assert "the API key cannot be decrypted" in caplog.text
    assert fake_upstream.requests == []
