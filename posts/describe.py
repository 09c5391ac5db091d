"""Reading what a failed post is (its text and due time) when its failure report did not
say: the events log and ingest name only the post's id. One `GET /v1/posts/{pid}` per
post, in the background, once."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dashboard.models import Workspace
from dashboard.upstream import upstream
from posts.models import FailedPost
from socialapi import Family, SocialAPIError

log = logging.getLogger(__name__)

BATCH = 50


def _undescribed(workspace: Workspace) -> QuerySet[FailedPost]:
    return FailedPost.objects.filter(workspace=workspace, checked_at__isnull=True).filter(
        Q(text="") | Q(scheduled_at__isnull=True)
    )


def describe_queue(workspace_id: int) -> None:
    """After the recording transaction commits, read the new posts' details."""
    from posts.tasks import failed_posts_describe_task

    transaction.on_commit(lambda: failed_posts_describe_task.delay(workspace_id))


def failed_posts_describe(*, workspace: Workspace) -> int:
    """Fill text and due time of failed posts not read yet; returns how many were read.

    A post upstream no longer has is marked read (nothing to learn); any other failure
    (recorded by the client hook) leaves the rest for the next time.
    """
    client = upstream(workspace)
    rows = list(_undescribed(workspace).order_by("id")[:BATCH])
    read = 0
    for row in rows:
        try:
            # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts/{pid}
            post = client.post_get(row.post_id)
        except SocialAPIError as exc:
            if exc.family is not Family.NOT_FOUND:
                log.info("describing failed posts of %s stopped: %s", workspace.pk, exc.code)
                break
            FailedPost.objects.filter(pk=row.pk).update(checked_at=timezone.now())
            continue
        FailedPost.objects.filter(pk=row.pk).update(
            checked_at=timezone.now(),
            text=row.text or " ".join(post.text.split())[:200],
            scheduled_at=row.scheduled_at or post.scheduled_at,
        )
        read += 1
    return read
