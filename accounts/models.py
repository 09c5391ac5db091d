"""Connected social accounts, their health history, the reconnect flow and webhooks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models import Workspace


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RECONNECT_REQUIRED = "reconnect_required", "Reconnect required"
    CREDENTIALS_INVALID = "credentials_invalid", "Credentials invalid"
    DISCONNECTED = "disconnected", "Disconnected"
    UNKNOWN = "unknown", "Unknown"


# Problems first on every list; lower sorts earlier.
STATUS_SEVERITY = {
    AccountStatus.RECONNECT_REQUIRED: 0,
    AccountStatus.CREDENTIALS_INVALID: 1,
    AccountStatus.UNKNOWN: 2,
    AccountStatus.DISCONNECTED: 3,
    AccountStatus.ACTIVE: 4,
}
UNHEALTHY_STATUSES = (AccountStatus.RECONNECT_REQUIRED, AccountStatus.CREDENTIALS_INVALID)
# The error family (events.fixes) that explains each problem status.
STATUS_FAMILIES: dict[str, str] = {
    AccountStatus.RECONNECT_REQUIRED: "reconnect",
    AccountStatus.CREDENTIALS_INVALID: "credentials",
    AccountStatus.DISCONNECTED: "not_found",
}


class SocialAccount(models.Model):
    """Our mirror of one upstream connected account (`acc_…`)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="social_accounts"
    )
    upstream_id = models.CharField(max_length=100)
    platform = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)
    username = models.CharField(max_length=200, blank=True)
    page_name = models.CharField(max_length=200, blank=True)
    brand_id = models.CharField(max_length=100, blank=True)
    # From GET /v1/brands at each health sync; empty when unknown (the id is shown).
    brand_name = models.CharField(max_length=100, blank=True)
    profile_picture_url = models.URLField(max_length=1000, blank=True)

    status = models.CharField(
        max_length=30, choices=AccountStatus.choices, default=AccountStatus.UNKNOWN
    )
    # STATUS_SEVERITY as a stored column, so "problems first" is an index scan at any size.
    severity = models.GeneratedField(
        expression=models.Case(
            *[
                models.When(status=status, then=models.Value(rank))
                for status, rank in STATUS_SEVERITY.items()
            ],
            default=models.Value(len(STATUS_SEVERITY)),
            output_field=models.PositiveSmallIntegerField(),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    # Upstream `reconnect_reason`, or the message of the error that broke it.
    reason = models.TextField(blank=True)
    # Normalised code that explains the status (e.g. account.reconnection_required).
    status_code = models.CharField(max_length=100, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    last_error_code = models.CharField(max_length=100, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_request_id = models.CharField(max_length=64, blank=True)

    # Scheduled posts that will fail while this account is unhealthy (None: not counted).
    scheduled_posts_at_risk = models.PositiveIntegerField(null=True, blank=True)
    scheduled_checked_at = models.DateTimeField(null=True, blank=True)

    # When admins were last emailed about this account being broken (one mail per break).
    alerted_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    # "Check now": set when a check is queued; the row polls until last_checked_at passes it.
    check_requested_at = models.DateTimeField(null=True, blank=True)
    # Why the last check could not tell (e.g. "system.internal · req_123"); empty when it could.
    check_error = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "upstream_id"], name="account_unique_upstream"
            )
        ]
        indexes = [
            # Status filters use its prefix; the page's counts per status, platform and
            # brand are answered from it alone (an index-only scan, no table reads).
            models.Index(
                fields=["workspace", "status", "platform", "brand_id", "brand_name"],
                name="account_ws_facets",
            ),
            models.Index(fields=["workspace", "platform"], name="account_ws_platform"),
            models.Index(fields=["workspace", "name"], name="account_ws_name"),
            models.Index(
                fields=["workspace", "severity", "name", "id"], name="account_ws_severity"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.username or self.upstream_id

    @property
    def is_unhealthy(self) -> bool:
        return self.status in UNHEALTHY_STATUSES

    @property
    def status_family(self) -> str:
        """The error family that explains the status (for `events.fixes.fix_for`)."""
        return STATUS_FAMILIES.get(self.status, "")

    @property
    def label(self) -> str:
        """How people recognise the account: page name, display name or @username."""
        return (
            self.page_name
            or self.name
            or (f"@{self.username}" if self.username else self.upstream_id)
        )


class AccountTransition(models.Model):
    """History: when an account broke, why, when it was fixed and by whom."""

    class Source(models.TextChoices):
        SYNC = "sync", "Health sync"
        CHECK = "check", "Check"
        WEBHOOK = "webhook", "SocialAPI webhook"
        EVENT = "event", "Error report"
        RECONNECT = "reconnect", "Reconnect"
        DISCONNECT = "disconnect", "Disconnect"
        CREDENTIALS = "credentials", "Credentials update"

    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=30, choices=AccountStatus.choices)
    to_status = models.CharField(max_length=30, choices=AccountStatus.choices)
    code = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who, in words, kept even if the person is deleted: "alice", "reconnect link owner".
    actor_label = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="transition_account_time")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.from_status} → {self.to_status}"


class ReconnectLink(models.Model):
    """A signed, single-use link an admin hands to an account owner without a login."""

    class Outcome(models.TextChoices):
        """How the sign-in that used the link up ended."""

        RECONNECTED = "reconnected", "reconnected the account"
        STILL_BROKEN = "still_broken", "signed in, but SocialAPI still reports a problem"
        UNCONFIRMED = "unconfirmed", "signed in; the result was not confirmed yet"
        OTHER_ACCOUNT = "other_account", "signed in as a different account; nothing changed"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="reconnect_links"
    )
    account = models.ForeignKey(
        SocialAccount, on_delete=models.CASCADE, related_name="reconnect_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # The first browser to start the flow claims the link; only it may retry (e.g. after
    # declining by mistake). `used_at` is set when a sign-in through it completes, whatever
    # account came back (`used_outcome`, `used_account_id`); a denial leaves it open.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_session_hash = models.CharField(max_length=64, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    used_account_id = models.CharField(max_length=100, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reconnect link for {self.account_id}"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class ReconnectState(models.Model):
    """One reconnect attempt: the OAuth `state` bound to a session, person and account."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        SELECTING = "selecting", "Choosing pages"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        SocialAccount, on_delete=models.CASCADE, related_name="reconnect_states"
    )
    # Null when started from a reconnect link by an owner without a login.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    link = models.ForeignKey(
        ReconnectLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # sha256 of the state value; the value itself only travels in the URL and the session.
    state_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64)
    dialect = models.CharField(max_length=10)
    redirect_uri = models.URLField(max_length=500)
    connection_id = models.CharField(max_length=100, blank=True)
    # Selection step: the pages/profiles offered (stored so the picker renders without a call).
    candidates = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    result_account_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-created_at"], name="state_account_time")]

    def __str__(self) -> str:
        return f"reconnect state for {self.account_id} ({self.outcome})"


class WebhookDelivery(models.Model):
    """Every webhook delivery received, kept for triage; deduped on X-SocialAPI-Delivery
    and on what its signature covers."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=60)
    # v1 | v2 | rejected (kept for triage, never processed) | unsigned (test pings stored
    # by older versions; pings are no longer stored, only noted on the workspace)
    signature = models.CharField(max_length=10)
    # SHA-256 of what the verified signature covers (v1: the raw body; v2: "<timestamp>.<raw
    # body>"). X-SocialAPI-Delivery is not signed: the same signed content under a fresh
    # delivery id is a replay, not a new event. Empty on refused deliveries.
    content_hash = models.CharField(max_length=64, blank=True)
    # SHA-256 of the raw body alone: a v1 signature covers nothing more, so a v1 delivery
    # whose body was already accepted (under any signature) is a replay.
    body_hash = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    # X-SocialAPI-Timestamp when signed with v2: orders deliveries that arrive out of order.
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # How many times upstream delivered it (retries of an accepted delivery are not reprocessed).
    times_received = models.PositiveIntegerField(default=1)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "delivery_id"],
                condition=~models.Q(signature="rejected"),
                name="delivery_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace", "content_hash"],
                condition=~models.Q(signature="rejected") & ~models.Q(content_hash=""),
                name="delivery_content_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-received_at"], name="delivery_ws_time"),
            models.Index(
                fields=["workspace", "body_hash"],
                condition=~models.Q(body_hash=""),
                name="delivery_ws_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
