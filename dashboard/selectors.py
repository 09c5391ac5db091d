"""Reads for the workspace core, always scoped: ingest tokens, members, audit, support."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from dashboard.crypto import token_hash
from dashboard.models import AuditEvent, Invitation, Membership, Workspace

AUDIT_PAGE_SIZE = 50
SUPPORT_PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Words for the audit log; unknown actions show their code.
AUDIT_ACTION_LABELS = {
    "support.view": "Support staff viewed a page",
    "api_key.change": "Changed the API key",
    "settings.connection_change": "Changed the base URL or API version",
    "settings.sync_change": "Changed background check intervals",
    "webhook.register": "Registered the webhook with SocialAPI",
    "webhook.secret_change": "Replaced the webhook signing secret",
    "ingest_token.create": "Created the ingest token",
    "ingest_token.rotate": "Rotated the ingest token",
    "ingest_token.revoke": "Revoked the ingest token",
    "member.invite": "Invited someone",
    "member.invite_revoke": "Withdrew an invitation",
    "member.join": "Joined the workspace",
    "member.add": "Added someone (Django admin)",
    "workspace.create": "Created the workspace",
    "member.role_change": "Changed someone's role",
    "member.remove": "Removed someone",
    "reconnect.start": "Started a reconnect",
    "reconnect.finish": "Finished a reconnect",
    "reconnect_link.create": "Created a reconnect link",
    "account.disconnect": "Disconnected an account",
    "account.credentials_update": "Updated account credentials",
    "media.bulk_delete.request": "Requested a bulk deletion",
    "media.bulk_delete.cancel": "Cancelled a bulk deletion",
    "post.retry.request": "Asked to retry posts that failed while an account was broken",
    "post.retry.finish": "A retry of failed posts ended",
    "post.retry.relist": "Listed a post again after a retry of unknown outcome",
    "error_group.resolve": "Resolved an error group",
    "error_group.ignore": "Ignored an error group",
    "error_group.reopen": "Reopened an error group",
    "error_group.note": "Added a note to an error group",
    "diagnostic_bundle.export": "Exported a diagnostic bundle",
    "settings.mfa_requirement": "Changed whether two-factor sign-in is required",
    "mfa.enable": "Turned on two-factor sign-in",
    "mfa.disable": "Turned off two-factor sign-in",
    "mfa.recovery_regenerate": "Made new two-factor recovery codes",
    "mfa.passkey_add": "Added a passkey",
    "mfa.passkey_remove": "Removed a passkey",
    "mfa.reset": "Two-factor sign-in reset by an operator",
    "mfa.fail": "Typed a wrong two-factor code",
}


def audit_action_label(action: str) -> str:
    return AUDIT_ACTION_LABELS.get(action, action)


def audit_detail_text(detail: Any) -> str:
    """`{"dialect": ["current", "legacy"]}` → "dialect: current → legacy"; pairs joined by " · "."""
    if not isinstance(detail, dict):
        return "" if detail in (None, "") else str(detail)
    parts = []
    for key, value in detail.items():
        if key == "path":
            continue  # support views: the target column already shows it
        if (
            isinstance(value, list)
            and len(value) == 2
            and not any(isinstance(v, dict | list) for v in value)
        ):
            text = f"{value[0]} → {value[1]}"
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        parts.append(f"{key.replace('_', ' ')}: {text}")
    return " · ".join(parts)


# --- secrets and URLs ------------------------------------------------------------------


def workspace_for_ingest_token(token: str) -> Workspace | None:
    """The workspace whose ingest token this is (`Authorization: Bearer <token>`), or None.

    Looked up by the indexed SHA-256 of the token: the database compares digests, never
    the token, so no timing tells an attacker how much of a guess was right.
    """
    token = (token or "").strip()
    if not token or len(token) > 200:
        return None
    return Workspace.objects.filter(ingest_token_hash=token_hash(token)).first()


def webhook_url(workspace: Workspace) -> str:
    """The exact URL to register upstream for this workspace's webhooks."""
    return settings.SITE_URL + reverse("webhook_receive", kwargs={"workspace_slug": workspace.slug})


def ingest_url() -> str:
    """The ingest API's address."""
    return settings.SITE_URL + reverse("events_ingest")


# --- members ---------------------------------------------------------------------------


def members_list(*, workspace: Workspace) -> list[Membership]:
    """Admins first, then by name; `has_mfa`: they sign in with two-factor."""
    from mfa.models import AuthenticatorDevice

    return list(
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .annotate(
            has_mfa=Exists(
                AuthenticatorDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
            )
        )
        .order_by("role", "user__username")
    )


def membership_exists(*, workspace: Workspace, user: Any) -> bool:
    return Membership.objects.filter(workspace=workspace, user=user).exists()


def username_taken(username: str) -> bool:
    """Usernames are unique regardless of case ("Alice" is taken when "alice" exists)."""
    return User.objects.filter(username__iexact=username).exists()


def membership_in_workspace(*, workspace: Workspace, membership_id: int) -> Membership | None:
    return (
        Membership.objects.filter(workspace=workspace, pk=membership_id)
        .select_related("user")
        .first()
    )


def invitations_pending(*, workspace: Workspace) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            workspace=workspace, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
        ).select_related("invited_by")
    )


def invitation_in_workspace(*, workspace: Workspace, invitation_id: int) -> Invitation | None:
    return Invitation.objects.filter(workspace=workspace, pk=invitation_id).first()


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation this link token belongs to (any state), or None."""
    token = (token or "").strip()
    if not token or len(token) > 200:
        return None
    # The token's hash is the lookup key: equality on a digest of a secret leaks nothing.
    return (
        Invitation.objects.filter(token_hash=token_hash(token))
        .select_related("workspace", "invited_by")
        .first()
    )


# --- audit log -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.action or self.actor or self.date_from or self.date_to)


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEvent
    label: str
    detail: str


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRow]
    next_cursor: str  # empty on the last page
    is_first: bool


def _cursor_for(entry: AuditEvent) -> str:
    micros = (entry.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{entry.pk}"


def audit_cursor_parse(cursor: str) -> tuple[datetime, int] | None:
    """`<microseconds since epoch>-<id>` or None when malformed (then: first page)."""
    head, sep, tail = (cursor or "").partition("-")
    if not sep or not head.isdigit() or not tail.isdigit() or len(head) > 20 or len(tail) > 20:
        return None
    try:
        return EPOCH + timedelta(microseconds=int(head)), int(tail)
    except OverflowError:
        return None


def audit_events_filtered(*, workspace: Workspace, filters: AuditFilters) -> QuerySet[AuditEvent]:
    entries = AuditEvent.objects.filter(workspace=workspace)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.actor:
        entries = entries.filter(actor_label=filters.actor)
    if filters.date_from:
        entries = entries.filter(
            created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        )
    if filters.date_to:
        end = datetime.combine(filters.date_to, time.min, tzinfo=UTC) + timedelta(days=1)
        entries = entries.filter(created_at__lt=end)
    return entries.order_by("-created_at", "-id")


def audit_events_page(
    *, workspace: Workspace, filters: AuditFilters, cursor: str = "", limit: int = AUDIT_PAGE_SIZE
) -> AuditPage:
    """One page, newest first, continuing after `cursor` (keyset: constant cost per page)."""
    entries = audit_events_filtered(workspace=workspace, filters=filters)
    position = audit_cursor_parse(cursor)
    if position is not None:
        at, pk = position
        entries = entries.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    rows = list(entries[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        entries=[
            AuditRow(e, audit_action_label(e.action), audit_detail_text(e.detail)) for e in rows
        ],
        next_cursor=_cursor_for(rows[-1]) if more and rows else "",
        is_first=position is None,
    )


def audit_filter_choices(*, workspace: Workspace) -> tuple[list[tuple[str, str]], list[str]]:
    """Actions and people that appear in this workspace's log (one query)."""
    rows = (
        AuditEvent.objects.filter(workspace=workspace)
        .order_by()
        .values_list("action", "actor_label")
        .distinct()[:2000]
    )
    actions: set[str] = set()
    actors: set[str] = set()
    for action, actor in rows:
        actions.add(action)
        actors.add(actor)
    return (
        sorted(((a, audit_action_label(a)) for a in actions), key=lambda pair: pair[1]),
        sorted(actors, key=str.lower),
    )


@dataclass(frozen=True)
class SupportVisitor:
    actor_label: str
    visits: int
    last_at: datetime


def support_visits_recent(*, workspace: Workspace, days: int = 30) -> list[SupportVisitor]:
    """Which support staff looked at this workspace lately, how often, and when last."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        AuditEvent.objects.filter(workspace=workspace, action="support.view", created_at__gte=since)
        .order_by()
        .values("actor_label")
        .annotate(visits=Count("id"), last_at=Max("created_at"))
        .order_by("-last_at")
    )
    return [SupportVisitor(row["actor_label"], row["visits"], row["last_at"]) for row in rows]


# --- support console -------------------------------------------------------------------


@dataclass(frozen=True)
class SupportQuery:
    q: str = ""
    sort: str = "problems"
    problems_only: bool = False


def _count_per_workspace(queryset: QuerySet[Any]) -> Subquery:
    return Subquery(
        queryset.filter(workspace=OuterRef("pk"))
        .order_by()
        .values("workspace")
        .annotate(n=Count("id"))
        .values("n")[:1],
        output_field=IntegerField(),
    )


def support_workspaces(*, query: SupportQuery, page: int | str = 1) -> Page[Any]:
    """Every workspace with its health, in a constant number of queries."""
    from accounts.models import UNHEALTHY_STATUSES, SocialAccount
    from events.models import ErrorGroup
    from media.models import StorageSnapshot

    latest_storage = StorageSnapshot.objects.filter(workspace=OuterRef("pk")).order_by(
        "-taken_at", "-id"
    )
    workspaces = Workspace.objects.only(
        "slug",
        "name",
        "plan",
        "paused_family",
        "paused_at",
        "api_key_hint",
        "health_synced_at",
        "is_demo",
    ).annotate(
        accounts_total=Coalesce(_count_per_workspace(SocialAccount.objects.all()), 0),
        accounts_broken=Coalesce(
            _count_per_workspace(SocialAccount.objects.filter(status__in=UNHEALTHY_STATUSES)), 0
        ),
        open_errors=Coalesce(
            _count_per_workspace(ErrorGroup.objects.filter(state=ErrorGroup.State.OPEN)), 0
        ),
        members_total=Coalesce(_count_per_workspace(Membership.objects.all()), 0),
        storage_used=Subquery(latest_storage.values("used_bytes")[:1]),
        storage_limit=Subquery(latest_storage.values("limit_bytes")[:1]),
        storage_at=Subquery(latest_storage.values("taken_at")[:1]),
    )
    workspaces = workspaces.annotate(
        storage_percent=Case(
            When(
                storage_limit__gt=0,
                then=ExpressionWrapper(
                    F("storage_used") * Value(100.0) / F("storage_limit"), output_field=FloatField()
                ),
            ),
            default=Value(None),
            output_field=FloatField(),
        )
    )
    if query.q:
        workspaces = workspaces.filter(Q(name__icontains=query.q) | Q(slug__icontains=query.q))
    if query.problems_only:
        workspaces = workspaces.filter(
            Q(accounts_broken__gt=0)
            | Q(open_errors__gt=0)
            | Q(storage_percent__gte=80)
            | ~Q(paused_family="")
        )
    orderings: dict[str, list[Any]] = {
        "name": ["name", "pk"],
        "storage": [F("storage_percent").desc(nulls_last=True), "name", "pk"],
        "errors": ["-open_errors", "name", "pk"],
        "problems": [
            Case(When(paused_family="", then=Value(0)), default=Value(1)).desc(),
            F("accounts_broken").desc(),
            F("storage_percent").desc(nulls_last=True),
            "-open_errors",
            "name",
            "pk",
        ],
    }
    workspaces = workspaces.order_by(*orderings.get(query.sort, orderings["problems"]))
    return Paginator(workspaces, SUPPORT_PAGE_SIZE).get_page(page)
