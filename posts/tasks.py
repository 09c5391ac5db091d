"""Background work for failed posts: thin wrappers that take ids and call a service."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from dashboard.upstream import WorkspaceNotConfigured
from posts import describe, retry_jobs, retry_runner
from socialapi import SocialAPIError

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def post_retry_run(job_id: int) -> None:
    """Work through a retry job; safe to run twice or to kill at any line."""
    result = retry_runner.post_retry_job_run(job_id=job_id)
    log.info("post retry %s: %s after %d retry call(s)", job_id, result.outcome, result.sent)


@shared_task(ignore_result=True)
def post_retry_sweep() -> None:
    """Every minute (beat): hand unfinished retry jobs without a live runner to a new one."""
    retry_jobs.post_retry_sweep()


@shared_task(ignore_result=True)
def failed_posts_prune() -> None:
    """Every 6 hours (beat): forget settled failed posts and old retry jobs."""
    retry_jobs.failed_posts_prune()


@shared_task(ignore_result=True)
def failed_posts_describe_task(workspace_id: int) -> None:
    """Read the text and due time of newly collected failed posts (GET, once each)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        describe.failed_posts_describe(workspace=workspace)
    except (SocialAPIError, WorkspaceNotConfigured) as exc:
        log.info("describing failed posts of workspace %s failed: %s", workspace_id, exc)
    except SecretDecryptionError:
        log.warning(
            "describing failed posts of workspace %s: stored secrets cannot be decrypted",
            workspace_id,
        )
