"""Health sync: mirror upstream's account list, probe doubtful accounts, count the
scheduled posts that broken accounts put at risk.

A failed call changes nothing: the client hook has recorded it as an error event, and a
temporary failure (5xx, timeout, throttling) must never flip an account's status.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.alerts import account_alerts_batched
from accounts.models import UNHEALTHY_STATUSES, AccountStatus, SocialAccount
from accounts.services import CODE_GONE, account_mirror, account_status_apply
from dashboard.models import Workspace
from dashboard.upstream import upstream, upstream_ok
from socialapi import (
    Account,
    CredentialsInvalid,
    Family,
    SocialAPI,
    SocialAPIError,
    auth_kind,
    classify,
)

log = logging.getLogger(__name__)

GONE_REASON = "No longer connected in SocialAPI."
# Bounds on the extra calls one sync may make.
SCHEDULED_IDS_PER_CALL = 50
SCHEDULED_POSTS_MAX = 5000
CREDENTIAL_PROBES_MAX = 20
# A credentials failure this recent makes the sync double-check an account listed active.
CREDENTIAL_ERROR_RECENT = timedelta(days=7)


class CheckFailed(SocialAPIError):
    """A live check could not reach a verdict (the call's own error is already recorded)."""


@dataclass
class HealthSyncResult:
    seen: int = 0
    created: int = 0
    changed: list[str] = field(default_factory=list)  # upstream ids whose status changed
    disconnected: int = 0


def accounts_list_confirmed(client: SocialAPI, *, expect_some: bool) -> list[Account]:
    """The upstream list; an empty answer when we know accounts is asked for twice."""
    # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts
    items = client.accounts_list()
    if not items and expect_some:
        # One odd empty answer must not disconnect every account in the workspace.
        items = client.accounts_list()
    return [item for item in items if item.id]


def health_sync(*, workspace: Workspace) -> HealthSyncResult:
    """Bring every account of the workspace up to date with upstream (raises on failure).

    Accounts this sync finds broken are announced to the admins in one email.
    """
    with account_alerts_batched():
        return _health_sync(workspace)


def _health_sync(workspace: Workspace) -> HealthSyncResult:
    client = upstream(workspace)
    known = SocialAccount.objects.filter(workspace=workspace).exclude(
        status=AccountStatus.DISCONNECTED
    )
    items = accounts_list_confirmed(client, expect_some=known.exists())
    upstream_ok(workspace)
    now = timezone.now()
    result = HealthSyncResult(seen=len(items))
    with transaction.atomic():
        existing = {a.upstream_id: a for a in SocialAccount.objects.filter(workspace=workspace)}
        for item in items:
            account, flipped = account_mirror(
                workspace=workspace,
                item=item,
                source="sync",
                existing=existing.get(item.id),
                checked_at=now,
                stamp=False,
            )
            if item.id not in existing:
                result.created += 1
            if flipped:
                result.changed.append(item.id)
            existing[item.id] = account
        seen = {item.id for item in items}
        seen_pks = [existing[upstream_id].pk for upstream_id in seen]
        for start in range(0, len(seen_pks), 500):
            SocialAccount.objects.filter(pk__in=seen_pks[start : start + 500]).update(
                last_checked_at=now, check_error=""
            )
        for upstream_id, account in existing.items():
            if upstream_id in seen or account.status == AccountStatus.DISCONNECTED:
                continue
            account_status_apply(
                account=account,
                status=AccountStatus.DISCONNECTED,
                code=CODE_GONE,
                reason=GONE_REASON,
                source="sync",
                at=now,
            )
            SocialAccount.objects.filter(pk=account.pk).update(last_checked_at=now)
            result.disconnected += 1
            result.changed.append(upstream_id)
    Workspace.objects.filter(pk=workspace.pk).update(health_synced_at=now)
    live = [a for a in existing.values() if a.upstream_id in seen]
    brand_names_refresh(client=client, workspace=workspace)
    credentials_probe(client=client, accounts=live)
    scheduled_posts_count(client=client, accounts=live)
    return result


def brand_names_refresh(*, client: SocialAPI, workspace: Workspace) -> None:
    """Brand names for the accounts page; best effort (ids are shown when unknown)."""
    try:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/brands
        brands = client.brands_list()
    except SocialAPIError:
        return  # recorded by the client hook; names are a nicety, the sync goes on
    for brand in brands:
        if brand.id and brand.name:
            SocialAccount.objects.filter(workspace=workspace, brand_id=brand.id).exclude(
                brand_name=brand.name[:100]
            ).update(brand_name=brand.name[:100])


def credentials_probe(*, client: SocialAPI, accounts: Iterable[SocialAccount]) -> None:
    """API-key platforms: upstream lists them `active` even when the platform rejects the
    stored credentials, so one cheap call per account tells (marked ones first)."""
    candidates = [a for a in accounts if _credentials_doubtful(a)]
    candidates.sort(key=lambda a: a.status != AccountStatus.CREDENTIALS_INVALID)
    for account in candidates[:CREDENTIAL_PROBES_MAX]:
        try:
            # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts/{id}/limits
            client.account_limits(account.upstream_id, platform=account.platform)
        except CredentialsInvalid as exc:
            with transaction.atomic():
                account_status_apply(
                    account=account,
                    status=AccountStatus.CREDENTIALS_INVALID,
                    code=exc.code,
                    reason=exc.message,
                    source="sync",
                    request_id=exc.request_id or "",
                )
            continue
        except SocialAPIError:
            continue  # 501 (no limits on this platform), 5xx…: proves nothing either way
        if account.status == AccountStatus.CREDENTIALS_INVALID:
            with transaction.atomic():
                account_status_apply(
                    account=account,
                    status=AccountStatus.ACTIVE,
                    reason="The platform accepts the credentials again.",
                    source="sync",
                )


def _credentials_doubtful(account: SocialAccount) -> bool:
    """Marked invalid, or a recent failure said so (e.g. seen before our first sync)."""
    if auth_kind(account.platform) != "credentials" or account.status == AccountStatus.DISCONNECTED:
        return False
    if account.status == AccountStatus.CREDENTIALS_INVALID:
        return True
    if not account.last_error_code or account.last_error_at is None:
        return False
    recent = account.last_error_at >= timezone.now() - CREDENTIAL_ERROR_RECENT
    family = classify(account.last_error_code, None, platform=account.platform).family
    return recent and family == Family.CREDENTIALS


def scheduled_posts_count(*, client: SocialAPI, accounts: Sequence[SocialAccount]) -> None:
    """Store how many scheduled posts each unhealthy account will make fail."""
    unhealthy = [a for a in accounts if a.status in UNHEALTHY_STATUSES]
    healthy_ids = [
        a.pk
        for a in accounts
        if a.status not in UNHEALTHY_STATUSES and a.scheduled_posts_at_risk is not None
    ]
    if healthy_ids:
        SocialAccount.objects.filter(pk__in=healthy_ids).update(scheduled_posts_at_risk=None)
    if not unhealthy:
        return
    now = timezone.now()
    for start in range(0, len(unhealthy), SCHEDULED_IDS_PER_CALL):
        chunk = unhealthy[start : start + SCHEDULED_IDS_PER_CALL]
        try:
            counts = _scheduled_counts(client, [a.upstream_id for a in chunk])
        except SocialAPIError as exc:
            # Recorded by the client hook; keep the previous figures.
            log.info("scheduled posts count failed for workspace: %s", exc)
            return
        for account in chunk:
            account.scheduled_posts_at_risk = counts[account.upstream_id]
            account.scheduled_checked_at = now
        SocialAccount.objects.bulk_update(
            chunk, ["scheduled_posts_at_risk", "scheduled_checked_at"]
        )


def _scheduled_counts(client: SocialAPI, upstream_ids: list[str]) -> Counter[str]:
    wanted = set(upstream_ids)
    counts: Counter[str] = Counter(dict.fromkeys(upstream_ids, 0))
    # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts?status=scheduled
    posts = client.posts_iter(account_ids=upstream_ids, status="scheduled")
    for index, post in enumerate(posts):
        if index >= SCHEDULED_POSTS_MAX:
            break
        targets = [a for a in post.account_ids if a in wanted]
        if not post.account_ids and len(upstream_ids) == 1:
            targets = upstream_ids  # asked for one account: every post is its post
        for upstream_id in targets:
            counts[upstream_id] += 1
    return counts


def account_check(*, account: SocialAccount, at: datetime | None = None) -> bool:
    """Live re-check of one account ("Check now", webhooks); True when upstream answered."""
    workspace = account.workspace
    client = upstream(workspace)
    try:
        item = account_find(client, upstream_id=account.upstream_id, brand_id=account.brand_id)
    except SocialAPIError as exc:
        note = " · ".join(part for part in (exc.code, exc.request_id or "") if part)
        SocialAccount.objects.filter(pk=account.pk).update(
            check_error=note[:300], check_requested_at=None
        )
        return False
    upstream_ok(workspace)
    now = at or timezone.now()
    with transaction.atomic():
        if item is None:
            if account.status != AccountStatus.DISCONNECTED:
                account_status_apply(
                    account=account,
                    status=AccountStatus.DISCONNECTED,
                    code=CODE_GONE,
                    reason=GONE_REASON,
                    source="check",
                    at=now,
                )
            SocialAccount.objects.filter(pk=account.pk).update(
                last_checked_at=now, check_error="", check_requested_at=None
            )
            return True
        account, _ = account_mirror(
            workspace=workspace, item=item, source="check", existing=account, checked_at=now
        )
        SocialAccount.objects.filter(pk=account.pk).update(check_requested_at=None)
    credentials_probe(client=client, accounts=[account])
    scheduled_posts_count(client=client, accounts=[account])
    return True


def account_find(client: SocialAPI, *, upstream_id: str, brand_id: str) -> Account | None:
    """The account as upstream lists it now (its brand first; the whole list before saying
    gone): "Check now", webhooks and the reconnect flow's live re-check."""
    if brand_id:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts?brand_id=
        for item in client.accounts_list(brand_id=brand_id):
            if item.id == upstream_id:
                return item
    # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts
    for item in client.accounts_list():
        if item.id == upstream_id:
            return item
    return None


def account_refresh(*, workspace: Workspace, upstream_id: str) -> SocialAccount | None:
    """Fetch one account by upstream id (webhooks); creates it when it is new to us.

    Raises SocialAPIError when upstream could not be asked (nothing changed then).
    """
    account = SocialAccount.objects.filter(workspace=workspace, upstream_id=upstream_id).first()
    if account is not None:
        if not account_check(account=account):
            account.refresh_from_db()
            raise CheckFailed(status=None, code=account.check_error.split(" · ")[0] or "unknown")
        account.refresh_from_db()
        return account
    client = upstream(workspace)
    # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts
    for item in client.accounts_list():
        if item.id == upstream_id:
            upstream_ok(workspace)
            with transaction.atomic():
                created, _ = account_mirror(workspace=workspace, item=item, source="webhook")
            return created
    return None
