"""What an error event to store looks like, and how every text in it is cleaned: capped,
free of NUL bytes and lone surrogates, its endpoint folded into a template."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

BODY_LIMIT = 8 * 1024
MESSAGE_LIMIT = 2000
META_LIMIT = 4 * 1024
# Clock skew tolerated in an event's time; later than this after receipt is a wrong clock.
FUTURE_TOLERANCE = timedelta(minutes=5)
RETRY_AFTER_LIMIT = timedelta(days=1)


@dataclass
class EventInput:
    """One error event to store, already classified (see socialapi.classify)."""

    occurred_at: datetime
    source: str
    code: str
    family: str
    http_status: int | None = None
    raw_code: str = ""
    message: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    method: str = ""
    endpoint: str = ""
    platform: str = ""
    account_upstream_id: str = ""
    raw_body: str = ""
    retry_after: datetime | None = None
    upstream_id: str = ""
    client_id: str = ""


# --- cleaning ------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"^\{[^{}/]*\}$")
_PREFIXED_ID = re.compile(r"^[a-z]{1,8}_(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OPAQUE = re.compile(r"^(?=.*[0-9])[A-Za-z0-9_-]{16,}$")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def clean_text(value: object, limit: int) -> str:
    """Text safe for any database: no NUL bytes, no lone surrogates, at most `limit` chars."""
    if not isinstance(value, str) or not value:
        return ""
    text = value.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def _clean_json(value: Any, depth: int = 0) -> Any:
    """JSON-safe copy of a value (strings cleaned, unknown types as text, depth bounded)."""
    if depth > 8:
        return None
    if isinstance(value, dict):
        return {
            clean_text(str(k), 100): _clean_json(v, depth + 1) for k, v in list(value.items())[:50]
        }
    if isinstance(value, list | tuple):
        return [_clean_json(v, depth + 1) for v in list(value)[:50]]
    if isinstance(value, str):
        return clean_text(value, MESSAGE_LIMIT)
    if value is None or isinstance(value, bool | int | float):
        if isinstance(value, float) and value != value:  # NaN is not JSON
            return None
        return value
    return clean_text(str(value), MESSAGE_LIMIT)


def clean_meta(meta: object) -> dict[str, Any]:
    """The meta object as stored: JSON-safe and at most META_LIMIT bytes."""
    if not isinstance(meta, dict) or not meta:
        return {}
    cleaned = _clean_json(meta)
    try:
        size = len(json.dumps(cleaned, allow_nan=False))
    except ValueError:
        return {"_truncated": True}
    if size > META_LIMIT:
        return {"_truncated": True, "keys": sorted(cleaned)[:20]}
    return dict(cleaned)


def _segment_template(segment: str) -> str:
    if _PLACEHOLDER.match(segment) or _PREFIXED_ID.match(segment) or _UUID.match(segment):
        return "{id}"
    if segment.isdigit() or _OPAQUE.match(segment):
        return "{id}"
    return segment


def endpoint_template(raw: str, method: str = "") -> tuple[str, str]:
    """`"POST /v1/accounts/acc_9/limits?x=1"` → `("POST", "/accounts/{id}/limits")`.

    Ids become `{id}` so one failing call on many accounts is one group, not thousands.
    """
    text = clean_text(raw, 2000).strip()
    verb = clean_text(method, 10).strip().upper()
    head, _, rest = text.partition(" ")
    if head.upper() in _METHODS and rest:
        verb = verb or head.upper()
        text = rest.strip()
    if "://" in text:
        text = urlsplit(text).path
    text = text.split("?", 1)[0].split("#", 1)[0]
    segments = [s for s in text.split("/") if s]
    if segments[:1] == ["v1"]:
        segments = segments[1:]
    path = "/" + "/".join(_segment_template(s) for s in segments) if segments else ""
    return verb if verb in _METHODS else "", path[:200]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment


def occurred_at_bounded(moment: datetime, *, received_at: datetime) -> datetime:
    """When an event happened, as stored: in UTC and within what a real event can be.

    A time past a few minutes of clock skew is a sender's wrong clock: the event is
    stored at the receive time (a 2099 throttle would otherwise keep its banner up for
    ever). A time older than the retention is stored at the retention's edge (it would be
    pruned at once, and a day that old is all it can tell). Aware times are compared
    before they are converted: 9999-12-31T23:59:59-01:00 compares fine but has no UTC
    equivalent.
    """
    moment = _aware(moment)
    if moment > received_at + FUTURE_TOLERANCE:
        return received_at
    earliest = received_at - timedelta(days=settings.ERROR_EVENT_RETENTION_DAYS)
    if moment < earliest:
        return earliest
    return moment.astimezone(UTC)


def _retry_after_bounded(moment: datetime | None, *, occurred_at: datetime) -> datetime | None:
    """Retry-After as stored: a day at most after the event (a platform never asks for
    more), None when it is before the event."""
    if moment is None:
        return None
    moment = _aware(moment)
    if moment < occurred_at:
        return None
    return min(moment, occurred_at + RETRY_AFTER_LIMIT).astimezone(UTC)


def event_input_clean(event: EventInput, *, received_at: datetime | None = None) -> EventInput:
    """The event as stored: every text capped and cleaned, endpoint as a template, its
    times within bounds (see occurred_at_bounded)."""
    method, endpoint = endpoint_template(event.endpoint, event.method)
    meta = clean_meta(event.meta)
    raw_path = clean_text(event.endpoint, 500)
    if "{id}" in endpoint and "{" not in raw_path:
        meta.setdefault("path", raw_path)  # the concrete path, ids and all
    occurred_at = occurred_at_bounded(event.occurred_at, received_at=received_at or timezone.now())
    return EventInput(
        occurred_at=occurred_at,
        source=event.source,
        code=clean_text(event.code, 100) or "unknown",
        family=clean_text(event.family, 30) or "unknown",
        http_status=event.http_status
        if event.http_status and 0 < event.http_status < 1000
        else None,
        raw_code=clean_text(event.raw_code, 100),
        message=clean_text(event.message, MESSAGE_LIMIT),
        meta=meta,
        request_id=clean_text(event.request_id, 64).strip(),
        method=method,
        endpoint=endpoint,
        platform=clean_text(event.platform, 40).strip().lower(),
        account_upstream_id=clean_text(event.account_upstream_id, 100).strip(),
        raw_body=clean_text(event.raw_body, BODY_LIMIT),
        retry_after=_retry_after_bounded(event.retry_after, occurred_at=occurred_at),
        upstream_id=clean_text(event.upstream_id, 100),
        client_id=clean_text(event.client_id, 100),
    )
