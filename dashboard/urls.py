"""Every workspace page lives under /w/<slug>/ so links can never point at the wrong one."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import pages, views

workspace_patterns = [
    path("", views.overview, name="overview"),
    path("accounts/", include("accounts.urls")),
    path("storage/", include("media.urls")),
    path("errors/", include("events.urls")),
    path("settings/", pages.settings_page, name="settings"),
    path("audit/", pages.audit_log, name="audit"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("w/<slug:workspace_slug>/", include(workspace_patterns)),
    path("support/", pages.support_console, name="support"),
    path("", include("accounts.public_urls")),
    path("", include("events.public_urls")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
