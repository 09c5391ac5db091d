"""How the tenant-isolation matrix builds the retry pages' URLs (tests/dashboard/url_matrix.py)."""

from __future__ import annotations

import secrets

from django.utils import timezone

from tests.dashboard.url_matrix import Sample
from tests.dashboard.url_samples import _account


def _failed_post(sample: Sample, state: str = "unknown"):
    from posts.models import FailedPost

    now = timezone.now()
    return FailedPost.objects.create(
        workspace=sample.workspace,
        account=_account(sample),
        post_id=f"p_matrix_{secrets.token_hex(4)}",
        family="reconnect",
        code="account.reconnection_required",
        source="webhook",
        first_failed_at=now,
        failed_at=now,
        state=state,
    )


def failed_post_id(sample: Sample) -> int:
    return int(_failed_post(sample).pk)


def retry_id(sample: Sample) -> int:
    from posts.models import PostRetryItem, PostRetryJob

    failed = _failed_post(sample)
    job = PostRetryJob.objects.create(
        workspace=sample.workspace, account=failed.account, total_items=1, status="finished"
    )
    PostRetryItem.objects.create(
        job=job,
        workspace=sample.workspace,
        failed_post=failed,
        post_id=failed.post_id,
        state="unknown",
        reason="The worker stopped while sending this retry.",
    )
    return int(job.pk)


KWARG_FACTORIES = {"failed_post_id": failed_post_id, "retry_id": retry_id}
