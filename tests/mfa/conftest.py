"""Two-factor helpers: a person with an authenticator, and codes computed like their app.

Codes come from django-otp's own TOTP over the device's seed, at a chosen time step: a
code is accepted once per step, so a test that needs a second code asks for the next
step (accepted: phones' clocks drift by a step).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP

from mfa.models import AuthenticatorDevice
from mfa.services import _recovery_codes_replace

LOGIN = reverse("login")
CODE_STEP = reverse("mfa:sign_in_code")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Sign-in lock-outs are counted in the database, sessions live in the cache."""
    cache.clear()
    yield
    cache.clear()


def code_for(device: AuthenticatorDevice, *, steps: int = 0) -> str:
    """The code an authenticator app shows now (or `steps` steps of 30 s from now)."""
    totp = TOTP(device.seed, step=30, digits=6)
    totp.time = time.time() + 30 * steps
    return f"{totp.token():06d}"


def wrong_code_for(device: AuthenticatorDevice) -> str:
    """Six digits no step near now accepts."""
    near = {code_for(device, steps=steps) for steps in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222") if code not in near)


def authenticator_give(user: Any) -> tuple[AuthenticatorDevice, list[str]]:
    """Two-factor sign-in already on for `user`: their device and recovery codes."""
    device = AuthenticatorDevice.objects.create(user=user, name="Authenticator app")
    return device, _recovery_codes_replace(user=user)


@pytest.fixture
def admin_2fa(admin: Any) -> tuple[AuthenticatorDevice, list[str]]:
    return authenticator_give(admin)


def password_step(client: Client, username: str, *, next_url: str = "", ip: str = "198.51.100.7"):
    data = {"username": username, "password": username}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


def code_step(client: Client, code: str, *, ip: str = "198.51.100.7"):
    return client.post(CODE_STEP, {"code": code}, REMOTE_ADDR=ip)


def verified_client(user: Any, device: Any) -> Client:
    """A session signed in with two-factor, as the code step leaves it."""
    client = Client()
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client
