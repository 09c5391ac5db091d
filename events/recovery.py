"""When a banner's cause is over before its window has passed.

A 5xx outage is over when the dashboard's calls succeed again with no new 5xx for
SERVER_ERROR_QUIET_SECONDS; platform throttling is over when the platform answers a call
again. Both end the family's `ErrorEpisode` (`ended_at`), which the banner query reads:
the banner goes at once instead of lingering for its whole window, and a later error
starts a new run (a dismissed banner then shows again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from dashboard.models import Workspace
from events.models import ErrorEpisode
from socialapi import Family, SocialAPIError

log = logging.getLogger(__name__)

THROTTLE = "platform_throttle"


def _open() -> Q:
    return Q(ended_at__isnull=True) | Q(ended_at__lt=F("last_seen"))


def server_outage_end(*, workspace_id: int, now: datetime | None = None) -> bool:
    """A call with the workspace's key just succeeded: end the 5xx run when its newest
    5xx is older than the quiet period. True when a run ended now."""
    now = now or timezone.now()
    quiet = timedelta(seconds=max(0, int(settings.SERVER_ERROR_QUIET_SECONDS)))
    ended = (
        ErrorEpisode.objects.filter(
            workspace_id=workspace_id, family="server", platform="", last_seen__lte=now - quiet
        )
        .filter(_open())
        .update(ended_at=now)
    )
    return bool(ended)


def throttle_probes_run(
    *, workspace: Workspace, platforms: Iterable[str], now: datetime | None = None
) -> list[str]:
    """Ask each throttling platform again, through one of its active accounts (at most
    once per THROTTLE_PROBE_SECONDS each); returns the platforms that answered.

    `GET /v1/accounts/{id}/limits` is the cheapest call that reaches the platform. Still
    throttled: the 429 is recorded like any failure and the banner stays; so does an
    answer with nothing left (`posts_remaining: 0`). Any other answer — the limits, or
    "this platform has none" (501) — ends the throttling run.
    """
    from accounts.models import AccountStatus, SocialAccount
    from dashboard.upstream import upstream

    now = now or timezone.now()
    # Half a beat early is on time: watches come every few seconds, a little irregularly.
    slack = timedelta(seconds=max(0, int(settings.DISPATCH_SECONDS)) / 2)
    every = timedelta(seconds=max(0, int(settings.THROTTLE_PROBE_SECONDS))) - slack
    answered = []
    for platform in sorted(set(platforms)):
        if not platform:
            continue
        episode = ErrorEpisode.objects.filter(
            workspace=workspace, family=THROTTLE, platform=platform
        )
        claimed = (
            episode.filter(_open())
            .filter(Q(probed_at__isnull=True) | Q(probed_at__lte=now - every))
            .update(probed_at=now)
        )
        if not claimed:
            continue  # over already, or asked moments ago (by this or another worker)
        account = (
            SocialAccount.objects.filter(
                workspace=workspace, platform=platform, status=AccountStatus.ACTIVE
            )
            .order_by("pk")
            .first()
        )
        if account is None:
            continue  # nothing to ask through: the banner's window decides
        try:
            # Reference: https://docs.social-api.ai/api-reference — GET /v1/accounts/{id}/limits
            limits = upstream(workspace).account_limits(account.upstream_id)
        except SocialAPIError as exc:
            if exc.family != Family.NOT_SUPPORTED:
                log.info("throttle probe of %s for workspace %s: %s", platform, workspace.pk, exc)
                continue
        else:
            if any(left <= 0 for name, left in limits.items() if name.endswith("_remaining")):
                continue  # it answers, but says nothing is left: still limited
        ended = episode.filter(_open(), last_seen__lte=timezone.now()).update(
            ended_at=timezone.now()
        )
        if ended:
            answered.append(platform)
    return answered
