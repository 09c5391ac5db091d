"""A real Celery worker is SIGKILLed in the middle of a retry job; another one finishes it.

The sandbox is served over real HTTP by `live_server`, slowed down so the kill lands while
retries are on the wire. The proof is the sandbox's own call log: no post was retried
twice (each retry call answered 200 at most once, each post's retry_count at most 1), and
every item ends in a final state; an item the dead worker was sending is checked, never
sent again.
"""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from posts import tasks
from posts.models import FailedPost, PostRetryItem, PostRetryJob
from posts.retry_jobs import post_retry_job_create
from sandbox.ids import account_id_new, brand_id_new, prefixed
from sandbox.models import SandboxAccount, SandboxBrand, SandboxCall, SandboxPost, SandboxPostTarget
from sandbox.services import faults_set, sandbox_tenant_create
from tests.media.test_bulk_deletion_sigkill import _filesystem_broker_folders
from tests.workers import wait_for

ITEMS = 40


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_a_retry_job_survives_sigkill_and_sends_no_retry_twice(
    celery_worker_process, live_server, workspace, monkeypatch
):
    tenant = sandbox_tenant_create(name="Killed Retry Co", plan="pro")
    brand = SandboxBrand.objects.create(id=brand_id_new(), tenant=tenant, name="Main")
    upstream_account = SandboxAccount.objects.create(
        id=account_id_new(), tenant=tenant, brand=brand, platform="instagram", name="IG"
    )
    workspace.base_url = f"{live_server.url}/sandbox/v1"
    workspace.api_key = tenant.api_key
    workspace.save()
    account = SocialAccount.objects.create(
        workspace=workspace,
        upstream_id=upstream_account.id,
        platform="instagram",
        status=AccountStatus.ACTIVE,
    )
    now = timezone.now()
    error = {"category": "auth", "code": "account.reconnection_required", "message": "x"}
    for n in range(ITEMS):
        post = SandboxPost.objects.create(
            id=prefixed("p"), tenant=tenant, status="failed", scheduled_at=now, text=f"#{n}"
        )
        SandboxPostTarget.objects.create(
            post=post, account=upstream_account, status="failed", error=error
        )
        FailedPost.objects.create(
            workspace=workspace,
            account=account,
            post_id=post.id,
            family="reconnect",
            code="account.reconnection_required",
            source="webhook",
            first_failed_at=now,
            failed_at=now,
            scheduled_at=now,
        )
    # Slow retries: 150 ms each, one at a time -> about 6 s for the whole job.
    faults_set(tenant=tenant, latency_ms=150, scope="POST /posts")
    monkeypatch.setattr(tasks.post_retry_run, "delay", lambda job_id: None)  # the worker runs it
    job = post_retry_job_create(account=account, expected_count=ITEMS)

    _filesystem_broker_folders()
    worker = celery_worker_process
    worker.extra_env = {"POST_RETRY_LEASE_SECONDS": "2"}
    worker.start()
    worker.enqueue(tasks.post_retry_run, job.pk)

    def done() -> int:
        return PostRetryItem.objects.filter(job=job).exclude(state__in=["pending"]).count()

    wait_for(
        lambda: done() >= ITEMS // 4,
        timeout=90,
        message=lambda: "the first worker to send a quarter\n" + worker.log()[-3000:],
    )
    worker.kill()  # SIGKILL mid-job: a retry is probably on the wire
    assert done() < ITEMS, "the job finished before the kill: make it slower"
    job.refresh_from_db()
    assert job.status == PostRetryJob.Status.RUNNING and job.lease_token

    time.sleep(2.5)  # the lease goes stale
    worker.start()
    worker.enqueue(tasks.post_retry_sweep)
    wait_for(
        lambda: PostRetryJob.objects.get(pk=job.pk).status == PostRetryJob.Status.FINISHED,
        timeout=120,
        message=lambda: "the second worker to finish the job\n" + worker.log()[-3000:],
    )

    job.refresh_from_db()
    assert job.runs >= 2
    states = list(PostRetryItem.objects.filter(job=job).values_list("state", flat=True))
    assert len(states) == ITEMS and not {"pending", "sending"} & set(states)
    # Never retried twice: each post's retry answered 200 at most once, counted once.
    retried = SandboxCall.objects.filter(tenant=tenant, method="POST", path__endswith="/retry")
    paths = list(retried.values_list("path", flat=True))
    assert len(paths) == len(set(paths)) <= ITEMS
    assert max(SandboxPost.objects.filter(tenant=tenant).values_list("retry_count", flat=True)) == 1
    # The job says "published" exactly for the posts upstream retried; at most the one the
    # dead worker had marked `sending` but not sent yet is "unknown, check the post".
    published = set(
        PostRetryItem.objects.filter(job=job, state="published").values_list("post_id", flat=True)
    )
    retried_upstream = SandboxPost.objects.filter(tenant=tenant, retry_count=1)
    assert published == set(retried_upstream.values_list("id", flat=True))
    assert set(states) <= {"published", "unknown"} and states.count("unknown") <= 1
