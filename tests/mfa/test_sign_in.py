"""Signing in with two-factor: password, then a code (or a recovery code, once), throttled
by the sign-in lock-out and by the devices, audited; nothing is signed in before the code."""

from __future__ import annotations

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dashboard.models import AuditEvent, Membership
from mfa.models import AuthenticatorDevice, RecoveryCodeDevice
from mfa.views import PENDING
from tests.mfa.conftest import (
    CODE_STEP,
    LOGIN,
    authenticator_give,
    code_for,
    code_step,
    password_step,
    wrong_code_for,
)

pytestmark = pytest.mark.django_db


def signed_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).username if user_id else None


def test_without_two_factor_the_password_signs_in_at_once(client, admin):
    response = password_step(client, "alice")
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert signed_in_as(client) == "alice"


def test_with_two_factor_the_password_alone_signs_nobody_in(client, admin, admin_2fa, workspace):
    response = password_step(client, "alice")
    assert response.status_code == 302
    assert response.url == CODE_STEP
    assert signed_in_as(client) is None
    overview = client.get(reverse("overview", args=[workspace.slug]))
    assert overview.status_code == 302 and overview.url.startswith(LOGIN)
    page = client.get(CODE_STEP)
    assert page.status_code == 200
    assert "Two-factor sign-in" in page.content.decode()
    assert "no-store" in page["Cache-Control"]


def test_the_code_from_the_app_signs_in_and_verifies_the_session(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice")
    response = code_step(client, code_for(device))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert signed_in_as(client) == "alice"
    assert client.session["otp_device_id"] == device.persistent_id
    assert PENDING not in client.session


def test_the_page_asked_for_before_signing_in_comes_after_the_code(
    client, admin, admin_2fa, workspace
):
    device, _ = admin_2fa
    settings_url = reverse("settings", args=[workspace.slug])
    password_step(client, "alice", next_url=settings_url)
    assert code_step(client, code_for(device)).url == settings_url


def test_a_next_pointing_off_site_is_dropped(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice", next_url="https://evil.example/")
    assert code_step(client, code_for(device)).url == reverse("home")


def test_a_wrong_code_is_refused_counted_and_audited(client, admin, admin_2fa, workspace):
    device, _ = admin_2fa
    password_step(client, "alice")
    response = code_step(client, wrong_code_for(device))
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert signed_in_as(client) is None
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start == 1
    assert wrong_code_for(device) not in attempt.post_data  # axes never stores the code
    entry = AuditEvent.objects.get(action="mfa.fail")
    assert entry.workspace == workspace and entry.actor == admin and entry.ip == "198.51.100.7"


def test_repeated_wrong_codes_lock_the_sign_in_like_wrong_passwords(
    client, admin, admin_2fa, settings
):
    device, _ = admin_2fa
    password_step(client, "alice")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        AuthenticatorDevice.objects.update(throttling_failure_timestamp=None)  # no waiting
        assert code_step(client, wrong_code_for(device)).status_code == 200
    AuthenticatorDevice.objects.update(throttling_failure_timestamp=None)
    locked = code_step(client, wrong_code_for(device))
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    # The half-finished sign-in is gone, and the password step is locked too.
    assert PENDING not in client.session
    assert code_step(client, code_for(device)).url == LOGIN
    assert password_step(client, "alice").status_code == 429
    assert signed_in_as(client) is None


def test_the_code_step_refuses_while_the_person_is_locked_out(client, admin, admin_2fa, settings):
    device, _ = admin_2fa
    password_step(client, "alice")
    AccessAttempt.objects.create(
        username="alice",
        ip_address="198.51.100.7",
        user_agent="",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )
    response = code_step(client, code_for(device))
    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_after_a_wrong_code_the_device_makes_the_next_one_wait(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice")
    code_step(client, wrong_code_for(device))
    response = code_step(client, code_for(device))  # right, but too soon
    assert "Too many wrong codes: wait" in response.content.decode()
    assert signed_in_as(client) is None
    AuthenticatorDevice.objects.update(throttling_failure_timestamp=None)
    assert code_step(client, code_for(device)).status_code == 302
    assert signed_in_as(client) == "alice"


def test_a_success_clears_the_failures_counted_so_far(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice")
    code_step(client, wrong_code_for(device))
    AuthenticatorDevice.objects.update(throttling_failure_timestamp=None)
    code_step(client, code_for(device))
    assert not AccessAttempt.objects.filter(username="alice").exists()


def test_a_recovery_code_signs_in_once(client, admin, admin_2fa):
    _, codes = admin_2fa
    password_step(client, "alice")
    response = code_step(client, codes[0].upper())
    assert response.status_code == 302
    assert signed_in_as(client) == "alice"
    recovery = RecoveryCodeDevice.objects.get(user=admin)
    assert client.session["otp_device_id"] == recovery.persistent_id
    landed = client.get(response.url, follow=True)
    assert "You signed in with a recovery code; it will not work again. 9 left" in (
        landed.content.decode()
    )

    again = Client()
    password_step(again, "alice")
    refused = code_step(again, codes[0])
    assert "That code is not right" in refused.content.decode()
    assert signed_in_as(again) is None


def test_a_code_used_once_does_not_sign_in_again(client, admin, admin_2fa):
    device, _ = admin_2fa
    code = code_for(device)
    password_step(client, "alice")
    code_step(client, code)
    other = Client()
    password_step(other, "alice")
    assert "That code is not right" in code_step(other, code).content.decode()


def test_the_code_step_expires_after_five_minutes(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice")
    session = client.session
    session[PENDING] = {**session[PENDING], "since": int(time.time()) - 5 * 60 - 1}
    session.save()
    response = code_step(client, code_for(device))
    assert response.url == LOGIN
    assert signed_in_as(client) is None
    assert "only open for 5 minutes" in client.get(LOGIN).content.decode()


def test_a_password_changed_meanwhile_ends_the_half_finished_sign_in(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice")
    admin.set_password("a-new-Passphrase-77")
    admin.save()
    assert code_step(client, code_for(device)).url == LOGIN
    assert signed_in_as(client) is None


def test_a_person_deactivated_meanwhile_is_not_signed_in(client, admin, admin_2fa):
    device, _ = admin_2fa
    password_step(client, "alice")
    User.objects.filter(pk=admin.pk).update(is_active=False)
    assert code_step(client, code_for(device)).url == LOGIN
    assert signed_in_as(client) is None


def test_the_code_step_without_a_password_first_goes_back_to_sign_in(client, db):
    assert client.get(CODE_STEP).url == LOGIN
    assert client.post(CODE_STEP, {"code": "123456"}).url == LOGIN


def test_a_wrong_code_is_audited_in_each_of_the_persons_workspaces(
    client, admin, admin_2fa, workspace, other_workspace
):
    Membership.objects.create(user=admin, workspace=other_workspace)
    device, _ = admin_2fa
    password_step(client, "alice")
    code_step(client, wrong_code_for(device))
    audited = AuditEvent.objects.filter(action="mfa.fail").values_list("workspace", flat=True)
    assert set(audited) == {workspace.pk, other_workspace.pk}


def test_staff_in_no_workspace_are_audited_without_one(client, support):
    device, _ = authenticator_give(support)
    password_step(client, "sam")
    code_step(client, wrong_code_for(device))
    assert AuditEvent.objects.get(action="mfa.fail").workspace is None


def test_the_admin_site_signs_in_through_the_two_factor_sign_in(client, support, as_admin):
    authenticator_give(support)
    page = client.get(reverse("admin:login"), {"next": "/admin/dashboard/workspace/"})
    assert page.status_code == 302
    assert page.url == f"{LOGIN}?next=/admin/dashboard/workspace/"
    # Its own password form is gone: posting to it signs nobody in.
    client.post(reverse("admin:login"), {"username": "sam", "password": "sam"})
    assert signed_in_as(client) is None
    assert client.get(reverse("admin:login"), {"next": "https://evil.example/"}).url == (
        f"{LOGIN}?next=/admin/"
    )
    assert as_admin.get(reverse("admin:login")).status_code == 403  # signed in, not staff
