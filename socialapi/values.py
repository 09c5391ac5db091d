"""Lenient readers for upstream JSON values: wrong types become empty values, never errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]


def as_dict(value: object) -> Json:
    """Return value if it is a JSON object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """Return value if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: object) -> str:
    """Return value if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def as_opt_str(value: object) -> str | None:
    """Return a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def as_int(value: object) -> int | None:
    """Return an integer (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_bool(value: object) -> bool:
    """Return True only for a JSON true."""
    return value is True


def as_strs(value: object) -> list[str]:
    """Return the strings of a JSON array."""
    return [item for item in as_list(value) if isinstance(item, str)]


def parse_datetime(value: object) -> datetime | None:
    """Parse an RFC 3339 timestamp into an aware datetime; garbage gives None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year <= 1:
        return None  # Go's zero time stands for "not set".
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
