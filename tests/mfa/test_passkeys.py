"""Passkeys (django-otp-webauthn) as another way through the code step: offered once the
authenticator app is on, bound to SITE_URL's host, a second factor only, owner-scoped,
audited; the page works under the CSP. The ceremonies themselves run in Chromium with a
virtual authenticator (test_browser.py)."""

from __future__ import annotations

import json
import re
from base64 import urlsafe_b64encode

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from dashboard.models import AuditEvent
from tests.dashboard.test_hardening import InlineFinder
from tests.mfa.conftest import authenticator_give, password_step, verified_client
from tests.mfa.url_samples import passkey_make

pytestmark = pytest.mark.django_db

MANAGE = reverse("mfa:manage")
ADD_BEGIN = reverse("mfa:passkey_add_begin")
SIGN_IN_BEGIN = reverse("mfa:passkey_sign_in_begin")


@pytest.fixture
def https_site(settings):
    settings.SITE_URL = "https://dashboard.example"
    settings.ALLOWED_HOSTS = ["dashboard.example", "testserver"]
    return settings.SITE_URL


def config_of(html: str):
    found = re.search(r'<div hidden id="otp_webauthn_config">([^<]+)</div>', html)
    assert found, "no passkey configuration on the page"
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_the_page_offers_passkeys_with_no_inline_script(admin, https_site):
    device, _ = authenticator_give(admin)
    html = verified_client(admin, device).get(MANAGE).content.decode()
    assert 'id="passkey-register-button"' in html
    config = config_of(html)
    assert config["beginRegistrationUrl"] == ADD_BEGIN
    assert config["completeAuthenticationUrl"] == reverse("mfa:passkey_sign_in_complete")
    finder = InlineFinder()
    finder.feed(html)
    assert finder.problems == []


def test_passkeys_are_not_offered_where_browsers_refuse_them(admin, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"  # an IP address cannot hold passkeys
    device, _ = authenticator_give(admin)
    html = verified_client(admin, device).get(MANAGE).content.decode()
    assert "passkey-register-button" not in html
    assert "Passkeys need the dashboard at an https:// address" in html


def test_a_passkey_is_added_only_once_the_authenticator_app_is_on(as_admin, https_site):
    response = as_admin.post(ADD_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "authenticator_first"


def test_a_session_signed_in_without_the_code_cannot_add_a_passkey(admin, https_site):
    authenticator_give(admin)
    client = Client()
    client.force_login(admin)
    response = client.post(ADD_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "user_not_verified"


def test_adding_begins_for_this_host_and_this_person(admin, https_site):
    device, _ = authenticator_give(admin)
    options = verified_client(admin, device).post(ADD_BEGIN).json()
    assert options["rp"] == {"name": "SocialAPI Dashboard", "id": "dashboard.example"}
    assert options["user"]["name"] == "alice"


def test_the_passkey_step_needs_the_password_step_first(client, admin, https_site):
    authenticator_give(admin)
    passkey_make(admin)
    response = client.post(SIGN_IN_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "passwordless_login_disabled"  # never without a password


def test_after_the_password_the_passkey_step_asks_for_the_persons_own_passkeys(
    client, admin, member, https_site
):
    authenticator_give(admin)
    mine = passkey_make(admin)
    passkey_make(member)
    password_step(client, "alice")
    page = client.get(reverse("mfa:sign_in_code")).content.decode()
    assert "Use a passkey instead" in page
    options = client.post(SIGN_IN_BEGIN).json()
    assert options["rpId"] == "dashboard.example"
    allowed = [credential["id"] for credential in options["allowCredentials"]]
    assert allowed == [urlsafe_b64encode(bytes(mine.credential_id)).decode().rstrip("=")]


def test_the_passkey_step_is_refused_while_the_sign_in_is_locked(
    client, admin, https_site, settings
):
    authenticator_give(admin)
    passkey_make(admin)
    password_step(client, "alice")
    AccessAttempt.objects.create(
        username="alice",
        ip_address="127.0.0.1",
        user_agent="",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )
    assert client.post(SIGN_IN_BEGIN).status_code == 429


def test_people_without_a_passkey_are_not_offered_one_at_sign_in(client, admin, https_site):
    authenticator_give(admin)
    password_step(client, "alice")
    assert "Use a passkey" not in client.get(reverse("mfa:sign_in_code")).content.decode()


def test_a_session_verified_with_a_passkey_counts_as_two_factor(admin, workspace):
    authenticator_give(admin)
    passkey = passkey_make(admin)
    workspace.mfa_required = True
    workspace.save()
    client = verified_client(admin, passkey)
    assert client.get(reverse("overview", args=[workspace.slug])).status_code == 200


def test_a_person_removes_their_own_passkey_audited(admin, workspace, https_site):
    device, _ = authenticator_give(admin)
    passkey = passkey_make(admin)
    client = verified_client(admin, device)
    response = client.post(reverse("mfa:passkey_remove", args=[passkey.pk]))
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert AuditEvent.objects.get(action="mfa.passkey_remove").workspace == workspace


def test_nobody_removes_someone_elses_passkey(admin, member):
    theirs = passkey_make(admin)
    device, _ = authenticator_give(member)
    client = verified_client(member, device)
    assert client.post(reverse("mfa:passkey_remove", args=[theirs.pk])).status_code == 404
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()


def test_turning_two_factor_off_removes_the_passkeys_too(admin):
    device, codes = authenticator_give(admin)
    passkey_make(admin)
    client = verified_client(admin, device)
    client.post(reverse("mfa:disable"), {"password": "alice", "code": codes[0]})
    assert not WebAuthnCredential.objects.filter(user=admin).exists()
