"""Two-factor devices: an authenticator app (TOTP) and a person's single-use recovery codes.

Both are django-otp devices: its `Device` base (what `django_otp.login` binds to a
session), its per-device throttling with exponential back-off, and its RFC 6238 TOTP
(`django_otp.oath.TOTP`). django-otp's stock TOTPDevice and StaticDevice keep the seed and
the codes in plain text; this project keeps no secret in plain text, so the seed is an
`EncryptedTextField` (rotated by `manage.py secrets_rotate` with the API keys) and the
recovery codes are stored as SHA-256 digests, like ingest tokens.
"""

from __future__ import annotations

import secrets
import time
from binascii import unhexlify
from typing import Any

from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from dashboard.crypto import EncryptedTextField, token_hash

SEED_BYTES = 20  # 160 bits, what RFC 4226 recommends and every authenticator app reads
STEP_SECONDS = 30
DIGITS = 6
# Codes one step either side of now are accepted: phones' clocks drift.
TOLERANCE_STEPS = 1
RECOVERY_CODE_COUNT = 10
# 16 characters of these 31 (no 0/o, 1/l/i: codes are read off paper): 79 bits, so a
# stored digest cannot be reversed by trying every code.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 16


def seed_new() -> str:
    return secrets.token_hex(SEED_BYTES)


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """An authenticator app (Google Authenticator, 1Password, Aegis…) sharing a TOTP seed."""

    # Hex of the seed, encrypted at rest. Shown once (QR code and text) while setting up.
    key = EncryptedTextField(default=seed_new)
    # The time step of the last code accepted: a code is never accepted twice.
    last_t = models.BigIntegerField(default=-1)
    # Steps the person's phone is known to be off by (learned from accepted codes).
    drift = models.SmallIntegerField(default=0)

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "authenticator app"

    @property
    def seed(self) -> bytes:
        return unhexlify(self.key.encode())

    def totp(self, at: float | None = None) -> TOTP:
        totp = TOTP(self.seed, step=STEP_SECONDS, digits=DIGITS, drift=self.drift)
        totp.time = time.time() if at is None else at
        return totp

    def get_throttle_factor(self) -> int:
        return 1  # waits of 1, 2, 4, 8… seconds after successive wrong codes

    def verify_token(self, token: Any) -> bool:
        """django-otp's TOTPDevice check: throttled, one use per step, drift learned."""
        allowed, _ = self.verify_is_allowed()
        text = str(token).strip()
        verified = False
        if allowed and len(text) == DIGITS and text.isascii() and text.isdigit():
            totp = self.totp()
            verified = bool(totp.verify(int(text), TOLERANCE_STEPS, self.last_t + 1))
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified


def recovery_code_digest(code: str) -> str:
    """The stored form of a code as a person may type it (any case, spaces or dashes)."""
    return token_hash("".join(ch for ch in code.lower() if ch.isalnum()))


def recovery_code_new() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """A person's set of recovery codes: each one signs in once, when the phone is gone."""

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "recovery code set"

    def get_throttle_factor(self) -> int:
        return 1

    def verify_token(self, token: Any) -> bool:
        """django-otp's StaticDevice check, on digests: a matching code is used up."""
        allowed, _ = self.verify_is_allowed()
        match = None
        if allowed:
            match = self.codes.filter(digest=recovery_code_digest(str(token))).first()
        if match is None:
            self.throttle_increment(commit=True)
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "digest"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of device {self.device_id}"
