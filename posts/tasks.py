"""Background work for failed posts: thin wrappers that take ids and call a service."""

from __future__ import annotations

import logging

from celery import shared_task

from posts import retry_jobs, retry_runner

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
