"""Numbers for the operator's own monitoring: a Prometheus collector over stored state.

Everything is read at scrape time from the database (and the length of the Celery
queue), in the same handful of queries however many workspaces there are. Nothing calls
SocialAPI and nothing is counted in the process, so every gunicorn worker answers the
same and a restart loses nothing. Workspaces are labelled by slug (names are free text);
no label holds an account, a person or a secret, so the series stay bounded.

The endpoint that serves this is `dashboard.metrics_views.metrics`.
"""

from __future__ import annotations

import platform
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import UsageSnapshot, Workspace
from dashboard.queue_depth import celery_queue_depth
from dashboard.scheduling import SYNCS, sync_interval
from events.models import ErrorGroup
from media.models import BulkDeletion, StorageSnapshot
from socialapi import Family

USAGE_RESOURCES = ("posts", "interactions", "brands", "profile_units")
BULK_DELETION_STATES = ("total", "deleted", "skipped", "failed")


@cache
def dashboard_version() -> str:
    """The version in pyproject.toml (the deployed checkout), or "unknown"."""
    try:
        project = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())
        return str(project["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


@dataclass
class Scrape:
    """What every part of one scrape shares: its clock and the workspaces."""

    now: datetime
    workspaces: list[Any]  # Workspace rows, annotated (see `metrics_workspaces`)


def metrics_workspaces() -> list[Any]:
    """Every workspace with whether it has an API key and its latest figures' ids (1 query)."""
    latest_storage = _latest_id(StorageSnapshot)
    latest_usage = _latest_id(UsageSnapshot)
    return list(
        Workspace.objects.annotate(
            # Compared in SQL: no API key is decrypted for this.
            configured=ExpressionWrapper(
                ~(Q(api_key="") | Q(api_key__isnull=True)), output_field=BooleanField()
            ),
            storage_id=Subquery(latest_storage),
            usage_id=Subquery(latest_usage),
        ).order_by("slug")
    )


def _latest_id(model: Any) -> Any:
    """The id of the workspace's latest row (an index scan of `<model>_ws_time`)."""
    return (
        model.objects.filter(workspace=OuterRef("pk")).order_by("-taken_at", "-id").values("pk")[:1]
    )


class DashboardCollector(Collector):
    """Yields every dashboard metric; see the README's "Monitoring" section for the list."""

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        scrape = Scrape(now=timezone.now(), workspaces=metrics_workspaces())
        slugs = {ws.pk: ws.slug for ws in scrape.workspaces}
        yield build_info_metric()
        yield from workspace_state_metrics(scrape)
        yield from account_metrics(slugs)
        yield from storage_metrics(scrape)
        yield from usage_metrics(scrape)
        yield from error_metrics(slugs)
        yield from bulk_deletion_metrics(scrape, slugs)
        yield from sync_metrics(scrape)
        yield from celery_queue_metrics()
        yield GaugeMetricFamily(
            "dashboard_scrape_duration_seconds",
            "How long this scrape took to compute, in seconds.",
            value=time.monotonic() - started,
        )


def build_info_metric() -> Metric:
    info = InfoMetricFamily("dashboard_build", "The dashboard's version and runtime.")
    info.add_metric(
        [],
        {
            "version": dashboard_version(),
            "python": platform.python_version(),
            "django": django.get_version(),
        },
    )
    return info


def workspace_state_metrics(scrape: Scrape) -> Iterator[Metric]:
    configured = GaugeMetricFamily(
        "dashboard_workspace_configured",
        "1 when the workspace has an API key (its background syncs run), else 0.",
        labels=["workspace"],
    )
    paused = GaugeMetricFamily(
        "dashboard_workspace_paused",
        "1 while SocialAPI refused the workspace's API key or billing (family says which) "
        "and background syncs are paused, else 0.",
        labels=["workspace", "family"],
    )
    for ws in scrape.workspaces:
        configured.add_metric([ws.slug], 1 if ws.configured else 0)
        paused.add_metric([ws.slug, ws.paused_family], 1 if ws.paused_family else 0)
    yield configured
    yield paused


def account_metrics(slugs: dict[int, str]) -> Iterator[Metric]:
    """Accounts per workspace, platform and status; every status of a platform present."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    rows = (
        SocialAccount.objects.order_by()
        .values("workspace_id", "platform", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        if row["workspace_id"] not in slugs:
            continue  # created while this scrape ran: in the next one
        key = (slugs[row["workspace_id"]], row["platform"])
        per_status = counts.setdefault(key, {status.value: 0 for status in AccountStatus})
        per_status[row["status"]] = row["n"]
    accounts = GaugeMetricFamily(
        "dashboard_accounts",
        "Connected social accounts by status, as of the last health sync or event.",
        labels=["workspace", "platform", "status"],
    )
    for (slug, platform_name), per_status in sorted(counts.items()):
        for status, n in per_status.items():
            accounts.add_metric([slug, platform_name, status], n)
    yield accounts


def storage_metrics(scrape: Scrape) -> Iterator[Metric]:
    """The latest storage figure of each workspace (1 query); no limit sample = unlimited."""
    ids = [ws.storage_id for ws in scrape.workspaces if ws.storage_id is not None]
    rows = {
        row["workspace_id"]: row
        for row in StorageSnapshot.objects.filter(pk__in=ids).values(
            "workspace_id", "used_bytes", "limit_bytes"
        )
    }
    used = GaugeMetricFamily(
        "dashboard_storage_used_bytes",
        "Media storage used, from the latest storage figure.",
        labels=["workspace"],
    )
    limit = GaugeMetricFamily(
        "dashboard_storage_limit_bytes",
        "The plan's media storage limit; absent when storage is unlimited.",
        labels=["workspace"],
    )
    for ws in scrape.workspaces:
        row = rows.get(ws.pk)
        if row is None:
            continue
        used.add_metric([ws.slug], row["used_bytes"])
        if row["limit_bytes"] >= 0:
            limit.add_metric([ws.slug], row["limit_bytes"])
    yield used
    yield limit


def usage_metrics(scrape: Scrape) -> Iterator[Metric]:
    """The latest monthly usage figures (1 query); no limit sample = unlimited."""
    ids = [ws.usage_id for ws in scrape.workspaces if ws.usage_id is not None]
    fields = [f"{resource}_{end}" for resource in USAGE_RESOURCES for end in ("used", "limit")]
    rows = {
        row["workspace_id"]: row
        for row in UsageSnapshot.objects.filter(pk__in=ids).values(
            "workspace_id", "period_end", *fields
        )
    }
    used = GaugeMetricFamily(
        "dashboard_usage_used",
        "Plan usage this billing period (posts, interactions) and now (brands, profile units).",
        labels=["workspace", "resource"],
    )
    limit = GaugeMetricFamily(
        "dashboard_usage_limit",
        "The plan's limit for each resource; absent when unlimited.",
        labels=["workspace", "resource"],
    )
    period_end = GaugeMetricFamily(
        "dashboard_usage_period_end_timestamp_seconds",
        "When the current billing period ends and monthly usage resets (Unix time).",
        labels=["workspace"],
    )
    for ws in scrape.workspaces:
        row = rows.get(ws.pk)
        if row is None:
            continue
        for resource in USAGE_RESOURCES:
            used.add_metric([ws.slug, resource], row[f"{resource}_used"])
            if row[f"{resource}_limit"] >= 0:
                limit.add_metric([ws.slug, resource], row[f"{resource}_limit"])
        if row["period_end"] is not None:
            period_end.add_metric([ws.slug], row["period_end"].timestamp())
    yield used
    yield limit
    yield period_end


def error_metrics(slugs: dict[int, str]) -> Iterator[Metric]:
    """Open groups and recorded events per family, from the groups table (1 query).

    The events counter is the sum of the groups' `event_count`: it only ever grows (a
    group's count is never lowered, and pruning old events keeps the groups), it is the
    same in every process, and it survives restarts, so `rate()` and `increase()` work.
    """
    families = [family.value for family in Family]
    open_groups: dict[str, dict[str, int]] = defaultdict(dict)
    events: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        ErrorGroup.objects.order_by()
        .values("workspace_id", "family")
        .annotate(
            open=Count("id", filter=Q(state=ErrorGroup.State.OPEN)), recorded=Sum("event_count")
        )
    )
    for row in rows:
        if row["workspace_id"] not in slugs:
            continue  # created while this scrape ran: in the next one
        slug = slugs[row["workspace_id"]]
        open_groups[slug][row["family"]] = row["open"]
        events[slug][row["family"]] = row["recorded"] or 0
    open_family = GaugeMetricFamily(
        "dashboard_error_groups_open",
        "Open error groups (not resolved or ignored) by family.",
        labels=["workspace", "family"],
    )
    recorded = CounterMetricFamily(
        "dashboard_error_events",
        "Error events recorded, from every source (dashboard calls, events log, ingest, "
        "webhooks), by family.",
        labels=["workspace", "family"],
    )
    for slug in sorted(slugs.values()):
        for family in sorted({*families, *open_groups[slug]}):
            open_family.add_metric([slug, family], open_groups[slug].get(family, 0))
            recorded.add_metric([slug, family], events[slug].get(family, 0))
    yield open_family
    yield recorded


def bulk_deletion_metrics(scrape: Scrape, slugs: dict[int, str]) -> Iterator[Metric]:
    """Jobs queued, running or cancelling, and their items (1 query)."""
    rows: dict[int, dict[str, Any]] = {
        row["workspace_id"]: dict(row)
        for row in BulkDeletion.objects.filter(status__in=BulkDeletion.ACTIVE_STATUSES)
        .order_by()
        .values("workspace_id")
        .annotate(
            jobs=Count("id"),
            heartbeat=Min("heartbeat_at", filter=Q(status=BulkDeletion.Status.RUNNING)),
            total=Sum("total_items"),
            deleted=Sum("deleted_count"),
            skipped=Sum("skipped_count"),
            failed=Sum("failed_count"),
        )
    }
    active = GaugeMetricFamily(
        "dashboard_bulk_deletions_active",
        "Bulk deletion jobs queued, running or cancelling.",
        labels=["workspace"],
    )
    items = GaugeMetricFamily(
        "dashboard_bulk_deletion_items",
        "Items of the active bulk deletion jobs: total, and deleted / skipped / failed so far.",
        labels=["workspace", "state"],
    )
    heartbeat = GaugeMetricFamily(
        "dashboard_bulk_deletion_heartbeat_age_seconds",
        "Seconds since the quietest running bulk deletion last reported progress.",
        labels=["workspace"],
    )
    for ws_id, slug in sorted(slugs.items(), key=lambda pair: pair[1]):
        row = rows.get(ws_id)
        active.add_metric([slug], row["jobs"] if row else 0)
        if row is None:
            continue
        for state in BULK_DELETION_STATES:
            items.add_metric([slug, state], row[state] or 0)
        if row["heartbeat"] is not None:
            heartbeat.add_metric([slug], _age(scrape.now, row["heartbeat"]))
    yield active
    yield items
    yield heartbeat


def sync_metrics(scrape: Scrape) -> Iterator[Metric]:
    """Age of each sync's last success, and the interval of those the dispatcher runs."""
    age = GaugeMetricFamily(
        "dashboard_sync_age_seconds",
        "Seconds since each background sync last succeeded; absent when it never has.",
        labels=["workspace", "kind"],
    )
    interval = GaugeMetricFamily(
        "dashboard_sync_interval_seconds",
        "How often each sync should run; present only for the syncs the dispatcher runs "
        "now (the workspace has an API key, and is not paused unless the sync runs anyway).",
        labels=["workspace", "kind"],
    )
    for ws in scrape.workspaces:
        for sync in SYNCS:
            runs = ws.configured and (not ws.is_paused or sync.runs_when_paused)
            for kind in sync.kinds:
                succeeded = getattr(ws, sync.success_stamp(kind))
                if succeeded is not None:
                    age.add_metric([ws.slug, kind], _age(scrape.now, succeeded))
                if runs:
                    seconds = sync_interval(ws, sync).total_seconds()
                    interval.add_metric([ws.slug, kind], seconds)
    yield age
    yield interval


def _age(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds())


# --- the Celery queue ------------------------------------------------------------------


def celery_queue_metrics() -> Iterator[Metric]:
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    depth = celery_queue_depth(queue=queue)
    yield GaugeMetricFamily(
        "dashboard_celery_broker_up",
        "1 when the Celery broker's queue could be read for this scrape, else 0.",
        value=0 if depth is None else 1,
    )
    if depth is not None:
        family = GaugeMetricFamily(
            "dashboard_celery_queue_depth",
            "Tasks waiting in the Celery queue (not yet taken by a worker).",
            labels=["queue"],
        )
        family.add_metric([queue], depth)
        yield family


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(DashboardCollector())
