"""Plan and usage figures (`GET /v1/usage`, `GET /v1/users/me`)."""

from __future__ import annotations

from django.utils import timezone

from dashboard.models import UsageSnapshot, Workspace
from dashboard.upstream import upstream, upstream_ok, upstream_paused
from socialapi import FreshFigures


def _limit(value: int | None) -> int:
    """A missing limit is treated like upstream's -1 (unlimited): no banner claims a limit."""
    return -1 if value is None else value


def usage_latest(*, workspace: Workspace) -> UsageSnapshot | None:
    return UsageSnapshot.objects.filter(workspace=workspace).order_by("-taken_at", "-id").first()


def usage_sync(*, workspace: Workspace) -> UsageSnapshot | None:
    """Refresh the plan (`users/me`, which answers even when billing is blocked), then
    take a usage snapshot; None while billing is blocked (upstream refuses `/usage` with
    a 402 then, which would only add an error event every run). A working key lifts an
    API-key pause; billing stays paused until upstream says the block is gone."""
    client = upstream(workspace)
    # Reference: https://docs.social-api.ai/api-reference/users/me
    me = client.users_me()
    now = timezone.now()
    # An answer without a plan says nothing about the plan: keep the one we know.
    plan = me.plan or workspace.plan
    Workspace.objects.filter(pk=workspace.pk).update(
        plan=plan, plan_checked_at=now, usage_synced_at=now
    )
    workspace.plan, workspace.plan_checked_at = plan, now
    if me.billing_blocked:
        upstream_paused(workspace, family="billing")
        return None
    upstream_ok(workspace)
    # Reference: https://docs.social-api.ai/api-reference/usage
    usage = client.usage()
    return UsageSnapshot.objects.create(
        workspace=workspace,
        taken_at=now,
        posts_used=usage.posts_used or 0,
        posts_limit=_limit(usage.posts_limit),
        interactions_used=usage.interactions_used or 0,
        interactions_limit=_limit(usage.interactions_limit),
        brands_used=usage.brands_used or 0,
        brands_limit=_limit(usage.brands_limit),
        profile_units_used=usage.profile_units_used or 0,
        profile_units_limit=_limit(usage.profile_units_limit),
        period_start=usage.period_start,
        period_end=usage.period_end,
        source="api",
    )


def usage_figures_apply(*, workspace_id: int, figures: FreshFigures) -> None:
    """Fresh X-Posts-* / X-Interactions-* headers: a new snapshot when the figures moved."""
    if figures.posts_used is None and figures.interactions_used is None:
        return
    latest = (
        UsageSnapshot.objects.filter(workspace_id=workspace_id).order_by("-taken_at", "-id").first()
    )
    if latest is None:
        return  # no period known yet; the next usage sync brings the full picture
    changed = False
    for name in ("posts_used", "posts_limit", "interactions_used", "interactions_limit"):
        value = getattr(figures, name)
        if value is not None and value != getattr(latest, name):
            setattr(latest, name, value)
            changed = True
    if changed:
        latest.pk = None
        latest.taken_at = timezone.now()
        latest.source = "header"
        latest.save()
