"""Django admin for operators. Secrets are never shown or edited here; the audit log is
read-only (no add, change or delete), like everywhere else in the app.

What the app audits is changed only in the app: a workspace's base URL and API version
(tested with the key on the settings page) and people's roles or removal (Settings →
Members). The admin creates workspaces and adds people, and both are audited.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from dashboard.audit import audit_record
from dashboard.forms import base_url_normalise, base_url_problem
from dashboard.models import AuditEvent, Invitation, Membership, Workspace


class WorkspaceAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """The same base URL guard as the settings page."""

    base_url = forms.URLField(max_length=300, assume_scheme="https")

    class Meta:
        model = Workspace
        fields = [
            "name",
            "slug",
            "base_url",
            "dialect",
            "health_sync_minutes",
            "watch_seconds",
            "is_demo",
        ]

    def clean_base_url(self) -> str:
        url = base_url_normalise(self.cleaned_data.get("base_url") or "")
        problem = base_url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url


class WorkspaceChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    """An existing workspace: its connection is changed on the settings page only."""

    class Meta:
        model = Workspace
        fields = ["name", "slug", "health_sync_minutes", "watch_seconds", "is_demo"]


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    """Existing people are shown read-only; new ones can be added (audited)."""

    model = Membership
    extra = 0
    fields = ("user", "role", "alert_accounts", "alert_storage", "alert_quota", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # roles change on the settings page (audited, last-admin rule)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # removal too


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = WorkspaceAdminForm
    list_display = ("name", "slug", "plan", "api_key_masked", "paused_family", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("dialect", "is_demo", "paused_family")
    # Secrets (api_key, webhook_secret) and the ingest token hash are not form fields:
    # they are set from the settings page, which tests a key before saving it.
    fields = (
        "name",
        "slug",
        "base_url",
        "dialect",
        "api_key_masked",
        "api_key_saved_at",
        "plan",
        "plan_checked_at",
        "paused_family",
        "paused_at",
        "health_sync_minutes",
        "watch_seconds",
        "webhook_id",
        "webhook_registered_at",
        "webhook_secret_saved_at",
        "webhook_ping_at",
        "ingest_token_hint",
        "ingest_token_created_at",
        "is_demo",
        "created_at",
    )
    readonly_fields = (
        "api_key_masked",
        "api_key_saved_at",
        "plan",
        "plan_checked_at",
        "paused_family",
        "paused_at",
        "webhook_id",
        "webhook_registered_at",
        "webhook_secret_saved_at",
        "webhook_ping_at",
        "ingest_token_hint",
        "ingest_token_created_at",
        "created_at",
    )
    inlines = [MembershipInline]

    @admin.display(description="API key")
    def api_key_masked(self, obj: Workspace) -> str:
        return obj.api_key_masked or "—"

    @admin.display(description="Base URL")
    def base_url_shown(self, obj: Workspace) -> str:
        return obj.base_url

    @admin.display(description="API version")
    def dialect_shown(self, obj: Workspace) -> str:
        return obj.get_dialect_display()

    # Once created, the connection changes only on the settings page, where a new URL
    # needs the key pasted again and every change is audited: shown, not editable.
    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            kwargs["form"] = WorkspaceChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.fields
        shown = {"base_url": "base_url_shown", "dialect": "dialect_shown"}
        return tuple(shown.get(name, name) for name in self.fields or ())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "base_url_shown", "dialect_shown")

    def save_model(self, request: HttpRequest, obj: Workspace, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            audit_record(
                action="workspace.create",
                workspace=obj,
                request=request,
                target=obj,
                detail={"base_url": obj.base_url, "via": "django admin"},
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for membership in getattr(formset, "new_objects", []):
            if isinstance(membership, Membership):
                audit_record(
                    action="member.add",
                    workspace=form.instance,
                    request=request,
                    target=membership,
                    target_label=membership.user.get_username(),
                    detail={"role": membership.role, "via": "django admin"},
                )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("email", "workspace", "role", "state", "created_at", "expires_at")
    list_filter = ("role",)
    search_fields = ("email", "workspace__name")
    exclude = ("token_hash",)
    readonly_fields = (
        "workspace",
        "email",
        "role",
        "invited_by",
        "created_at",
        "accepted_at",
        "accepted_by",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invitations are created from the settings page, which emails the link


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "workspace", "actor_label", "action", "target_label", "ip")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "target_label", "target_id")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> Any:
        # The join would otherwise load (and decrypt) every row's workspace secrets.
        return super().get_queryset(request).select_related("workspace")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
