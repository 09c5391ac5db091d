"""Signing in: throttling per username + IP with a cool-off, password reset, password change."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def attempt(client, username, password, ip="198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_login_page_links_to_password_reset(client, db):
    html = client.get(LOGIN).content.decode()
    assert reverse("password_reset") in html


def test_signing_in_works_and_sets_a_lax_http_only_session_cookie(client, admin):
    response = attempt(client, "alice", "alice")
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"]


def test_repeated_failures_lock_that_username_and_ip(client, admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "alice", "wrong").status_code == 200
    assert attempt(client, "alice", "wrong").status_code == 429  # the last allowed failure locks
    locked = attempt(client, "alice", "alice")  # even the right password
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many sign-in attempts" in html
    assert "15 minutes" in html
    assert "_auth_user_id" not in client.session


def test_the_lock_does_not_spill_over_to_other_people_or_networks(client, admin, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "alice", "wrong")
    assert (
        attempt(client, "alice", "alice", ip="203.0.113.50").status_code == 302
    )  # alice elsewhere
    from django.test import Client

    assert attempt(Client(), "bob", "bob").status_code == 302  # bob on the same network


def test_behind_a_trusted_proxy_the_lock_follows_the_forwarded_client_ip(client, admin, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"

    def through_proxy(password, forwarded):
        return client.post(
            LOGIN,
            {"username": "alice", "password": password},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for _ in range(settings.AXES_FAILURE_LIMIT):
        through_proxy("wrong", "198.51.100.7")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    assert through_proxy("alice", "198.51.100.7").status_code == 429
    # Everyone else behind the same proxy is not locked out with that one client.
    assert through_proxy("alice", "203.0.113.50").status_code == 302


def test_a_garbled_forwarded_header_falls_back_to_the_proxy_address(client, admin, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.post(
        LOGIN,
        {"username": "alice", "password": "wrong"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="<script>, not-an-ip",
    )

    assert response.status_code == 200
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["10.0.0.2"]


def test_the_lock_lifts_after_the_cool_off(client, admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", "alice").status_code == 429
    cool_off = timedelta(minutes=settings.AXES_COOLOFF_TIME * 60)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - cool_off - timedelta(seconds=1)
    )
    assert attempt(client, "alice", "alice").status_code == 302


def test_a_success_resets_the_failure_count(client, admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", "alice").status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", "alice").status_code == 302


def reset_link(message: Any) -> str:
    found = re.search(r"https?://\S+/password-reset/\S+/\S+/", message.body)
    assert found, message.body
    return found.group(0)


def test_password_reset_by_email_works_end_to_end(client, admin, settings):
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    link = reset_link(message)
    assert link.startswith(settings.SITE_URL)

    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-New-phrase-77", "new_password2": "brand-New-phrase-77"},
    )
    assert done.status_code == 302
    assert attempt(client, "alice", "brand-New-phrase-77").status_code == 302
    # The link is single use.
    again = client.get(link, follow=True)
    assert "does not work any more" in again.content.decode()


def test_reset_links_use_site_url_not_the_host_header(client, admin, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]
    client.post(reverse("password_reset"), {"email": "alice@example.com"}, HTTP_HOST="evil.example")
    assert "evil.example" not in mail.outbox[0].body


def test_reset_links_follow_the_site_url_of_the_moment(client, admin, settings):
    reverse("password_reset")  # the URLconf is loaded before SITE_URL changes
    settings.SITE_URL = "https://dashboard.example"
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert reset_link(mail.outbox[0]).startswith("https://dashboard.example/password-reset/")


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_password_reset_emails_are_rate_limited(client, admin, settings):
    settings.PASSWORD_RESET_HOURLY_LIMIT = 2
    for _ in range(4):
        response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
        assert response.status_code == 302  # same answer either way
    assert len(mail.outbox) == 2


def test_a_password_reset_lifts_a_sign_in_lock(client, admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "alice", "wrong")
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    form_page = client.get(reset_link(mail.outbox[0]), follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-New-phrase-77", "new_password2": "brand-New-phrase-77"},
    )
    assert attempt(client, "alice", "brand-New-phrase-77").status_code == 302


def test_a_signed_in_person_changes_their_password(as_admin, admin):
    page = as_admin.get(reverse("password_change"))
    assert page.status_code == 200
    response = as_admin.post(
        reverse("password_change"),
        {
            "old_password": "alice",
            "new_password1": "brand-New-phrase-77",
            "new_password2": "brand-New-phrase-77",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(pk=admin.pk).check_password("brand-New-phrase-77")


def test_a_wrong_old_password_changes_nothing(as_admin, admin):
    response = as_admin.post(
        reverse("password_change"),
        {
            "old_password": "nope",
            "new_password1": "brand-New-phrase-77",
            "new_password2": "brand-New-phrase-77",
        },
    )
    assert response.status_code == 200
    assert "incorrect" in response.content.decode()
    assert User.objects.get(pk=admin.pk).check_password("alice")
