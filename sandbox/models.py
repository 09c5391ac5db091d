"""The sandbox's own tables: one fake SocialAPI account (tenant) and what it holds."""

from __future__ import annotations

import random
import uuid

from django.db import models
from django.utils import timezone

FREE_STORAGE_BYTES = 104_857_600
UNLIMITED = -1


def list_end_pick() -> str:
    """New tenants get either end-of-list form, so every test run meets both."""
    return random.choice(SandboxTenant.ListEnd.values)


class SandboxTenant(models.Model):
    """One SocialAPI account: an API key, a plan, its allowances and its fault switches."""

    class Dialect(models.TextChoices):
        CURRENT = "current", "Current (nested errors)"
        LEGACY = "legacy", "Legacy (flat errors, code + exchange)"

    class ListEnd(models.TextChoices):
        """How the last page of a cursor-paged list says so (the docs allow both)."""

        EMPTY = "empty", 'next_cursor: ""'
        MISSING = "missing", "no next_cursor"

    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True)
    user_id = models.UUIDField(default=uuid.uuid4)
    api_key = models.CharField(max_length=80, unique=True)
    key_revoked = models.BooleanField(default=False)
    plan = models.CharField(max_length=20, default="free")
    dialect = models.CharField(max_length=10, choices=Dialect.choices, default=Dialect.CURRENT)
    list_end = models.CharField(max_length=10, choices=ListEnd.choices, default=list_end_pick)

    storage_limit_bytes = models.BigIntegerField(default=FREE_STORAGE_BYTES)
    # Storage that grows by itself (uploads from the tenant's own backend): this many
    # bytes a day, added as files whenever a call comes in (0: off), owed since
    # `storage_grown_at`.
    storage_growth_bytes_per_day = models.BigIntegerField(default=0)
    storage_grown_at = models.DateTimeField(null=True, blank=True)
    posts_used = models.IntegerField(default=0)
    posts_limit = models.IntegerField(default=10)
    interactions_used = models.IntegerField(default=0)
    interactions_limit = models.IntegerField(default=50)
    brands_limit = models.IntegerField(default=2)
    profile_units_limit = models.IntegerField(default=15)
    page_allowance = models.IntegerField(default=2)
    period_start = models.DateTimeField(default=timezone.now)
    period_end = models.DateTimeField(default=timezone.now)

    billing_blocked = models.BooleanField(default=False)
    billing_blocked_at = models.DateTimeField(null=True, blank=True)

    # Faults applied to /v1 calls (rates are 0..1), optionally only to "METHOD /path-prefix".
    fault_5xx_rate = models.FloatField(default=0.0)
    fault_html_rate = models.FloatField(default=0.0)
    fault_timeout_rate = models.FloatField(default=0.0)
    fault_timeout_seconds = models.PositiveIntegerField(default=30)
    fault_latency_ms = models.PositiveIntegerField(default=0)
    fault_next_5xx = models.PositiveIntegerField(default=0)
    fault_next_html = models.PositiveIntegerField(default=0)
    fault_scope = models.CharField(max_length=120, blank=True)
    fault_seed = models.IntegerField(null=True, blank=True)
    # {platform slug: ISO time until which that platform throttles this tenant}.
    throttles = models.JSONField(default=dict, blank=True)

    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True)
    # Registered redirect URIs: when any, connect accepts only exact matches.
    redirect_uris = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def key_prefix(self) -> str:
        """Enough of the key to recognise it on the control page."""
        return self.api_key[:17]

    @property
    def storage_growth_mb_per_day(self) -> float:
        return self.storage_growth_bytes_per_day / (1024 * 1024)

    @property
    def is_free(self) -> bool:
        """Only the free plan enforces the monthly post and interaction limits."""
        return self.plan == "free"


class SandboxWorld(models.Model):
    """Sandbox-wide switches (one row): what answers that belong to no tenant look like.

    A call with a missing or unknown key, or to a path upstream does not have, has no
    tenant whose dialect could apply; upstream answers it in the dialect its API speaks.
    """

    dialect = models.CharField(
        max_length=10,
        choices=SandboxTenant.Dialect.choices,
        default=SandboxTenant.Dialect.CURRENT,
    )

    def __str__(self) -> str:
        return f"sandbox world ({self.dialect})"


class SandboxBrand(models.Model):
    """A brand groups accounts inside one tenant."""

    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class SandboxAccount(models.Model):
    """A connected social account as upstream stores it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RECONNECT_REQUIRED = "reconnect_required", "Reconnect required"

    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="accounts")
    brand = models.ForeignKey(SandboxBrand, on_delete=models.CASCADE, related_name="accounts")
    platform = models.CharField(max_length=30)
    name = models.CharField(max_length=200)
    username = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    reconnect_reason = models.CharField(max_length=300, blank=True)
    # Credential platforms (telegram, whatsapp): whether the stored credentials still work.
    credentials_valid = models.BooleanField(default=True)
    page_name = models.CharField(max_length=200, blank=True)
    login_id = models.CharField(max_length=60, blank=True)
    platform_account_id = models.CharField(max_length=120, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connected_at", "id"]
        indexes = [models.Index(fields=["tenant", "removed_at"], name="sbx_account_live")]

    def __str__(self) -> str:
        return f"{self.platform}:{self.username}"


class SandboxMedia(models.Model):
    """An uploaded media file (no bytes are kept, only its size)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="media")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size_bytes = models.BigIntegerField()
    status = models.CharField(max_length=20, default="ready")
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "deleted_at", "-created_at"], name="sbx_media_live"),
        ]

    def __str__(self) -> str:
        return self.filename


class SandboxPost(models.Model):
    """A post (draft, scheduled, published, failed…) with its targets and media."""

    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="posts")
    text = models.TextField(blank=True)
    status = models.CharField(max_length=20, default="draft")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # How many times `POST /v1/posts/{pid}/retry` re-attempted it.
    retry_count = models.PositiveIntegerField(default=0)
    media = models.ManyToManyField(SandboxMedia, blank=True, related_name="posts")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at", "created_at", "id"]
        indexes = [models.Index(fields=["tenant", "status"], name="sbx_post_status")]

    def __str__(self) -> str:
        return self.id


class SandboxPostTarget(models.Model):
    """One account a post goes to; `error` is {category, caused_by, code, message}."""

    post = models.ForeignKey(SandboxPost, on_delete=models.CASCADE, related_name="targets")
    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="targets")
    status = models.CharField(max_length=20, default="pending")
    error = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.post_id} → {self.account_id}"


class SandboxConnectRequest(models.Model):
    """A started OAuth connect: the consent page's id, where to return, what was chosen."""

    id = models.CharField(max_length=64, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="+")
    platform = models.CharField(max_length=30)
    # None: a new brand is created when the connect completes.
    brand = models.ForeignKey(SandboxBrand, null=True, blank=True, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=2000, blank=True)
    customer_state = models.CharField(max_length=512, blank=True)
    legacy = models.BooleanField(default=False)
    # Legacy form: upstream's own state (bound to the API key) and the one-use code.
    upstream_state = models.CharField(max_length=64, blank=True, db_index=True)
    code = models.CharField(max_length=80, blank=True, db_index=True)
    code_used_at = models.DateTimeField(null=True, blank=True)
    identity = models.CharField(max_length=60, blank=True)  # "new" or an account id
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.platform} connect {self.id[:8]}…"


class SandboxPendingConnection(models.Model):
    """A Facebook/Google connect waiting for page or profile selection (single use)."""

    id = models.CharField(max_length=64, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="+")
    platform = models.CharField(max_length=30)
    brand = models.ForeignKey(SandboxBrand, on_delete=models.CASCADE, related_name="+")
    # The account being reconnected, when the person continued as an existing identity.
    account = models.ForeignKey(
        SandboxAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    login_id = models.CharField(max_length=60, blank=True)
    candidates = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.id


class SandboxEvent(models.Model):
    """One entry of the tenant's events log (`GET /v1/events`); failures only."""

    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="events")
    category = models.CharField(max_length=40)
    action = models.CharField(max_length=60)
    status = models.CharField(max_length=20, default="failed")
    status_code = models.IntegerField()
    error_category = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    platform = models.CharField(max_length=30, blank=True)
    account_id = models.CharField(max_length=40, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    duration_ms = models.IntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="sbx_event_time")]

    def __str__(self) -> str:
        return f"{self.id} {self.status_code}"


class SandboxWebhookEndpoint(models.Model):
    """A webhook endpoint registered through `POST /v1/webhooks`."""

    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class SandboxWebhookDelivery(models.Model):
    """One webhook event for one destination; the body is kept so retries resend it exactly."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.CharField(max_length=40, primary_key=True)
    tenant = models.ForeignKey(SandboxTenant, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        SandboxWebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE
    )
    url = models.URLField(max_length=500)
    event = models.CharField(max_length=60)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} → {self.url}"


class SandboxCall(models.Model):
    """Every /v1 call the sandbox answered: tests count calls, the control page tails them."""

    tenant = models.ForeignKey(
        SandboxTenant, null=True, blank=True, on_delete=models.CASCADE, related_name="calls"
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status = models.IntegerField()
    media_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64)
    fault = models.CharField(max_length=20, blank=True)
    duration_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["method", "media_id"], name="sbx_call_media"),
            models.Index(fields=["tenant", "-id"], name="sbx_call_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class SandboxInboxMessage(models.Model):
    """What an alert channel pointed at the sandbox's inbox sent: the demo's stand-in for
    a Slack channel, a Teams channel or a webhook receiver (sandbox/inbox.py)."""

    received_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10)  # slack | teams | webhook | unknown
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    link = models.CharField(max_length=2000, blank=True)
    signed = models.BooleanField(default=False)  # carried X-Dashboard-Signature
    answered = models.PositiveSmallIntegerField(default=200)
    body = models.TextField()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"
