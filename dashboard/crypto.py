"""Secrets at rest: Fernet encryption with a dedicated key list (not SECRET_KEY).

The first key in FIELD_ENCRYPTION_KEYS encrypts; every key decrypts, so keys can be
rotated by prepending a new one and running `manage.py secrets_rotate`.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.db import models


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@functools.cache
def _keys() -> tuple[Fernet, ...]:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise SecretDecryptionError("FIELD_ENCRYPTION_KEYS is empty")
    return tuple(Fernet(key.encode() if isinstance(key, str) else key) for key in keys)


def _fernet() -> MultiFernet:
    return MultiFernet(list(_keys()))


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _keys.cache_clear()


setting_changed.connect(_reset)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except (InvalidToken, ValueError, TypeError) as exc:
        # Never fall back to returning the stored value: it is ciphertext, or worse.
        raise SecretDecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the first key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except (InvalidToken, ValueError, TypeError) as exc:
        raise SecretDecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc


def encrypted_with_first_key(ciphertext: str) -> bool:
    """True when the first (current) key decrypts this: rotation has nothing to do."""
    try:
        _keys()[0].decrypt(ciphertext.encode())
    except (InvalidToken, ValueError, TypeError):
        return False
    return True


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) holding an EncryptedTextField, across all apps."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def token_hash(token: str) -> str:
    """Hash for bearer tokens we only need to recognise (ingest tokens, link tokens)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column holding Fernet ciphertext; Python code sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


@checks.register(checks.Tags.security)
def encryption_keys_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse to start with a malformed key rather than failing at the first secret."""
    errors: list[checks.CheckMessage] = []
    for index, key in enumerate(settings.FIELD_ENCRYPTION_KEYS):
        try:
            Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS entry {index + 1} is not a valid Fernet key",
                    hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="dashboard.E001",
                )
            )
    return errors
