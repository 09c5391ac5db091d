"""The media library mirror: synced from `GET /v1/media`, summarised for the storage page."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from dashboard.models import Workspace
from dashboard.upstream import upstream, upstream_ok
from media.models import BulkDeletion, MediaItem, MediaLibrary, media_kind
from socialapi import MediaItem as UpstreamMedia
from socialapi import SocialAPI, SocialAPIError

log = logging.getLogger(__name__)

PAGE_SIZE = 100
# A library of 1,000,000 files is 10,000 pages; more means upstream's cursor is looping.
MAX_PAGES = 10_000
# A sync that has not finished after this long is presumed dead and may be restarted.
SYNC_LOCK_MINUTES = 30
LARGEST_LISTED = 10
IN_USE_CHUNK = 500


class SyncAborted(Exception):
    """The sync stopped before seeing the whole library; the mirror keeps its old rows."""


def media_library_get(*, workspace: Workspace) -> MediaLibrary:
    library, _ = MediaLibrary.objects.get_or_create(workspace=workspace)
    return library


def _rows(workspace: Workspace, items: Iterable[UpstreamMedia], stamp: datetime) -> list[MediaItem]:
    rows: dict[str, MediaItem] = {}
    for item in items:
        if not item.id:
            continue
        rows[item.id] = MediaItem(
            workspace=workspace,
            upstream_id=item.id[:100],
            filename=(item.filename or item.id)[:500],
            content_type=(item.content_type or "application/octet-stream")[:100],
            size_bytes=max(0, item.size_bytes),
            status=(item.status or "ready")[:20],
            url=(item.url or "")[:2000],
            created_at=item.created_at or stamp,
            synced_at=stamp,
        )
    return list(rows.values())


def _upsert(rows: list[MediaItem]) -> None:
    """One INSERT … ON CONFLICT UPDATE per page; `in_use` is left to the posts scan."""
    if rows:
        MediaItem.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["workspace", "upstream_id"],
            update_fields=[
                "filename",
                "content_type",
                "size_bytes",
                "status",
                "url",
                "created_at",
                "synced_at",
            ],
        )


def _pull_media(client: SocialAPI, workspace: Workspace, stamp: datetime) -> int:
    """Upsert every upstream page; returns how many items were seen.

    Not `client.media_iter`: it stops quietly when a cursor repeats, and a listing cut
    short that way would look complete and delete the rest of the mirror. Here it aborts.
    """
    cursor: str | None = None
    seen_cursors: set[str] = set()
    total = 0
    for _ in range(MAX_PAGES):
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/media
        page = client.media_page(cursor=cursor, limit=PAGE_SIZE)
        rows = _rows(workspace, page.items, stamp)
        _upsert(rows)
        total += len(rows)
        cursor = page.next_cursor
        if not cursor:
            return total
        if cursor in seen_cursors:
            raise SyncAborted("upstream returned the same cursor twice")
        seen_cursors.add(cursor)
    raise SyncAborted(f"more than {MAX_PAGES} pages")


def _scheduled_media_ids(client: SocialAPI) -> set[str] | None:
    """Media ids attached to scheduled posts; None when upstream would not say."""
    try:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/posts?status=scheduled
        return {
            media_id
            for post in client.posts_iter(status="scheduled")
            for media_id in post.media_ids
        }
    except SocialAPIError as exc:
        log.info("scheduled posts unavailable for media in-use marks: %s", exc)
        return None


def _mark_in_use(workspace: Workspace, ids: set[str] | None) -> None:
    items = MediaItem.objects.filter(workspace=workspace)
    if ids is None:
        items.exclude(in_use__isnull=True).update(in_use=None)
        return
    wanted = sorted(ids)
    with transaction.atomic():
        items.exclude(in_use=False).update(in_use=False)
        for start in range(0, len(wanted), IN_USE_CHUNK):
            items.filter(upstream_id__in=wanted[start : start + IN_USE_CHUNK]).update(in_use=True)


def media_library_summarise(*, workspace: Workspace) -> MediaLibrary:
    """Recompute the breakdown, the largest files and the unused ones from the mirror."""
    items = MediaItem.objects.filter(workspace=workspace)
    by_type = list(
        items.values("content_type")
        .annotate(count=Count("id"), bytes=Sum("size_bytes"))
        .order_by("-bytes", "content_type")
    )
    largest = list(
        items.order_by("-size_bytes", "id").values(
            "id", "upstream_id", "filename", "content_type", "size_bytes"
        )[:LARGEST_LISTED]
    )
    use = items.aggregate(
        n_in_use=Count("id", filter=Q(in_use=True)),
        n_unknown=Count("id", filter=Q(in_use__isnull=True)),
        n_unused=Count("id", filter=Q(in_use=False)),
        unused_bytes=Sum("size_bytes", filter=Q(in_use=False)),
    )
    library = media_library_get(workspace=workspace)
    library.breakdown = [
        {
            "content_type": row["content_type"],
            "kind": media_kind(row["content_type"]),
            "count": row["count"],
            "bytes": int(row["bytes"] or 0),
        }
        for row in by_type
    ]
    library.largest = largest
    library.item_count = sum(row["count"] for row in by_type)
    library.total_bytes = sum(int(row["bytes"] or 0) for row in by_type)
    library.in_use_count = use["n_in_use"]
    library.unused_count = use["n_unused"]
    library.unused_bytes = int(use["unused_bytes"] or 0)
    library.in_use_known = library.item_count > 0 and use["n_unknown"] == 0
    library.summarised_at = timezone.now()
    library.save(
        update_fields=[
            "breakdown",
            "largest",
            "item_count",
            "total_bytes",
            "in_use_count",
            "unused_count",
            "unused_bytes",
            "in_use_known",
            "summarised_at",
        ]
    )
    return library


def _lock(workspace: Workspace, now: datetime) -> bool:
    media_library_get(workspace=workspace)
    stale = now - timedelta(minutes=SYNC_LOCK_MINUTES)
    return bool(
        MediaLibrary.objects.filter(workspace=workspace)
        .filter(Q(sync_started_at__isnull=True) | Q(sync_started_at__lt=stale))
        .update(sync_started_at=now)
    )


def media_library_sync(*, workspace: Workspace) -> bool:
    """Mirror the whole upstream library; False when another sync is already running.

    Pages are upserted as they arrive; media the finished listing did not contain is
    deleted from the mirror. A failed or cut-short sync deletes nothing. Raises
    SocialAPIError (already recorded as an error event) after noting it on the library.
    """
    stamp = timezone.now()
    if not _lock(workspace, stamp):
        return False
    client = upstream(workspace)
    try:
        try:
            seen = _pull_media(client, workspace, stamp)
        except SocialAPIError as exc:
            MediaLibrary.objects.filter(workspace=workspace).update(
                sync_error_code=exc.code[:100],
                sync_error_request_id=(exc.request_id or "")[:64],
                sync_error_at=timezone.now(),
            )
            raise
        except SyncAborted as exc:
            log.warning("media sync of workspace %s aborted: %s", workspace.pk, exc)
            MediaLibrary.objects.filter(workspace=workspace).update(
                sync_error_code="sync.cursor_loop",
                sync_error_request_id="",
                sync_error_at=timezone.now(),
            )
            return False
        upstream_ok(workspace)
        gone, _ = MediaItem.objects.filter(workspace=workspace, synced_at__lt=stamp).delete()
        _mark_in_use(workspace, _scheduled_media_ids(client))
        media_library_summarise(workspace=workspace)
        MediaLibrary.objects.filter(workspace=workspace).update(
            synced_at=timezone.now(),
            sync_error_code="",
            sync_error_request_id="",
            sync_error_at=None,
        )
        Workspace.objects.filter(pk=workspace.pk).update(media_synced_at=timezone.now())
        log.info("media sync of workspace %s: %d items, %d removed", workspace.pk, seen, gone)
        return True
    finally:
        MediaLibrary.objects.filter(workspace=workspace, sync_started_at=stamp).update(
            sync_started_at=None
        )


def media_library_sync_request(*, workspace: Workspace) -> None:
    """Enqueue a sync after this transaction commits (a person pressed "Sync now")."""
    from media.tasks import media_library_sync as task

    workspace_id = workspace.pk
    transaction.on_commit(lambda: task.delay(workspace_id))


def media_library_follow(
    *, workspace: Workspace, used: int, count: int | None, now: datetime | None = None
) -> bool:
    """The mirror follows the storage figure: when the figure's file count or bytes
    disagree with the mirror, resync it. True when a resync was asked for.

    Once per distinct figure (a figure the listing can never match — upstream counting
    files it does not list — asks once, not every watch), at most every
    MEDIA_RESYNC_SECONDS, and never while a sync runs. A conditional UPDATE claims it,
    so two watches at once ask once.
    """
    if count is None:
        return False  # a figure from headers: no file count to compare
    now = now or timezone.now()
    library = media_library_get(workspace=workspace)
    if library.synced_at is None and library.sync_started_at is None:
        return False  # never synced yet: the first sync is on its way (on schedule)
    if (library.item_count, library.total_bytes) == (count, used):
        return False
    if BulkDeletion.objects.filter(
        workspace=workspace, status__in=BulkDeletion.ACTIVE_STATUSES
    ).exists():
        return False  # the job keeps the mirror and summarises it when it ends
    figure = f"{count}/{used}"
    cutoff = now - timedelta(seconds=max(1, int(settings.MEDIA_RESYNC_SECONDS)))
    claimed = (
        MediaLibrary.objects.filter(workspace=workspace, sync_started_at__isnull=True)
        .exclude(resync_figure=figure)
        .filter(Q(resync_requested_at__isnull=True) | Q(resync_requested_at__lt=cutoff))
        .update(resync_requested_at=now, resync_figure=figure)
    )
    if not claimed:
        return False
    log.info(
        "storage figure of workspace %s (%s files, %s bytes) disagrees with the mirror "
        "(%s files, %s bytes): resyncing",
        workspace.pk,
        count,
        used,
        library.item_count,
        library.total_bytes,
    )
    media_library_sync_request(workspace=workspace)
    return True
