"""Sign-in related pages built on Django's auth views: password reset and change."""

from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from dashboard.forms import ThrottledPasswordResetForm


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A successful reset also lifts a sign-in lock-out for that person."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, with our throttled form and plain-text email."""

    form_class = ThrottledPasswordResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        # Links are built from SITE_URL, never from the request's Host header; read per
        # request, not once when the URLconf is imported.
        return {"site_url": settings.SITE_URL}
