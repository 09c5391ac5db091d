"""Support staff need two-factor sign-in in production (MFA_REQUIRED_FOR_STAFF), not in
development, where the demo's `support` / `support` signs in with the password alone.
Also the operator's reset for a person who lost their phone and recovery codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from dashboard.models import AuditEvent
from mfa.models import AuthenticatorDevice, RecoveryCodeDevice
from tests.dashboard.test_hardening import production_env, run
from tests.mfa.conftest import authenticator_give, code_for, code_step, password_step

STAFF_PAGES = ("support", "events_support_errors", "admin:index")


@pytest.fixture
def staff_required(settings):
    settings.MFA_REQUIRED_FOR_STAFF = True


@pytest.mark.django_db
def test_in_development_staff_sign_in_with_the_password(as_support, settings):
    assert settings.MFA_REQUIRED_FOR_STAFF is False
    for name in STAFF_PAGES:
        assert as_support.get(reverse(name)).status_code == 200, name


@pytest.mark.django_db
@pytest.mark.usefixtures("staff_required")
def test_staff_without_it_reach_nothing_but_the_setup(as_support, workspace):
    for url in [reverse(name) for name in STAFF_PAGES] + [reverse("overview", args=["acme"])]:
        response = as_support.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("mfa:setup")), url
    html = as_support.get(reverse("mfa:setup")).content.decode()
    assert "Support staff must use two-factor sign-in on this server" in html
    assert as_support.get(reverse("mfa:manage")).status_code == 200
    assert as_support.post(reverse("logout")).status_code == 302
    assert not AuditEvent.objects.filter(action="support.view").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("staff_required")
def test_staff_signed_in_with_a_code_work_as_usual(support, workspace):
    device, _ = authenticator_give(support)
    client = Client()
    password_step(client, "sam")
    code_step(client, code_for(device))
    for name in STAFF_PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(reverse("overview", args=[workspace.slug])).status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("staff_required")
def test_a_staff_session_without_the_code_is_asked_for_it(support):
    authenticator_give(support)
    client = Client()
    client.force_login(support)
    assert client.get(reverse("support")).url.startswith(reverse("mfa:sign_in_code"))


@pytest.mark.django_db
@pytest.mark.usefixtures("staff_required")
def test_people_who_are_not_staff_are_not_held(as_admin, workspace):
    assert as_admin.get(reverse("overview", args=[workspace.slug])).status_code == 200


def _setting(tmp_path, **env):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps(s.MFA_REQUIRED_FOR_STAFF))"
    )
    result = run(["-c", code], {**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_require_it_for_staff(tmp_path):
    assert _setting(tmp_path, **production_env(tmp_path)) is True
    assert _setting(tmp_path, **production_env(tmp_path, MFA_REQUIRED_FOR_STAFF="false")) is False


def test_development_settings_leave_it_to_staff(tmp_path):
    env = production_env(tmp_path, DASHBOARD_ENV="development")
    assert _setting(tmp_path, **env) is False


@pytest.mark.django_db
def test_an_operator_resets_a_persons_two_factor_audited(admin, workspace):
    from django_otp_webauthn.models import WebAuthnCredential

    from tests.mfa.url_samples import passkey_make

    authenticator_give(admin)
    passkey_make(admin)
    out = StringIO()
    call_command("mfa_reset", "alice", stdout=out)
    assert "Two-factor sign-in removed for alice" in out.getvalue()
    assert not AuthenticatorDevice.objects.filter(user=admin).exists()
    assert not RecoveryCodeDevice.objects.filter(user=admin).exists()
    assert not WebAuthnCredential.objects.filter(user=admin).exists()
    entry = AuditEvent.objects.get(action="mfa.reset")
    assert (entry.workspace, entry.actor, entry.actor_label) == (
        workspace,
        None,
        "manage.py mfa_reset",
    )
    # Their password alone signs them in again.
    client = Client()
    assert password_step(client, "alice").url == reverse("home")

    out = StringIO()
    call_command("mfa_reset", "alice", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert AuditEvent.objects.filter(action="mfa.reset").count() == 1
    with pytest.raises(CommandError, match="No person is called 'nobody'"):
        call_command("mfa_reset", "nobody")
