"""Reads about connected accounts, always scoped to one workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, QueryDict
from django.utils import timezone

from accounts.models import (
    UNHEALTHY_STATUSES,
    AccountStatus,
    AccountTransition,
    ReconnectLink,
    SocialAccount,
    WebhookDelivery,
)
from dashboard.models import Membership, Workspace
from socialapi import platform_name

PAGE_SIZE = 50
# `?account=` may name several accounts (an alert about a mass break links to all of them).
MAX_FILTER_ACCOUNTS = 100
# A "Check now" not answered within this time is shown as finished (the worker may be down).
CHECK_POLL_MINUTES = 2


def account_status_counts(*, workspace: Workspace) -> dict[str, int]:
    """Accounts per status (every status present, zero when none)."""
    counts = {status.value: 0 for status in AccountStatus}
    rows = (
        SocialAccount.objects.filter(workspace=workspace).values("status").annotate(n=Count("id"))
    )
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts


@dataclass(frozen=True)
class AccountFilters:
    """What the accounts page was asked to show (already cleaned: bad values are dropped)."""

    status: str = ""
    platform: str = ""
    brand: str = ""
    q: str = ""
    accounts: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.status or self.platform or self.brand or self.q or self.accounts)

    @classmethod
    def from_query(cls, query: QueryDict) -> AccountFilters:
        status = query.get("status", "")
        accounts = [as_id(value) for value in query.getlist("account")[:MAX_FILTER_ACCOUNTS]]
        return cls(
            status=status if status in AccountStatus.values or status == "problems" else "",
            platform=query.get("platform", "")[:40],
            brand=query.get("brand", "")[:100],
            q=" ".join(query.get("q", "").split())[:100],
            accounts=tuple(dict.fromkeys(pk for pk in accounts if pk is not None)),
        )


def as_id(value: str) -> int | None:
    """A database id from a query parameter, or None (`str.isdigit` alone accepts "²")."""
    if value.isascii() and value.isdigit() and len(value) < 18:
        return int(value)
    return None


@dataclass
class Facets:
    """Counts per status and the platforms and brands present, from one grouped query."""

    status_counts: dict[str, int]
    platforms: list[tuple[str, str]] = field(default_factory=list)  # (slug, name)
    brands: list[tuple[str, str]] = field(default_factory=list)  # (id, name or id)
    total: int = 0

    @property
    def problems(self) -> int:
        return sum(self.status_counts[status] for status in UNHEALTHY_STATUSES)


def account_facets(*, workspace: Workspace) -> Facets:
    """Status counts, platforms and brands of the workspace in a single query."""
    counts = {status.value: 0 for status in AccountStatus}
    platforms: set[str] = set()
    brands: dict[str, str] = {}
    rows = (
        SocialAccount.objects.filter(workspace=workspace)
        .values_list("status", "platform", "brand_id", "brand_name")
        .annotate(n=Count("*"))  # COUNT(*): answered from the facets index alone
        .order_by()
    )
    total = 0
    for status, platform, brand_id, brand_name, n in rows:
        counts[status] = counts.get(status, 0) + n
        platforms.add(platform)
        if brand_id:
            brands[brand_id] = brand_name or brands.get(brand_id) or brand_id
        total += n
    return Facets(
        status_counts=counts,
        platforms=sorted(
            ((p, platform_name(p)) for p in platforms), key=lambda item: item[1].lower()
        ),
        brands=sorted(brands.items(), key=lambda item: item[1].lower()),
        total=total,
    )


def account_queryset(*, workspace: Workspace, filters: AccountFilters) -> QuerySet[SocialAccount]:
    """The workspace's accounts matching the filters, problems first."""
    qs = SocialAccount.objects.filter(workspace=workspace)
    if filters.accounts:
        qs = qs.filter(pk__in=filters.accounts)
    if filters.status == "problems":
        qs = qs.filter(status__in=UNHEALTHY_STATUSES)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.platform:
        qs = qs.filter(platform=filters.platform)
    if filters.brand:
        qs = qs.filter(brand_id=filters.brand)
    if filters.q:
        term = filters.q.lstrip("@")
        qs = qs.filter(
            Q(name__icontains=term)
            | Q(username__icontains=term)
            | Q(page_name__icontains=term)
            | Q(upstream_id=filters.q)
        )
    return qs.order_by("severity", "name", "id")


def account_page(
    *, workspace: Workspace, filters: AccountFilters, page: Any
) -> Page[SocialAccount]:
    """One page (50 rows) of the filtered accounts; an out-of-range page gives the last."""
    paginator = Paginator(account_queryset(workspace=workspace, filters=filters), PAGE_SIZE)
    return paginator.get_page(page)


def account_get(*, workspace: Workspace, account_id: int) -> SocialAccount:
    """One account of this workspace, or 404."""
    account = (
        SocialAccount.objects.filter(workspace=workspace, pk=account_id)
        .select_related("workspace")
        .first()
    )
    if account is None:
        raise Http404("No such account")
    return account


def account_transitions(*, account: SocialAccount, limit: int = 50) -> list[AccountTransition]:
    """The account's history, newest first, with who did it."""
    return list(AccountTransition.objects.filter(account=account).select_related("actor")[:limit])


def reconnect_links_open(*, account: SocialAccount) -> list[ReconnectLink]:
    """Links for this account that can still be used (for the revoke list)."""
    return list(
        ReconnectLink.objects.filter(
            account=account,
            revoked_at__isnull=True,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).select_related("created_by")
    )


def reconnect_links_used(*, account: SocialAccount, limit: int = 5) -> list[ReconnectLink]:
    """The latest links used up by a sign-in, with how it ended (for the account page)."""
    return list(
        ReconnectLink.objects.filter(account=account, used_at__isnull=False)
        .select_related("created_by")
        .order_by("-used_at")[:limit]
    )


def reconnect_link_get(*, workspace: Workspace, link_id: int) -> ReconnectLink:
    link = (
        ReconnectLink.objects.filter(workspace=workspace, pk=link_id)
        .select_related("account")
        .first()
    )
    if link is None:
        raise Http404("No such link")
    return link


def account_is_checking(account: SocialAccount) -> bool:
    """A "Check now" is queued and not answered yet (and not given up on)."""
    requested = account.check_requested_at
    if requested is None:
        return False
    if requested < timezone.now() - timedelta(minutes=CHECK_POLL_MINUTES):
        return False
    return account.last_checked_at is None or account.last_checked_at < requested


def webhook_delivery_page(
    *, workspace: Workspace, page: Any, rejected: bool = False
) -> Page[WebhookDelivery]:
    """Deliveries received, newest first (50 a page), for triage of the webhook setup."""
    qs = WebhookDelivery.objects.filter(workspace=workspace).defer("payload")
    if rejected:
        qs = qs.filter(signature="rejected")
    return Paginator(qs.order_by("-received_at", "-id"), PAGE_SIZE).get_page(page)


def workspace_for_webhook(*, slug: str) -> Workspace | None:
    """The workspace a webhook URL names (the signature proves the sender)."""
    return Workspace.objects.filter(slug=slug[:50]).first()


def workspace_admin_is(*, workspace_id: int, user_id: int | None) -> bool:
    """Whether this person is (still) an admin of the workspace (the reconnect pages)."""
    return (
        user_id is not None
        and Membership.objects.filter(
            workspace_id=workspace_id, user_id=user_id, role=Membership.Role.ADMIN
        ).exists()
    )
