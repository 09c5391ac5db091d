"""Writes for two-factor sign-in: set up, check a code, recovery codes, turn off, reset,
and a workspace's requirement. Keyword-only; everything is audited.

A person's change is written to the audit log of each workspace they belong to (its
admins see "bob turned off two-factor sign-in"), or once without a workspace for
support staff who belong to none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp_webauthn.models import WebAuthnCredential

from dashboard.audit import audit_record
from dashboard.models import Workspace
from dashboard.services import ServiceRefused
from mfa.models import (
    DIGITS,
    RECOVERY_CODE_COUNT,
    AuthenticatorDevice,
    RecoveryCode,
    RecoveryCodeDevice,
    recovery_code_digest,
    recovery_code_new,
)


def audit_person(
    *,
    action: str,
    user: Any,
    request: HttpRequest | None = None,
    actor_label: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """`actor_label` names an actor without a login (an operator's command); else the
    person themselves acted."""
    workspaces: list[Workspace | None] = list(
        Workspace.objects.filter(memberships__user_id=user.pk).order_by("pk")
    ) or [None]
    for workspace in workspaces:
        audit_record(
            action=action,
            workspace=workspace,
            actor=None if actor_label else user,
            actor_label=actor_label,
            target=user,
            target_label=user.get_username(),
            detail=detail,
            request=request,
        )


def _has_authenticator(*, user: Any) -> bool:
    return bool(AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).exists())


def authenticator_setup_start(*, user: Any) -> AuthenticatorDevice:
    """A new seed for the person to scan, replacing one they did not finish setting up."""
    if _has_authenticator(user=user):
        raise ServiceRefused("Two-factor sign-in is already on for your account.")
    with transaction.atomic():
        AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=False).delete()
        device: AuthenticatorDevice = AuthenticatorDevice.objects.create(
            user=user, name="Authenticator app", confirmed=False
        )
    return device


def _recovery_codes_replace(*, user: Any) -> list[str]:
    """Ten new codes for the person's set (created on first use); the old ones stop working.

    The set itself is kept, so a session verified with a recovery code stays verified.
    """
    device, _ = RecoveryCodeDevice.objects.get_or_create(
        user=user, defaults={"name": "Recovery codes", "confirmed": True}
    )
    device.codes.all().delete()
    device.throttle_reset(commit=True)
    codes = [recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(device=device, digest=recovery_code_digest(code)) for code in codes]
    )
    return codes


def authenticator_setup_confirm(*, user: Any, code: str, request: HttpRequest) -> list[str]:
    """Turn two-factor sign-in on with a first code from the app; the recovery codes.

    The session that set it up counts as verified (it just proved the code).
    """
    with transaction.atomic():
        device = (
            AuthenticatorDevice.objects.select_for_update()
            .filter(user_id=user.pk, confirmed=False)
            .order_by("-pk")
            .first()
        )
        if device is None:
            raise ServiceRefused("Start the setup again: this QR code is no longer valid.")
        # A wrong code must still count (throttling), so the check commits either way.
        allowed, _ = device.verify_is_allowed()
        accepted = allowed and device.verify_token(code)
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _recovery_codes_replace(user=user)
            audit_person(action="mfa.enable", user=user, request=request)
    if not allowed:
        raise ServiceRefused(
            "Too many wrong codes: wait a few seconds, then type the code showing now."
        )
    if not accepted:
        raise ServiceRefused(
            f"That is not the current {DIGITS}-digit code from the app. Check that the phone's "
            "clock is right, then type the code showing now."
        )
    otp_login(request, device)
    return codes


def recovery_codes_regenerate(*, user: Any, request: HttpRequest) -> list[str]:
    if not _has_authenticator(user=user):
        raise ServiceRefused("Turn on two-factor sign-in first.")
    with transaction.atomic():
        codes = _recovery_codes_replace(user=user)
        audit_person(action="mfa.recovery_regenerate", user=user, request=request)
    return codes


def two_factor_disable(*, user: Any, request: HttpRequest) -> None:
    """The person turns it off (after their password and a code): every device goes."""
    with transaction.atomic():
        deleted = _devices_delete(user=user)
        if deleted:
            audit_person(action="mfa.disable", user=user, request=request)


def two_factor_reset(*, user: Any, operator: str) -> bool:
    """An operator removes a person's devices (phone and recovery codes lost); audited.

    Their next sign-in asks for the password only, and a workspace that requires
    two-factor sign-in sends them to set it up again.
    """
    with transaction.atomic():
        deleted = _devices_delete(user=user)
        if deleted:
            audit_person(action="mfa.reset", user=user, actor_label=operator or "operator")
    return deleted


def _devices_delete(*, user: Any) -> bool:
    removed = 0
    for model in (AuthenticatorDevice, RecoveryCodeDevice, WebAuthnCredential):
        removed += model.objects.filter(user_id=user.pk).delete()[0]
    return bool(removed)


def passkey_remove(*, user: Any, passkey: WebAuthnCredential, request: HttpRequest) -> None:
    with transaction.atomic():
        WebAuthnCredential.objects.filter(pk=passkey.pk, user_id=user.pk).delete()
        audit_person(
            action="mfa.passkey_remove",
            user=user,
            request=request,
            detail={"passkey": passkey.name or "Passkey"},
        )


@dataclass(frozen=True)
class CodeCheck:
    device: Device | None  # the device that accepted the code
    wait_until: datetime | None = None  # throttled: nothing was checked

    @property
    def is_recovery_code(self) -> bool:
        return isinstance(self.device, RecoveryCodeDevice)


def sign_in_code_check(*, user: Any, code: str) -> CodeCheck:
    """Check a sign-in code: six digits go to the authenticator, anything else is a
    recovery code (used up when it matches). Throttled per device by django-otp: after
    each wrong code the next check waits 1, 2, 4, 8… seconds."""
    text = "".join(code.split())
    model: type[AuthenticatorDevice | RecoveryCodeDevice] = (
        AuthenticatorDevice if text.isdigit() and len(text) == DIGITS else RecoveryCodeDevice
    )
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user_id=user.pk, confirmed=True).first()
        if device is None:
            return CodeCheck(device=None)
        allowed, info = device.verify_is_allowed()
        if not allowed:
            return CodeCheck(device=None, wait_until=(info or {}).get("locked_until"))
        accepted = device.verify_token(text)
    return CodeCheck(device=device if accepted else None)


def recovery_codes_left(*, device: Device) -> int:
    return RecoveryCode.objects.filter(device_id=device.pk).count()


def two_factor_code_failed(*, user: Any, request: HttpRequest, throttled: bool) -> None:
    audit_person(
        action="mfa.fail",
        user=user,
        request=request,
        detail={"reason": "too many wrong codes, waiting" if throttled else "wrong code"},
    )


def workspace_mfa_requirement_set(
    *, workspace: Workspace, required: bool, request: HttpRequest
) -> bool:
    """Turn "members must use two-factor sign-in" on or off; False when unchanged.

    The admin turning it on must use it already, so nobody locks themselves out.
    """
    if required and not _has_authenticator(user=request.user):
        raise ServiceRefused(
            "Turn on two-factor sign-in for your own account first (Your account → "
            "Two-factor sign-in), then require it for everyone."
        )
    with transaction.atomic():
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if ws.mfa_required == required:
            return False
        ws.mfa_required = required
        ws.save(update_fields=["mfa_required"])
        audit_record(
            action="settings.mfa_requirement",
            workspace=ws,
            request=request,
            target=ws,
            detail={"members_must_use_two_factor": [not required, required]},
        )
    workspace.mfa_required = required
    return True
