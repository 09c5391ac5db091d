"""Writes for the workspace core: connection, secrets, sync intervals, members, invitations.

Each service is keyword-only, takes the workspace, audits what it changed, and raises
`ServiceRefused` (words for a person) when it changed nothing.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dashboard.alerts import header_text
from dashboard.audit import audit_record
from dashboard.crypto import SecretDecryptionError, new_token, token_hash
from dashboard.forms import PRIVATE_HINT, base_url_normalise, sandbox_base_url
from dashboard.models import Invitation, Membership, Workspace
from dashboard.selectors import webhook_url
from dashboard.upstream import (
    WorkspaceNotConfigured,
    upstream,
    upstream_ok,
    upstream_paused,
    upstream_probe,
)
from events.fixes import fix_for
from socialapi import (
    ApiKeyInvalid,
    NotFound,
    ServerError,
    SocialAPI,
    SocialAPIError,
    UserMe,
    ValidationFailed,
)

log = logging.getLogger(__name__)

WEBHOOK_EVENTS = (
    "account.connected",
    "account.disconnected",
    "post.failed",
    "post.partial",
    "post.published",
)
# POST /v1/webhooks: SocialAPI's test ping to the URL got no 2xx answer.
WEBHOOK_UNVERIFIED = "webhook_verification_failed"
# Prefixes make a leaked token recognisable (and greppable by secret scanners).
INGEST_TOKEN_PREFIX = "ingest_"  # noqa: S105
INVITATION_TOKEN_PREFIX = "inv_"  # noqa: S105
# Stamps reset when the connection changes, so the dispatcher runs every sync at once.
SYNC_STAMPS = (
    "health_enqueued_at",
    "watch_enqueued_at",
    "media_enqueued_at",
    "usage_enqueued_at",
)


class ServiceRefused(Exception):
    """A change that was not made; the message says why and what to do next."""


class LastAdminError(ServiceRefused):
    """The workspace would be left without an admin."""


def _request_id_note(exc: SocialAPIError) -> str:
    return f" (request id {exc.request_id})" if exc.request_id else ""


def _probe(*, base_url: str, api_key: str, dialect: str) -> UserMe:
    """`GET /v1/users/me` with the candidate configuration, as words when it fails."""
    try:
        return upstream_probe(base_url=base_url, api_key=api_key, dialect=dialect)
    except ApiKeyInvalid as exc:
        raise ServiceRefused(
            f"SocialAPI rejected this API key ({exc.code}){_request_id_note(exc)}. Check that "
            "you copied the whole key from the SocialAPI dashboard and that it was not "
            "revoked. Nothing was changed."
        ) from None
    except NotFound as exc:
        raise ServiceRefused(
            f"{base_url}/users/me does not exist (HTTP {exc.status}). Check the base URL: "
            "SocialAPI's ends in /v1. Nothing was changed."
        ) from None
    except ServerError as exc:
        if exc.code == "network.blocked_address":
            raise ServiceRefused(
                f"{base_url} leads to a private network address ({exc.message}); the key was "
                f"not sent and nothing was changed. {PRIVATE_HINT}"
            ) from None
        raise ServiceRefused(
            f"SocialAPI could not be reached at {base_url} ({exc.code}){_request_id_note(exc)}. "
            "Nothing was changed; try again in a minute."
        ) from None
    except SocialAPIError as exc:
        raise ServiceRefused(
            f"SocialAPI answered HTTP {exc.status} {exc.code}{_request_id_note(exc)} when the "
            "key was tested. Nothing was changed."
        ) from None


def _base_url_trusted(url: str) -> bool:
    """The production default and (when enabled) the local sandbox: the saved key may be
    sent there without being pasted again."""
    url = base_url_normalise(url)
    return url in (base_url_normalise(settings.SOCIALAPI_DEFAULT_BASE_URL), sandbox_base_url())


def workspace_connection_update(
    *, workspace: Workspace, api_key: str, base_url: str, dialect: str, request: HttpRequest
) -> str:
    """Save a new API key, base URL or dialect; a new key or URL must pass `users/me` first.

    Returns what happened in words. Raises ServiceRefused with nothing changed when the
    candidate is rejected or SocialAPI cannot be reached.
    """
    try:
        saved_key = workspace.api_key
    except SecretDecryptionError:
        saved_key = ""  # unreadable with the configured keys: only a new key helps
    key_changed = bool(api_key) and api_key != saved_key
    url_changed = base_url != workspace.base_url
    dialect_changed = dialect != workspace.dialect
    if not (key_changed or url_changed or dialect_changed):
        return "Nothing to change: these are the saved settings."
    has_saved_key = bool(saved_key or workspace.api_key_hint)
    if url_changed and not api_key and has_saved_key and not _base_url_trusted(base_url):
        # Testing the saved key against a new host would hand the write-only key to
        # whoever runs that host: only a key typed in now goes to a new address.
        raise ServiceRefused(
            "Paste the API key again to use a new base URL: the saved key is never sent to "
            "a new address on its own. Nothing was changed."
        )
    candidate_key = api_key or saved_key
    if url_changed and not candidate_key and workspace.api_key_hint:
        raise ServiceRefused(
            "The saved API key cannot be read with this server's encryption keys. "
            "Paste the API key again together with the new base URL."
        )
    needs_test = bool(candidate_key) and (key_changed or url_changed)
    me = _probe(base_url=base_url, api_key=candidate_key, dialect=dialect) if needs_test else None

    now = timezone.now()
    changes: dict[str, Any] = {}
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if url_changed:
            changes["base_url"] = [ws.base_url, base_url]
            ws.base_url = base_url
        if dialect_changed:
            changes["dialect"] = [ws.dialect, dialect]
            ws.dialect = dialect
        if key_changed:
            before = ws.api_key_masked or "none"
            ws.api_key = api_key
            ws.api_key_hint = api_key[-4:]
            ws.api_key_saved_at = now
            changes["api_key"] = [before, ws.api_key_masked]
        if me is not None:
            ws.plan = me.plan or ws.plan
            ws.plan_checked_at = now
            if key_changed or url_changed:
                # A new upstream: fetch everything again instead of waiting for intervals.
                for stamp in SYNC_STAMPS:
                    setattr(ws, stamp, None)
        ws.save()
        if key_changed:
            audit_record(
                action="api_key.change",
                workspace=ws,
                request=request,
                target=ws,
                detail={
                    "from": changes["api_key"][0],
                    "to": changes["api_key"][1],
                    "plan": ws.plan,
                },
            )
        other = {k: v for k, v in changes.items() if k != "api_key"}
        if other:
            audit_record(
                action="settings.connection_change",
                workspace=ws,
                request=request,
                target=ws,
                detail=other,
            )
    if me is not None:
        if me.billing_blocked:
            upstream_paused(ws, family="billing")
        else:
            upstream_ok(ws)
    _refresh(workspace, ws)
    if me is None:
        return (
            "Saved." if candidate_key else "Saved. Add an API key to start checking this workspace."
        )
    plan = f" Plan: {me.plan}." if me.plan else ""
    blocked = (
        " Billing is blocked upstream: API calls will fail until it is settled."
        if me.billing_blocked
        else ""
    )
    return f"SocialAPI accepted the key; settings saved.{plan}{blocked}"


def workspace_connection_check(*, workspace: Workspace) -> str:
    """Test the saved key now through the workspace client (failures become error events)."""
    try:
        # Reference: https://docs.social-api.ai/api-reference/users/me
        me = upstream(workspace).users_me()
    except WorkspaceNotConfigured:
        raise ServiceRefused("There is no API key to check yet: add one first.") from None
    except SecretDecryptionError:
        raise ServiceRefused(
            "The saved API key cannot be read with this server's encryption keys. Paste it again."
        ) from None
    except ApiKeyInvalid as exc:
        raise ServiceRefused(
            f"SocialAPI rejects the saved key ({exc.code}){_request_id_note(exc)}. "
            "Paste a valid key."
        ) from None
    except ServerError as exc:
        raise ServiceRefused(
            f"SocialAPI could not be reached ({exc.code}){_request_id_note(exc)}. "
            "Try again in a minute."
        ) from None
    except SocialAPIError as exc:
        raise ServiceRefused(
            f"SocialAPI answered HTTP {exc.status} {exc.code}{_request_id_note(exc)}."
        ) from None
    now = timezone.now()
    Workspace.objects.filter(pk=workspace.pk).update(
        plan=me.plan or workspace.plan, plan_checked_at=now
    )
    workspace.plan, workspace.plan_checked_at = me.plan or workspace.plan, now
    if me.billing_blocked:
        upstream_paused(workspace, family="billing")
        return "The key works, but billing is blocked upstream: settle it in SocialAPI's dashboard."
    upstream_ok(workspace)
    return f"The saved key works.{f' Plan: {me.plan}.' if me.plan else ''}"


@dataclass(frozen=True)
class WebhookRegistration:
    """What registering did: the new secret (shown once), or "" when nothing was created."""

    endpoint_id: str
    secret: str = ""
    removed: tuple[str, ...] = ()  # older endpoints for the same URL, deleted upstream
    left_over: tuple[str, ...] = ()  # older endpoints for the same URL SocialAPI kept


def _webhook_refusal(exc: SocialAPIError, url: str, doing: str) -> ServiceRefused:
    """Words for a failed webhook call; nothing was registered."""
    note = _request_id_note(exc)
    if isinstance(exc, ApiKeyInvalid):
        return ServiceRefused(
            f"SocialAPI rejected the workspace's API key ({exc.code}){note}. "
            "Update the key above, then register again."
        )
    if exc.code == WEBHOOK_UNVERIFIED:
        fix = fix_for(family=str(exc.family), code=exc.code)
        return ServiceRefused(f"{fix.meaning} It called {url} ({exc.code}){note}. {fix.action}")
    if isinstance(exc, ValidationFailed):
        return ServiceRefused(
            f"SocialAPI could not verify {url} ({exc.code}){note}: it calls the URL once while "
            "registering, so the dashboard must be reachable from the internet over https at "
            "that address (set SITE_URL). Nothing was registered."
        )
    if isinstance(exc, ServerError):
        return ServiceRefused(
            f"SocialAPI could not be reached ({exc.code}){note}. Nothing was registered; "
            "try again in a minute."
        )
    return ServiceRefused(
        f"SocialAPI refused {doing}: HTTP {exc.status} {exc.code}{note}. Nothing was registered."
    )


def _webhook_secret_usable(workspace: Workspace) -> bool:
    try:
        return bool(workspace.webhook_secret)
    except SecretDecryptionError:
        return False


def webhook_register(*, workspace: Workspace, request: HttpRequest) -> WebhookRegistration:
    """Register our receiver upstream (`POST /v1/webhooks`) unless it already is.

    An active endpoint for our URL plus a readable stored secret means registered: nothing
    is created (a second endpoint would deliver everything twice). Otherwise a new endpoint
    is created, its secret stored, and older endpoints for the same URL are deleted.
    """
    url = webhook_url(workspace)
    try:
        client = upstream(workspace)
    except WorkspaceNotConfigured:
        raise ServiceRefused("Add the workspace's API key first: registering needs it.") from None
    except SecretDecryptionError:
        raise ServiceRefused(
            "The saved API key cannot be read with this server's encryption keys. Paste it again."
        ) from None
    try:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/webhooks
        same_url = [endpoint for endpoint in client.webhooks_list() if endpoint.url == url]
    except SocialAPIError as exc:
        raise _webhook_refusal(exc, url, "the list of webhooks") from None
    active = [endpoint for endpoint in same_url if endpoint.is_active]
    if active and _webhook_secret_usable(workspace):
        upstream_ok(workspace)
        current = next((e for e in active if e.id == workspace.webhook_id), active[0])
        return WebhookRegistration(endpoint_id=current.id)
    try:
        # Reference: https://docs.social-api.ai/api-reference — POST /v1/webhooks
        created = client.webhooks_create(url, events=WEBHOOK_EVENTS)
    except SocialAPIError as exc:
        raise _webhook_refusal(exc, url, "the registration") from None
    if not created.secret:
        raise ServiceRefused(
            f"SocialAPI registered the endpoint ({created.id}) but returned no signing secret. "
            "Copy the secret from SocialAPI's dashboard into the form below."
        )
    removed, left_over = _webhooks_stale_delete(
        client=client, endpoint_ids=[e.id for e in same_url if e.id != created.id]
    )
    now = timezone.now()
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        ws.webhook_secret = created.secret
        ws.webhook_secret_saved_at = now
        ws.webhook_id = created.id[:100]
        ws.webhook_registered_at = now
        ws.save(
            update_fields=[
                "webhook_secret",
                "webhook_secret_saved_at",
                "webhook_id",
                "webhook_registered_at",
            ]
        )
        audit_record(
            action="webhook.register",
            workspace=ws,
            request=request,
            target=ws,
            detail={
                "url": url,
                "endpoint_id": created.id,
                "events": list(WEBHOOK_EVENTS),
                **({"replaced": list(removed)} if removed else {}),
                **({"left_over": list(left_over)} if left_over else {}),
            },
        )
    upstream_ok(workspace)
    _refresh(workspace, ws)
    return WebhookRegistration(
        endpoint_id=created.id, secret=created.secret, removed=removed, left_over=left_over
    )


def _webhooks_stale_delete(
    *, client: SocialAPI, endpoint_ids: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Delete older endpoints for our URL; returns (removed, still there)."""
    if not endpoint_ids:
        return (), ()
    for endpoint_id in endpoint_ids:
        try:
            # Reference: https://docs.social-api.ai/api-reference — DELETE /v1/webhooks/{id}
            client.webhooks_delete(endpoint_id)
        except SocialAPIError as exc:
            log.warning("old webhook endpoint %s was not deleted: %s", endpoint_id, exc.code)
    # A 404 may mean "already gone" or "no such route": only the list says which.
    try:
        # Reference: https://docs.social-api.ai/api-reference — GET /v1/webhooks
        listed = {endpoint.id for endpoint in client.webhooks_list()}
    except SocialAPIError:
        listed = set(endpoint_ids)  # cannot tell: claim nothing was removed
    removed = tuple(i for i in endpoint_ids if i not in listed)
    return removed, tuple(i for i in endpoint_ids if i in listed)


def webhook_secret_set(*, workspace: Workspace, secret: str, request: HttpRequest) -> None:
    """Store a signing secret copied from SocialAPI's dashboard (manual registration)."""
    now = timezone.now()
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        ws.webhook_secret = secret
        ws.webhook_secret_saved_at = now
        ws.save(update_fields=["webhook_secret", "webhook_secret_saved_at"])
        audit_record(action="webhook.secret_change", workspace=ws, request=request, target=ws)
    _refresh(workspace, ws)


def ingest_token_rotate(*, workspace: Workspace, request: HttpRequest) -> str:
    """A new ingest token; the previous one stops working at once. Only its hash is kept."""
    token = new_token(INGEST_TOKEN_PREFIX)
    now = timezone.now()
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        replaced = bool(ws.ingest_token_hash)
        ws.ingest_token_hash = token_hash(token)
        ws.ingest_token_hint = token[-4:]
        ws.ingest_token_created_at = now
        ws.save(update_fields=["ingest_token_hash", "ingest_token_hint", "ingest_token_created_at"])
        audit_record(
            action="ingest_token.rotate" if replaced else "ingest_token.create",
            workspace=ws,
            request=request,
            target=ws,
            detail={"hint": ws.ingest_token_hint},
        )
    _refresh(workspace, ws)
    return token


def ingest_token_revoke(*, workspace: Workspace, request: HttpRequest) -> bool:
    """Stop accepting the ingest token; False when there was none."""
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if not ws.ingest_token_hash:
            return False
        hint = ws.ingest_token_hint
        ws.ingest_token_hash = ""
        ws.ingest_token_hint = ""
        ws.ingest_token_created_at = None
        ws.save(update_fields=["ingest_token_hash", "ingest_token_hint", "ingest_token_created_at"])
        audit_record(
            action="ingest_token.revoke",
            workspace=ws,
            request=request,
            target=ws,
            detail={"hint": hint},
        )
    _refresh(workspace, ws)
    return True


def workspace_sync_intervals_update(
    *,
    workspace: Workspace,
    health_sync_minutes: int,
    watch_seconds: int,
    request: HttpRequest,
) -> bool:
    """Change how often accounts are checked and SocialAPI is watched (storage figure and
    events log); False when nothing changed."""
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        changes = {
            name: [getattr(ws, name), value]
            for name, value in (
                ("health_sync_minutes", health_sync_minutes),
                ("watch_seconds", watch_seconds),
            )
            if getattr(ws, name) != value
        }
        if not changes:
            return False
        for name, (_, value) in changes.items():
            setattr(ws, name, value)
        ws.save(update_fields=list(changes))
        audit_record(
            action="settings.sync_change", workspace=ws, request=request, target=ws, detail=changes
        )
    _refresh(workspace, ws)
    return True


def _refresh(stale: Workspace, fresh: Workspace) -> None:
    """Copy the saved values back onto the request's workspace object (secrets stay
    deferred unless this request loaded or set them)."""
    for field in Workspace._meta.concrete_fields:
        if field.attname in fresh.__dict__:
            setattr(stale, field.attname, fresh.__dict__[field.attname])


# --- members -----------------------------------------------------------------------


def _admin_ids_locked(workspace: Workspace) -> list[int]:
    return list(
        Membership.objects.select_for_update()
        .filter(workspace=workspace, role=Membership.Role.ADMIN)
        .values_list("pk", flat=True)
    )


def membership_role_change(
    *, workspace: Workspace, membership: Membership, role: str, request: HttpRequest
) -> bool:
    """Make someone an admin or a member; the last admin cannot be demoted."""
    with transaction.atomic():
        admins = _admin_ids_locked(workspace)
        current = (
            Membership.objects.select_for_update()
            .filter(pk=membership.pk, workspace=workspace)
            .first()
        )
        if current is None:
            raise ServiceRefused(
                f"{membership.user.get_username()} is no longer in {workspace.name}."
            )
        if current.role == role:
            return False
        if current.role == Membership.Role.ADMIN and admins == [current.pk]:
            raise LastAdminError(
                f"{membership.user.get_username()} is the only admin of {workspace.name}. "
                "Make someone else an admin first."
            )
        old = current.role
        current.role = role
        current.save(update_fields=["role"])
        audit_record(
            action="member.role_change",
            workspace=workspace,
            request=request,
            target=current,
            target_label=membership.user.get_username(),
            detail={"from": old, "to": role},
        )
    membership.role = role
    return True


def membership_remove(
    *, workspace: Workspace, membership: Membership, request: HttpRequest
) -> None:
    """Take someone out of the workspace; the last admin cannot be removed."""
    with transaction.atomic():
        admins = _admin_ids_locked(workspace)
        current = (
            Membership.objects.select_for_update()
            .filter(pk=membership.pk, workspace=workspace)
            .first()
        )
        if current is None:
            return  # removed meanwhile: the outcome the admin asked for
        if current.role == Membership.Role.ADMIN and admins == [current.pk]:
            raise LastAdminError(
                f"{membership.user.get_username()} is the only admin of {workspace.name} and "
                "cannot be removed. Make someone else an admin first."
            )
        audit_record(
            action="member.remove",
            workspace=workspace,
            request=request,
            target=current,
            target_label=membership.user.get_username(),
            detail={"role": current.role, "email": membership.user.email},
        )
        current.delete()


def invitation_create(
    *,
    workspace: Workspace,
    email: str,
    role: str,
    request: HttpRequest | None,
    actor_label: str = "",
) -> tuple[Invitation, str]:
    """Invite an email address; returns the invitation and its one-time token.

    A new invitation to the same address replaces the pending one (a "resend").
    Without a request (a management command) `actor_label` names who did it.
    """
    email = email.strip().lower()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ServiceRefused(f"{email} already belongs to {workspace.name}.")
    token = new_token(INVITATION_TOKEN_PREFIX)
    now = timezone.now()
    user = request.user if request is not None and request.user.is_authenticated else None
    with transaction.atomic():
        Invitation.objects.filter(
            workspace=workspace, email__iexact=email, accepted_at=None, revoked_at=None
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=token_hash(token),
            invited_by=user,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_DAYS),
        )
        audit_record(
            action="member.invite",
            workspace=workspace,
            request=request,
            actor_label=actor_label,
            target=invitation,
            target_label=email,
            detail={"email": email, "role": role},
        )
    return invitation, token


def invitation_link(token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[token])


def invitation_email_send(*, invitation: Invitation, token: str, inviter: Any) -> bool:
    """Email the invitation link; False when the mail server refused (the admin is told)."""
    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "inviter": inviter.get_username() if inviter is not None else "A workspace admin",
        "link": invitation_link(token),
        "days": settings.INVITATION_DAYS,
    }
    body = render_to_string("dashboard/email/invitation.txt", context)
    subject = f"You are invited to {invitation.workspace.name} on the SocialAPI Dashboard"
    try:
        send_mail(
            header_text(subject),
            body,
            settings.DEFAULT_FROM_EMAIL,
            [invitation.email],
            fail_silently=False,
        )
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("invitation email %s could not be sent: %s", invitation.pk, type(exc).__name__)
        return False
    return True


def invitation_revoke(
    *, workspace: Workspace, invitation: Invitation, request: HttpRequest
) -> bool:
    """The link stops working; False when it was no longer pending."""
    with transaction.atomic():
        updated = Invitation.objects.filter(
            pk=invitation.pk, workspace=workspace, accepted_at=None, revoked_at=None
        ).update(revoked_at=timezone.now())
        if not updated:
            return False
        audit_record(
            action="member.invite_revoke",
            workspace=workspace,
            request=request,
            target=invitation,
            target_label=invitation.email,
            detail={"email": invitation.email},
        )
    return True


def invitation_accept(*, invitation: Invitation, user: Any, request: HttpRequest) -> Membership:
    """Join the invited workspace; single use. Raises ServiceRefused when no longer valid."""
    with transaction.atomic():
        current = (
            Invitation.objects.select_for_update().select_related("workspace").get(pk=invitation.pk)
        )
        if not current.is_pending:
            raise ServiceRefused(invitation_state_words(current.state))
        membership, created = Membership.objects.get_or_create(
            workspace=current.workspace, user=user, defaults={"role": current.role}
        )
        current.accepted_at = timezone.now()
        current.accepted_by = user
        current.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action="member.join",
            workspace=current.workspace,
            request=request,
            actor=user,
            target=membership,
            target_label=user.get_username(),
            detail={
                "role": membership.role,
                "invited_email": current.email,
                "already_member": not created,
            },
        )
    return membership


def invitation_state_words(state: str) -> str:
    return {
        "accepted": "This invitation was already used. Sign in to reach the workspace.",
        "revoked": "This invitation was withdrawn. Ask a workspace admin for a new one.",
        "expired": "This invitation has expired. Ask a workspace admin to invite you again.",
    }.get(state, "This invitation cannot be used. Ask a workspace admin for a new one.")


def alert_preferences_update(*, membership: Membership, **flags: bool) -> None:
    """A person's own alert choices in one workspace (a preference, not a workspace change)."""
    names = ("alert_accounts", "alert_storage", "alert_quota")
    for name in names:
        setattr(membership, name, bool(flags.get(name, False)))
    membership.save(update_fields=list(names))
