"""The sandbox: its /v1 API, the fake consent screen, generated images, the control page."""

from django.urls import path, re_path

from sandbox import (
    api_accounts,
    api_connect,
    api_events,
    api_media,
    api_posts,
    api_usage,
    api_webhooks,
    assets,
    consent,
    views,
)
from sandbox.api import Op, api_view, unknown_endpoint

app_name = "sandbox"

api_patterns = [
    path(
        "v1/accounts",
        api_view("/accounts", {"GET": Op(api_accounts.accounts_list, "account", "list")}),
        name="api_accounts",
    ),
    path(
        "v1/brands",
        api_view("/brands", {"GET": Op(api_accounts.brands_list, "brand", "list")}),
        name="api_brands",
    ),
    path(
        "v1/accounts/connect",
        api_view(
            "/accounts/connect", {"POST": Op(api_connect.accounts_connect, "account", "connect")}
        ),
        name="api_connect",
    ),
    path(
        "v1/accounts/pending/<str:connection_id>",
        api_view(
            "/accounts/pending/{connection_id}",
            {"GET": Op(api_connect.pending_get, "account", "pending")},
        ),
        name="api_pending",
    ),
    path(
        "v1/accounts/pending/<str:connection_id>/select",
        api_view(
            "/accounts/pending/{connection_id}/select",
            {"POST": Op(api_connect.pending_select_view, "account", "select")},
        ),
        name="api_pending_select",
    ),
    path(
        "v1/accounts/<str:id>",
        api_view(
            "/accounts/{id}", {"DELETE": Op(api_accounts.account_delete, "account", "disconnect")}
        ),
        name="api_account",
    ),
    path(
        "v1/accounts/<str:id>/limits",
        api_view(
            "/accounts/{id}/limits", {"GET": Op(api_accounts.account_limits, "account", "limits")}
        ),
        name="api_account_limits",
    ),
    path(
        "v1/oauth/exchange",
        api_view(
            "/oauth/exchange", {"POST": Op(api_connect.oauth_exchange_view, "account", "exchange")}
        ),
        name="api_exchange",
    ),
    path(
        "v1/media",
        api_view(
            "/media", {"GET": Op(api_media.media_list, "media", "list", storage_headers=True)}
        ),
        name="api_media",
    ),
    path(
        "v1/media/storage",
        api_view("/media/storage", {"GET": Op(api_media.media_storage, "media", "storage")}),
        name="api_media_storage",
    ),
    path(
        "v1/media/upload",
        api_view(
            "/media/upload",
            {"POST": Op(api_media.media_upload, "media", "upload", storage_headers=True)},
        ),
        name="api_media_upload",
    ),
    path(
        "v1/media/<str:id>",
        api_view(
            "/media/{id}",
            {"DELETE": Op(api_media.media_delete, "media", "delete", storage_headers=True)},
        ),
        name="api_media_item",
    ),
    path(
        "v1/usage",
        api_view("/usage", {"GET": Op(api_usage.usage, "usage", "get")}),
        name="api_usage",
    ),
    path(
        "v1/users/me",
        api_view("/users/me", {"GET": Op(api_usage.users_me, "user", "get", billing_exempt=True)}),
        name="api_users_me",
    ),
    path(
        "v1/events",
        api_view("/events", {"GET": Op(api_events.events_list, "event", "list")}),
        name="api_events",
    ),
    path(
        "v1/posts",
        api_view(
            "/posts",
            {
                "GET": Op(api_posts.posts_list, "post", "list"),
                "POST": Op(api_posts.posts_create, "post", "create"),
            },
        ),
        name="api_posts",
    ),
    path(
        "v1/webhooks",
        api_view(
            "/webhooks",
            {
                "GET": Op(api_webhooks.webhooks_list, "webhook", "list"),
                "POST": Op(api_webhooks.webhooks_create, "webhook", "create"),
            },
        ),
        name="api_webhooks",
    ),
    path(
        "v1/webhooks/<str:id>",
        api_view(
            "/webhooks/{id}", {"DELETE": Op(api_webhooks.webhook_delete, "webhook", "delete")}
        ),
        name="api_webhook",
    ),
    re_path(r"^v1/(?P<rest>.*)$", unknown_endpoint, name="api_unknown"),
]

urlpatterns = [
    *api_patterns,
    path("oauth/authorize/<str:request_id>", consent.consent, name="consent"),
    path("avatars/<str:account_id>.svg", assets.avatar, name="avatar"),
    path("files/<uuid:media_id>", assets.media_file, name="media_file"),
    path("control/", views.control, name="control"),
    path("control/tenants/", views.tenant_create, name="tenant_create"),
    path("control/<int:tenant_id>/<slug:action>/", views.control_action, name="control_action"),
]
