"""Django admin for error events: for operators, read-mostly (triage happens on the
errors pages, where it is audited)."""

from __future__ import annotations

from django.contrib import admin

from events.models import ErrorEvent, ErrorGroup, EventSyncState


@admin.register(ErrorGroup)
class ErrorGroupAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "code",
        "platform",
        "endpoint",
        "workspace",
        "state",
        "event_count",
        "last_seen",
    )
    list_filter = ("state", "family")
    search_fields = ("code", "title", "last_request_id")
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace", "state_changed_by")
    ordering = ("-last_seen", "-id")


@admin.register(ErrorEvent)
class ErrorEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "occurred_at",
        "workspace",
        "http_status",
        "code",
        "platform",
        "source",
        "request_id",
    )
    list_filter = ("family", "source")
    search_fields = ("request_id",)
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace", "group", "account")
    ordering = ("-occurred_at", "-id")


@admin.register(EventSyncState)
class EventSyncStateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("workspace", "synced_until", "last_ok_at", "last_error")
    raw_id_fields = ("workspace",)
