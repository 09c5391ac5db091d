"""The workspace core: workspaces, who belongs to them, what they did, plan usage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.crypto import EncryptedTextField, SecretDecryptionError


def default_base_url() -> str:
    return settings.SOCIALAPI_DEFAULT_BASE_URL


def default_health_sync_minutes() -> int:
    return settings.HEALTH_SYNC_MINUTES


def default_watch_seconds() -> int:
    return settings.WATCH_SECONDS


def default_storage_sync_minutes() -> int:
    """The old storage interval's default (migration 0001 still names it)."""
    return 15


# The encrypted columns. They are decrypted when read, not when a row is loaded (see
# dashboard.crypto): a secret no configured key decrypts breaks only the code that needs
# it, never a page that merely shows the workspace, however the row was loaded.
SECRET_FIELDS = ("api_key", "webhook_secret")


class Workspace(models.Model):
    """One SocialAPI API key: one upstream account, possibly several brands."""

    class Dialect(models.TextChoices):
        CURRENT = "current", "Current API (nested errors, connect with redirect_uri)"
        LEGACY = "legacy", "Legacy API (flat errors, code + /oauth/exchange)"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    base_url = models.URLField(max_length=300, default=default_base_url)
    dialect = models.CharField(max_length=10, choices=Dialect.choices, default=Dialect.CURRENT)

    api_key = EncryptedTextField(blank=True)
    api_key_hint = models.CharField(max_length=4, blank=True)
    api_key_saved_at = models.DateTimeField(null=True, blank=True)
    webhook_secret = EncryptedTextField(blank=True)
    webhook_secret_saved_at = models.DateTimeField(null=True, blank=True)
    # The endpoint registered upstream through the dashboard (`POST /v1/webhooks`).
    webhook_id = models.CharField(max_length=100, blank=True)
    webhook_registered_at = models.DateTimeField(null=True, blank=True)
    # When SocialAPI's `webhook.test` ping last reached the webhook URL. A ping is answered
    # without verifying it (it may come before the secret is known), so anyone could send
    # one: this timestamp is all it may ever change, at most once every few seconds.
    webhook_ping_at = models.DateTimeField(null=True, blank=True)
    # Ingest tokens are only ever recognised, never read back: a SHA-256 hash is enough.
    ingest_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    ingest_token_hint = models.CharField(max_length=4, blank=True)
    ingest_token_created_at = models.DateTimeField(null=True, blank=True)

    plan = models.CharField(max_length=40, blank=True)
    plan_checked_at = models.DateTimeField(null=True, blank=True)
    # Set when upstream says the API key is bad or billing is blocked: background calls
    # stop until a call with the current key succeeds again.
    paused_family = models.CharField(max_length=20, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)

    health_sync_minutes = models.PositiveIntegerField(default=default_health_sync_minutes)
    # How often the watch asks for the storage figure and upstream's events log.
    watch_seconds = models.PositiveIntegerField(default=default_watch_seconds)
    health_synced_at = models.DateTimeField(null=True, blank=True)
    storage_synced_at = models.DateTimeField(null=True, blank=True)
    media_synced_at = models.DateTimeField(null=True, blank=True)
    usage_synced_at = models.DateTimeField(null=True, blank=True)
    events_synced_at = models.DateTimeField(null=True, blank=True)
    # When the dispatcher last enqueued each sync (`*_synced_at` above is when one last
    # succeeded, which is what pages show).
    health_enqueued_at = models.DateTimeField(null=True, blank=True)
    watch_enqueued_at = models.DateTimeField(null=True, blank=True)
    media_enqueued_at = models.DateTimeField(null=True, blank=True)
    usage_enqueued_at = models.DateTimeField(null=True, blank=True)

    # The latest support staff visit, kept on the row so every page can tell the
    # workspace's admins without a query (each visit is also in the audit log).
    support_viewed_at = models.DateTimeField(null=True, blank=True)
    support_viewed_by = models.CharField(max_length=150, blank=True)

    # "Members must use two-factor sign-in" (Settings, admins): this workspace's pages
    # need a session verified with a second factor (see mfa.gate).
    mfa_required = models.BooleanField(default=False)

    is_demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key_masked(self) -> str:
        return f"sapi_key_…{self.api_key_hint}" if self.api_key_hint else ""

    @property
    def secrets_unreadable(self) -> bool:
        """A secret is stored that none of the configured encryption keys decrypts."""
        for name in SECRET_FIELDS:
            try:
                getattr(self, name)
            except SecretDecryptionError:
                return True
        return False

    @property
    def is_paused(self) -> bool:
        return bool(self.paused_family)

    @property
    def support_viewed_recently(self) -> bool:
        """A support staff member looked at this workspace in the last 30 days."""
        return (
            self.support_viewed_at is not None
            and timezone.now() - self.support_viewed_at < timedelta(days=30)
        )


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # Alert preferences, per person and workspace.
    alert_accounts = models.BooleanField(default=True)
    alert_storage = models.BooleanField(default=True)
    alert_quota = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class Invitation(models.Model):
    """An emailed invitation to join a workspace; the link carries a token we store hashed."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "email"], name="invitation_ws_email")]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.workspace_id}"

    @property
    def state(self) -> str:
        """pending | accepted | revoked | expired"""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_pending(self) -> bool:
        return self.state == "pending"


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")


class AuditEvent(models.Model):
    """Who did what, when, where. Append-only: no update or delete path exists."""

    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # No database constraint: removing a person must not rewrite history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_ws_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")


class UsageSnapshot(models.Model):
    """`GET /v1/usage` figures at one moment; -1 means unlimited."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="usage_snapshots"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    posts_used = models.IntegerField(default=0)
    posts_limit = models.IntegerField(default=-1)
    interactions_used = models.IntegerField(default=0)
    interactions_limit = models.IntegerField(default=-1)
    brands_used = models.IntegerField(default=0)
    brands_limit = models.IntegerField(default=-1)
    profile_units_used = models.IntegerField(default=0)
    profile_units_limit = models.IntegerField(default=-1)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    # Fresh figures can also arrive in X-Posts-* / X-Interactions-* response headers.
    source = models.CharField(max_length=20, default="api")

    class Meta:
        indexes = [models.Index(fields=["workspace", "-taken_at"], name="usage_ws_time")]

    def __str__(self) -> str:
        return f"usage of {self.workspace_id} at {self.taken_at:%Y-%m-%d %H:%M}"
