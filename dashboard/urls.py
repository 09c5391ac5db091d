"""Every workspace page lives under /w/<slug>/ so links can never point at the wrong one."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from dashboard import (
    account_views,
    audit_views,
    members,
    metrics_views,
    settings_views,
    support_views,
    views,
)
from mfa.views import SignInView

settings_patterns: list[URLPattern | URLResolver] = [
    path("", settings_views.settings_page, name="settings"),
    path("connection/", settings_views.connection_save, name="settings_connection"),
    path("connection/check/", settings_views.connection_check, name="settings_connection_check"),
    path("webhook/register/", settings_views.webhook_register, name="settings_webhook_register"),
    path("webhook/secret/", settings_views.webhook_secret_save, name="settings_webhook_secret"),
    path("ingest-token/", settings_views.ingest_token_rotate, name="settings_ingest_token"),
    path(
        "ingest-token/revoke/",
        settings_views.ingest_token_revoke,
        name="settings_ingest_token_revoke",
    ),
    path("checks/", settings_views.sync_intervals_save, name="settings_syncs"),
    path("alerts/", settings_views.alert_preferences_save, name="settings_alerts"),
    path("two-factor/", settings_views.mfa_requirement_save, name="settings_mfa"),
    path("channels/", include("alert_channels.urls")),
    path("members/invite/", members.member_invite, name="member_invite"),
    path("members/<int:membership_id>/role/", members.member_role_change, name="member_role"),
    path("members/<int:membership_id>/remove/", members.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/",
        members.invitation_revoke,
        name="invitation_revoke",
    ),
]

workspace_patterns: list[URLPattern | URLResolver] = [
    path("", views.overview, name="overview"),
    path("live/", views.live, name="live"),
    path("accounts/", include("accounts.urls")),
    path("storage/", include("media.urls")),
    path("errors/", include("events.urls")),
    path("posts/", include("posts.urls")),
    path("settings/", include(settings_patterns)),
    path("audit/", audit_views.audit_log, name="audit"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
]

auth_patterns: list[URLPattern | URLResolver] = [
    # The password step; a person with two-factor sign-in continues at mfa:sign_in_code.
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("invitations/<str:token>/", members.invitation_accept, name="invitation_accept"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    *auth_patterns,
    path("", include("mfa.urls")),
    path("w/<slug:workspace_slug>/", include(workspace_patterns)),
    path("support/", support_views.support_console, name="support"),
    path("", include("accounts.public_urls")),
    path("", include("events.public_urls")),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
