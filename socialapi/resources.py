"""Media, storage, usage, the user, events, posts and webhooks as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from socialapi.values import (
    Json,
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_opt_str,
    as_str,
    as_strs,
    parse_datetime,
)

UNLIMITED = -1


@dataclass(frozen=True)
class MediaItem:
    """An uploaded media file (MediaItemResponse)."""

    id: str
    filename: str
    content_type: str
    size_bytes: int
    status: str
    url: str | None = None
    created_at: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a MediaItemResponse."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            filename=as_str(d.get("filename")),
            content_type=as_str(d.get("content_type")),
            size_bytes=as_int(d.get("size_bytes")) or 0,
            status=as_str(d.get("status")),
            url=as_opt_str(d.get("url")),
            created_at=parse_datetime(d.get("created_at")),
            raw=d,
        )


@dataclass(frozen=True)
class MediaPage:
    """One page of GET /media."""

    items: tuple[MediaItem, ...]
    next_cursor: str | None = None
    count: int | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a MediaListResponse."""
        d = as_dict(data)
        return cls(
            items=tuple(MediaItem.from_json(item) for item in as_list(d.get("data"))),
            next_cursor=as_opt_str(d.get("next_cursor")),
            count=as_int(d.get("count")),
        )


@dataclass(frozen=True)
class Storage:
    """Media storage used against the plan limit (-1 = unlimited)."""

    used_bytes: int
    limit_bytes: int
    count: int

    @property
    def unlimited(self) -> bool:
        """Return True on plans without a storage limit."""
        return self.limit_bytes == UNLIMITED

    @property
    def percent(self) -> float | None:
        """Return the percentage used, None when unlimited."""
        if self.unlimited:
            return None
        if self.limit_bytes <= 0:
            return 100.0 if self.used_bytes > 0 else 0.0
        return 100.0 * self.used_bytes / self.limit_bytes

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a StorageUsageResponse."""
        d = as_dict(data)
        return cls(
            used_bytes=as_int(d.get("used_bytes")) or 0,
            limit_bytes=as_int(d.get("limit_bytes")) or 0,
            count=as_int(d.get("count")) or 0,
        )


@dataclass(frozen=True)
class Usage:
    """Allowances used in the current billing period (-1 = unlimited)."""

    brands_used: int | None = None
    brands_limit: int | None = None
    posts_used: int | None = None
    posts_limit: int | None = None
    interactions_used: int | None = None
    interactions_limit: int | None = None
    profile_units_used: int | None = None
    profile_units_limit: int | None = None
    page_allowance: int | None = None
    period_start: datetime | None = None
    # The moment monthly allowances reset.
    period_end: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a UsageResponse."""
        d = as_dict(data)
        counts = {
            f"{name}_{part}": as_int(d.get(f"{name}_{part}"))
            for name in ("brands", "posts", "interactions", "profile_units")
            for part in ("used", "limit")
        }
        return cls(
            **counts,
            page_allowance=as_int(d.get("page_allowance")),
            period_start=parse_datetime(d.get("period_start")),
            period_end=parse_datetime(d.get("period_end")),
            raw=d,
        )


@dataclass(frozen=True)
class UserMe:
    """The SocialAPI user behind the API key."""

    id: str
    email: str
    plan: str
    billing_blocked: bool = False
    billing_blocked_at: datetime | None = None
    allowed_platforms: tuple[str, ...] = ()
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a UserMeResponse."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            email=as_str(d.get("email")),
            plan=as_str(d.get("plan")),
            billing_blocked=as_bool(d.get("billing_blocked")),
            billing_blocked_at=parse_datetime(d.get("billing_blocked_at")),
            allowed_platforms=tuple(as_strs(d.get("allowed_platforms"))),
            raw=d,
        )


@dataclass(frozen=True)
class Brand:
    """A brand: a group of connected accounts inside one SocialAPI account."""

    id: str
    name: str
    accounts_count: int | None = None
    created_at: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a BrandListItem."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            name=as_str(d.get("name")),
            accounts_count=as_int(d.get("accounts_count")),
            created_at=parse_datetime(d.get("created_at")),
            raw=d,
        )


@dataclass(frozen=True)
class Event:
    """One entry of upstream's own events log."""

    id: str
    category: str = ""
    action: str = ""
    status: str = ""
    status_code: int | None = None
    error_category: str | None = None
    error_message: str | None = None
    summary: str = ""
    platform: str | None = None
    account_id: str | None = None
    resource_id: str | None = None
    duration_ms: int | None = None
    metadata: Json = field(default_factory=dict)
    created_at: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from an EventResponse."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            category=as_str(d.get("category")),
            action=as_str(d.get("action")),
            status=as_str(d.get("status")),
            status_code=as_int(d.get("status_code")),
            error_category=as_opt_str(d.get("error_category")),
            error_message=as_opt_str(d.get("error_message")),
            summary=as_str(d.get("summary")),
            platform=as_opt_str(d.get("platform")),
            account_id=as_opt_str(d.get("account_id")),
            resource_id=as_opt_str(d.get("resource_id")),
            duration_ms=as_int(d.get("duration_ms")),
            metadata=as_dict(d.get("metadata")),
            created_at=parse_datetime(d.get("created_at")),
            raw=d,
        )


@dataclass(frozen=True)
class EventsPage:
    """One page of GET /events."""

    events: tuple[Event, ...]
    has_more: bool = False
    next_cursor: str | None = None
    retention_days: int | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from an EventsListResponse."""
        d = as_dict(data)
        pagination = as_dict(d.get("pagination"))
        return cls(
            events=tuple(Event.from_json(e) for e in as_list(d.get("events"))),
            has_more=_has_more(pagination),
            next_cursor=as_opt_str(pagination.get("next_cursor")),
            retention_days=as_int(d.get("retention_days")),
        )


def _has_more(pagination: Json) -> bool:
    """Return has_more, or whether a next cursor exists when has_more is absent."""
    if isinstance(pagination.get("has_more"), bool):
        return as_bool(pagination.get("has_more"))
    return bool(as_opt_str(pagination.get("next_cursor")))


def _media_ids(container: Json) -> list[str]:
    """Return the media ids a post or target references (media[] and deprecated media_ids)."""
    ids = [
        as_str(item.get("source"))
        for item in map(as_dict, as_list(container.get("media")))
        if item.get("source_type") == "media_id" and as_str(item.get("source"))
    ]
    return ids + as_strs(container.get("media_ids"))


@dataclass(frozen=True)
class Post:
    """A post and the accounts and media it targets."""

    id: str
    status: str
    scheduled_at: datetime | None = None
    account_ids: tuple[str, ...] = ()
    media_ids: tuple[str, ...] = ()
    targets: tuple[Json, ...] = ()
    text: str = ""
    retry_count: int | None = None
    updated_at: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    def target_for(self, account_id: str) -> Json:
        """The target of one account ({} when the post has none for it)."""
        return next((t for t in self.targets if as_str(t.get("account_id")) == account_id), {})

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a PostResponse."""
        d = as_dict(data)
        targets = [as_dict(t) for t in as_list(d.get("targets"))]
        media = _media_ids(d)
        for target in targets:
            media += _media_ids(target)
        accounts = [as_str(t.get("account_id")) for t in targets if as_str(t.get("account_id"))]
        return cls(
            id=as_str(d.get("id")),
            status=as_str(d.get("status")),
            scheduled_at=parse_datetime(d.get("scheduled_at")),
            account_ids=tuple(dict.fromkeys(accounts)),
            media_ids=tuple(dict.fromkeys(media)),
            targets=tuple(targets),
            text=as_str(d.get("text")),
            retry_count=as_int(d.get("retry_count")),
            updated_at=parse_datetime(d.get("updated_at")),
            raw=d,
        )


@dataclass(frozen=True)
class PostsPage:
    """One page of GET /posts."""

    posts: tuple[Post, ...]
    has_more: bool = False
    next_cursor: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a PostsListResponse."""
        d = as_dict(data)
        pagination = as_dict(d.get("pagination"))
        return cls(
            posts=tuple(Post.from_json(p) for p in as_list(d.get("data"))),
            has_more=_has_more(pagination),
            next_cursor=as_opt_str(pagination.get("next_cursor")),
        )


@dataclass(frozen=True)
class WebhookEndpoint:
    """A registered webhook endpoint (the secret is never listed)."""

    id: str
    url: str
    events: tuple[str, ...] = ()
    is_active: bool = True
    created_at: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a WebhookEndpointItem."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            url=as_str(d.get("url")),
            events=tuple(as_strs(d.get("events"))),
            is_active=d.get("is_active") is not False,
            created_at=parse_datetime(d.get("created_at")),
            raw=d,
        )


@dataclass(frozen=True)
class WebhookCreated:
    """A new webhook endpoint with its signing secret, returned only this once."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str = field(repr=False)
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a CreateWebhookResponse."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            url=as_str(d.get("url")),
            events=tuple(as_strs(d.get("events"))),
            secret=as_str(d.get("secret")),
            raw=d,
        )
