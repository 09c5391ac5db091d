"""The "Two-factor sign-in" page: set up with a QR code and a first code, recovery codes
shown once, new codes, turning it off with the password and a code. All audited."""

from __future__ import annotations

import re
from base64 import b32decode
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from dashboard.models import AuditEvent
from mfa.models import AuthenticatorDevice, RecoveryCodeDevice
from mfa.views import otpauth_url
from tests.mfa.conftest import authenticator_give, code_for, verified_client, wrong_code_for

pytestmark = pytest.mark.django_db

MANAGE = reverse("mfa:manage")
SETUP = reverse("mfa:setup")
CONFIRM = reverse("mfa:setup_confirm")


def shown_key(html: str) -> bytes:
    found = re.search(r'id="setup-key" class="mono" value="([A-Z2-7 ]+)"', html)
    assert found, "the setup key is not on the page"
    return b32decode(found.group(1).replace(" ", ""))


def test_the_page_says_it_is_off_and_offers_the_setup(as_admin):
    html = as_admin.get(MANAGE).content.decode()
    assert "Signing in asks for your password only" in html
    assert f'href="{SETUP}"' in html


def test_opening_the_setup_page_creates_nothing(as_admin, admin):
    page = as_admin.get(SETUP)
    assert page.status_code == 200
    assert "Show the QR code" in page.content.decode()
    assert not AuthenticatorDevice.objects.exists()


def test_starting_shows_a_qr_code_and_the_key_it_holds(as_admin, admin):
    response = as_admin.post(SETUP)
    assert response.status_code == 302 and response.url == SETUP
    page = as_admin.get(SETUP)
    html = page.content.decode()
    device = AuthenticatorDevice.objects.get(user=admin, confirmed=False)
    assert shown_key(html) == device.seed
    assert 'src="data:image/svg+xml' in html  # the CSP allows data: images, nothing inline
    assert "no-store" in page["Cache-Control"]
    url = urlsplit(otpauth_url(device))
    assert (url.scheme, url.netloc, unquote(url.path)) == (
        "otpauth",
        "totp",
        "/SocialAPI Dashboard:alice",
    )
    query = parse_qs(url.query)
    assert query["issuer"] == ["SocialAPI Dashboard"]
    assert b32decode(query["secret"][0]) == device.seed
    assert query["digits"] == ["6"] and query["period"] == ["30"]


def test_starting_over_replaces_the_unfinished_key(as_admin, admin):
    as_admin.post(SETUP)
    first = AuthenticatorDevice.objects.get(user=admin)
    as_admin.post(SETUP)
    assert list(AuthenticatorDevice.objects.filter(user=admin)) != [first]
    assert AuthenticatorDevice.objects.filter(user=admin).count() == 1


def test_a_wrong_first_code_turns_nothing_on(as_admin, admin):
    as_admin.post(SETUP)
    device = AuthenticatorDevice.objects.get(user=admin)
    response = as_admin.post(CONFIRM, {"code": wrong_code_for(device)})
    assert response.status_code == 400
    assert "That is not the current 6-digit code" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed and device.throttling_failure_count == 1
    assert not AuditEvent.objects.filter(action="mfa.enable").exists()
    assert "Type the 6 digits" in as_admin.post(CONFIRM, {"code": "12ab56"}).content.decode()


def test_the_first_code_turns_it_on_and_shows_the_recovery_codes_once(as_admin, admin, workspace):
    as_admin.post(SETUP)
    device = AuthenticatorDevice.objects.get(user=admin)
    response = as_admin.post(CONFIRM, {"code": code_for(device)})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    codes = re.findall(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>", html)
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    # Shown once: the page afterwards has a count, never the codes.
    later = as_admin.get(MANAGE).content.decode()
    assert not any(code in later for code in codes)
    assert "Recovery codes left</dt><dd>10" in later
    # The session that set it up is verified, and the codes work.
    assert as_admin.session["otp_device_id"] == device.persistent_id
    assert RecoveryCodeDevice.objects.get(user=admin).verify_token(codes[3])
    entry = AuditEvent.objects.get(action="mfa.enable")
    assert (entry.workspace, entry.actor, entry.target_label) == (workspace, admin, "alice")


def test_setting_up_again_once_on_goes_to_the_page(as_admin, admin):
    authenticator_give(admin)
    assert as_admin.get(SETUP).url == MANAGE
    assert as_admin.post(SETUP).url == MANAGE
    assert AuthenticatorDevice.objects.filter(user=admin).count() == 1


def test_the_setup_goes_on_to_the_page_that_asked_for_it(as_admin, admin, workspace):
    overview = reverse("overview", args=[workspace.slug])
    as_admin.post(SETUP, {"next": overview})
    device = AuthenticatorDevice.objects.get(user=admin)
    html = as_admin.post(CONFIRM, {"code": code_for(device), "next": overview}).content.decode()
    assert f'href="{overview}"' in html
    evil = as_admin.post(SETUP, {"next": "https://evil.example/"})
    assert "evil" not in evil.url


def test_new_recovery_codes_need_the_password_and_replace_the_old_ones(admin, workspace):
    device, old = authenticator_give(admin)
    client = verified_client(admin, device)
    refused = client.post(reverse("mfa:recovery_codes"), {"password": "nope"})
    assert refused.status_code == 400
    assert "That is not your password" in refused.content.decode()
    assert AccessAttempt.objects.filter(username="alice").exists()  # counted like a sign-in

    response = client.post(reverse("mfa:recovery_codes"), {"password": "alice"})
    html = response.content.decode()
    new = re.findall(r"<li>([a-z2-9-]{19})</li>", html)
    assert len(new) == 10 and not set(new) & set(old)
    recovery = RecoveryCodeDevice.objects.get(user=admin)
    assert not recovery.verify_token(old[0])
    recovery.refresh_from_db()
    recovery.throttle_reset()
    assert recovery.verify_token(new[0])
    assert AuditEvent.objects.filter(action="mfa.recovery_regenerate", workspace=workspace).count()
    # A session verified with a recovery code stays verified: the set is kept.
    assert RecoveryCodeDevice.objects.filter(user=admin).count() == 1


def test_turning_it_off_needs_the_password_and_a_code(admin, workspace):
    device, codes = authenticator_give(admin)
    client = verified_client(admin, device)
    url = reverse("mfa:disable")
    wrong_password = client.post(url, {"password": "nope", "code": code_for(device)})
    assert wrong_password.status_code == 400
    wrong_code = client.post(url, {"password": "alice", "code": wrong_code_for(device)})
    assert wrong_code.status_code == 400
    assert "That code is not right" in wrong_code.content.decode()
    assert AuthenticatorDevice.objects.filter(user=admin, confirmed=True).exists()
    assert AuditEvent.objects.filter(action="mfa.fail").exists()

    AuthenticatorDevice.objects.update(throttling_failure_timestamp=None)
    done = client.post(url, {"password": "alice", "code": codes[0]})  # a recovery code works
    assert done.status_code == 302 and done.url == MANAGE
    assert not AuthenticatorDevice.objects.filter(user=admin).exists()
    assert not RecoveryCodeDevice.objects.filter(user=admin).exists()
    assert AuditEvent.objects.get(action="mfa.disable").workspace == workspace
    assert "Signing in asks for your password only" in client.get(MANAGE).content.decode()


def test_the_two_password_fields_of_the_page_have_their_own_ids(admin):
    device, _ = authenticator_give(admin)
    html = verified_client(admin, device).get(MANAGE).content.decode()
    ids = re.findall(r'<input[^>]* id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), ids
    assert 'name="password"' in html and 'name="code"' in html


def test_the_pages_need_a_signed_in_person(client, db):
    for url in (MANAGE, SETUP):
        assert client.get(url).url.startswith(reverse("login"))


def test_the_pages_cost_a_few_queries(admin, django_assert_max_num_queries):
    device, _ = authenticator_give(admin)
    client = verified_client(admin, device)
    # user, authenticator, recovery set, its codes, passkeys, requiring workspaces, switcher
    with django_assert_max_num_queries(7):
        assert client.get(MANAGE).status_code == 200
    AuthenticatorDevice.objects.all().delete()
    client.post(SETUP)
    with django_assert_max_num_queries(6):
        assert client.get(SETUP).status_code == 200
