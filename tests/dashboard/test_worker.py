"""The task code path in a real Celery worker (Redis in CI, the filesystem broker locally)."""

from __future__ import annotations

import pytest

from dashboard.models import UsageSnapshot, Workspace
from dashboard.tasks import usage_sync
from sandbox.services import sandbox_tenant_create
from tests.workers import wait_for

pytestmark = pytest.mark.worker


def test_a_real_worker_takes_a_usage_snapshot_from_the_sandbox(
    celery_worker_process, live_server, workspace
):
    tenant = sandbox_tenant_create(name="Worker test")
    Workspace.objects.filter(pk=workspace.pk).update(base_url=f"{live_server.url}/sandbox/v1")
    workspace.refresh_from_db()
    workspace.api_key = tenant.api_key
    workspace.save()

    celery_worker_process.start()
    celery_worker_process.enqueue(usage_sync, workspace.pk)

    wait_for(
        lambda: UsageSnapshot.objects.filter(workspace=workspace).exists(),
        timeout=90,
        message=lambda: "the worker to store a usage snapshot\n" + celery_worker_process.log(),
    )
    snapshot = UsageSnapshot.objects.get(workspace=workspace)
    assert (snapshot.posts_used, snapshot.posts_limit) == (0, 10)
    workspace.refresh_from_db()
    assert workspace.plan == "free"
