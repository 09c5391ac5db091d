"""Accounts pages inside a workspace: the health list, one account, and the admin actions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import CredentialsForm
from accounts.links import reconnect_link_create, reconnect_link_revoke
from accounts.reconnect import ReconnectNotStarted, reconnect_start
from accounts.selectors import (
    AccountFilters,
    account_facets,
    account_get,
    account_page,
    account_transitions,
    reconnect_link_get,
    reconnect_links_open,
    reconnect_links_used,
    webhook_delivery_page,
)
from accounts.services import (
    account_alerts_preference_set,
    account_check_request,
    account_credentials_update,
    account_disconnect,
)
from dashboard.access import WorkspaceRequest, workspace_view
from dashboard.upstream import WorkspaceNotConfigured
from posts.selectors import account_recovery, recoveries_for
from socialapi import auth_kind, platform_name

NEW_LINK_SESSION = "accounts_new_link"
NO_KEY = "This workspace has no API key yet: add one in Settings first."


def _back(request: WorkspaceRequest, account_id: int | None = None) -> HttpResponseRedirect:
    """Return to where the action was pressed (same-site paths only), else the list."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return HttpResponseRedirect(target)
    url = reverse("accounts:list", args=[request.workspace.slug])
    return HttpResponseRedirect(f"{url}?account={account_id}" if account_id else url)


@require_GET
@workspace_view()
def account_list(request: WorkspaceRequest) -> HttpResponse:
    filters = AccountFilters.from_query(request.GET)
    page = account_page(workspace=request.workspace, filters=filters, page=request.GET.get("page"))
    ctx = {
        "filters": filters,
        "facets": account_facets(workspace=request.workspace),
        "page": page,
    }
    if request.htmx and request.htmx.target == "results":
        return render(request, "accounts/list.html#results", ctx)
    if filters.accounts:
        # Named accounts (where a reconnect or new credentials land): what they cost.
        ctx["recoveries"] = recoveries_for(
            workspace=request.workspace, accounts=page.object_list
        ).shown()
    return render(request, "accounts/list.html", ctx)


@require_GET
@workspace_view()
def account_row(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    """One row of the list (htmx polls it while a check runs)."""
    account = account_get(workspace=request.workspace, account_id=account_id)
    return render(request, "accounts/list.html#row", {"account": account})


@require_GET
@workspace_view()
def account_detail(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    account = account_get(workspace=request.workspace, account_id=account_id)
    new_link = None
    shown = None
    if request.can_act and not request.htmx:
        shown = request.session.pop(NEW_LINK_SESSION, None)
    if isinstance(shown, dict) and shown.get("account") == account.pk:
        new_link = shown.get("url")
    recovery, failed_posts = account_recovery(account=account)
    ctx = {
        "account": account,
        "recovery": recovery,
        "failed_posts": failed_posts,
        "failed_posts_more": max(
            0, recovery.open + recovery.unknown + recovery.retrying - len(failed_posts)
        ),
        "transitions": account_transitions(account=account),
        "links": reconnect_links_open(account=account) if request.can_act else [],
        "used_links": reconnect_links_used(account=account) if request.can_act else [],
        "new_link": new_link,
        "link_days": settings.RECONNECT_LINK_DAYS,
    }
    return render(request, "accounts/detail.html", ctx)


@require_POST
@workspace_view(admin=True)
def account_check(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    account = account_get(workspace=request.workspace, account_id=account_id)
    account_check_request(account=account)
    if request.htmx:
        return render(request, "accounts/list.html#row", {"account": account})
    messages.info(
        request,
        f"Checking {account.label} with SocialAPI; the page shows the result when it is done.",
    )
    return _back(request, account.pk)


@require_POST
@workspace_view(admin=True)
def account_reconnect(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    account = account_get(workspace=request.workspace, account_id=account_id)
    try:
        auth_url = reconnect_start(account=account, request=request)
    except ReconnectNotStarted as exc:
        messages.error(request, str(exc))
        return _back(request, account.pk)
    except WorkspaceNotConfigured:
        messages.error(request, NO_KEY)
        return _back(request, account.pk)
    # The platform's consent page, as given by SocialAPI (http/https checked by the service).
    return redirect(auth_url)


@require_http_methods(["GET", "POST"])
@workspace_view(admin=True)
def account_credentials(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    account = account_get(workspace=request.workspace, account_id=account_id)
    if auth_kind(account.platform) != "credentials":
        messages.error(
            request,
            f"{platform_name(account.platform)} accounts are fixed by signing in: use Reconnect.",
        )
        return _back(request, account.pk)
    form = CredentialsForm(request.POST or None, platform=account.platform)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            result = account_credentials_update(
                account=account, credentials=form.credentials(), request=request
            )
        except WorkspaceNotConfigured:
            result = None
            error = NO_KEY
        if result is not None and result.ok:
            messages.success(request, result.message)
            return _back(request, account.pk)
        error = error or (result.message if result else "")
    return render(
        request, "accounts/credentials.html", {"account": account, "form": form, "error": error}
    )


@require_http_methods(["GET", "POST"])
@workspace_view(admin=True)
def account_disconnect_confirm(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    account = account_get(workspace=request.workspace, account_id=account_id)
    if request.method == "POST":
        try:
            result = account_disconnect(account=account, request=request)
        except WorkspaceNotConfigured:
            messages.error(request, NO_KEY)
            return _back(request, account.pk)
        (messages.success if result.ok else messages.error)(request, result.message)
        return _back(request, account.pk)
    return render(request, "accounts/disconnect.html", {"account": account})


@require_POST
@workspace_view(admin=True)
def account_link_create(request: WorkspaceRequest, account_id: int) -> HttpResponse:
    account = account_get(workspace=request.workspace, account_id=account_id)
    try:
        new = reconnect_link_create(account=account, request=request)
    except ReconnectNotStarted as exc:
        messages.error(request, str(exc))
        return _back(request, account.pk)
    # Shown once on the account page, then gone: only the hash is stored.
    request.session[NEW_LINK_SESSION] = {"account": account.pk, "url": new.url}
    detail = reverse("accounts:detail", args=[request.workspace.slug, account.pk])
    return redirect(f"{detail}#links")


@require_POST
@workspace_view(admin=True)
def account_link_revoke(request: WorkspaceRequest, link_id: int) -> HttpResponse:
    link = reconnect_link_get(workspace=request.workspace, link_id=link_id)
    if reconnect_link_revoke(link=link, request=request):
        messages.success(request, f"The reconnect link for {link.account.label} no longer works.")
    else:
        messages.info(request, "That link was already used, revoked or expired.")
    detail = reverse("accounts:detail", args=[request.workspace.slug, link.account_id])
    return redirect(f"{detail}#links")


@require_POST
@workspace_view(admin=True)
def account_alerts_preference(request: WorkspaceRequest) -> HttpResponse:
    """The person's own choice to get (or not) account alert emails for this workspace."""
    assert request.membership is not None  # admin=True guarantees a membership
    enabled = request.POST.get("enabled") == "1"
    account_alerts_preference_set(membership=request.membership, enabled=enabled)
    if enabled:
        messages.success(request, "You will get an email when an account of this workspace breaks.")
    else:
        messages.success(
            request, "You will no longer get emails about broken accounts in this workspace."
        )
    return _back(request)


@require_GET
@workspace_view()
def webhook_deliveries(request: WorkspaceRequest) -> HttpResponse:
    """What SocialAPI sent to the webhook URL and what became of it (triage)."""
    rejected = request.GET.get("rejected") == "1"
    page = webhook_delivery_page(
        workspace=request.workspace, page=request.GET.get("page"), rejected=rejected
    )
    url = settings.SITE_URL + reverse("webhook_receive", args=[request.workspace.slug])
    ctx = {"page": page, "rejected": rejected, "webhook_url": url}
    return render(request, "accounts/webhooks.html", ctx)
