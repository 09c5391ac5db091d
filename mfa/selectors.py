"""Reads for two-factor sign-in: a person's devices, who requires it, the session's proof."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp_webauthn.models import WebAuthnCredential

from dashboard.models import Workspace
from mfa.models import AuthenticatorDevice, RecoveryCodeDevice

# The device models a session may be verified by (`django_otp.login` stores
# "<app>.<model>/<id>"); anything else in the session is ignored.
SESSION_DEVICE_MODELS: dict[str, type[Device]] = {
    AuthenticatorDevice.model_label(): AuthenticatorDevice,
    RecoveryCodeDevice.model_label(): RecoveryCodeDevice,
    WebAuthnCredential.model_label(): WebAuthnCredential,
}


def two_factor_enabled(*, user: Any) -> bool:
    """The person has a confirmed authenticator: signing in asks for a code."""
    return bool(
        user.is_authenticated
        and AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
    )


@dataclass(frozen=True)
class TwoFactorStatus:
    authenticator: AuthenticatorDevice | None  # confirmed
    recovery: RecoveryCodeDevice | None
    recovery_codes_left: int
    passkeys: list[WebAuthnCredential]

    @property
    def enabled(self) -> bool:
        return self.authenticator is not None


def two_factor_status(*, user: Any) -> TwoFactorStatus:
    authenticator: AuthenticatorDevice | None = (
        AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).defer("key").first()
    )
    recovery = RecoveryCodeDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    left = recovery.codes.count() if recovery is not None else 0
    return TwoFactorStatus(
        authenticator=authenticator,
        recovery=recovery,
        recovery_codes_left=left,
        passkeys=passkeys_of(user) if authenticator is not None else [],
    )


def passkeys_of(user: Any) -> list[WebAuthnCredential]:
    """The person's passkeys, oldest first (none unless the authenticator app is on)."""
    return list(
        WebAuthnCredential.objects.filter(user_id=user.pk, confirmed=True)
        .only("id", "user", "confirmed", "name", "created_at", "last_used_at")
        .order_by("created_at", "pk")
    )


def passkey_of(*, user: Any, passkey_id: int) -> WebAuthnCredential | None:
    """One of the person's own passkeys; anyone else's is None."""
    found: WebAuthnCredential | None = WebAuthnCredential.objects.filter(
        pk=passkey_id, user_id=user.pk
    ).first()
    return found


def authenticator_pending(*, user: Any) -> AuthenticatorDevice | None:
    """The unconfirmed authenticator a person is setting up, if they started."""
    device: AuthenticatorDevice | None = (
        AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("-pk").first()
    )
    return device


def workspaces_requiring_two_factor(*, user: Any) -> list[Workspace]:
    """The person's workspaces whose admins turned on "members must use two-factor"."""
    return list(
        Workspace.objects.filter(memberships__user_id=user.pk, mfa_required=True).order_by("name")
    )


def staff_must_use_two_factor(user: Any) -> bool:
    return bool(settings.MFA_REQUIRED_FOR_STAFF and user.is_authenticated and user.is_staff)


def session_device(request: HttpRequest) -> Device | None:
    """The device this session was verified with (a code at sign-in or at setup), or None.

    One query, made only where two-factor sign-in is required: the session holds the
    device's id, and a device deleted since (two-factor turned off, reset) verifies nothing.
    """
    user = request.user
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    if not user.is_authenticated or not isinstance(persistent_id, str):
        return None
    label, _, pk = persistent_id.rpartition("/")
    model = SESSION_DEVICE_MODELS.get(label)
    if model is None or not pk.isdigit():
        return None
    return (
        model.objects.filter(pk=int(pk), user_id=user.pk, confirmed=True)
        .only("id", "user", "confirmed", "name")
        .first()
    )
