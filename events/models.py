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


# One bit per source, OR-ed into ErrorGroup.sources so the errors page can filter groups
# by source without touching the (large) events table.
SOURCE_BITS: dict[str, int] = {
    EventSource.DASHBOARD: 1,
    EventSource.EVENTS_SYNC: 2,
    EventSource.INGEST: 4,
    EventSource.WEBHOOK: 8,
}


class ErrorGroup(models.Model):
    """Events with one fingerprint (workspace + normalised code + platform + endpoint)."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        IGNORED = "ignored", "Ignored"

    # Composite indexes below start with the workspace: no separate FK index needed.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="error_groups", db_index=False
    )
    fingerprint = models.CharField(max_length=64)
    code = models.CharField(max_length=100)
    family = models.CharField(max_length=30)
    platform = models.CharField(max_length=40, blank=True)
    endpoint = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=300, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    event_count = models.PositiveIntegerField(default=0)
    # Distinct accounts its events named (rows of ErrorGroupAccount), kept as a counter.
    account_count = models.PositiveIntegerField(default=0)
    last_request_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a resolved group received a new event (and reopened).
    regressed_at = models.DateTimeField(null=True, blank=True)
    # Bit set of the sources its events came from (SOURCE_BITS).
    sources = models.PositiveSmallIntegerField(default=0)
    # Retry-After of the newest event that carried one (platform throttling banners).
    last_retry_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "fingerprint"], name="group_unique_fingerprint"
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "state", "-last_seen", "-id"], name="group_ws_state_seen"
            ),
            models.Index(fields=["workspace", "-last_seen", "-id"], name="group_ws_seen"),
            # Banners: the newest group of each family, per workspace.
            models.Index(fields=["workspace", "family", "-last_seen"], name="group_ws_family_seen"),
            models.Index(fields=["-last_seen", "-id"], name="group_seen"),
            models.Index(fields=["state", "-last_seen", "-id"], name="group_state_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.platform} {self.endpoint}".strip()


class ErrorEvent(models.Model):
    """One failed SocialAPI call, whichever way we learned about it."""

    # The composite indexes below lead with workspace / group: fewer indexes, faster ingest.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="error_events", db_index=False
    )
    group = models.ForeignKey(
        ErrorGroup, on_delete=models.CASCADE, related_name="events", db_index=False
    )
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
        "accounts.SocialAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="error_events",
    )
    account_upstream_id = models.CharField(max_length=100, blank=True)
    raw_body = models.TextField(blank=True)  # capped at events.recording.BODY_LIMIT
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
            models.Index(
                fields=["workspace", "family", "-occurred_at"], name="event_ws_family_time"
            ),
            models.Index(fields=["group", "-occurred_at", "-id"], name="event_group_time_id"),
            # Search by request id (every workspace for support staff, one otherwise) and
            # the events sync's cross-source dedupe on (workspace, request id).
            models.Index(fields=["request_id", "workspace"], name="event_request_ws"),
            models.Index(fields=["occurred_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.http_status} {self.code} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ErrorEpisode(models.Model):
    """A run of one banner family's events without a pause longer than its banner's window
    (per platform for throttling), kept as events are stored.

    `started_at` is when the banner's current cause started: a dismissed banner shows
    again as soon as a new run starts, without scanning events on every page.
    `ended_at` says the cause is over before the banner's window has passed.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    family = models.CharField(max_length=30)
    platform = models.CharField(max_length=40, blank=True)  # "" for the workspace-wide 5xx run
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    # When a call showed the cause is over (SocialAPI answered again after the 5xx, the
    # platform answered again after throttling): the run is over while this is at or
    # after `last_seen`. Written by events.recovery.
    ended_at = models.DateTimeField(null=True, blank=True)
    # When the dashboard last asked the platform whether it still throttles.
    probed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "family", "platform"], name="episode_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.family} {self.platform} since {self.started_at:%Y-%m-%d %H:%M}".strip()


class ErrorDailyCount(models.Model):
    """Events per group per day; survives retention pruning and draws sparklines."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group = models.ForeignKey(
        ErrorGroup, on_delete=models.CASCADE, related_name="daily_counts", db_index=False
    )
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="daily_unique")]
        indexes = [models.Index(fields=["workspace", "day"], name="daily_ws_day")]

    def __str__(self) -> str:
        return f"{self.group_id} {self.day}: {self.count}"


class ErrorGroupAccount(models.Model):
    """An account a group's events named: "affected accounts" without scanning events."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group = models.ForeignKey(
        ErrorGroup, on_delete=models.CASCADE, related_name="affected_accounts", db_index=False
    )
    account_upstream_id = models.CharField(max_length=100)
    account = models.ForeignKey(
        "accounts.SocialAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "account_upstream_id"], name="group_account_unique"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "account_upstream_id"], name="group_account_ws")
        ]

    def __str__(self) -> str:
        return f"{self.account_upstream_id} in group {self.group_id}"


class ErrorGroupActivity(models.Model):
    """A group's history: state changes (by a person or by a regression) and notes."""

    class Kind(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        IGNORED = "ignored", "Ignored"
        REOPENED = "reopened", "Reopened"
        REGRESSED = "regressed", "Reopened by a new event"
        NOTE = "note", "Note"

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="activity")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the person is deleted, so the history still says who it was.
    actor_label = models.CharField(max_length=150, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["group", "-created_at", "-id"], name="activity_group_time")]

    def __str__(self) -> str:
        return f"{self.kind} on group {self.group_id}"


class BannerDismissal(models.Model):
    """A person's choice to hide a banner for themselves: a view preference only.

    `level` records how bad the cause was when dismissed; a worse level (or a cause that
    went away and came back, i.e. a newer `cause_started_at`) shows the banner again.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    banner = models.CharField(
        max_length=60
    )  # banner key, e.g. "storage_nearly_full" or "throttle:instagram"
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
    # The window being walked [window_from, window_to] and the cursor of the next page:
    # an interrupted run resumes here before starting a new window.
    cursor = models.CharField(max_length=500, blank=True)
    window_from = models.DateTimeField(null=True, blank=True)
    window_to = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # Last time a page came back: proof that the API key works and billing is not blocked.
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    events_seen = models.PositiveBigIntegerField(default=0)
    events_stored = models.PositiveBigIntegerField(default=0)

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
