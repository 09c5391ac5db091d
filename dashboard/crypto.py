"""Secrets at rest: Fernet encryption with a dedicated key list (not SECRET_KEY).

The first key in FIELD_ENCRYPTION_KEYS encrypts; every key decrypts, so keys can be
rotated by prepending a new one and running `manage.py secrets_rotate`.

An encrypted column is decrypted when its attribute is read, never when its row is
loaded: a row whose secret no configured key can decrypt (the keys changed) loads, lists
and saves like any other, and only the code that reads the secret gets
SecretDecryptionError (SecretsUnreadableMiddleware turns it into an explanation).
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
from django.db.models.query_utils import DeferredAttribute


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


# What a person is told when a stored secret cannot be decrypted (pages, messages, mails).
SECRETS_UNREADABLE = (
    "The stored secrets cannot be decrypted: the encryption keys changed "
    "(FIELD_ENCRYPTION_KEYS no longer holds the key they were saved with). "
    "See “Rotating the encryption key” in the README."
)


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


class Sealed:
    """Ciphertext as loaded from the database, not decrypted yet.

    Model attributes never show it (reading one decrypts it); `.values()` and
    `.values_list()` on an encrypted column do: call `reveal()` for the plaintext.
    """

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext

    def reveal(self) -> str:
        return decrypt(self.ciphertext)

    def __repr__(self) -> str:
        return "<Sealed secret>"


class EncryptedAttribute(DeferredAttribute):
    """The model attribute of an EncryptedTextField: decrypts on the first read."""

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)  # loads a deferred column first
        if isinstance(value, Sealed):
            value = value.reveal()  # raises SecretDecryptionError; the row stays sealed
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column holding Fernet ciphertext; Python code sees the plaintext."""

    descriptor_class = EncryptedAttribute

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return Sealed(value)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # The stored value as it is: saving a row never needs to decrypt its secret.
        if self.attname in model_instance.__dict__:
            return model_instance.__dict__[self.attname]
        return super().pre_save(model_instance, add)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return value.ciphertext  # unchanged, even when no configured key reads it
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
