"""What a person picked in the media library: a filter, or a few ids.

"Select all N matching this filter" stores the filter itself (never a list of ids built
in the browser); the job resolves it against the mirror when it is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from media.models import KINDS, MediaItem

KIND_LABELS = dict(KINDS)
KIND_PREFIXES = {
    "image": ("image/",),
    "video": ("video/",),
    "audio": ("audio/",),
    "document": ("application/pdf", "text/"),
}
CONTENT_TYPE_RE = re.compile(r"^[\w.+-]{1,50}/[\w.+-]{1,50}$")
USAGES = (
    ("", "Any"),
    ("unused", "Not used by scheduled posts"),
    ("in_use", "Used by scheduled posts"),
)
SORTS: dict[str, tuple[str, ...]] = {
    "-size": ("-size_bytes", "-id"),
    "size": ("size_bytes", "id"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "name": ("filename", "id"),
    "-name": ("-filename", "-id"),
    "type": ("content_type", "-size_bytes", "id"),
    "-type": ("-content_type", "-size_bytes", "-id"),
}
DEFAULT_SORT = "-size"
MAX_IDS = 500  # a page has 50; Django refuses more than 1000 form fields anyway


def _kind_q(kind: str) -> Q:
    if kind == "other":
        known = Q()
        for prefixes in KIND_PREFIXES.values():
            for prefix in prefixes:
                known |= Q(content_type__startswith=prefix)
        return ~known
    q = Q()
    for prefix in KIND_PREFIXES[kind]:
        q |= Q(content_type__startswith=prefix)
    return q


def type_valid(value: str) -> bool:
    return value in KIND_LABELS or bool(CONTENT_TYPE_RE.match(value))


@dataclass(frozen=True)
class MediaFilter:
    """The library's filter: a kind or exact content type, age, name, use by posts."""

    type: str = ""  # "image" (a kind) or "image/png" (an exact content type)
    older_than_days: int | None = None
    q: str = ""
    usage: str = ""  # "" | "unused" | "in_use"

    @property
    def is_empty(self) -> bool:
        return not (self.type or self.older_than_days is not None or self.q or self.usage)

    def apply(self, items: QuerySet[MediaItem], *, now: datetime) -> QuerySet[MediaItem]:
        if self.type in KIND_PREFIXES or self.type == "other":
            items = items.filter(_kind_q(self.type))
        elif self.type:
            items = items.filter(content_type=self.type)
        if self.older_than_days is not None:
            items = items.filter(created_at__lt=now - timedelta(days=self.older_than_days))
        if self.q:
            items = items.filter(filename__icontains=self.q)
        if self.usage == "unused":
            items = items.filter(in_use=False)
        elif self.usage == "in_use":
            items = items.filter(in_use=True)
        return items

    def describe(self) -> str:
        """In words, for the confirm step and the job list: "images older than 30 days"."""
        if self.type in KIND_LABELS:
            noun = KIND_LABELS[self.type].lower()
        elif self.type:
            noun = f"{self.type} files"
        else:
            noun = "files"
        parts = [noun]
        if self.older_than_days is not None:
            days = self.older_than_days
            parts.append(f"older than {days} day{'s' if days != 1 else ''}")
        if self.q:
            parts.append(f"whose name contains “{self.q}”")
        if self.usage == "unused":
            parts.append("not used by scheduled posts")
        elif self.usage == "in_use":
            parts.append("used by scheduled posts")
        return " ".join(parts)

    def as_params(self) -> dict[str, str]:
        """Query-string / hidden-field form of the filter (empty values left out)."""
        params = {"type": self.type, "q": self.q, "usage": self.usage}
        if self.older_than_days is not None:
            params["older_than"] = str(self.older_than_days)
        return {key: value for key, value in params.items() if value}

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "older_than_days": self.older_than_days,
            "q": self.q,
            "usage": self.usage,
        }

    @classmethod
    def from_json(cls, data: Any) -> MediaFilter:
        data = data if isinstance(data, dict) else {}
        days = data.get("older_than_days")
        type_ = str(data.get("type") or "")
        usage = str(data.get("usage") or "")
        return cls(
            type=type_ if type_valid(type_) else "",
            older_than_days=days if isinstance(days, int) and days >= 0 else None,
            q=str(data.get("q") or "")[:200],
            usage=usage if usage in ("unused", "in_use") else "",
        )


@dataclass(frozen=True)
class Selection:
    """Either every item matching `filter`, or the items with these mirror ids."""

    filter: MediaFilter | None = None
    ids: tuple[int, ...] = field(default_factory=tuple)
    leave_out_in_use: bool = False

    @property
    def is_filter(self) -> bool:
        return self.filter is not None

    def apply(self, items: QuerySet[MediaItem], *, now: datetime) -> QuerySet[MediaItem]:
        if self.filter is not None:
            items = self.filter.apply(items, now=now)
        else:
            items = items.filter(pk__in=self.ids)
        if self.leave_out_in_use:
            items = items.exclude(in_use=True)
        return items

    def without_in_use(self) -> Selection:
        return replace(self, leave_out_in_use=True)

    def describe(self, count: int) -> str:
        files = f"{count} file{'s' if count != 1 else ''}"
        if self.filter is None:
            text = f"{files} picked by hand"
        elif self.filter.is_empty:
            text = f"all {files} in the library"
        else:
            text = f"all {count} {self.filter.describe()}"
        if self.leave_out_in_use:
            text += ", leaving out files used by scheduled posts"
        return text[:300]

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"leave_out_in_use": self.leave_out_in_use}
        if self.filter is not None:
            data["filter"] = self.filter.as_json()
        else:
            data["ids"] = list(self.ids)
        return data
