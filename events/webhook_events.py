"""Error events from `post.failed` / `post.partial` webhook deliveries (one per failed target)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from dashboard.models import Workspace
from events.models import EventSource
from events.recording import BODY_LIMIT, EventInput, error_events_record
from socialapi import classify
from socialapi.values import as_dict, as_list, as_str, parse_datetime

POST_FAILURE_EVENTS = ("post.failed", "post.partial")


def post_failure_event_inputs(
    *, data: dict[str, Any], delivery_id: str, received_at: datetime
) -> list[EventInput]:
    """One EventInput per target that carries an error; deduped on delivery + target."""
    inputs: list[EventInput] = []
    post_id = as_str(data.get("id") or data.get("post_id"))
    for index, raw_target in enumerate(as_list(data.get("targets"))):
        target = as_dict(raw_target)
        error = as_dict(target.get("error"))
        if not error:
            continue
        raw_code = as_str(error.get("code"))
        platform = as_str(target.get("platform"))
        found = classify(
            raw_code or None, None, message=as_str(error.get("message")), platform=platform or None
        )
        occurred = parse_datetime(target.get("failed_at") or data.get("updated_at")) or received_at
        inputs.append(
            EventInput(
                occurred_at=occurred,
                source=EventSource.WEBHOOK,
                code=found.code,
                family=str(found.family),
                raw_code=raw_code,
                message=as_str(error.get("message")),
                meta={
                    "category": as_str(error.get("category")),
                    "caused_by": as_str(error.get("caused_by")),
                    "post_id": post_id,
                    # When the post was due and what it says: shown where it can be retried.
                    "scheduled_at": as_str(data.get("scheduled_at")),
                    "text": as_str(data.get("text"))[:200],
                },
                method="POST",
                endpoint="/posts/{pid}/publish",
                platform=found.platform or platform,
                account_upstream_id=as_str(target.get("account_id")),
                raw_body=str(error)[:BODY_LIMIT],
                upstream_id=f"{delivery_id}:{index}"[:100],
            )
        )
    return inputs


def post_failure_events_record(
    *, workspace: Workspace, data: dict[str, Any], delivery_id: str
) -> int:
    """Store the per-target errors of a post webhook; returns how many were new."""
    inputs = post_failure_event_inputs(
        data=data, delivery_id=delivery_id, received_at=timezone.now()
    )
    return len(error_events_record(workspace=workspace, events=inputs))
