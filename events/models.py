"""Stored error events (all sources), their groups for triage, banners and alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models import Workspace


class EventSource(models.TextChoices):
    DASHBOARD = "dashboard", "Dashboard call"
    EVENTS_SYNC = "events_sync", "Upstream events log"
    INGEST = "ingest", "Ingest API"
    WEBHOOK = "webhook", "Webhook"


class ErrorGroup(models.Model):
    """Events with one fingerprint (workspace + normalised code + platform + endpoint)."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        IGNORED = "ignored", "Ignored"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="error_groups")
    fingerprint = models.CharField(max_length=64)
    code = models.CharField(max_length=100)
    family = models.CharField(max_length=30)
    platform = models.CharField(max_length=40, blank=True)
    endpoint = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=300, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    event_count = models.PositiveIntegerField(default=0)
    last_request_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a resolved group received a new event (and reopened).
    regressed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "fingerprint"], name="group_unique_fingerprint")
        ]
        indexes = [
            models.Index(fields=["workspace", "state", "-last_seen", "-id"], name="group_ws_state_seen"),
            models.Index(fields=["-last_seen", "-id"], name="group_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.platform} {self.endpoint}".strip()


class ErrorEvent(models.Model):
    """One failed SocialAPI call, whichever way we learned about it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="error_events")
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=12, choices=EventSource.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    raw_code = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=100)
    family = models.CharField(max_length=30)
    message = models.TextField(blank=True)
    meta = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=10, blank=True)
    endpoint = models.CharField(max_length=200, blank=True)
    platform = models.CharField(max_length=40, blank=True)
    account = models.ForeignKey(
        "accounts.SocialAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="error_events"
    )
    account_upstream_id = models.CharField(max_length=100, blank=True)
    raw_body = models.TextField(blank=True)  # capped at settings.ERROR_EVENT_BODY_LIMIT
    retry_after = models.DateTimeField(null=True, blank=True)
    # Dedupe keys: the upstream event id (events sync, webhook delivery) and the
    # ingest client's idempotency id. Empty when not applicable.
    upstream_id = models.CharField(max_length=100, blank=True)
    client_id = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "upstream_id"],
                condition=~models.Q(upstream_id=""),
                name="event_unique_upstream",
            ),
            models.UniqueConstraint(
                fields=["workspace", "client_id"],
                condition=~models.Q(client_id=""),
                name="event_unique_client",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "family", "-occurred_at"], name="event_ws_family_time"),
            models.Index(fields=["workspace", "-occurred_at"], name="event_ws_time"),
            models.Index(fields=["group", "-occurred_at"], name="event_group_time"),
            models.Index(fields=["request_id"], name="event_request_id"),
            models.Index(fields=["occurred_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.http_status} {self.code} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ErrorDailyCount(models.Model):
    """Events per group per day; survives retention pruning and draws sparklines."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="daily_counts")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="daily_unique")]
        indexes = [models.Index(fields=["workspace", "day"], name="daily_ws_day")]

    def __str__(self) -> str:
        return f"{self.group_id} {self.day}: {self.count}"


class ErrorGroupNote(models.Model):
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.body[:50]


class BannerDismissal(models.Model):
    """A person's choice to hide a banner for themselves: a view preference only.

    `level` records how bad the cause was when dismissed; a worse level (or a cause that
    went away and came back, i.e. a newer `cause_started_at`) shows the banner again.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    banner = models.CharField(max_length=60)  # banner key, e.g. "storage_nearly_full" or "throttle:instagram"
    level = models.PositiveSmallIntegerField(default=0)
    cause_started_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(default=timezone.now)
    snoozed_until = models.DateTimeField(null=True, blank=True)  # None: until the cause changes

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace", "banner"], name="dismissal_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} dismissed {self.banner}"


class EventSyncState(models.Model):
    """Where the `GET /v1/events?status=failed` sync got to, per workspace."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="event_sync")
    # Lower bound for the next run (the newest created_at seen, minus a small overlap).
    synced_until = models.DateTimeField(null=True, blank=True)
    # Cursor of an interrupted run, resumed before starting a new window.
    cursor = models.CharField(max_length=500, blank=True)
    window_from = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"event sync of {self.workspace_id}"


class AlertSent(models.Model):
    """One alert email per subject per period: a row here means it was sent."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)  # account_broken | account_reminder | storage_80 | …
    subject_key = models.CharField(max_length=100)  # account id, "storage", "posts", …
    period_key = models.CharField(max_length=100)  # break time, billing period end, …
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "subject_key", "period_key"], name="alert_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_key} {self.period_key}"
