"""Accounts and the connect flow: plain values built leniently from upstream JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Self

from socialapi.codes import header_get
from socialapi.values import (
    Json,
    as_dict,
    as_list,
    as_opt_str,
    as_str,
    parse_datetime,
)

_INT_HEADER = re.compile(r"-?[0-9]{1,18}")


@dataclass(frozen=True)
class Account:
    """A connected social account (GET /accounts)."""

    id: str
    platform: str
    name: str
    username: str
    brand_id: str
    status: str
    reconnect_reason: str | None = None
    profile_picture_url: str | None = None
    page_name: str | None = None
    login_id: str | None = None
    metadata: Json = field(default_factory=dict)
    raw: Json = field(default_factory=dict, repr=False)

    @property
    def needs_reconnect(self) -> bool:
        """Return True when upstream says the token must be renewed."""
        return self.status == "reconnect_required"

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from an Account object."""
        d = as_dict(data)
        return cls(
            id=as_str(d.get("id")),
            platform=as_str(d.get("platform")),
            name=as_str(d.get("name")),
            username=as_str(d.get("username")),
            brand_id=as_str(d.get("brand_id")),
            status=as_str(d.get("status")),
            reconnect_reason=as_opt_str(d.get("reconnect_reason")),
            profile_picture_url=as_opt_str(d.get("profile_picture_url")),
            page_name=as_opt_str(d.get("page_name")),
            login_id=as_opt_str(d.get("login_id")),
            metadata=as_dict(d.get("metadata")),
            raw=d,
        )


@dataclass(frozen=True)
class ConnectedAccount:
    """The account a connect, exchange or selection produced (ConnectAccountResponse)."""

    account_id: str
    platform: str
    display_name: str = ""
    username: str = ""
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ConnectAccountResponse."""
        d = as_dict(data)
        return cls(
            account_id=as_str(d.get("account_id")),
            platform=as_str(d.get("platform")),
            display_name=as_str(d.get("display_name")),
            username=as_str(d.get("username")),
            raw=d,
        )


@dataclass(frozen=True)
class ConnectResult:
    """The answer to POST /accounts/connect: an OAuth redirect or a direct connection."""

    kind: Literal["oauth", "direct"]
    form: Literal["current", "legacy"]
    auth_url: str | None = None
    # Current form: our own state echoed back. Legacy form: upstream's state, which the
    # platform will send back with the code.
    state: str | None = None
    message: str = ""
    account: ConnectedAccount | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object, *, form: Literal["current", "legacy"]) -> Self:
        """Build from a ConnectOAuthResponse or ConnectAccountResponse."""
        d = as_dict(data)
        if as_opt_str(d.get("auth_url")) or not as_opt_str(d.get("account_id")):
            return cls(
                kind="oauth",
                form=form,
                auth_url=as_opt_str(d.get("auth_url")),
                state=as_opt_str(d.get("state")),
                message=as_str(d.get("message")),
                raw=d,
            )
        return cls(kind="direct", form=form, account=ConnectedAccount.from_json(d), raw=d)


@dataclass(frozen=True)
class PendingPage:
    """A Facebook Page offered during page selection."""

    platform_page_id: str
    name: str
    category: str = ""
    picture_url: str | None = None
    assignable: bool = True
    assigned_account_id: str | None = None
    assigned_brand_id: str | None = None
    assigned_brand_name: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a PendingPage."""
        d = as_dict(data)
        return cls(
            platform_page_id=as_str(d.get("platform_page_id")),
            name=as_str(d.get("name")),
            category=as_str(d.get("category")),
            picture_url=as_opt_str(d.get("picture_url")),
            # Absent means nothing blocks it.
            assignable=d.get("assignable") is not False,
            assigned_account_id=as_opt_str(d.get("assigned_account_id")),
            assigned_brand_id=as_opt_str(d.get("assigned_brand_id")),
            assigned_brand_name=as_opt_str(d.get("assigned_brand_name")),
        )


@dataclass(frozen=True)
class PendingProfile:
    """A Google Business Profile offered during profile selection."""

    platform_account_id: str
    display_name: str
    username: str = ""
    bio: str = ""
    profile_picture_url: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a PendingProfile."""
        d = as_dict(data)
        return cls(
            platform_account_id=as_str(d.get("platform_account_id")),
            display_name=as_str(d.get("display_name")),
            username=as_str(d.get("username")),
            bio=as_str(d.get("bio")),
            profile_picture_url=as_opt_str(d.get("profile_picture_url")),
        )


@dataclass(frozen=True)
class LostPage:
    """A page the login no longer grants access to."""

    platform_page_id: str
    name: str
    brand_id: str | None = None
    brand_name: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a LostPageAccess."""
        d = as_dict(data)
        return cls(
            platform_page_id=as_str(d.get("platform_page_id")),
            name=as_str(d.get("name")),
            brand_id=as_opt_str(d.get("brand_id")),
            brand_name=as_opt_str(d.get("brand_name")),
        )


@dataclass(frozen=True)
class PendingConnection:
    """A connection waiting for page (Facebook) or profile (Google) selection."""

    connection_id: str
    platform: str
    pages: tuple[PendingPage, ...] = ()
    profiles: tuple[PendingProfile, ...] = ()
    lost_access: tuple[LostPage, ...] = ()
    login_id: str | None = None
    expires_at: datetime | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a PendingConnection(Detail)Response."""
        d = as_dict(data)
        return cls(
            connection_id=as_str(d.get("connection_id")),
            platform=as_str(d.get("platform")),
            pages=tuple(PendingPage.from_json(p) for p in as_list(d.get("pages"))),
            profiles=tuple(PendingProfile.from_json(p) for p in as_list(d.get("profiles"))),
            lost_access=tuple(LostPage.from_json(p) for p in as_list(d.get("lost_access"))),
            login_id=as_opt_str(d.get("login_id")),
            expires_at=parse_datetime(d.get("expires_at")),
            raw=d,
        )


@dataclass(frozen=True)
class ExchangeResult:
    """The answer to POST /oauth/exchange: an account, or a selection to make."""

    kind: Literal["connected", "pending"]
    account: ConnectedAccount | None = None
    pending: PendingConnection | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ConnectAccountResponse (201) or PendingConnectionResponse (200)."""
        d = as_dict(data)
        if as_opt_str(d.get("connection_id")):
            return cls(kind="pending", pending=PendingConnection.from_json(d), raw=d)
        return cls(kind="connected", account=ConnectedAccount.from_json(d), raw=d)


@dataclass(frozen=True)
class FreshFigures:
    """Quota figures some responses carry in headers; None where absent or garbage."""

    storage_used: int | None = None
    storage_limit: int | None = None
    posts_used: int | None = None
    posts_limit: int | None = None
    interactions_used: int | None = None
    interactions_limit: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Self | None:
        """Return the figures found in the headers, or None when there are none."""
        values: dict[str, int | None] = {}
        for name in ("storage", "posts", "interactions"):
            for part in ("used", "limit"):
                raw = header_get(headers, f"X-{name.title()}-{part.title()}")
                values[f"{name}_{part}"] = _header_int(raw)
        if all(value is None for value in values.values()):
            return None
        return cls(**values)


def _header_int(raw: str | None) -> int | None:
    """Parse an integer header value; -1 (unlimited) allowed, garbage ignored."""
    if raw is None:
        return None
    text = raw.strip()
    return int(text) if _INT_HEADER.fullmatch(text) else None
