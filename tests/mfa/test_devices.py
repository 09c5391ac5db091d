"""The two devices: authenticator codes (RFC 6238, once per step, drift, throttling) and
recovery codes (used up, stored as digests only). The seed is encrypted at rest."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from dashboard.crypto import encrypted_fields
from mfa.models import (
    RECOVERY_CODE_COUNT,
    AuthenticatorDevice,
    RecoveryCode,
    RecoveryCodeDevice,
    recovery_code_digest,
)
from tests.mfa.conftest import authenticator_give, code_for, wrong_code_for

pytestmark = pytest.mark.django_db


def test_it_accepts_the_current_code_once(admin):
    device, _ = authenticator_give(admin)
    code = code_for(device)
    assert device.verify_token(code)
    assert not AuthenticatorDevice.objects.get(pk=device.pk).verify_token(code)  # replayed


def test_it_accepts_a_code_one_step_off_and_learns_the_drift(admin):
    device, _ = authenticator_give(admin)
    assert device.verify_token(code_for(device, steps=1))
    device.refresh_from_db()
    assert device.drift == 1
    assert not device.verify_token(code_for(device, steps=3))  # too far off


def test_it_refuses_anything_but_six_digits(admin):
    device, _ = authenticator_give(admin)
    good = code_for(device)
    for typed in (good[:5], good + "0", f"{good[:3]}_{good[3:]}", "١٢٣٤٥٦", "abcdef", ""):
        assert not device.verify_token(typed), typed


def test_wrong_codes_make_the_next_check_wait_longer_each_time(admin):
    device, _ = authenticator_give(admin)
    for _ in range(3):
        AuthenticatorDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
        device.refresh_from_db()
        device.verify_token(wrong_code_for(device))
    device.refresh_from_db()
    assert device.throttling_failure_count == 3
    allowed, info = device.verify_is_allowed()
    assert not allowed
    assert info["locked_until"] - device.throttling_failure_timestamp == timedelta(seconds=4)
    assert not device.verify_token(code_for(device))  # even the right code waits


def test_the_seed_is_encrypted_at_rest_and_rotated_with_the_other_secrets(admin, settings):
    device, _ = authenticator_give(admin)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM mfa_authenticatordevice WHERE id = %s", [device.pk])
        stored = cursor.fetchone()[0]
    assert device.key not in stored and stored.startswith("gAAAA")  # Fernet
    assert (AuthenticatorDevice, "key") in encrypted_fields()

    from cryptography.fernet import Fernet

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    out = StringIO()
    call_command("secrets_rotate", stdout=out)
    assert "mfa.AuthenticatorDevice.key: 1 rotated" in out.getvalue()
    assert AuthenticatorDevice.objects.get(pk=device.pk).key == device.key


def test_recovery_codes_are_stored_as_digests_and_each_works_once(admin):
    _, codes = authenticator_give(admin)
    assert len(codes) == len(set(codes)) == RECOVERY_CODE_COUNT
    stored = set(RecoveryCode.objects.values_list("digest", flat=True))
    assert not any(code in digest for code in codes for digest in stored)
    device = RecoveryCodeDevice.objects.get(user=admin)
    assert device.verify_token(codes[0])
    assert not RecoveryCodeDevice.objects.get(pk=device.pk).verify_token(codes[0])
    assert device.codes.count() == RECOVERY_CODE_COUNT - 1


def test_a_recovery_code_may_be_typed_in_capitals_and_without_dashes(admin):
    _, codes = authenticator_give(admin)
    typed = codes[1].replace("-", " ").upper()
    assert recovery_code_digest(typed) == recovery_code_digest(codes[1])
    assert RecoveryCodeDevice.objects.get(user=admin).verify_token(typed)


def test_recovery_codes_avoid_characters_read_wrong_off_paper(admin):
    _, codes = authenticator_give(admin)
    for code in codes:
        assert len(code.replace("-", "")) == 16
        assert not set(code) & set("01ilo")


def test_the_device_timestamps_its_last_use(admin):
    device, _ = authenticator_give(admin)
    assert device.last_used_at is None
    device.verify_token(code_for(device))
    device.refresh_from_db()
    assert timezone.now() - device.last_used_at < timedelta(minutes=1)
