"""Posts that failed because an account's token or credentials were dead, and the jobs
that retry them once the account is fixed (`POST /v1/posts/{pid}/retry`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import SocialAccount
from dashboard.models import Workspace


class FailedPost(models.Model):
    """One post that failed on one account while the account was broken: when and why.

    Collected from every source of error events (webhooks, the events log, ingest) by
    `posts.collect`; one row per account and post, whatever the number of reports.
    """

    class State(models.TextChoices):
        OPEN = "open", "Failed, not retried"
        RETRYING = "retrying", "Being retried"
        RETRIED = "retried", "Retried"
        UNKNOWN = "unknown", "Retry outcome unknown"
        CLOSED = "closed", "Cannot be retried"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        SocialAccount, on_delete=models.CASCADE, related_name="failed_posts"
    )
    post_id = models.CharField(max_length=100)
    # The last failure report: its error family (reconnect | credentials), normalised code,
    # upstream's own message, the request id to quote, and where it came from.
    family = models.CharField(max_length=30)
    code = models.CharField(max_length=100)
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=12)
    first_failed_at = models.DateTimeField()
    failed_at = models.DateTimeField()
    # When the post was due and what it says: from a webhook, else read once from
    # `GET /v1/posts/{pid}` in the background (`checked_at`, posts.describe).
    scheduled_at = models.DateTimeField(null=True, blank=True)
    text = models.CharField(max_length=200, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # When a retry was last sent (to the second, as upstream writes times): a failure
    # reported after it means the retry failed too, and the post is open again.
    retried_at = models.DateTimeField(null=True, blank=True)
    # For retried, unknown and closed posts: what became of the retry, in words.
    outcome = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "post_id"], name="failedpost_unique")
        ]
        indexes = [
            models.Index(fields=["workspace", "post_id"], name="failedpost_ws_post"),
            models.Index(fields=["account", "state", "scheduled_at"], name="failedpost_acc_state"),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} on {self.account_id} ({self.state})"

    @property
    def label(self) -> str:
        """How a person recognises the post: its text, else its id."""
        return self.text or self.post_id


class PostRetryJob(models.Model):
    """Retrying an account's failed posts, one `POST /v1/posts/{pid}/retry` per item.

    Its items are the source of truth; the runner holds a lease (token + heartbeat) so a
    killed worker's job is resumed by another, without sending any retry twice.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"  # upstream refused every call: says why
        FINISHED = "finished", "Finished"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_items = models.PositiveIntegerField(default=0)
    # The monthly post credits left when it was asked for (None: not known, -1: unlimited).
    credits_left = models.IntegerField(null=True, blank=True)
    # Failed posts left out because the credits would not cover them.
    left_out = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stop_code = models.CharField(max_length=100, blank=True)
    stop_reason = models.TextField(blank=True)
    lease_token = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="retryjob_account_time"),
            models.Index(fields=["status", "heartbeat_at"], name="retryjob_status_hb"),
        ]

    def __str__(self) -> str:
        return f"post retry {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class PostRetryItem(models.Model):
    """One post of a retry job and what became of its retry."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        SENT = "sent", "Re-queued"  # upstream accepted it; publishing in the background
        PUBLISHED = "published", "Published"
        FAILED_AGAIN = "failed_again", "Failed again"
        REFUSED = "refused", "Not retryable"
        NOT_SENT = "not_sent", "Not sent"
        UNKNOWN = "unknown", "Unknown — check the post"

    OPEN_STATES = (State.PENDING, State.SENDING)
    # Sent to upstream: each used a monthly post credit (an unknown one may have).
    SENT_STATES = (State.SENT, State.PUBLISHED, State.FAILED_AGAIN, State.UNKNOWN)

    job = models.ForeignKey(PostRetryJob, on_delete=models.CASCADE, related_name="items")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    failed_post = models.ForeignKey(
        FailedPost, null=True, on_delete=models.SET_NULL, related_name="retries"
    )
    post_id = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    # The runner's lease token while it sends this one; only that runner records it.
    claimed_by = models.CharField(max_length=64, blank=True)
    # Written (and committed) before the call: an item found `sending` after a crash is
    # never sent again, only checked.
    sending_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    family = models.CharField(max_length=30, blank=True)
    code = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "post_id"], name="retryitem_unique"),
            # Never two retries of one post under way at once, whichever account's job.
            models.UniqueConstraint(
                fields=["workspace", "post_id"],
                condition=models.Q(state__in=["pending", "sending"]),
                name="retryitem_one_open_per_post",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "post_id", "state"], name="retryitem_ws_post"),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} ({self.state})"
