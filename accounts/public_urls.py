"""URLs outside any workspace: the OAuth callback, reconnect links, webhooks.

The callback is one fixed URL for every workspace, so it can be registered upstream as
an exact redirect URI; the workspace comes from the stored state.
"""

from django.urls import path

from accounts import public_views

urlpatterns = [
    path("oauth/callback/", public_views.oauth_callback, name="oauth_callback"),
    path("oauth/select/", public_views.reconnect_select_page, name="reconnect_select"),
    path("oauth/done/", public_views.reconnect_done, name="reconnect_done"),
    path("oauth/problem/", public_views.reconnect_problem, name="reconnect_problem"),
    path("r/<str:token>/", public_views.reconnect_link, name="reconnect_link"),
    path(
        "webhooks/socialapi/<slug:workspace_slug>",
        public_views.webhook_receive,
        name="webhook_receive",
    ),
]
