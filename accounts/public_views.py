"""Pages outside any workspace: the OAuth callback, the page picker, reconnect links,
and the webhook receiver. None of them trusts a URL parameter to say where to go next.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.callback import SelectionInvalid, reconnect_callback, reconnect_select
from accounts.links import LINK_PROBLEMS, LinkUnusable, reconnect_link_resolve, reconnect_link_start
from accounts.reconnect import (
    PROBLEMS,
    ReconnectNotStarted,
    ReconnectProblem,
    ReconnectResult,
    reconnect_selection_get,
)
from accounts.selectors import workspace_admin_is, workspace_for_webhook
from accounts.webhooks import webhook_delivery_receive
from dashboard.upstream import WorkspaceNotConfigured

CALLBACK_PARAMS = (
    "state",
    "status",
    "account_id",
    "platform",
    "error",
    "error_description",
    "connection_id",
    "code",
)
LEVELS = {
    "success": messages.SUCCESS,
    "warning": messages.WARNING,
    "error": messages.ERROR,
    "info": messages.INFO,
}
PROBLEM_SESSION = "reconnect_problem"
LINK_STATUS = {
    "unknown": 404,
    "revoked": 410,
    "used": 410,
    "spent": 410,
    "expired": 410,
    "claimed": 403,
}


def _private(response: HttpResponse) -> HttpResponse:
    """Pages about one person's sign-in: never cached, never indexed.

    Their Referrer-Policy stays the site's `same-origin`: with `no-referrer` a browser
    sends `Origin: null` on the page's own forms, which CSRF protection rightly refuses.
    """
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _leave(response: HttpResponse) -> HttpResponse:
    """A redirect away from a URL holding code/state: no Referer may carry them anywhere."""
    response["Referrer-Policy"] = "no-referrer"
    return _private(response)


def _problem_context(request: HttpRequest, problem: ReconnectProblem) -> dict[str, object]:
    """What the problem page may say; the account only to an admin of its workspace."""
    record = problem.record
    restart_url = ""
    if record is not None and workspace_admin_is(
        workspace_id=record.workspace_id, user_id=request.user.pk
    ):
        path = reverse("accounts:list", args=[record.workspace.slug])
        restart_url = f"{path}?account={record.account_id}"
    return {
        "reason": problem.reason,
        "restart_url": restart_url,
        "link_flow": record is not None and record.link_id is not None,
    }


def _problem(request: HttpRequest, problem: ReconnectProblem) -> HttpResponse:
    """The 4xx page for a state we cannot trust: what happened and how to start again."""
    ctx = _problem_context(request, problem)
    title, body = PROBLEMS[str(ctx["reason"])]
    ctx.update(title=title, body=body)
    return _private(render(request, "accounts/reconnect_problem.html", ctx, status=400))


def _problem_redirect(request: HttpRequest, problem: ReconnectProblem) -> HttpResponse:
    """From the callback: keep the explanation in the session, show it at a clean URL."""
    request.session[PROBLEM_SESSION] = _problem_context(request, problem)
    return _leave(redirect("reconnect_problem"))


@require_GET
def reconnect_problem(request: HttpRequest) -> HttpResponse:
    """Why a sign-in could not be trusted (the callback sends the browser here)."""
    ctx = request.session.get(PROBLEM_SESSION)
    if not isinstance(ctx, dict) or ctx.get("reason") not in PROBLEMS:
        ctx = {"reason": "missing", "restart_url": "", "link_flow": False}
    title, body = PROBLEMS[ctx["reason"]]
    page = {**ctx, "title": title, "body": body}
    return _private(render(request, "accounts/reconnect_problem.html", page, status=400))


def _finish(request: HttpRequest, result: ReconnectResult) -> HttpResponse:
    """Flash the outcome and go to a clean URL (no code or state in the address bar)."""
    if result.select:
        return _leave(redirect("reconnect_select"))
    messages.add_message(request, LEVELS.get(result.level, messages.INFO), result.message)
    if result.link_flow or not request.user.is_authenticated:
        return _leave(redirect("reconnect_done"))
    path = reverse("accounts:list", args=[result.account.workspace.slug])
    return _leave(redirect(f"{path}?account={result.account.pk}"))


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where SocialAPI (or, in the legacy form, the platform) sends the browser back."""
    params = {key: request.GET.get(key, "")[:2000] for key in CALLBACK_PARAMS}
    try:
        result = reconnect_callback(request=request, params=params)
    except ReconnectProblem as problem:
        return _problem_redirect(request, problem)
    except WorkspaceNotConfigured:
        messages.error(
            request, "The workspace lost its API key during the sign-in; nothing was changed."
        )
        return _leave(redirect("reconnect_done"))
    return _finish(request, result)


@require_http_methods(["GET", "POST"])
def reconnect_select_page(request: HttpRequest) -> HttpResponse:
    """Pick the Facebook pages or the Google profile the sign-in should connect."""
    try:
        record = reconnect_selection_get(request=request)
    except ReconnectProblem as problem:
        return _problem(request, problem)
    error = ""
    if request.method == "POST":
        try:
            result = reconnect_select(
                record=record,
                request=request,
                page_ids=[p[:200] for p in request.POST.getlist("page_ids")][:50],
                profile_id=request.POST.get("profile", "")[:300],
                cancel=request.POST.get("action") == "cancel",
            )
        except SelectionInvalid as exc:
            error = str(exc)
        except ReconnectProblem as problem:
            return _problem(request, problem)
        except WorkspaceNotConfigured:
            error = "The workspace lost its API key; nothing was changed."
        else:
            return _finish(request, result)
    candidates = record.candidates or {}
    ctx = {
        "record": record,
        "account": record.account,
        "pages": candidates.get("pages", []),
        "profiles": candidates.get("profiles", []),
        "lost_access": candidates.get("lost_access", []),
        "error": error,
    }
    return _private(
        render(request, "accounts/reconnect_select.html", ctx, status=400 if error else 200)
    )


def _link_problem(request: HttpRequest, exc: LinkUnusable) -> HttpResponse:
    title, body = LINK_PROBLEMS[exc.reason]
    ctx = {"title": title, "body": body, "reason": exc.reason}
    status = LINK_STATUS[exc.reason]
    return _private(render(request, "accounts/link_problem.html", ctx, status=status))


@require_http_methods(["GET", "POST"])
def reconnect_link(request: HttpRequest, token: str) -> HttpResponse:
    """A reconnect link: GET explains, POST starts the sign-in for that one account."""
    try:
        link = reconnect_link_resolve(token=token[:200])
    except LinkUnusable as exc:
        return _link_problem(request, exc)
    error = ""
    if request.method == "POST":
        try:
            return _leave(redirect(reconnect_link_start(link=link, request=request)))
        except LinkUnusable as exc:
            return _link_problem(request, exc)
        except ReconnectNotStarted as exc:
            error = str(exc)
        except WorkspaceNotConfigured:
            error = "This workspace cannot reach SocialAPI right now. Try again later."
    ctx = {
        "link": link,
        "account": link.account,
        "workspace_name": link.workspace.name,
        "error": error,
    }
    return _private(render(request, "accounts/link.html", ctx))


@require_GET
def reconnect_done(request: HttpRequest) -> HttpResponse:
    """Where a reconnect ends for someone without a login (the message says how it went)."""
    return _private(render(request, "accounts/reconnect_done.html", {}))


@csrf_exempt  # authenticated by the HMAC signature, not a cookie
@require_POST
def webhook_receive(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    """SocialAPI webhooks for one workspace: verified, stored, answered at once.

    A URL naming no workspace is answered exactly like a delivery whose signature does not
    verify (no 404), so the webhook URL cannot be used to find out which workspaces exist.
    """
    workspace = workspace_for_webhook(slug=workspace_slug)
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"ok": False, "error": "too_large"}, status=413)
    receipt = webhook_delivery_receive(workspace=workspace, body=body, headers=request.headers)
    return JsonResponse(receipt.body, status=receipt.status)
