"""The ingest API: a workspace's own backend posts the SocialAPI errors it received.

Each item is a raw SocialAPI error body (either dialect, or whatever a proxy answered)
plus what the caller knows about the call. Items are validated one by one: invalid ones
are answered with a per-item error, valid ones are stored together (all or nothing),
duplicates of an earlier `client_id` are reported and skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from dashboard.models import Workspace
from events.inputs import FUTURE_TOLERANCE
from events.models import EventSource
from events.recording import BODY_LIMIT, EventInput, error_events_record_each
from socialapi import classify, parse_error_body
from socialapi.codes import header_get, parse_retry_after, redact
from socialapi.platforms import canonical_slug
from socialapi.values import parse_datetime

MAX_BATCH = 500
MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_BODY_CHARS = 64 * 1024

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,100}$")
PLATFORM = re.compile(r"^[a-z0-9_.-]{1,40}$")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FIELDS = (
    "status",
    "body",
    "headers",
    "request_id",
    "method",
    "endpoint",
    "account_id",
    "platform",
    "occurred_at",
    "time",
    "client_id",
    "retry_after",
)


class IngestError(Exception):
    """The request as a whole is refused (the items are not looked at)."""

    def __init__(self, status: int, code: str, message: str, **meta: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.meta = meta

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "meta": self.meta}}


@dataclass
class ItemCheck:
    event: EventInput | None
    errors: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def ingest_items_parse(raw: bytes) -> list[Any]:
    """The items of a request body: one event object, `{"events": [...]}` or a bare list."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise IngestError(
            413, "ingest.too_large", f"The request body is over {MAX_REQUEST_BYTES // 2**20} MB."
        )
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IngestError(
            400, "ingest.invalid_json", "The request body is not valid UTF-8 JSON."
        ) from None
    if isinstance(data, dict) and "events" in data:
        items = data["events"]
        if not isinstance(items, list):
            raise IngestError(
                400, "ingest.invalid_batch", '"events" must be a list of event objects.'
            )
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = [data]
    else:
        raise IngestError(
            400,
            "ingest.invalid_batch",
            'Send one event object, {"events": [...]} or a list of events.',
        )
    if not items:
        raise IngestError(400, "ingest.empty_batch", "The batch has no events.")
    if len(items) > MAX_BATCH:
        raise IngestError(
            413,
            "ingest.batch_too_large",
            f"A batch holds at most {MAX_BATCH} events; split it.",
            max=MAX_BATCH,
        )
    return items


def _body_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_BODY_CHARS]
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:MAX_BODY_CHARS]
    return None


def _headers(value: Any) -> dict[str, str] | None:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(k)[:100]: v[:500] for k, v in list(value.items())[:50]}


def ingest_item_check(item: Any, *, now: datetime) -> ItemCheck:
    """Validate one item and turn it into an event to store, or say what is wrong."""
    if not isinstance(item, dict):
        return ItemCheck(None, {"event": "Each event must be a JSON object."})
    errors: dict[str, str] = {}
    ignored = sorted(str(k)[:50] for k in item if k not in FIELDS)[:20]

    status = item.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        errors["status"] = (
            "Required: the HTTP status the call received, an integer from 100 to 599."
        )
        status = None

    body = _body_text(item.get("body"))
    if body is None:
        errors["body"] = "The raw error body: a JSON object, or the text exactly as received."
    headers = _headers(item.get("headers"))
    if headers is None:
        errors["headers"] = "An object of header names to string values."
        headers = {}

    request_id = item.get("request_id")
    if request_id is not None and not (
        isinstance(request_id, str) and REQUEST_ID.match(request_id)
    ):
        errors["request_id"] = (
            "1 to 64 letters, digits, '-' or '_' (the X-Request-ID SocialAPI answered)."
        )
        request_id = None

    method = item.get("method")
    if method is not None and not (isinstance(method, str) and method.upper() in METHODS):
        errors["method"] = f"One of {', '.join(METHODS)}."
        method = None

    endpoint = item.get("endpoint")
    if endpoint is not None and not (isinstance(endpoint, str) and len(endpoint) <= 500):
        errors["endpoint"] = (
            'The path that was called, e.g. "/v1/posts" or "POST /v1/posts" '
            "(at most 500 characters)."
        )
        endpoint = None

    account_id = item.get("account_id")
    if account_id is not None and not (isinstance(account_id, str) and 0 < len(account_id) <= 100):
        errors["account_id"] = "The SocialAPI account id (acc_…), at most 100 characters."
        account_id = None

    platform = item.get("platform")
    if platform is not None and not (
        isinstance(platform, str) and PLATFORM.match(platform.lower())
    ):
        errors["platform"] = 'A platform slug such as "instagram" or "linkedin_page".'
        platform = None

    occurred_at = now
    moment_field = "occurred_at" if "occurred_at" in item else "time"
    raw_moment = item.get(moment_field)
    if raw_moment is not None:
        parsed_moment = parse_datetime(raw_moment) if isinstance(raw_moment, str) else None
        retention = timedelta(days=settings.ERROR_EVENT_RETENTION_DAYS)
        if parsed_moment is None:
            errors[moment_field] = 'An RFC 3339 time, e.g. "2026-05-30T14:03:00Z".'
        elif parsed_moment > now + FUTURE_TOLERANCE:
            errors[moment_field] = "Is in the future; check the sender's clock."
        elif parsed_moment < now - retention:
            errors[moment_field] = (
                f"Is older than the {retention.days}-day retention; it would be deleted at once."
            )
        else:
            occurred_at = parsed_moment

    client_id = item.get("client_id")
    if client_id is not None and not (isinstance(client_id, str) and CLIENT_ID.match(client_id)):
        errors["client_id"] = (
            "1 to 100 printable characters without spaces, unique per event (idempotency key)."
        )
        client_id = None

    retry_after = item.get("retry_after")
    retry_seconds: float | None = None
    if retry_after is not None:
        if (
            isinstance(retry_after, bool)
            or not isinstance(retry_after, int | float)
            or not 0 <= retry_after <= 86400
        ):
            errors["retry_after"] = (
                "Seconds to wait, from 0 to 86400 (or send the Retry-After header)."
            )
        else:
            retry_seconds = float(retry_after)

    if errors or status is None or body is None:
        return ItemCheck(None, errors, ignored)

    parsed = parse_error_body(status, body, headers)
    meta_platform = parsed.meta.get("platform")
    hint = platform or (meta_platform if isinstance(meta_platform, str) else None)
    message = redact(parsed.message)
    found = classify(
        parsed.raw_code, status, message=message, platform=hint, dialect=parsed.dialect
    )
    if retry_seconds is None:
        retry_seconds = parse_retry_after(header_get(headers, "Retry-After"), now=now.timestamp())
    meta = dict(parsed.meta)
    meta["dialect"] = parsed.dialect
    return ItemCheck(
        EventInput(
            occurred_at=occurred_at,
            source=EventSource.INGEST,
            http_status=status,
            raw_code=parsed.raw_code or "",
            code=found.code,
            family=str(found.family),
            message=message,
            meta=meta,
            request_id=request_id or parsed.request_id or "",
            method=method.upper() if method else "",
            endpoint=endpoint or "",
            platform=found.platform or canonical_slug(hint) or "",
            account_upstream_id=account_id or "",
            raw_body=redact(body)[:BODY_LIMIT],
            retry_after=occurred_at + timedelta(seconds=retry_seconds) if retry_seconds else None,
            client_id=client_id or "",
        ),
        {},
        ignored,
    )


def error_events_ingest(*, workspace: Workspace, items: list[Any]) -> dict[str, Any]:
    """Store the valid items of a batch; the answer has one result per item, in order."""
    now = timezone.now()
    checks = [ingest_item_check(item, now=now) for item in items]
    valid = [(index, check.event) for index, check in enumerate(checks) if check.event is not None]
    stored = error_events_record_each(workspace=workspace, events=[event for _, event in valid])
    outcome: dict[int, Any] = {index: row for (index, _), row in zip(valid, stored, strict=True)}
    results: list[dict[str, Any]] = []
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for index, check in enumerate(checks):
        result: dict[str, Any] = {"index": index}
        if check.event is None:
            result.update(status="rejected", errors=check.errors)
        elif outcome.get(index) is None:
            result.update(status="duplicate", client_id=check.event.client_id)
        else:
            row = outcome[index]
            result.update(
                status="accepted",
                id=str(row.pk),
                code=row.code,
                family=row.family,
                group=str(row.group_id),
            )
        if check.ignored:
            result["ignored_fields"] = check.ignored
        counts[result["status"]] += 1
        results.append(result)
    return {
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "results": results,
    }
