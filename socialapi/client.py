"""SocialAPI endpoints the dashboard uses, as typed methods returning plain values."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from socialapi.models import (
    Account,
    ConnectedAccount,
    ConnectResult,
    ExchangeResult,
    PendingConnection,
)
from socialapi.resources import (
    Brand,
    EventsPage,
    MediaItem,
    MediaPage,
    Post,
    PostsPage,
    Storage,
    Usage,
    UserMe,
    WebhookCreated,
    WebhookEndpoint,
)
from socialapi.session import ClientConfig, ErrorHook, FiguresHook, Reply, Session, mask_key
from socialapi.transport import Transport
from socialapi.values import as_dict, as_int, as_list

__all__ = ["ClientConfig", "SocialAPI"]

logger = logging.getLogger("socialapi")
DOCS = "https://docs.social-api.ai/api-reference"
MAX_LIMIT = 100
MAX_STATE_CHARS = 512
T = TypeVar("T")


def _limit(limit: int) -> int:
    """Clamp a page size to what upstream accepts."""
    return max(1, min(MAX_LIMIT, limit))


def _timestamp(value: datetime | str | None) -> str | None:
    """Format a time bound as RFC 3339 (naive datetimes are taken as UTC)."""
    if value is None or isinstance(value, str):
        return value
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _follow(fetch: Callable[[str | None], tuple[Sequence[T], str | None]]) -> Iterator[T]:
    """Yield items page by page until the cursor ends or comes back a second time."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        items, cursor = fetch(cursor)
        yield from items
        if not cursor:
            return
        if cursor in seen:
            logger.warning("socialapi pagination stopped: cursor repeated")
            return
        seen.add(cursor)


class SocialAPI:
    """A client for one workspace's API key; wraps one httpx.Client."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_error: ErrorHook | None = None,
        on_figures: FiguresHook | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._session = Session(
            config,
            transport=transport,
            sleep=sleep,
            on_error=on_error,
            on_figures=on_figures,
            rng=rng,
            clock=clock,
        )

    def __repr__(self) -> str:
        masked = mask_key(self.config.api_key)
        return f"SocialAPI(base_url={self.config.base_url!r}, api_key={masked!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._session.close()

    def _json(self, reply: Reply) -> Any:
        """Return the decoded JSON body of a successful reply (None when empty)."""
        if not reply.response.content.strip():
            return None
        try:
            return reply.response.json()
        except (ValueError, RecursionError):
            raise self._session.invalid_reply(reply, "response body is not JSON") from None

    def _get(self, endpoint: str, **kwargs: Any) -> Any:
        """GET and decode."""
        return self._json(self._session.request("GET", endpoint, **kwargs))

    def _delete(self, endpoint: str, resource_id: str) -> bool:
        """DELETE one resource: True if deleted now, False if upstream says it was gone."""
        reply = self._session.request(
            "DELETE", endpoint, path_params={"id": resource_id}, accept=(404,)
        )
        if reply.response.status_code != 404:
            return True
        return self._session.gone_or_raise(reply)

    # --- accounts -------------------------------------------------------------------

    def accounts_list(self, brand_id: str | None = None) -> list[Account]:
        """List connected accounts, optionally for one brand."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts
        data = self._get("/accounts", params={"brand_id": brand_id})
        return [Account.from_json(item) for item in as_list(as_dict(data).get("data"))]

    def brands_list(self) -> list[Brand]:
        """List the brands of the account (to show names instead of ids)."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/brands
        data = self._get("/brands")
        return [Brand.from_json(item) for item in as_list(as_dict(data).get("data"))]

    def account_disconnect(self, account_id: str, *, platform: str | None = None) -> None:
        """Disconnect (soft-delete) an account upstream.

        `platform` (the account's, when known) goes into any error: see `Session.request`.
        """
        # Reference: https://docs.social-api.ai/api-reference — DELETE /v1/accounts/{id}
        self._session.request(
            "DELETE", "/accounts/{id}", path_params={"id": account_id}, platform=platform
        )

    def account_limits(self, account_id: str, *, platform: str | None = None) -> dict[str, int]:
        """Return the platform's remaining-quota map for an account.

        `platform` (the account's, when known) goes into any error: see `Session.request`.
        """
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts/{id}/limits
        data = as_dict(
            self._get("/accounts/{id}/limits", path_params={"id": account_id}, platform=platform)
        )
        return {key: number for key, value in data.items() if (number := as_int(value)) is not None}

    def accounts_connect(
        self,
        platform: str,
        *,
        redirect_uri: str,
        state: str,
        brand_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ConnectResult:
        """Start a connect/reconnect; a legacy-dialect config sends the legacy form."""
        if self.config.dialect == "legacy":
            # Upstream issues its own state then; ours is not sent.
            return self.accounts_connect_legacy(
                platform, redirect_uri=redirect_uri, brand_id=brand_id, metadata=metadata
            )
        if len(state) > MAX_STATE_CHARS:
            raise ValueError("state must be at most 512 characters")
        body: dict[str, Any] = {"platform": platform, "redirect_uri": redirect_uri, "state": state}
        if brand_id:
            body["brand_id"] = brand_id
        if metadata:
            body["metadata"] = metadata
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/accounts/connect
        reply = self._session.request("POST", "/accounts/connect", json=body, platform=platform)
        return self._connect_result(reply, "current")

    def accounts_connect_legacy(
        self,
        platform: str,
        *,
        redirect_uri: str,
        brand_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ConnectResult:
        """Start a connect in the legacy form; the result carries upstream's own state."""
        body: dict[str, Any] = {
            "platform": platform,
            "metadata": {**(metadata or {}), "redirect_uri": redirect_uri},
        }
        if brand_id:
            body["brand_id"] = brand_id
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/accounts/connect
        reply = self._session.request("POST", "/accounts/connect", json=body, platform=platform)
        return self._connect_result(reply, "legacy")

    def _connect_result(self, reply: Reply, form: str) -> ConnectResult:
        """Decode a connect answer, refusing one that is neither redirect nor account."""
        result = ConnectResult.from_json(
            self._json(reply), form="legacy" if form == "legacy" else "current"
        )
        if result.kind == "oauth" and not result.auth_url:
            raise self._session.invalid_reply(reply, "connect answer has no auth_url")
        return result

    def oauth_exchange(
        self, platform: str, *, code: str, redirect_uri: str, state: str
    ) -> ExchangeResult:
        """Exchange a legacy-flow OAuth code; never retried (codes are single-use)."""
        body = {
            "platform": platform,
            "code": code,
            "metadata": {"redirect_uri": redirect_uri, "state": state},
        }
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/oauth/exchange
        reply = self._session.request(
            "POST", "/oauth/exchange", json=body, retry=False, platform=platform
        )
        result = ExchangeResult.from_json(self._json(reply))
        if result.kind == "connected" and not (result.account and result.account.account_id):
            raise self._session.invalid_reply(reply, "exchange answer has no account_id")
        return result

    def pending_get(self, connection_id: str, *, platform: str | None = None) -> PendingConnection:
        """Return the pages or profiles to choose from for a pending connection."""
        # Reference: https://docs.social-api.ai/api-reference
        #   GET /v1/accounts/pending/{connection_id}
        data = self._get(
            "/accounts/pending/{connection_id}",
            path_params={"connection_id": connection_id},
            platform=platform,
        )
        return PendingConnection.from_json(data)

    def pending_select(
        self,
        connection_id: str,
        *,
        page_ids: Sequence[str] | None = None,
        platform_account_id: str | None = None,
        platform: str | None = None,
    ) -> ConnectedAccount:
        """Finish a pending connection with Facebook pages or one Google profile."""
        if (page_ids is None) == (platform_account_id is None):
            raise ValueError("pass exactly one of page_ids or platform_account_id")
        body: dict[str, Any] = (
            {"page_ids": list(page_ids)}
            if page_ids is not None
            else {"platform_account_id": platform_account_id}
        )
        # Reference: https://docs.social-api.ai/api-reference
        #   POST /v1/accounts/pending/{connection_id}/select
        reply = self._session.request(
            "POST",
            "/accounts/pending/{connection_id}/select",
            path_params={"connection_id": connection_id},
            json=body,
            platform=platform,
        )
        account = ConnectedAccount.from_json(self._json(reply))
        if not account.account_id:
            raise self._session.invalid_reply(reply, "select answer has no account_id")
        return account

    # --- media ----------------------------------------------------------------------

    def media_page(self, *, cursor: str | None = None, limit: int = MAX_LIMIT) -> MediaPage:
        """Return one page of the media library, newest first."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/media
        data = self._get("/media", params={"limit": _limit(limit), "cursor": cursor})
        return MediaPage.from_json(data)

    def media_iter(self, *, limit: int = MAX_LIMIT) -> Iterator[MediaItem]:
        """Yield every media item, following next_cursor."""

        def fetch(cursor: str | None) -> tuple[Sequence[MediaItem], str | None]:
            page = self.media_page(cursor=cursor, limit=limit)
            return page.items, page.next_cursor

        return _follow(fetch)

    def media_delete(self, media_id: str) -> bool:
        """Delete one media file: True if deleted now, False if it was already gone."""
        # Reference: https://docs.social-api.ai/api-reference — DELETE /v1/media/{id}
        return self._delete("/media/{id}", media_id)

    def media_storage(self) -> Storage:
        """Return storage used, the plan limit and the file count."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/media/storage
        return Storage.from_json(self._get("/media/storage"))

    def media_upload(self, filename: str, content: bytes, content_type: str) -> str:
        """Upload a file through the API server and return its media id."""
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/media/upload
        reply = self._session.request(
            "POST", "/media/upload", files={"file": (filename, content, content_type)}
        )
        media_id = as_dict(self._json(reply)).get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise self._session.invalid_reply(reply, "upload answer has no media_id")
        return media_id

    # --- usage and user ---------------------------------------------------------------

    def usage(self) -> Usage:
        """Return this billing period's allowances and their reset moment."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/usage
        return Usage.from_json(self._get("/usage"))

    def users_me(self) -> UserMe:
        """Return the user behind the key (also the cheapest check that the key works)."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/users/me
        return UserMe.from_json(self._get("/users/me"))

    # --- events, posts, webhooks --------------------------------------------------------

    def events_page(
        self,
        *,
        status: str | None = "failed",
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        cursor: str | None = None,
        limit: int = MAX_LIMIT,
        platform: str | None = None,
        account_id: str | None = None,
    ) -> EventsPage:
        """Return one page of upstream's events log (failed ones by default)."""
        params = {
            "status": status,
            "from": _timestamp(from_),
            "to": _timestamp(to),
            "cursor": cursor,
            "limit": _limit(limit),
            "platform": platform,
            "account_id": account_id,
        }
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/events
        return EventsPage.from_json(self._get("/events", params=params))

    def posts_page(
        self,
        *,
        account_ids: Sequence[str] | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = MAX_LIMIT,
    ) -> PostsPage:
        """Return one page of posts, e.g. the scheduled posts of some accounts."""
        params = {
            "account_ids": ",".join(account_ids) if account_ids else None,
            "status": status,
            "cursor": cursor,
            "limit": _limit(limit),
        }
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts
        return PostsPage.from_json(self._get("/posts", params=params))

    def posts_iter(
        self,
        *,
        account_ids: Sequence[str] | None = None,
        status: str | None = None,
        limit: int = MAX_LIMIT,
    ) -> Iterator[Post]:
        """Yield every matching post, following the cursor."""

        def fetch(cursor: str | None) -> tuple[Sequence[Post], str | None]:
            page = self.posts_page(
                account_ids=account_ids, status=status, cursor=cursor, limit=limit
            )
            return page.posts, page.next_cursor if page.has_more else None

        return _follow(fetch)

    def post_get(self, post_id: str) -> Post:
        """Return one post with the delivery status (and error) of each target."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts/{pid}
        return Post.from_json(self._get("/posts/{pid}", path_params={"pid": post_id}))

    def post_retry(self, post_id: str) -> bool:
        """Re-attempt a `failed` or `partial` post; uses one monthly post credit.

        Never retried, not even after a connection error: the call is not idempotent (a
        second one would use a second credit, or publish twice). An error whose `sent` is
        None may have reached upstream; check the post (`post_get`) instead of sending
        again. True when upstream re-enqueued the post (200 `{"success": true}`; an
        empty 200 counts too), False when it answered `"success": false`.
        """
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/posts/{pid}/retry
        reply = self._session.request(
            "POST", "/posts/{pid}/retry", path_params={"pid": post_id}, retry=False
        )
        return as_dict(self._json(reply)).get("success") is not False

    def webhooks_create(self, url: str, events: Sequence[str]) -> WebhookCreated:
        """Register a webhook endpoint; the returned secret is shown only this once."""
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/webhooks
        reply = self._session.request(
            "POST", "/webhooks", json={"url": url, "events": list(events)}
        )
        return WebhookCreated.from_json(self._json(reply))

    def webhooks_list(self) -> list[WebhookEndpoint]:
        """List registered webhook endpoints."""
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/webhooks
        data = self._get("/webhooks")
        return [WebhookEndpoint.from_json(item) for item in as_list(as_dict(data).get("data"))]

    def webhooks_delete(self, webhook_id: str) -> bool:
        """Remove a webhook endpoint: True if deleted now, False if it was already gone."""
        # Reference: https://docs.social-api.ai/api-reference — DELETE /v1/webhooks/{id}
        return self._delete("/webhooks/{id}", webhook_id)
