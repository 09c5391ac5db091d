"""The media library mirror, storage figures and bulk deletion jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models import Workspace
from media.forecast import Forecast, forecast_for, growths_of


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
    # Stamped with the sync's start time on every upsert: rows a finished sync did not
    # stamp are gone upstream.
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "upstream_id"], name="media_unique_upstream"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-size_bytes"], name="media_ws_size"),
            models.Index(fields=["workspace", "-created_at"], name="media_ws_created"),
            models.Index(fields=["workspace", "filename"], name="media_ws_name"),
            models.Index(fields=["workspace", "content_type"], name="media_ws_type"),
            models.Index(fields=["workspace", "in_use", "-size_bytes"], name="media_ws_use_size"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def kind(self) -> str:
        """image / video / audio / document / other, for icons and filters."""
        return media_kind(self.content_type)


KINDS = (
    ("image", "Images"),
    ("video", "Videos"),
    ("audio", "Audio"),
    ("document", "Documents"),
    ("other", "Other"),
)
DOCUMENT_TYPES = ("application/pdf", "text/")


def media_kind(content_type: str) -> str:
    major = (content_type or "").split("/", 1)[0].lower()
    if major in ("image", "video", "audio"):
        return major
    if (content_type or "").lower().startswith(DOCUMENT_TYPES):
        return "document"
    return "other"


class MediaLibrary(models.Model):
    """Per-workspace facts about the mirror, computed when it changes (not on every read).

    The storage page reads this one row instead of aggregating every media row, so it
    costs the same with 20 files or 200,000.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="media_library"
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    # A sync in progress (a lock: two syncs of one workspace never overlap).
    sync_started_at = models.DateTimeField(null=True, blank=True)
    sync_error_code = models.CharField(max_length=100, blank=True)
    sync_error_request_id = models.CharField(max_length=64, blank=True)
    sync_error_at = models.DateTimeField(null=True, blank=True)
    # Debounce for storage snapshots asked for by people and by quota errors.
    snapshot_requested_at = models.DateTimeField(null=True, blank=True)
    # The last storage figure that could not be taken (kept until one is taken again):
    # what Refresh says when SocialAPI did not answer.
    snapshot_failed_at = models.DateTimeField(null=True, blank=True)
    snapshot_error_code = models.CharField(max_length=100, blank=True)
    snapshot_error_request_id = models.CharField(max_length=64, blank=True)
    # The mirror follows the storage figure: a figure whose file count or bytes disagree
    # with the mirror asks for a resync (once per distinct figure, at most every
    # MEDIA_RESYNC_SECONDS), remembered here.
    resync_requested_at = models.DateTimeField(null=True, blank=True)
    resync_figure = models.CharField(max_length=60, blank=True)

    item_count = models.IntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    # [{"content_type", "kind", "count", "bytes"}], biggest first.
    breakdown = models.JSONField(default=list, blank=True)
    # [{"id", "upstream_id", "filename", "content_type", "size_bytes"}], biggest first.
    largest = models.JSONField(default=list, blank=True)
    # Whether scheduled posts could be listed on the last sync (else in_use is unknown).
    in_use_known = models.BooleanField(default=False)
    in_use_count = models.IntegerField(default=0)
    unused_count = models.IntegerField(default=0)
    unused_bytes = models.BigIntegerField(default=0)
    summarised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "media libraries"

    def __str__(self) -> str:
        return f"media library of {self.workspace_id}"

    @property
    def largest_bytes(self) -> int:
        return sum(int(item.get("size_bytes") or 0) for item in self.largest or [])


class StorageSnapshot(models.Model):
    """`GET /v1/media/storage` (or X-Storage-* headers) at one moment. -1 = unlimited.

    One row per distinct figure: a check that finds the same figure moves `taken_at`
    forward instead of adding a row, so a quiet workspace keeps a handful of rows.
    `since` is when the figure was first seen, `taken_at` when it was last confirmed.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="storage_snapshots"
    )
    used_bytes = models.BigIntegerField()
    limit_bytes = models.BigIntegerField()
    count = models.IntegerField(null=True, blank=True)
    # Header figures arriving within a minute merge into one row (a bulk deletion sends
    # one per DELETE): the figure the row started with, when it then changed.
    first_bytes = models.BigIntegerField(null=True, blank=True)
    since = models.DateTimeField(default=timezone.now)
    taken_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, default="api")  # api | header | bulk_deletion
    # While the figure is at or over 80 % / at or over the limit: the `since` of the first
    # figure of that run (set by media.storage when it stores a figure). Banners read it
    # from the latest row to show a dismissed banner again when storage fills up again.
    warn_since = models.DateTimeField(null=True, blank=True)
    full_since = models.DateTimeField(null=True, blank=True)
    # How much storage grew over the last 7 and 30 days, deletions left out, and the time
    # and days with a figure that covers (media.forecast: measured when a figure is
    # stored, at most hourly, carried to the next row). Null: not measured yet.
    growth_at = models.DateTimeField(null=True, blank=True)
    grown_7d_bytes = models.BigIntegerField(null=True, blank=True)
    grown_7d_seconds = models.IntegerField(null=True, blank=True)
    grown_7d_figures = models.SmallIntegerField(null=True, blank=True)
    grown_30d_bytes = models.BigIntegerField(null=True, blank=True)
    grown_30d_seconds = models.IntegerField(null=True, blank=True)
    grown_30d_figures = models.SmallIntegerField(null=True, blank=True)
    # While the forecast says full in fewer than STORAGE_FORECAST_DAYS days: when that run
    # started (carried like `warn_since`, with hysteresis). The banner and alert read it.
    forecast_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-taken_at"], name="storage_ws_time")]

    def __str__(self) -> str:
        return f"{self.used_bytes}/{self.limit_bytes} at {self.taken_at:%Y-%m-%d %H:%M}"

    @property
    def unlimited(self) -> bool:
        return self.limit_bytes < 0

    @property
    def percent(self) -> float | None:
        if self.unlimited:
            return None
        if self.limit_bytes == 0:
            return 100.0 if self.used_bytes > 0 else 0.0
        return 100.0 * self.used_bytes / self.limit_bytes

    @property
    def free_bytes(self) -> int | None:
        if self.unlimited:
            return None
        return max(0, self.limit_bytes - self.used_bytes)

    @property
    def bytes_above_warning(self) -> int:
        """How much to free to get back under the 80 % warning line."""
        if self.unlimited:
            return 0
        return max(0, self.used_bytes - int(self.limit_bytes * 0.8))

    @property
    def over_bytes(self) -> int:
        if self.unlimited:
            return 0
        return max(0, self.used_bytes - self.limit_bytes)

    @property
    def forecast(self) -> Forecast:
        """When storage would be full at the recent pace, or why that cannot be said."""
        week, month = growths_of(self)
        return forecast_for(
            used=self.used_bytes,
            limit=self.limit_bytes,
            taken_at=self.taken_at,
            week=week,
            month=month,
            soon_since=self.forecast_since,
        )


# The code on the items a cancel left unsent (skipped, never sent): not a problem.
CANCELLED_CODE = "dashboard.cancelled"


class BulkDeletion(models.Model):
    """One bulk deletion request; its items are the source of truth for progress.

    The counters are updated in the same transaction as the items they count, so the
    progress poll reads one row instead of counting items.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        STOPPED = "stopped", "Stopped"  # upstream refused (API key, billing): says why
        FINISHED = "finished", "Finished"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="bulk_deletions"
    )
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
    deleted_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    bytes_freed = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stop_code = models.CharField(max_length=100, blank=True)
    stop_reason = models.TextField(blank=True)
    # The runner currently holding the job, and its last heartbeat. A stale heartbeat
    # lets the sweeper hand the job to another worker.
    lease_token = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many runners have held the job (1 normally; more after a worker died).
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="bulkdel_ws_time"),
            models.Index(fields=["status", "heartbeat_at"], name="bulkdel_status_hb"),
        ]

    def __str__(self) -> str:
        return f"bulk deletion {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def done_count(self) -> int:
        return self.deleted_count + self.skipped_count + self.failed_count

    @property
    def remaining_count(self) -> int:
        return max(0, self.total_items - self.done_count)


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
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # How many times a runner sent (or was about to send) its DELETE.
    attempts = models.PositiveSmallIntegerField(default=0)
    # The lease token of the runner that claimed it: only that runner may finalise it.
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # For skipped and failed items: what upstream said (family picks the words in
    # events.fixes), in words, and the request id to quote to SocialAPI.
    family = models.CharField(max_length=30, blank=True)
    code = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "media_upstream_id"], name="bulkdel_item_unique")
        ]
        indexes = [
            models.Index(fields=["job", "state", "-finished_at"], name="bulkdel_item_state_done"),
        ]

    def __str__(self) -> str:
        return f"{self.media_upstream_id} ({self.state})"
