"""Reads for the storage pages, always scoped to one workspace. Query counts are noted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Greatest, TruncHour
from django.http import Http404
from django.utils import timezone

from dashboard.models import Workspace
from media.filters import SORTS, MediaFilter, Selection
from media.models import (
    CANCELLED_CODE,
    BulkDeletion,
    BulkDeletionItem,
    MediaItem,
    MediaLibrary,
    StorageSnapshot,
)

TREND_DAYS = 30
DETAIL_HOURS = 24  # every figure of the last day is drawn as it stood
PROBLEMS_SHOWN = 20
PREVIEW_ITEMS = 8


@dataclass(frozen=True)
class StorageFigures:
    """The latest snapshot and the points of the trend, oldest first."""

    latest: StorageSnapshot | None
    points: list[tuple[datetime, int, int]]  # (moment, used, limit)


def storage_figures(
    *,
    workspace: Workspace,
    days: int = TREND_DAYS,
    now: datetime | None = None,
    latest: StorageSnapshot | None = None,
) -> StorageFigures:
    """The latest figure (or the one given: the page's moment), and the trend of the
    last `days`: every figure of the last DETAIL_HOURS as it stood (from when it was
    first seen to when it was last confirmed, so a deletion shows as a drop), and
    hourly peaks before that.

    A busy workspace has a row per changed figure (hundreds a day during deletions):
    the database folds the older ones into at most one point per hour, keeping each
    hour's peak so no spike is lost.
    """
    now = now or timezone.now()
    since = now - timedelta(days=days)
    detail_from = now - timedelta(hours=DETAIL_HOURS)
    snapshots = StorageSnapshot.objects.filter(workspace=workspace)
    if latest is None:
        latest = snapshots.order_by("-taken_at", "-id").first()
    if latest is None:
        return StorageFigures(latest=None, points=[])
    hourly = (
        snapshots.filter(taken_at__gte=since, taken_at__lt=detail_from)
        .annotate(hour=TruncHour("taken_at", tzinfo=UTC))
        .values("hour")
        .annotate(
            used=Max(Greatest("used_bytes", Coalesce("first_bytes", "used_bytes"))),
            limit=Max("limit_bytes"),
            first=Min("since"),
        )
        .order_by("hour")
        .values_list("hour", "used", "limit", "first")
    )
    points: list[tuple[datetime, int, int]] = []
    for index, (hour, used, limit, first) in enumerate(hourly):
        if index == 0 and since < first < hour:
            points.append((first, used, limit))  # the figure already stood before that hour
        points.append((hour, used, limit))
    recent = (
        snapshots.filter(taken_at__gte=detail_from)
        .order_by("since", "id")
        .values_list("since", "taken_at", "first_bytes", "used_bytes", "limit_bytes")
    )
    for first, last, began, used, limit in recent:
        start = max(first, since)
        points.append((start, began if began is not None else used, limit))
        if last > start:
            points.append((last, used, limit))  # confirmed (or merged down) until then
    # The line ends on the latest figure itself, at its own moment.
    end = (latest.taken_at, latest.used_bytes, latest.limit_bytes)
    latest_hour = latest.taken_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if latest.taken_at < since or (points and points[-1] == end):
        pass
    elif points and points[-1][0] == latest_hour and points[-1][1] == latest.used_bytes:
        points[-1] = end  # that hour's peak is this figure: at its own moment
    else:
        points = [p for p in points if p[0] <= latest.taken_at]
        points.append(end)
    return StorageFigures(latest=latest, points=points)


def media_library_summary(*, workspace: Workspace) -> MediaLibrary | None:
    """The precomputed breakdown, largest and unused files (one query)."""
    return MediaLibrary.objects.filter(workspace=workspace).first()


def media_list(
    *, workspace: Workspace, media_filter: MediaFilter, sort: str
) -> QuerySet[MediaItem]:
    """The library table, filtered and sorted (paginate it: count + one page)."""
    items = MediaItem.objects.filter(workspace=workspace)
    return media_filter.apply(items, now=timezone.now()).order_by(*SORTS.get(sort, SORTS["-size"]))


@dataclass(frozen=True)
class SelectionTotals:
    count: int
    bytes: int
    in_use: int
    unknown_use: int
    in_running_jobs: int = 0  # already waiting in an unfinished deletion

    @property
    def count_without_in_use(self) -> int:
        return self.count - self.in_use


def media_selection(
    *, workspace: Workspace, selection: Selection, now: datetime | None = None
) -> QuerySet[MediaItem]:
    """The mirror rows a selection means, in this workspace only."""
    items = MediaItem.objects.filter(workspace=workspace)
    return selection.apply(items, now=now or timezone.now())


def media_selection_totals(
    *, workspace: Workspace, selection: Selection, now: datetime | None = None
) -> SelectionTotals:
    """Count, bytes, how many are used by scheduled posts and how many already wait in a
    running deletion (one query)."""
    running = media_ids_in_active_jobs(workspace=workspace)
    totals = media_selection(workspace=workspace, selection=selection, now=now).aggregate(
        n=Count("id"),
        total_bytes=Sum("size_bytes"),
        n_in_use=Count("id", filter=Q(in_use=True)),
        n_unknown=Count("id", filter=Q(in_use__isnull=True)),
        n_running=Count("id", filter=Q(upstream_id__in=running)),
    )
    return SelectionTotals(
        count=totals["n"],
        bytes=int(totals["total_bytes"] or 0),
        in_use=totals["n_in_use"],
        unknown_use=totals["n_unknown"],
        in_running_jobs=totals["n_running"],
    )


def bulk_deletions_recent(*, workspace: Workspace, limit: int = 5) -> list[BulkDeletion]:
    return list(
        BulkDeletion.objects.filter(workspace=workspace)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def bulk_deletions_all(*, workspace: Workspace) -> QuerySet[BulkDeletion]:
    return (
        BulkDeletion.objects.filter(workspace=workspace)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def bulk_deletion_get(*, workspace: Workspace, job_id: int) -> BulkDeletion:
    """One job of this workspace (404 for any other workspace's job)."""
    job = (
        BulkDeletion.objects.filter(workspace=workspace, pk=job_id)
        .select_related("created_by")
        .first()
    )
    if job is None:
        raise Http404("No such bulk deletion")
    return job


def bulk_deletion_problems(
    *, job: BulkDeletion, limit: int = PROBLEMS_SHOWN
) -> list[BulkDeletionItem]:
    """The latest skipped and failed items with their reasons (one query); the files a
    cancel left unsent are not problems (the outcome counts them)."""
    if not (job.skipped_count or job.failed_count):
        return []
    return list(
        BulkDeletionItem.objects.filter(
            job=job, state__in=[BulkDeletionItem.State.SKIPPED, BulkDeletionItem.State.FAILED]
        )
        .exclude(code=CANCELLED_CODE)
        .order_by("-finished_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class Outcome:
    """How an ended job ended, for its summary: what a cancel left unsent, what was
    skipped for a reason, and the storage figure now."""

    not_sent: int
    skipped: int
    failed: int
    storage: StorageSnapshot | None

    @property
    def problems(self) -> int:
        return self.skipped + self.failed


def bulk_deletion_outcome(*, job: BulkDeletion) -> Outcome | None:
    """None while the job runs; else its outcome (at most two queries)."""
    if job.is_active:
        return None
    not_sent = 0
    if job.status == BulkDeletion.Status.CANCELLED and job.skipped_count:
        not_sent = BulkDeletionItem.objects.filter(
            job=job, state=BulkDeletionItem.State.SKIPPED, code=CANCELLED_CODE
        ).count()
    storage = (
        StorageSnapshot.objects.filter(workspace_id=job.workspace_id)
        .order_by("-taken_at", "-id")
        .first()
    )
    return Outcome(
        not_sent=not_sent,
        skipped=max(0, job.skipped_count - not_sent),
        failed=job.failed_count,
        storage=storage,
    )


def bulk_deletion_problems_all(*, job: BulkDeletion) -> QuerySet[BulkDeletionItem]:
    return BulkDeletionItem.objects.filter(
        job=job, state__in=[BulkDeletionItem.State.SKIPPED, BulkDeletionItem.State.FAILED]
    ).order_by("state", "id")


@dataclass(frozen=True)
class Progress:
    """What the progress region shows, derived from the job row alone (no query)."""

    percent: float
    done: int
    remaining: int
    elapsed: timedelta | None
    eta: timedelta | None


def bulk_deletion_progress(
    *, job: BulkDeletion, now: datetime | None = None, not_sent: int = 0
) -> Progress:
    """`not_sent`: files a cancel left unsent (from the outcome): not counted as done."""
    now = now or timezone.now()
    done = job.done_count - not_sent
    percent = 100.0 * done / job.total_items if job.total_items else 100.0
    elapsed = None
    eta = None
    if job.started_at is not None:
        elapsed = (job.finished_at or now) - job.started_at
        seconds = elapsed.total_seconds()
        if job.is_active and done and seconds > 0 and job.remaining_count:
            eta = timedelta(seconds=job.remaining_count * seconds / done)
    return Progress(
        percent=percent,
        done=done,
        remaining=job.remaining_count + not_sent,
        elapsed=elapsed,
        eta=eta,
    )


def media_ids_in_active_jobs(*, workspace: Workspace) -> QuerySet[BulkDeletionItem, Any]:
    """Upstream ids of the files still waiting in this workspace's unfinished deletions
    (a subquery: the database reads it once, and it is empty while no job runs)."""
    return BulkDeletionItem.objects.filter(
        job__workspace=workspace,
        job__status__in=BulkDeletion.ACTIVE_STATUSES,
        state__in=[BulkDeletionItem.State.PENDING, BulkDeletionItem.State.IN_FLIGHT],
    ).values("media_upstream_id")
