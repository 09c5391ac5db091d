"""Quota and health banners, computed from stored events and the latest figures.

Every banner of the product spec: what happened, what it means, what to do and when it
clears by itself (the rules are in events.banner_rules). The inputs, a person's
dismissals included, come from one indexed query (`events.selectors.banner_inputs`)
whatever the number of stored events.

Dismissing is a view preference: it hides a banner for that person until its cause
recurs (`since`, when the cause started, moves past the one remembered at dismissal) or
worsens (`rank` goes up). Every banner carries its cause's start (storage runs are kept
on the snapshots, throttling and 5xx runs in `ErrorEpisode`), so a recurrence shows at
once; `banner_dismissals_expire`, run by the periodic sync, forgets dismissals of causes
that are gone and covers the rare cause with no start known (storage refused before any
figure was taken).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from dashboard.models import Workspace
from events.banner_rules import (
    SNOOZE_CHOICES,
    Banner,
    banners_compute,
    burst_minutes,
    burst_threshold,
    throttle_minutes,
)
from events.models import BannerDismissal
from events.selectors import BannerInputs, banner_inputs
from events.selectors.banners import Dismissal

__all__ = [
    "SNOOZE_CHOICES",
    "Banner",
    "BannerView",
    "HiddenBanner",
    "banner_dismiss",
    "banner_dismissals_expire",
    "banner_restore",
    "banners_for",
    "banners_signature",
    "banners_view",
    "banners_visible",
    "burst_minutes",
    "burst_threshold",
    "throttle_minutes",
    "workspace_banners",
]

log = logging.getLogger(__name__)


def _inputs(
    workspace: Workspace, now: datetime, user_id: int | None = None, *, cards: bool = False
) -> BannerInputs:
    return banner_inputs(
        workspace=workspace,
        now=now,
        short_window=timedelta(minutes=max(throttle_minutes(), burst_minutes())),
        burst_window=timedelta(minutes=burst_minutes()),
        user_id=user_id,
        cards=cards,
    )


@dataclass(frozen=True)
class HiddenBanner:
    """A banner still current that this person dismissed or snoozed."""

    banner: Banner
    snoozed_until: datetime | None


@dataclass(frozen=True)
class BannerView:
    """What one person sees of the banners, with the inputs they were computed from
    (the figures the cards beside them show: one query, one moment)."""

    inputs: BannerInputs
    visible: list[Banner]
    hidden: list[HiddenBanner] = field(default_factory=list)


def banners_view(
    *, workspace: Workspace, user: Any, now: datetime | None = None, cards: bool = False
) -> BannerView:
    """The banners this person sees and the ones they hid, from one query."""
    now = now or timezone.now()
    person = user.pk if getattr(user, "is_authenticated", False) else None
    inputs = _inputs(workspace, now, user_id=person, cards=cards)
    visible, hidden = [], []
    for banner in banners_compute(workspace, inputs):
        dismissal = inputs.dismissals.get(banner.key)
        if _hidden_by(banner, dismissal, now):
            assert dismissal is not None
            hidden.append(HiddenBanner(banner, dismissal.snoozed_until))
        else:
            visible.append(banner)
    return BannerView(inputs=inputs, visible=visible, hidden=hidden)


def workspace_banners(*, workspace: Workspace, now: datetime | None = None) -> list[Banner]:
    """Every banner this workspace shows (before anyone's dismissals), most severe first."""
    return banners_compute(workspace, _inputs(workspace, now or timezone.now()))


def banners_signature(banners: list[Banner]) -> str:
    """A digest of everything a person sees in the banners (to skip unchanged refreshes)."""
    text = "\x1e".join(
        "\x1f".join((b.key, b.level, b.title, b.meaning, b.action, b.clears, *b.request_ids))
        for b in banners
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _hidden_by(
    banner: Banner, dismissal: Dismissal | BannerDismissal | None, now: datetime
) -> bool:
    if dismissal is None:
        return False
    if banner.rank > dismissal.level:
        return False  # worse than when it was dismissed
    if banner.since and dismissal.cause_started_at and banner.since > dismissal.cause_started_at:
        return False  # the cause went away and came back
    return dismissal.snoozed_until is None or dismissal.snoozed_until > now


def banners_visible(
    *, workspace: Workspace, user: Any, now: datetime | None = None
) -> list[Banner]:
    """The banners this person sees: the workspace's, minus what they dismissed (one query
    reads both)."""
    return banners_view(workspace=workspace, user=user, now=now).visible


def banners_for(*, workspace: Workspace, user: Any) -> list[Banner]:
    """Banners for this person in this workspace, most severe first.

    Called on every page: a failure here is logged and shows no banners rather than
    breaking the page.
    """
    try:
        return banners_visible(workspace=workspace, user=user)
    except Exception:
        log.exception("banners for workspace %s could not be computed", workspace.pk)
        return []


# --- dismissals (a person's view preference) ---------------------------------------------------


def banner_dismiss(
    *, workspace: Workspace, user: Any, key: str, snooze_minutes: int | None = None
) -> Banner | None:
    """Hide a showing banner for this person (until it recurs or worsens, or for a while).

    The level and cause are read from the banner as the server computes it now, never
    from the form. Returns the banner, or None when it is not showing (nothing stored).
    """
    now = timezone.now()
    banner = next(
        (b for b in workspace_banners(workspace=workspace, now=now) if b.key == key), None
    )
    if banner is None:
        return None
    snoozed_until = now + timedelta(minutes=snooze_minutes) if snooze_minutes else None
    BannerDismissal.objects.update_or_create(
        user=user,
        workspace=workspace,
        banner=key,
        defaults={
            "level": min(banner.rank, 32767),
            "cause_started_at": banner.since,
            "dismissed_at": now,
            "snoozed_until": snoozed_until,
        },
    )
    return banner


def banner_restore(*, workspace: Workspace, user: Any, key: str) -> bool:
    """Show a banner this person hid again (their own dismissal only). False when there
    was nothing hidden under that key."""
    removed, _ = BannerDismissal.objects.filter(
        workspace=workspace, user=user, banner=key[:60]
    ).delete()
    return bool(removed)


def banner_dismissals_expire(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Forget dismissals whose cause is gone (so a recurrence shows again); lower the
    remembered level of causes that got better (so worsening again shows). Returns how
    many dismissals were removed."""
    now = now or timezone.now()
    dismissals = list(BannerDismissal.objects.filter(workspace=workspace))
    if not dismissals:
        return 0
    current = {b.key: b for b in workspace_banners(workspace=workspace, now=now)}
    stale = [
        d.pk
        for d in dismissals
        if d.banner not in current or (d.snoozed_until is not None and d.snoozed_until <= now)
    ]
    with transaction.atomic():
        removed, _ = BannerDismissal.objects.filter(pk__in=stale).delete()
        for dismissal in dismissals:
            banner = current.get(dismissal.banner)
            if dismissal.pk not in stale and banner is not None and banner.rank < dismissal.level:
                BannerDismissal.objects.filter(pk=dismissal.pk).update(level=banner.rank)
    return removed
