"""The media library mirror, storage figures and bulk deletion jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models import Workspace


class MediaItem(models.Model):
    """Our mirror of one upstream media file (`GET /v1/media`)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_items")
    upstream_id = models.CharField(max_length=100)
    filename = models.CharField(max_length=500)
    content_type = models.CharField(max_length=100)
    size_bytes = models.BigIntegerField()
    status = models.CharField(max_length=20, default="ready")
    url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField()
    # Attached to a scheduled post (None: not known yet).
    in_use = models.BooleanField(null=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "upstream_id"], name="media_unique_upstream")
        ]
        indexes = [
            models.Index(fields=["workspace", "-size_bytes"], name="media_ws_size"),
            models.Index(fields=["workspace", "-created_at"], name="media_ws_created"),
            models.Index(fields=["workspace", "filename"], name="media_ws_name"),
            models.Index(fields=["workspace", "content_type"], name="media_ws_type"),
        ]

    def __str__(self) -> str:
        return self.filename


class StorageSnapshot(models.Model):
    """`GET /v1/media/storage` (or X-Storage-* headers) at one moment. -1 = unlimited."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="storage_snapshots")
    used_bytes = models.BigIntegerField()
    limit_bytes = models.BigIntegerField()
    count = models.IntegerField(null=True, blank=True)
    taken_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, default="api")  # api | header | bulk_deletion

    class Meta:
        indexes = [models.Index(fields=["workspace", "-taken_at"], name="storage_ws_time")]

    def __str__(self) -> str:
        return f"{self.used_bytes}/{self.limit_bytes} at {self.taken_at:%Y-%m-%d %H:%M}"

    @property
    def unlimited(self) -> bool:
        return self.limit_bytes < 0

    @property
    def percent(self) -> float | None:
        if self.unlimited or self.limit_bytes == 0:
            return None
        return 100.0 * self.used_bytes / self.limit_bytes


class BulkDeletion(models.Model):
    """One bulk deletion request; its items are the source of truth for progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        STOPPED = "stopped", "Stopped"  # upstream refused (API key, billing): says why
        FINISHED = "finished", "Finished"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="bulk_deletions")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # What was selected, in words ("all 312 images older than 30 days"), and the filter.
    description = models.CharField(max_length=300, blank=True)
    selection = models.JSONField(default=dict, blank=True)
    total_items = models.PositiveIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.TextField(blank=True)
    # The runner currently holding the job, and its last heartbeat. A stale heartbeat
    # lets the sweeper hand the job to another worker.
    lease_token = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="bulkdel_ws_time"),
            models.Index(fields=["status", "heartbeat_at"], name="bulkdel_status_hb"),
        ]

    def __str__(self) -> str:
        return f"bulk deletion {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.CANCELLING)


class BulkDeletionItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_FLIGHT = "in_flight", "In flight"
        DELETED = "deleted", "Deleted"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    FINAL_STATES = (State.DELETED, State.SKIPPED, State.FAILED)

    job = models.ForeignKey(BulkDeletion, on_delete=models.CASCADE, related_name="items")
    media_upstream_id = models.CharField(max_length=100)
    filename = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    code = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "media_upstream_id"], name="bulkdel_item_unique")
        ]
        indexes = [models.Index(fields=["job", "state"], name="bulkdel_item_state")]

    def __str__(self) -> str:
        return f"{self.media_upstream_id} ({self.state})"
