"""Where a workspace's alerts go besides email, and a record of every message sent there."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.crypto import EncryptedTextField
from dashboard.models import Workspace


class AlertChannel(models.Model):
    """A Slack, Teams or generic webhook URL that gets the workspace's alerts.

    The URL is its own credential (anyone holding a Slack or Teams webhook URL can post
    to the channel), so it is stored encrypted and shown only as `url_hint`.
    """

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"
        WEBHOOK = "webhook", "Signed JSON webhook"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="alert_channels"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.CharField(max_length=80)
    url = EncryptedTextField()
    # Scheme, host and the last characters: tells channels apart without the secret part.
    url_hint = models.CharField(max_length=300)
    # The HMAC-SHA256 signing secret of a generic webhook (shown once when it is added).
    secret = EncryptedTextField(blank=True)
    # Which alerts it gets (the same three kinds people choose for their emails).
    alert_accounts = models.BooleanField(default=True)
    alert_storage = models.BooleanField(default=True)
    alert_quota = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The last "Send a test alert": one per channel per TEST_INTERVAL.
    tested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} channel {self.label}"


class AlertSend(models.Model):
    """One message to one channel: what it said, and whether it arrived (and why not)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="sends")
    # The delivery id receivers see (X-Dashboard-Delivery): the same on every attempt.
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    alert_kind = models.CharField(max_length=40)  # account_broken | storage_80 | … | test
    title = models.CharField(max_length=200)
    text = models.TextField()
    url = models.URLField(max_length=2000)  # the page that fixes it
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    attempted_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="alert_send_ws_time"),
            models.Index(fields=["status", "next_attempt_at"], name="alert_send_due"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_kind} to channel {self.channel_id}: {self.status}"

    @property
    def delivered(self) -> bool:
        return self.status == self.Status.DELIVERED

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DELIVERED, self.Status.FAILED)


class AlertSendKey(models.Model):
    """A transition a channel was told about (the `AlertSent` claim's identity).

    Unique per channel: when an email claim is given back (the mail server was down) and
    taken again later, the channel, already told, is not told twice.
    """

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="+")
    send = models.ForeignKey(AlertSend, on_delete=models.CASCADE, related_name="keys")
    key = models.CharField(max_length=250)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="alert_send_key_once")
        ]

    def __str__(self) -> str:
        return self.key
