"""Storage pages: the gauge and trend, the media library, bulk deletion jobs.

Every GET renders from stored data; the only upstream calls happen in background tasks
that the POST views enqueue.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.exports import csv_lines
from dashboard.live import moment_context
from dashboard.templatetags.dashboard_tags import bytes_human
from media import selectors
from media.bulk_deletion import (
    SelectionChanged,
    SelectionError,
    bulk_deletion_cancel,
    bulk_deletion_create,
    bulk_deletion_retry,
)
from media.filters import Selection
from media.forms import DeletionForm, MediaFilterForm
from media.library import media_library_sync_request
from media.models import MediaLibrary, StorageSnapshot
from media.storage import (
    REQUEST_DEBOUNCE_SECONDS,
    storage_snapshot_request,
    storage_snapshot_requested_at,
)
from socialapi import classify

LIBRARY_PAGE_SIZE = 50
JOBS_PAGE_SIZE = 25
# After Refresh, the gauge asks for the new figure every 2 s, this many times at most.
REFRESH_POLLS = 15


def _htmx_target(request: WorkspaceRequest) -> str:
    htmx = getattr(request, "htmx", None)
    return str(htmx.target or "") if htmx else ""


def _is_htmx(request: WorkspaceRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _moment_param(raw: str) -> datetime | None:
    """An aware time from a query parameter; None for anything else (naive, impossible
    dates such as 30 Feb, offsets of a day or more, garbage)."""
    try:
        moment = parse_datetime(raw)
    except ValueError:
        return None
    if moment is None or timezone.is_naive(moment):
        return None
    return moment


def _refresh_failure(
    library: MediaLibrary | None, after: datetime, latest_taken: datetime | None
) -> dict[str, str] | None:
    """What SocialAPI said when the newest try (after `after`, and after the newest
    figure) to take a figure failed; None when the newest try did not fail."""
    if library is None or library.snapshot_failed_at is None:
        return None
    if library.snapshot_failed_at < after:
        return None
    if latest_taken is not None and library.snapshot_failed_at <= latest_taken:
        return None  # a figure came after the failure
    code = library.snapshot_error_code or "unknown"
    return {
        "code": code,
        "family": str(classify(code, None).family),
        "request_id": library.snapshot_error_request_id,
    }


def _refresh_state(
    request: WorkspaceRequest, latest_taken: datetime | None, library: MediaLibrary | None
) -> dict[str, object]:
    """While a Refresh is pending: when it was asked for and how many polls are left;
    then its outcome (a fresh figure, SocialAPI's refusal, or no answer in time)."""
    after = _moment_param(request.GET.get("after", "") or "")
    if after is not None and after > timezone.now():
        after = None  # a Refresh is never asked for in the future
    try:
        polls = int(request.GET.get("polls", "0"))
    except ValueError:
        polls = 0
    if after is None:
        return {}
    failed = _refresh_failure(library, after, latest_taken)
    if failed is not None:
        return {"refresh_failed": failed}
    if latest_taken is not None and latest_taken >= after:
        return {"refresh_done": True}
    if polls >= REFRESH_POLLS:
        return {"refresh_gave_up": True}
    return {"refresh_after": after.isoformat(), "refresh_polls": polls + 1}


@require_GET
@workspace_view()
def storage_page(request: WorkspaceRequest) -> HttpResponse:
    """The gauge, trend, suggestions and library from one moment (dashboard.live): the
    banners above say the same figure."""
    workspace = request.workspace
    ctx: dict[str, object] = dict(moment_context(request, "media:storage"))
    latest = ctx["storage"]
    library = ctx["library"]
    assert latest is None or isinstance(latest, StorageSnapshot)
    assert library is None or isinstance(library, MediaLibrary)
    ctx.update(_refresh_state(request, latest.taken_at if latest else None, library))
    if _htmx_target(request) == "gauge":
        return render(request, "media/storage.html#gauge", ctx)
    jobs = selectors.bulk_deletions_recent(workspace=workspace)
    ctx.update(
        {
            "active_jobs": [job for job in jobs if job.is_active],
            "past_jobs": [job for job in jobs if not job.is_active],
        }
    )
    return render(request, "media/storage.html", ctx)


@require_POST
@workspace_view(admin=True)
def storage_refresh(request: WorkspaceRequest) -> HttpResponse:
    """Ask for a fresh figure now (in the background); the gauge polls until it lands.

    Within REQUEST_DEBOUNCE_SECONDS of the last request nothing new is asked: the gauge
    waits for that request's figure, or says when it was taken and when to ask again.
    """
    workspace = request.workspace
    asked_at = timezone.now() - timedelta(seconds=1)
    enqueued = storage_snapshot_request(workspace=workspace)
    now = timezone.now()
    moment = moment_context(request, "media:storage")
    latest = moment["storage"]
    requested = None if enqueued else storage_snapshot_requested_at(workspace=workspace)
    latest_taken = latest.taken_at if latest is not None else None
    note = ""
    if requested is not None:
        asked_at = requested - timedelta(seconds=1)
        if latest_taken is not None and latest_taken >= asked_at:
            age = max(1, int((now - latest_taken).total_seconds()))
            wait = max(1, math.ceil(REQUEST_DEBOUNCE_SECONDS - (now - requested).total_seconds()))
            note = f"A figure was taken {age} s ago; refresh again in {wait} s."
    # SocialAPI refused the newest try (an outage): say so rather than "taken N s ago".
    failed = _refresh_failure(moment["library"], asked_at, latest_taken)
    if not _is_htmx(request):
        if failed is not None:
            messages.warning(
                request,
                "No fresh figure: SocialAPI did not give one"
                + (f" (request id {failed['request_id']})" if failed["request_id"] else "")
                + ". The figure shown is the last one it gave; the dashboard keeps asking.",
            )
        else:
            messages.info(
                request,
                note
                or "Asking SocialAPI for a fresh storage figure. It shows here in a few seconds.",
            )
        return redirect("media:storage", workspace.slug)
    ctx: dict[str, object] = {**moment, "refresh_note": "" if failed else note}
    if failed is not None:
        ctx["refresh_failed"] = failed
    elif not note and (latest_taken is None or latest_taken < asked_at):
        ctx.update({"refresh_after": asked_at.isoformat(), "refresh_polls": 1})
    return render(request, "media/storage.html#gauge", ctx)


@require_GET
@workspace_view()
def library_page(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    form = MediaFilterForm(request.GET)
    form.is_valid()  # invalid fields are ignored and shown as errors
    media_filter = form.media_filter()
    items = selectors.media_list(
        workspace=workspace, media_filter=media_filter, sort=form.sort_key()
    )
    page = Paginator(items, LIBRARY_PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        **moment_context(request, "media:library"),
        "form": form,
        "media_filter": media_filter,
        "sort": form.sort_key(),
        "page": page,
    }
    if _htmx_target(request) == "library-results":
        return render(request, "media/library.html#results", ctx)
    return render(request, "media/library.html", ctx)


@require_POST
@workspace_view(admin=True)
def library_sync(request: WorkspaceRequest) -> HttpResponse:
    media_library_sync_request(workspace=request.workspace)
    messages.info(
        request,
        "Syncing the media library with SocialAPI. Large libraries take a minute or two; "
        "the figures at the top of this page update by themselves when it is done.",
    )
    return redirect("media:library", request.workspace.slug)


def _back_to_library(request: WorkspaceRequest, form: DeletionForm) -> HttpResponse:
    url = reverse("media:library", args=[request.workspace.slug])
    params = form.media_filter().as_params() if hasattr(form, "cleaned_data") else {}
    return redirect(f"{url}?{urlencode(params)}" if params else url)


@require_POST
@workspace_view(admin=True)
def bulk_delete(request: WorkspaceRequest) -> HttpResponse:
    """Django-admin-style two steps: the selection → a confirm page → POST confirm → a job."""
    workspace = request.workspace
    form = DeletionForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was deleted: {errors}")
        return _back_to_library(request, form)
    plan = form.cleaned_data.get("confirm") or ""
    selection = form.selection(leave_out_in_use=plan == "without_in_use")
    notice = ""
    if plan:
        expected = form.cleaned_data.get(
            "expected_without_in_use" if plan == "without_in_use" else "expected_count"
        )
        try:
            job = bulk_deletion_create(
                workspace=workspace,
                selection=selection,
                user=request.user,
                expected_count=expected,
                request=request,
            )
        except SelectionChanged as exc:
            notice = (
                f"The library changed while you were deciding: the selection now holds {exc.count} "
                "files. Check the figures below and confirm again."
            )
            selection = form.selection(leave_out_in_use=False)
        except SelectionError as exc:
            messages.error(request, str(exc))
            return _back_to_library(request, form)
        else:
            messages.success(
                request,
                f"Deleting {job.total_items} file{'s' if job.total_items != 1 else ''} "
                f"({bytes_human(job.total_bytes)}). It runs in the background: "
                "you can leave this page.",
            )
            return redirect("media:job", workspace.slug, job.pk)
    totals = selectors.media_selection_totals(workspace=workspace, selection=selection)
    preview = list(
        selectors.media_selection(workspace=workspace, selection=selection).order_by(
            "-size_bytes", "id"
        )[: selectors.PREVIEW_ITEMS]
    )
    back_url = reverse("media:library", args=[workspace.slug])
    if selection.filter is not None and selection.filter.as_params():
        back_url += "?" + urlencode(selection.filter.as_params())
    ctx = {
        "form": form,
        "back_url": back_url,
        "more": max(0, totals.count - len(preview)),
        "selection": selection,
        "totals": totals,
        "preview": preview,
        "description": selection.describe(totals.count),
        "notice": notice,
        "hidden": _selection_fields(form, selection),
    }
    return render(request, "media/confirm.html", ctx, status=409 if notice else 200)


def _selection_fields(form: DeletionForm, selection: Selection) -> list[tuple[str, str]]:
    """The selection as hidden fields, so the confirm POST means exactly the same thing."""
    if selection.filter is not None:
        return [("scope", "all"), *selection.filter.as_params().items()]
    return [("scope", "ids")] + [("media_ids", str(pk)) for pk in selection.ids]


@require_GET
@workspace_view()
def jobs_page(request: WorkspaceRequest) -> HttpResponse:
    jobs = selectors.bulk_deletions_all(workspace=request.workspace)
    page = Paginator(jobs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "media/jobs.html", {"page": page})


@require_GET
@workspace_view()
def job_page(request: WorkspaceRequest, job_id: int) -> HttpResponse:
    """A job's progress; with htmx, only the progress region (the poll: two queries)."""
    job = selectors.bulk_deletion_get(workspace=request.workspace, job_id=job_id)
    outcome = selectors.bulk_deletion_outcome(job=job)
    ctx = {
        "job": job,
        "outcome": outcome,
        "progress": selectors.bulk_deletion_progress(
            job=job, not_sent=outcome.not_sent if outcome else 0
        ),
        "problems": selectors.bulk_deletion_problems(job=job),
        "problem_total": outcome.problems if outcome else job.skipped_count + job.failed_count,
        "compact": request.GET.get("compact") == "1",
    }
    if _is_htmx(request):
        response = render(request, "media/job.html#progress", ctx)
        if not job.is_active:
            # The gauge and library listen for this to refresh once the job has ended.
            trigger_client_event(response, "storage-changed")
        return response
    return render(request, "media/job.html", ctx)


@require_POST
@workspace_view(admin=True)
def job_cancel(request: WorkspaceRequest, job_id: int) -> HttpResponse:
    job = selectors.bulk_deletion_get(workspace=request.workspace, job_id=job_id)
    if bulk_deletion_cancel(job=job, user=request.user, request=request):
        if job.status == job.Status.CANCELLING:
            messages.info(
                request,
                "Cancelling: no new files will be sent; the few already on their way finish.",
            )
        else:  # no runner was at work: closed at once, and the page says how it ended
            messages.info(request, "Cancelled.")
    else:
        messages.warning(request, "This deletion had already ended; nothing to cancel.")
    return redirect("media:job", request.workspace.slug, job.pk)


@require_POST
@workspace_view(admin=True)
def job_retry(request: WorkspaceRequest, job_id: int) -> HttpResponse:
    job = selectors.bulk_deletion_get(workspace=request.workspace, job_id=job_id)
    count = bulk_deletion_retry(job=job, user=request.user, request=request)
    if count:
        messages.success(request, f"Sending {count} file{'s' if count != 1 else ''} again.")
    else:
        messages.warning(
            request, "Nothing to retry: the deletion is still running or nothing failed."
        )
    return redirect("media:job", request.workspace.slug, job.pk)


@require_GET
@workspace_view()
def job_problems_csv(request: WorkspaceRequest, job_id: int) -> HttpResponse:
    """Every skipped and failed file of a job, with the reason and request id."""
    job = selectors.bulk_deletion_get(workspace=request.workspace, job_id=job_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deletion-{job.pk}-problems.csv"'
    header = ["media_id", "filename", "size_bytes", "state", "code", "reason", "request_id"]
    items = selectors.bulk_deletion_problems_all(job=job).iterator(chunk_size=1000)
    rows = (
        [
            item.media_upstream_id,
            item.filename,
            item.size_bytes,
            item.state,
            item.code,
            item.reason,
            item.request_id,
        ]
        for item in items
    )
    for line in csv_lines([header, *rows]):
        response.write(line)
    return response
