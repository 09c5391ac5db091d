"""The control page (support staff only): tenants, their switches, the call and event logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import staff_required
from sandbox import forms as f
from sandbox import services as s
from sandbox.checks import world_dialect
from sandbox.inbox import inbox_tail, sandbox_inbox_url
from sandbox.models import SandboxTenant
from sandbox.posts import post_fail
from sandbox.selectors import calls_tail, events_tail, tenants_overview
from socialapi.platforms import PLATFORM_CHOICES

Apply = Callable[[SandboxTenant, dict[str, Any]], str]


def _faults(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Save fault switches."""
    scope, seed = d.pop("scope"), d.pop("seed")
    s.faults_set(tenant=t, scope=scope, seed=seed, **d)
    return "Fault switches saved."


def _faults_clear(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Switch every fault off."""
    s.faults_clear(tenant=t)
    return "Faults cleared."


def _dialect(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Switch the error dialect."""
    s.dialect_set(tenant=t, dialect=d["dialect"])
    return f"Errors now come in the {d['dialect']} dialect."


def _list_end(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Switch how the last page of a list ends."""
    s.list_end_set(tenant=t, list_end=d["list_end"])
    if d["list_end"] == SandboxTenant.ListEnd.EMPTY:
        return 'The last page of a list now says next_cursor: "".'
    return "The last page of a list now has no next_cursor."


def _billing(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Block or unblock billing."""
    s.billing_set(tenant=t, past_due=d["on"])
    return "Billing is past due: /v1 answers 402." if d["on"] else "Billing is paid up."


def _key(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Revoke or restore the API key."""
    s.api_key_revoke(tenant=t, revoked=d["on"])
    return "API key revoked." if d["on"] else "API key restored."


def _throttle(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Throttle a platform."""
    s.platform_throttle(tenant=t, platform=d["platform"], minutes=d["minutes"])
    return f"{d['platform']} throttles account calls for {d['minutes']} minutes."


def _throttles_clear(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Stop every throttle."""
    s.throttles_clear(tenant=t)
    return "Platform throttles cleared."


def _exhaust(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Use up the monthly posts."""
    s.allowance_exhaust(tenant=t)
    return "Monthly post allowance used up."


def _usage_reset(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Start a new billing period."""
    s.usage_reset(tenant=t)
    return "A new billing period started."


def _storage(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Fill storage to a percentage."""
    added = s.storage_fill(tenant=t, percent=d["percent"])
    return f"Added {added} media files: storage is at {d['percent']:g} % or more."


def _grow(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Make storage grow by itself."""
    tenant = s.storage_growth_set(tenant=t, mb_per_day=d["mb_per_day"])
    if not tenant.storage_growth_bytes_per_day:
        return "Storage no longer grows by itself."
    return (
        f"Storage now grows by {d['mb_per_day']:g} MB a day (files arrive as time passes, "
        "with the next calls)."
    )


def _expire(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Expire an account's token."""
    reason = d["reason"] or s.DEFAULT_REASON
    account = s.account_token_expire(tenant=t, account_id=d["account_id"], reason=reason)
    return f"{account.username} now needs reconnecting (account.disconnected queued)."


def _invalidate(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Invalidate an account's credentials."""
    account = s.account_credentials_invalidate(tenant=t, account_id=d["account_id"])
    return f"{account.username}'s credentials are now rejected."


def _remove(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Remove an account upstream."""
    account = s.account_remove(tenant=t, account_id=d["account_id"])
    return f"{account.username} removed (account.disconnected queued)."


def _post_fail(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Fail a scheduled post."""
    post = post_fail(tenant=t, post_id=d["post_id"], partial=d["partial"])
    return f"Post {post.id} is now {post.status} (webhook queued)."


def _webhook(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Set the webhook target."""
    s.webhook_configure(tenant=t, url=d["url"], secret=d["secret"])
    return "Webhook target saved." if d["url"] else "Webhooks switched off."


def _reset(t: SandboxTenant, d: dict[str, Any]) -> str:
    """Switch everything off."""
    s.tenant_reset(tenant=t)
    return "Every switch is off."


ACTIONS: dict[str, tuple[type[forms.Form], Apply]] = {
    "faults": (f.FaultsForm, _faults),
    "faults-clear": (f.EmptyForm, _faults_clear),
    "dialect": (f.DialectForm, _dialect),
    "list-end": (f.ListEndForm, _list_end),
    "billing": (f.SwitchForm, _billing),
    "key": (f.SwitchForm, _key),
    "throttle": (f.ThrottleForm, _throttle),
    "throttles-clear": (f.EmptyForm, _throttles_clear),
    "exhaust": (f.EmptyForm, _exhaust),
    "usage-reset": (f.EmptyForm, _usage_reset),
    "fill-storage": (f.FillStorageForm, _storage),
    "grow-storage": (f.GrowStorageForm, _grow),
    "expire-token": (f.AccountForm, _expire),
    "invalidate-credentials": (f.AccountForm, _invalidate),
    "remove-account": (f.AccountForm, _remove),
    "fail-post": (f.PostFailForm, _post_fail),
    "webhook": (f.WebhookForm, _webhook),
    "reset": (f.EmptyForm, _reset),
}


def _page(request: HttpRequest, status: int = 200) -> HttpResponse:
    """Render the control page."""
    context = {
        "tenants": tenants_overview(),
        "calls": calls_tail(),
        "events": events_tail(),
        "platforms": PLATFORM_CHOICES,
        "base_url": settings.SANDBOX_BASE_URL,
        "world_dialect": world_dialect(),
        "inbox": inbox_tail(),
        "inbox_url": sandbox_inbox_url(),
    }
    return render(request, "sandbox/control.html", context, status=status)


def _errors(form: forms.Form) -> str:
    """A form's errors as one sentence."""
    parts = []
    for name, errors in form.errors.items():
        text = " ".join(str(error) for error in errors)
        parts.append(text if name == "__all__" else f"{name.replace('_', ' ')}: {text}")
    return " ".join(parts)


@require_GET
@staff_required
def control(request: HttpRequest) -> HttpResponse:
    """Every tenant with its figures and switches, plus the call and event log tails."""
    if getattr(request, "htmx", False) and request.GET.get("partial") == "calls":
        return render(request, "sandbox/control.html#calls", {"calls": calls_tail()})
    return _page(request)


@require_POST
@staff_required
def tenant_create(request: HttpRequest) -> HttpResponse:
    """Create a bare tenant."""
    form = f.TenantForm(request.POST)
    try:
        if not form.is_valid():
            raise s.SandboxError(_errors(form))
        tenant = s.sandbox_tenant_create(**form.cleaned_data)
    except s.SandboxError as exc:
        messages.error(request, f"Tenant not created. {exc}")
        return _page(request, status=400)
    messages.success(request, f"Tenant {tenant.name} created; its key is {tenant.api_key}.")
    return redirect("sandbox:control")


@require_POST
@staff_required
def world_set(request: HttpRequest) -> HttpResponse:
    """The dialect of answers that belong to no tenant (missing or unknown key)."""
    form = f.DialectForm(request.POST)
    try:
        if not form.is_valid():
            raise s.SandboxError(_errors(form))
        world = s.world_dialect_set(dialect=form.cleaned_data["dialect"])
    except s.SandboxError as exc:
        messages.error(request, f"Sandbox-wide: nothing changed. {exc}")
        return _page(request, status=400)
    messages.success(
        request, f"Calls without a valid key are now answered in the {world.dialect} dialect."
    )
    return redirect("sandbox:control")


@require_POST
@staff_required
def control_action(request: HttpRequest, tenant_id: int, action: str) -> HttpResponse:
    """Apply one switch to one tenant; bad input changes nothing and says why (400)."""
    if action not in ACTIONS:
        raise Http404("No such sandbox action")
    tenant = get_object_or_404(SandboxTenant, pk=tenant_id)
    form_class, apply = ACTIONS[action]
    form = form_class(request.POST)
    try:
        if not form.is_valid():
            raise s.SandboxError(_errors(form))
        message = apply(tenant, dict(form.cleaned_data))
    except s.SandboxError as exc:
        messages.error(request, f"{tenant.name}: nothing changed. {exc}")
        return _page(request, status=400)
    messages.success(request, f"{tenant.name}: {message}")
    return redirect("sandbox:control")
