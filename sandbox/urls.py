"""The sandbox: its /v1 API, the fake consent screen, generated images, the control page."""

import re

from django.urls import URLPattern, path, re_path

from sandbox import (
    api_accounts,
    api_connect,
    api_events,
    api_media,
    api_post_retry,
    api_posts,
    api_usage,
    api_webhooks,
    assets,
    consent,
    inbox,
    views,
)
from sandbox.api import Op, api_view, unknown_endpoint

app_name = "sandbox"


def api_path(route: str, name: str, **ops: Op) -> URLPattern:
    """One /v1 route written once, as upstream documents it: `/media/{id}`."""
    django_route = "v1" + re.sub(r"\{(\w+)\}", r"<str:\1>", route)
    return path(django_route, api_view(route, ops), name=name)


api_patterns = [
    api_path("/accounts", "api_accounts", GET=Op(api_accounts.accounts_list, "account", "list")),
    api_path("/brands", "api_brands", GET=Op(api_accounts.brands_list, "brand", "list")),
    api_path(
        "/accounts/connect",
        "api_connect",
        POST=Op(api_connect.accounts_connect, "account", "connect"),
    ),
    api_path(
        "/accounts/pending/{connection_id}",
        "api_pending",
        GET=Op(api_connect.pending_get, "account", "pending"),
    ),
    api_path(
        "/accounts/pending/{connection_id}/select",
        "api_pending_select",
        POST=Op(api_connect.pending_select_view, "account", "select"),
    ),
    api_path(
        "/accounts/{id}",
        "api_account",
        DELETE=Op(api_accounts.account_delete, "account", "disconnect"),
    ),
    api_path(
        "/accounts/{id}/limits",
        "api_account_limits",
        GET=Op(api_accounts.account_limits, "account", "limits"),
    ),
    api_path(
        "/oauth/exchange",
        "api_exchange",
        POST=Op(api_connect.oauth_exchange_view, "account", "exchange"),
    ),
    api_path(
        "/media",
        "api_media",
        GET=Op(api_media.media_list, "media", "list", storage_headers=True),
    ),
    api_path(
        "/media/storage", "api_media_storage", GET=Op(api_media.media_storage, "media", "storage")
    ),
    api_path(
        "/media/upload",
        "api_media_upload",
        POST=Op(api_media.media_upload, "media", "upload", storage_headers=True),
    ),
    api_path(
        "/media/{id}",
        "api_media_item",
        DELETE=Op(api_media.media_delete, "media", "delete", storage_headers=True),
    ),
    api_path("/usage", "api_usage", GET=Op(api_usage.usage, "usage", "get")),
    api_path(
        "/users/me",
        "api_users_me",
        GET=Op(api_usage.users_me, "user", "get", billing_exempt=True),
    ),
    api_path("/events", "api_events", GET=Op(api_events.events_list, "event", "list")),
    api_path(
        "/posts",
        "api_posts",
        GET=Op(api_posts.posts_list, "post", "list"),
        POST=Op(api_posts.posts_create, "post", "create"),
    ),
    api_path("/posts/{pid}", "api_post", GET=Op(api_post_retry.post_get, "post", "get")),
    api_path(
        "/posts/{pid}/retry",
        "api_post_retry",
        POST=Op(api_post_retry.post_retry, "post", "retry"),
    ),
    api_path(
        "/webhooks",
        "api_webhooks",
        GET=Op(api_webhooks.webhooks_list, "webhook", "list"),
        POST=Op(api_webhooks.webhooks_create, "webhook", "create"),
    ),
    api_path(
        "/webhooks/{id}",
        "api_webhook",
        DELETE=Op(api_webhooks.webhook_delete, "webhook", "delete"),
    ),
    re_path(r"^v1/(?P<rest>.*)$", unknown_endpoint, name="api_unknown"),
]

urlpatterns = [
    *api_patterns,
    path("oauth/authorize/<str:request_id>", consent.consent, name="consent"),
    path("avatars/<str:account_id>.svg", assets.avatar, name="avatar"),
    path("files/<uuid:media_id>", assets.media_file, name="media_file"),
    path("inbox/", inbox.inbox_receive, name="inbox"),
    path("control/", views.control, name="control"),
    path("control/tenants/", views.tenant_create, name="tenant_create"),
    path("control/world/", views.world_set, name="world_set"),
    path("control/<int:tenant_id>/<slug:action>/", views.control_action, name="control_action"),
]
