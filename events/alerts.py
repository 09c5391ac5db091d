"""Threshold emails to admins: storage and monthly allowances at 80 % and 100 %, and
storage forecast to be full within STORAGE_FORECAST_DAYS.

Once per threshold per period (`dashboard.alerts.alert_send` dedupes on the period key):
for a monthly allowance the period is the billing period; for storage it is the episode
— from the first figure at or over the threshold until storage drops clearly below it
again (5 points of hysteresis, so a figure wobbling around 80 % never floods anyone).
When a figure jumps straight to 100 %, only the 100 % mail goes out.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from dashboard.alerts import alert_send
from dashboard.models import Workspace
from dashboard.usage import usage_latest
from events.banners import workspace_banners
from events.models import AlertSent
from media.forecast import WEEK_DAYS
from media.models import StorageSnapshot
from media.storage import storage_latest

THRESHOLDS = (100, 80)
HYSTERESIS = 5


def _mark_sent(*, workspace: Workspace, kind: str, subject_key: str, period_key: str) -> None:
    """Record a lower threshold as covered by the higher one just sent."""
    try:
        with transaction.atomic():
            AlertSent.objects.create(
                workspace=workspace, kind=kind, subject_key=subject_key, period_key=period_key
            )
    except IntegrityError:
        pass


def _storage_episode_start(
    workspace: Workspace, threshold: int, latest: StorageSnapshot
) -> datetime:
    """When storage last climbed to `threshold` % (after being clearly below it).

    Read from `since` (when a figure was first seen), never `taken_at`: the same figure
    confirmed again moves its `taken_at` forward, which would start a new period (and a
    new mail) on every check.
    """
    rows = StorageSnapshot.objects.filter(workspace=workspace, since__lte=latest.since)
    below = (
        rows.alias(scaled=F("used_bytes") * 100)
        .filter(Q(limit_bytes__lt=0) | Q(scaled__lt=F("limit_bytes") * (threshold - HYSTERESIS)))
        .order_by("-since", "-id")
        .values_list("since", flat=True)
        .first()
    )
    first_over = rows.filter(since__gt=below) if below is not None else rows
    moment = first_over.order_by("since", "id").values_list("since", flat=True).first()
    return moment or latest.since


def storage_alerts_check(*, workspace: Workspace) -> list[str]:
    """Email admins when storage crosses 80 % or 100 %; returns the kinds sent now."""
    latest = storage_latest(workspace=workspace)
    if latest is None or latest.limit_bytes <= 0:
        return []
    percent = 100.0 * latest.used_bytes / latest.limit_bytes
    reached = next((t for t in THRESHOLDS if percent >= t), None)
    if reached is None:
        return []
    period = _storage_episode_start(workspace, reached, latest).isoformat()
    url = settings.SITE_URL + reverse("media:storage", args=[workspace.slug])
    sent = alert_send(
        workspace=workspace,
        kind=f"storage_{reached}",
        subject_key="storage",
        period_key=period,
        subject="Storage is full: uploads fail"
        if reached >= 100
        else f"Storage is {int(percent)} % full",
        template="events/email/storage_alert.txt",
        context={
            "percent": int(percent),
            "full": reached >= 100,
            "used": latest.used_bytes,
            "limit": latest.limit_bytes,
            "free": max(latest.limit_bytes - latest.used_bytes, 0),
            "over": max(latest.used_bytes - latest.limit_bytes, 0),
            "url": url,
        },
    )
    if sent:
        for lower in THRESHOLDS:
            if lower < reached:
                lower_period = _storage_episode_start(workspace, lower, latest).isoformat()
                _mark_sent(
                    workspace=workspace,
                    kind=f"storage_{lower}",
                    subject_key="storage",
                    period_key=lower_period,
                )
    return [f"storage_{reached}"] if sent else []


def storage_forecast_alerts_check(*, workspace: Workspace) -> list[str]:
    """Email admins (and tell the alert channels) when the forecast says storage is full
    in fewer than STORAGE_FORECAST_DAYS days; once per run of such forecasts (the run
    ends, with hysteresis, when the pace drops or space is freed: media.forecast)."""
    latest = storage_latest(workspace=workspace)
    if latest is None or latest.forecast_since is None:
        return []
    forecast = latest.forecast
    if not forecast.soon or forecast.week is None:
        return []
    week = forecast.week
    url = settings.SITE_URL + reverse("media:storage", args=[workspace.slug]) + "#forecast-h"
    sent = alert_send(
        workspace=workspace,
        kind="storage_forecast",
        subject_key="storage",
        period_key=latest.forecast_since.isoformat(),
        subject=f"Storage full in {forecast.in_days} at this rate",
        template="events/email/storage_forecast.txt",
        context={
            "in_days": forecast.in_days,
            "full_on": forecast.full_on,
            "grown": week.grown_bytes,
            "window_days": min(WEEK_DAYS, max(1, round(week.days))),
            "per_day": int(week.per_day),
            "used": latest.used_bytes,
            "limit": latest.limit_bytes,
            "free": max(latest.limit_bytes - latest.used_bytes, 0),
            "url": url,
        },
    )
    return ["storage_forecast"] if sent else []


def usage_alerts_check(*, workspace: Workspace, now: datetime | None = None) -> list[str]:
    """Email admins when a monthly allowance reaches 80 % or runs out (figures or a
    refusal from SocialAPI); once per threshold per billing period."""
    now = now or timezone.now()
    usage = usage_latest(workspace=workspace)
    url = settings.SITE_URL + reverse("overview", args=[workspace.slug]) + "#usage-h"
    sent_kinds: list[str] = []
    for banner in workspace_banners(workspace=workspace, now=now):
        if not banner.key.startswith("monthly_limit:"):
            continue
        allowance = banner.key.split(":", 1)[1]
        reached = 100 if banner.kind == "monthly_limit" else 80
        if banner.since is not None:
            period = banner.since.isoformat()
        elif usage is not None and usage.period_end is not None and usage.period_end > now:
            period = usage.period_end.isoformat()
        else:
            period = f"{now:%Y-%m}"
        used = getattr(usage, f"{allowance}_used", None) if usage else None
        limit = getattr(usage, f"{allowance}_limit", None) if usage else None
        sent = alert_send(
            workspace=workspace,
            kind=f"quota_{allowance}_{reached}",
            subject_key=allowance,
            period_key=period,
            subject=banner.title,
            template="events/email/quota_alert.txt",
            context={
                "banner": banner,
                "allowance": allowance,
                "reached": reached,
                "used": used,
                "limit": limit,
                "period_end": usage.period_end if usage else None,
                "url": url,
            },
        )
        if sent:
            sent_kinds.append(f"quota_{allowance}_{reached}")
            if reached == 100:
                _mark_sent(
                    workspace=workspace,
                    kind=f"quota_{allowance}_80",
                    subject_key=allowance,
                    period_key=period,
                )
    return sent_kinds


def threshold_alerts_check(*, workspace: Workspace) -> list[str]:
    """Both checks; what the periodic sync and fresh figures run."""
    return (
        storage_alerts_check(workspace=workspace)
        + storage_forecast_alerts_check(workspace=workspace)
        + usage_alerts_check(workspace=workspace)
    )
