"""Retrying the posts a broken account made fail: the confirmation, the job's progress,
and listing a post again after a retry whose outcome was unknown.

Every GET renders from stored data; the retries themselves are sent by a background job.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import account_get
from dashboard.access import WorkspaceRequest, workspace_view
from posts.forms import RetryConfirmForm
from posts.models import PostRetryJob
from posts.retry_jobs import (
    RetryPlanChanged,
    RetryRefused,
    failed_post_relist,
    post_retry_job_create,
    retry_plan,
)
from posts.selectors import failed_post_get, retry_job_get, retry_job_items, retry_progress


def _account_page(request: WorkspaceRequest, account_id: int) -> HttpResponseRedirect:
    return redirect("accounts:detail", request.workspace.slug, account_id)


@require_http_methods(["GET", "POST"])
@workspace_view(admin=True)
def retry_confirm(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    """Django-admin-style: what retrying would use (GET), then POST confirm → a job."""
    account = account_get(workspace=request.workspace, account_id=account_id)
    notice = ""
    if request.method == "POST":
        form = RetryConfirmForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Nothing was retried: confirm from the retry page.")
            return redirect("posts:retry", request.workspace.slug, account.pk)
        try:
            job = post_retry_job_create(
                account=account,
                expected_count=form.cleaned_data["expected_count"],
                user=request.user,
                request=request,
            )
        except RetryPlanChanged as exc:
            notice = str(exc)
        except RetryRefused as exc:
            messages.error(request, str(exc))
            if exc.job is not None:
                return redirect("posts:job", request.workspace.slug, exc.job.pk)
            return _account_page(request, account.pk)
        else:
            count = job.total_items
            messages.success(
                request,
                f"Retrying {count} post{'s' if count != 1 else ''} of {account.label}. It runs "
                "in the background: you can leave this page.",
            )
            return redirect("posts:job", request.workspace.slug, job.pk)
    running = PostRetryJob.objects.filter(
        account=account, status__in=PostRetryJob.ACTIVE_STATUSES
    ).first()
    ctx = {
        "account": account,
        "plan": retry_plan(account=account),
        "notice": notice,
        "running": running,
    }
    return render(request, "posts/confirm.html", ctx, status=409 if notice else 200)


@require_GET
@workspace_view()
def retry_job_page(request: WorkspaceRequest, retry_id: int) -> HttpResponse:
    """A retry's progress and each post's result; with htmx, only the progress region."""
    job = retry_job_get(workspace=request.workspace, job_id=retry_id)
    items = retry_job_items(job=job)
    ctx = {"job": job, "items": items, "progress": retry_progress(job=job, items=items)}
    if request.htmx:
        return render(request, "posts/job.html#progress", ctx)
    return render(request, "posts/job.html", ctx)


@require_POST
@workspace_view(admin=True)
def failed_post_relist_view(request: WorkspaceRequest, failed_post_id: int) -> HttpResponse:
    """After checking a post in SocialAPI: its retry did not happen, list it again."""
    failed = failed_post_get(workspace=request.workspace, failed_post_id=failed_post_id)
    if failed_post_relist(failed_post=failed, user=request.user, request=request):
        messages.success(
            request,
            f"“{failed.label}” is listed again: retry it from {failed.account.label}'s page.",
        )
    else:
        messages.info(request, f"“{failed.label}” was settled meanwhile; nothing changed.")
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(
        reverse("accounts:detail", args=[request.workspace.slug, failed.account_id])
    )
