"""Errors pages inside a workspace: triage list, group detail, actions, banners, bundle."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.audit import audit_record
from dashboard.live import moment_context
from events.banners import banner_dismiss, banner_restore, banners_signature
from events.bundle import diagnostic_bundle_build
from events.fixes import fix_for
from events.forms import (
    FAMILY_LABELS,
    KNOWN_CODES,
    PERIOD_LABELS,
    BannerDismissForm,
    BannerRestoreForm,
    ErrorFilterForm,
    GroupStateForm,
    NoteForm,
)
from events.models import ErrorGroup
from events.selectors import (
    error_group_accounts,
    error_group_activity,
    error_group_events,
    error_group_get,
    error_groups_page,
    event_sync_state,
)
from events.triage import TriageError, error_group_note_add, error_group_state_set

STATE_DONE = {
    ErrorGroup.State.RESOLVED: "Resolved. It reopens by itself if the error happens again.",
    ErrorGroup.State.IGNORED: "Ignored. New events are still counted, but it stays out of the "
    "open list.",
    ErrorGroup.State.OPEN: "Reopened.",
}


def _safe_next(request: WorkspaceRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return default


def filter_choices() -> dict[str, object]:
    return {
        "family_labels": FAMILY_LABELS,
        "period_labels": PERIOD_LABELS,
        "known_codes": KNOWN_CODES,
    }


@require_GET
@workspace_view()
def error_list(request: WorkspaceRequest) -> HttpResponse:
    group_id = request.GET.get("group", "")
    if group_id.isdigit():  # old links (the overview) point at ?group=<id>
        return redirect("events:group", request.workspace.slug, int(group_id))
    form = ErrorFilterForm(request.GET)
    filters = form.filters()
    ctx = {
        "form": form,
        "filters": filters,
        "sync": event_sync_state(workspace=request.workspace),
        "page": error_groups_page(
            workspace=request.workspace,
            filters=filters,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        ),
        **filter_choices(),
    }
    if request.htmx and request.htmx.target == "error-results":
        return render(request, "events/errors.html#results", ctx)
    return render(request, "events/errors.html", ctx)


def _group_context(
    request: WorkspaceRequest, group_id: int, *, before: str | None, note_form: NoteForm
) -> dict[str, object]:
    group, events, older = error_group_events(
        workspace=request.workspace, group_id=group_id, before=before
    )
    return {
        "group": group,
        "fix": fix_for(family=group.family, code=group.code),
        "events": events,
        "older": older,
        "newest_first_page": not before,
        "activity": error_group_activity(group=group),
        "note_form": note_form,
    }


@require_GET
@workspace_view()
def group_detail(request: WorkspaceRequest, group_id: int) -> HttpResponse:
    ctx = _group_context(request, group_id, before=request.GET.get("before"), note_form=NoteForm())
    if request.htmx and request.htmx.target == "group-events":
        return render(request, "events/group.html#events", ctx)
    return render(request, "events/group.html", ctx)


@require_GET
@workspace_view()
def group_accounts(request: WorkspaceRequest, group_id: int) -> HttpResponse:
    group = error_group_get(workspace=request.workspace, group_id=group_id)
    ctx = {
        "group": group,
        "fix": fix_for(family=group.family, code=group.code),
        "rows": error_group_accounts(group=group),
    }
    return render(request, "events/group_accounts.html", ctx)


@require_POST
@workspace_view(triage=True)
def group_state(request: WorkspaceRequest, group_id: int) -> HttpResponse:
    group = error_group_get(workspace=request.workspace, group_id=group_id)  # 404 first
    url = reverse("events:group", args=[request.workspace.slug, group.pk])
    form = GroupStateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose open, resolved or ignored.")
        return HttpResponseRedirect(url)
    try:
        error_group_state_set(
            workspace=request.workspace,
            group_id=group.pk,
            state=form.cleaned_data["state"],
            user=request.user,
            request=request,
        )
    except ErrorGroup.DoesNotExist:
        raise Http404("No such error group") from None
    messages.success(request, STATE_DONE[ErrorGroup.State(form.cleaned_data["state"])])
    return HttpResponseRedirect(_safe_next(request, url))


@require_POST
@workspace_view(triage=True)
def group_note(request: WorkspaceRequest, group_id: int) -> HttpResponse:
    group = error_group_get(workspace=request.workspace, group_id=group_id)
    url = reverse("events:group", args=[request.workspace.slug, group.pk]) + "#history"
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            error_group_note_add(
                workspace=request.workspace,
                group_id=group.pk,
                user=request.user,
                body=form.cleaned_data["body"],
                request=request,
            )
        except TriageError as exc:
            form.add_error("body", str(exc))
    if form.errors:
        return render(
            request,
            "events/group.html",
            _group_context(request, group.pk, before=None, note_form=form),
            status=400,
        )
    messages.success(request, "Note added.")
    return HttpResponseRedirect(url)


@require_GET
@workspace_view()
def banners(request: WorkspaceRequest) -> HttpResponse:
    """The banners region alone (pages refresh it through dashboard.live's poller).

    Given the digest of what it shows (`sig`), the answer is 204 while nothing changed
    (htmx swaps nothing), so a banner someone expanded stays open.
    """
    ctx = moment_context(request, None)
    if request.htmx and request.GET.get("sig") == banners_signature(list(ctx["banners"])):
        return HttpResponse(status=204)
    return render(request, "includes/_banners.html", ctx)


def _banners_answer(request: WorkspaceRequest) -> HttpResponse:
    """After a dismissal or a restore: the region again (htmx), or back to the page."""
    if request.htmx:
        return render(request, "includes/_banners.html", moment_context(request, None))
    return HttpResponseRedirect(
        _safe_next(request, reverse("overview", args=[request.workspace.slug]))
    )


@require_POST
@workspace_view()
def banner_dismiss_view(request: WorkspaceRequest) -> HttpResponse:
    """Hide a banner for this person only (any signed-in person may: a view preference)."""
    form = BannerDismissForm(request.POST)
    if form.is_valid():
        banner_dismiss(
            workspace=request.workspace,
            user=request.user,
            key=form.cleaned_data["banner"],
            snooze_minutes=form.cleaned_data["snooze"],
        )
    return _banners_answer(request)


@require_POST
@workspace_view()
def banner_restore_view(request: WorkspaceRequest) -> HttpResponse:
    """Show again a banner this person hid (their own dismissal: nobody else's changes)."""
    form = BannerRestoreForm(request.POST)
    if form.is_valid():
        banner_restore(
            workspace=request.workspace, user=request.user, key=form.cleaned_data["banner"]
        )
    return _banners_answer(request)


@require_GET
@workspace_view()
def bundle_download(request: WorkspaceRequest) -> HttpResponse:
    """The diagnostic bundle as a JSON file (audited: it is meant to leave the building)."""
    bundle = diagnostic_bundle_build(workspace=request.workspace)
    audit_record(
        action="support.bundle",
        workspace=request.workspace,
        request=request,
        target_label=request.workspace.slug,
        detail={"open_groups": len(bundle["open_groups"])},
    )
    response = HttpResponse(
        json.dumps(bundle, indent=2, cls=DjangoJSONEncoder, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    filename = f"diagnostic-{request.workspace.slug}-{timezone.now():%Y%m%d-%H%M}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
