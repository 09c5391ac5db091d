"""The two-factor pages in the tenant-isolation matrix (tests/dashboard/url_matrix.py)."""

from __future__ import annotations

import secrets
from typing import Any

from tests.dashboard.url_matrix import Public, Sample
from tests.dashboard.url_samples import _status_in


def passkey_make(user: Any) -> Any:
    """A stored passkey of `user` (as django-otp-webauthn saves one after registering)."""
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.create(
        user=user,
        name="Passkey",
        credential_id=secrets.token_bytes(32),
        public_key=secrets.token_bytes(77),
    )


def passkey_id(sample: Sample) -> int:
    """The workspace admin's passkey: nobody else may remove it (404 for them)."""
    return int(passkey_make(sample.cast["admin"]).pk)


KWARG_FACTORIES = {"passkey_id": passkey_id}

PUBLIC_URLS = {
    "mfa:sign_in_code": Public(
        "the second sign-in step: only a session that just passed the password step (for "
        "5 minutes) gets its form; anyone else is sent to sign in",
        expect=_status_in({302}),
    ),
    "mfa:passkey_sign_in_begin": Public(
        "the passkey way through the second step (JSON, from the library's script): "
        "refused without a session that just passed the password step",
        expect=_status_in({403}, method="POST"),
    ),
    "mfa:passkey_sign_in_complete": Public(
        "the passkey way through the second step (JSON): refused without a session that "
        "just passed the password step and a challenge it was given",
        expect=_status_in({403}, method="POST"),
    ),
    "mfa:passkey_i18n": Public(
        "the passkey script's words (a script file, the same for everyone)",
        expect=_status_in({200}, method="GET"),
    ),
}
