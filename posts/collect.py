"""Collecting the posts a broken account made fail, from every source of error events.

Every stored error event passes through `error_events_recorded` (webhooks, the upstream
events log, the ingest API, the dashboard's own calls). One names a failed post when it
carries the post's id: `post_id` (post webhooks), `resource_id` of a post delivery (the
events log), or a `/posts/{id}/publish|retry` path (ingest). Those of the token and
credentials families, on a mirrored account, become that account's failed posts (one row
per account and post); any failure of a post this dashboard just retried is that retry's
result (`posts.outcomes`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from dashboard.models import Workspace
from events.models import ErrorEvent
from events.recording import error_events_recorded
from posts.describe import describe_queue
from posts.models import FailedPost
from posts.outcomes import retries_failed_again, to_second
from socialapi.values import parse_datetime

log = logging.getLogger(__name__)

# The families whose failures a reconnect or new credentials fix.
AUTH_FAMILIES = ("reconnect", "credentials")
# Events-log actions that deliver a post (its `resource_id` is the post).
DELIVERY_ACTIONS = ("publish", "create", "retry")
_POST_PATH = re.compile(r"^/(?:v1/)?posts/([^/]+)/(?:publish|retry)/?$")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _text(value: object, limit: int = 100) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _path_post_id(raw: str) -> str:
    """The post id in "POST /v1/posts/p_1/publish" (or a full URL, or a bare path)."""
    method, _, rest = raw.strip().partition(" ")
    if method.upper() in _METHODS and rest:
        if method.upper() != "POST":
            return ""
        raw = rest.strip()
    if "://" in raw:
        raw = urlsplit(raw).path
    found = _POST_PATH.match(raw.split("?", 1)[0])
    return unquote(found.group(1))[:100] if found else ""


def post_id_of(event: ErrorEvent) -> str:
    """The id of the post whose delivery failed, when the event names one ("" otherwise)."""
    meta: dict[str, Any] = event.meta if isinstance(event.meta, dict) else {}
    named = _text(meta.get("post_id"))
    if named:
        return named
    if meta.get("category") == "post" and meta.get("action") in DELIVERY_ACTIONS:
        resource = _text(meta.get("resource_id"))
        if resource:
            return resource
    if event.method not in ("", "POST"):
        return ""
    # The concrete path (kept in meta when the endpoint was folded into a template), or
    # the endpoint itself when nothing in it looked like an id.
    for path in (meta.get("path"), event.endpoint):
        if isinstance(path, str) and "{" not in path and (post_id := _path_post_id(path)):
            return post_id
    return ""


def _scheduled_at(event: ErrorEvent) -> datetime | None:
    meta = event.meta if isinstance(event.meta, dict) else {}
    return parse_datetime(meta.get("scheduled_at"))


def _post_text(event: ErrorEvent) -> str:
    meta = event.meta if isinstance(event.meta, dict) else {}
    return " ".join(_text(meta.get("text"), 400).split())[:200]


@receiver(error_events_recorded, dispatch_uid="posts.error_events_recorded")
def failed_posts_collect(
    sender: Any, *, workspace: Workspace, events: Sequence[ErrorEvent], **kwargs: Any
) -> None:
    """Keep each broken account's failed posts; settle the retries that failed again.

    Runs inside the recording transaction: a failure here is logged and rolled back to a
    savepoint, so it can never lose the error events themselves.
    """
    found = [(event, post_id) for event in events if (post_id := post_id_of(event))]
    if not found:
        return
    try:
        with transaction.atomic():
            _collect(workspace, found)
            retries_failed_again(workspace=workspace, failures=found)
    except Exception:
        log.exception("collecting failed posts from %d error events failed", len(found))


def _reopens(row: FailedPost, event: ErrorEvent) -> bool:
    """A failure reported after the post's last retry (or after it was settled) is new."""
    if row.state == FailedPost.State.OPEN:
        return False
    since = row.retried_at
    if since is None and row.state == FailedPost.State.RETRYING:
        return False  # waiting in a job, not sent yet: the report is of the old failure
    since = since or row.state_changed_at
    return event.occurred_at >= to_second(since)


def _collect(workspace: Workspace, found: list[tuple[ErrorEvent, str]]) -> None:
    """Upsert one FailedPost per (account, post) of the token and credentials failures."""
    auth = [
        (event, post_id)
        for event, post_id in sorted(found, key=lambda pair: pair[0].occurred_at)
        if event.family in AUTH_FAMILIES and event.account_id
    ]
    if not auth:
        return
    # Locked (in key order) against the retry runner's own transitions of the same rows.
    rows = {
        (row.account_id, row.post_id): row
        for row in FailedPost.objects.filter(
            workspace=workspace,
            account_id__in={event.account_id for event, _ in auth},
            post_id__in={post_id for _, post_id in auth},
        )
        .order_by("pk")
        .select_for_update()
    }
    now = timezone.now()
    new: dict[tuple[int, str], FailedPost] = {}
    changed: dict[int, FailedPost] = {}
    for event, post_id in auth:
        assert event.account_id is not None
        key = (event.account_id, post_id)
        row = rows.get(key) or new.get(key)
        if row is None:
            new[key] = FailedPost(
                workspace=workspace,
                account_id=event.account_id,
                post_id=post_id,
                family=event.family,
                code=event.code,
                message=event.message,
                request_id=event.request_id,
                source=event.source,
                first_failed_at=event.occurred_at,
                failed_at=event.occurred_at,
                scheduled_at=_scheduled_at(event),
                text=_post_text(event),
                state_changed_at=now,
            )
            continue
        row.first_failed_at = min(row.first_failed_at, event.occurred_at)
        row.scheduled_at = row.scheduled_at or _scheduled_at(event)
        row.text = row.text or _post_text(event)
        if event.occurred_at >= row.failed_at:
            row.failed_at = event.occurred_at
            row.family, row.code, row.message = event.family, event.code, event.message
            row.request_id, row.source = event.request_id, event.source
        if _reopens(row, event):
            row.state, row.state_changed_at = FailedPost.State.OPEN, now
            row.retried_at, row.outcome = None, ""
        if row.pk is not None:
            changed[row.pk] = row
    if new:
        # ignore_conflicts: a concurrent batch may have stored the same post first.
        FailedPost.objects.bulk_create(new.values(), ignore_conflicts=True)
        # A post webhook carries the post; the events log and ingest name only its id.
        if any(row.source != "webhook" and not row.text for row in new.values()):
            describe_queue(workspace.pk)
    if changed:
        FailedPost.objects.bulk_update(
            changed.values(),
            [
                "first_failed_at",
                "failed_at",
                "family",
                "code",
                "message",
                "request_id",
                "source",
                "scheduled_at",
                "text",
                "state",
                "state_changed_at",
                "retried_at",
                "outcome",
            ],
        )
