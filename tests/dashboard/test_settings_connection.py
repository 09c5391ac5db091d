"""Settings: the API key (tested before saving), the base URL guard and the API dialect."""

from __future__ import annotations

import socket

import httpx
import pytest
from django.urls import reverse

from dashboard.models import AuditEvent, Workspace
from dashboard.scheduling import syncs_due
from events.models import ErrorEvent
from tests.conftest import TEST_API_KEY, error_body
from tests.dashboard.conftest import users_me

pytestmark = pytest.mark.django_db

NEW_KEY = "sapi_key_" + "12" * 31


def settings_url(workspace):
    return reverse("settings", args=[workspace.slug])


def connection_url(workspace):
    return reverse("settings_connection", args=[workspace.slug])


def post_connection(client, workspace, **data):
    payload = {"api_key": "", "base_url": workspace.base_url, "dialect": workspace.dialect, **data}
    return client.post(connection_url(workspace), payload)


def test_it_shows_the_key_masked_and_never_in_full(as_admin, workspace):
    response = as_admin.get(settings_url(workspace))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"sapi_key_…{TEST_API_KEY[-4:]}" in html
    assert TEST_API_KEY not in html
    assert "Test and save" in html


def test_it_shows_members_the_settings_without_any_form(as_member, workspace):
    response = as_member.get(settings_url(workspace))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Test and save" not in html
    assert connection_url(workspace) not in html
    assert reverse("member_invite", args=[workspace.slug]) not in html
    assert "Only workspace admins can change them" in html


def test_it_tests_a_new_key_with_users_me_then_saves_it_encrypted(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", 200, users_me(plan="pro"))
    Workspace.objects.filter(pk=workspace.pk).update(paused_family="api_key")

    response = post_connection(as_admin, workspace, api_key=NEW_KEY)

    assert response.status_code == 302
    [call] = fake_upstream.calls("GET", "/users/me")
    assert call.headers["Authorization"] == f"Bearer {NEW_KEY}"
    assert str(call.url) == "https://api.social-api.ai/v1/users/me"
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.api_key == NEW_KEY
    assert saved.api_key_hint == NEW_KEY[-4:]
    assert saved.api_key_saved_at is not None
    assert saved.plan == "pro"
    assert saved.paused_family == ""
    entry = AuditEvent.objects.get(workspace=workspace, action="api_key.change")
    assert entry.actor.username == "alice"
    assert entry.detail["to"] == f"sapi_key_…{NEW_KEY[-4:]}"
    assert NEW_KEY not in str(entry.detail)
    page = as_admin.get(response.url)
    assert "SocialAPI accepted the key" in page.content.decode()


def test_a_new_key_makes_every_sync_due_at_once(as_admin, workspace, fake_upstream):
    fake_upstream.on("GET", "/users/me", 200, users_me())
    from django.utils import timezone

    Workspace.objects.filter(pk=workspace.pk).update(
        health_enqueued_at=timezone.now(),
        watch_enqueued_at=timezone.now(),
        usage_enqueued_at=timezone.now(),
    )
    post_connection(as_admin, workspace, api_key=NEW_KEY)
    saved = Workspace.objects.get(pk=workspace.pk)
    due = {sync.stamp for sync in syncs_due(workspace=saved)}
    assert {"health_enqueued_at", "watch_enqueued_at", "usage_enqueued_at"} <= due


def test_it_changes_nothing_when_socialapi_rejects_the_key(as_admin, workspace, fake_upstream):
    fake_upstream.on(
        "GET", "/users/me", 401, error_body("auth.invalid_key", request_id="req_key_9")
    )
    before = Workspace.objects.get(pk=workspace.pk)

    response = post_connection(as_admin, workspace, api_key=NEW_KEY)

    assert response.status_code == 400
    html = response.content.decode()
    assert "SocialAPI rejected this API key" in html
    assert "req_key_9" in html
    assert NEW_KEY not in html  # the write-only field is not echoed back
    after = Workspace.objects.get(pk=workspace.pk)
    assert after.api_key == TEST_API_KEY
    assert (after.api_key_hint, after.api_key_saved_at) == (
        before.api_key_hint,
        before.api_key_saved_at,
    )
    assert not AuditEvent.objects.filter(action="api_key.change").exists()
    # A rejected *candidate* is not an error of the workspace's current key.
    assert not ErrorEvent.objects.filter(workspace=workspace).exists()


def test_it_says_socialapi_could_not_be_reached_and_changes_nothing(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", error=httpx.ConnectError)

    response = post_connection(as_admin, workspace, api_key=NEW_KEY)

    assert response.status_code == 400
    assert "SocialAPI could not be reached" in response.content.decode()
    assert Workspace.objects.get(pk=workspace.pk).api_key == TEST_API_KEY


def test_it_refuses_a_malformed_key_without_calling_upstream(as_admin, workspace, fake_upstream):
    response = post_connection(as_admin, workspace, api_key="not-a-key")
    assert response.status_code == 400
    assert "does not look like a SocialAPI key" in response.content.decode()
    assert fake_upstream.requests == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://api.social-api.ai/v1", "https"),
        ("https://10.0.0.5/v1", "private network"),
        ("https://127.1/v1", "private network"),
        ("https://0x7f.0.0.1/v1", "private network"),
        ("https://0177.0.0.1/v1", "private network"),
        ("https://2130706433/v1", "private network"),
        ("https://[::ffff:127.0.0.1]/v1", "private network"),
        ("https://localhost./v1", "private network"),
        ("https://010.8.8.8/v1", "Write this address as 8.8.8.8"),
        ("https://169.254.169.254/latest", "private network"),
        ("https://[::1]/v1", "private network"),
        ("https://localhost/v1", "private network"),
        ("https://metadata.internal/v1", "private network"),
        ("https://user:pw@api.example.com/v1", "user name and password"),
        ("https://api.example.com:8080/v1", "standard https port"),
        ("https://api.example.com/v1?x=1", "query"),
        ("ftp://api.example.com/v1", "https"),
        ("not a url", "https"),
    ],
)
def test_it_refuses_base_urls_that_could_reach_private_hosts(
    as_admin, workspace, fake_upstream, url, words
):
    # With a key pasted: the refusal comes from the URL guard, not the key rule.
    response = post_connection(as_admin, workspace, base_url=url, api_key=NEW_KEY)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert Workspace.objects.get(pk=workspace.pk).base_url == "https://api.social-api.ai/v1"
    assert fake_upstream.requests == []


def test_it_honours_the_operators_allowed_base_urls_at_a_path_boundary(
    as_admin, workspace, fake_upstream, settings
):
    settings.SOCIALAPI_ALLOWED_BASE_URLS = ["https://proxy.acme.test/socialapi"]
    fake_upstream.on("GET", "/users/me", 200, users_me())

    sneaky = post_connection(
        as_admin, workspace, base_url="https://proxy.acme.test/socialapi-evil/v1"
    )
    assert sneaky.status_code == 400
    assert "only talks to SocialAPI at" in sneaky.content.decode()
    other = post_connection(as_admin, workspace, base_url="https://api.example.com/v1")
    assert other.status_code == 400

    ok = post_connection(
        as_admin, workspace, base_url="https://proxy.acme.test/socialapi/v1/", api_key=NEW_KEY
    )
    assert ok.status_code == 302
    assert Workspace.objects.get(pk=workspace.pk).base_url == "https://proxy.acme.test/socialapi/v1"
    [call] = fake_upstream.calls("GET", "/users/me")
    assert str(call.url) == "https://proxy.acme.test/socialapi/v1/users/me"


def test_it_never_sends_the_saved_key_to_a_new_base_url(as_admin, workspace, fake_upstream):
    # An admin who could probe any host with the saved key could read the write-only key.
    response = post_connection(as_admin, workspace, base_url="https://collector.example/v1")

    assert response.status_code == 400
    assert "Paste the API key again to use a new base URL" in response.content.decode()
    assert fake_upstream.requests == []
    saved = Workspace.objects.get(pk=workspace.pk)
    assert (saved.base_url, saved.api_key) == ("https://api.social-api.ai/v1", TEST_API_KEY)
    assert not AuditEvent.objects.filter(action="settings.connection_change").exists()


def test_a_new_base_url_is_tested_with_the_key_pasted_along_with_it(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", 200, users_me())

    response = post_connection(
        as_admin, workspace, base_url="https://eu.social-api.example/v1", api_key=TEST_API_KEY
    )

    assert response.status_code == 302
    [call] = fake_upstream.calls("GET", "/users/me")
    assert str(call.url) == "https://eu.social-api.example/v1/users/me"
    assert call.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    assert Workspace.objects.get(pk=workspace.pk).base_url == "https://eu.social-api.example/v1"


def test_a_rejected_key_at_a_new_base_url_changes_nothing(as_admin, workspace, fake_upstream):
    fake_upstream.on("GET", "/users/me", 401, error_body("auth.invalid_key"))

    response = post_connection(
        as_admin, workspace, base_url="https://eu.social-api.example/v1", api_key=TEST_API_KEY
    )

    assert response.status_code == 400
    assert Workspace.objects.get(pk=workspace.pk).base_url == "https://api.social-api.ai/v1"


def test_the_saved_key_may_go_back_to_the_default_base_url_without_pasting_it(
    as_admin, workspace, fake_upstream
):
    Workspace.objects.filter(pk=workspace.pk).update(base_url="https://eu.social-api.example/v1")
    workspace.refresh_from_db()
    fake_upstream.on("GET", "/users/me", 200, users_me())

    response = post_connection(as_admin, workspace, base_url="https://api.social-api.ai/v1")

    assert response.status_code == 302
    [call] = fake_upstream.calls("GET", "/users/me")
    assert str(call.url) == "https://api.social-api.ai/v1/users/me"
    assert call.headers["Authorization"] == f"Bearer {TEST_API_KEY}"


def test_the_saved_key_may_go_to_the_enabled_sandbox_without_pasting_it(
    as_admin, workspace, fake_upstream, settings
):
    settings.SANDBOX_ENABLED = True
    fake_upstream.on("GET", "/users/me", 200, users_me())

    response = post_connection(as_admin, workspace, base_url=settings.SANDBOX_BASE_URL)

    assert response.status_code == 302
    [call] = fake_upstream.calls("GET", "/users/me")
    assert call.headers["Authorization"] == f"Bearer {TEST_API_KEY}"


def test_it_accepts_the_sandbox_only_when_the_sandbox_is_enabled(
    as_admin, workspace, fake_upstream, settings
):
    fake_upstream.on("GET", "/users/me", 200, users_me())
    settings.SANDBOX_ENABLED = False
    refused = post_connection(as_admin, workspace, base_url=settings.SANDBOX_BASE_URL)
    assert refused.status_code == 400

    settings.SANDBOX_ENABLED = True
    accepted = post_connection(
        as_admin, workspace, base_url=settings.SANDBOX_BASE_URL, api_key=NEW_KEY
    )
    assert accepted.status_code == 302
    assert Workspace.objects.get(pk=workspace.pk).base_url == settings.SANDBOX_BASE_URL.rstrip("/")


def test_it_explains_a_base_url_without_the_api_path(as_admin, workspace, fake_upstream):
    fake_upstream.on("GET", "/users/me", 404, b"<html>Not Found</html>")
    response = post_connection(
        as_admin, workspace, base_url="https://api.example.com", api_key=NEW_KEY
    )
    assert response.status_code == 400
    assert "ends in /v1" in response.content.decode()


def test_it_changes_the_dialect_without_calling_upstream_and_audits_it(
    as_admin, workspace, fake_upstream
):
    response = post_connection(as_admin, workspace, dialect="legacy")
    assert response.status_code == 302
    assert Workspace.objects.get(pk=workspace.pk).dialect == "legacy"
    assert fake_upstream.requests == []
    entry = AuditEvent.objects.get(action="settings.connection_change")
    assert entry.detail == {"dialect": ["current", "legacy"]}


def test_it_pauses_syncs_when_the_key_works_but_billing_is_blocked(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", 200, users_me(billing_blocked=True))
    response = post_connection(as_admin, workspace, api_key=NEW_KEY)
    assert response.status_code == 302
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.api_key == NEW_KEY
    assert saved.paused_family == "billing"
    assert "billing is blocked" in as_admin.get(response.url).content.decode().lower()


@pytest.mark.parametrize("person", ["as_member", "as_support"])
def test_read_only_people_cannot_change_the_connection(request, workspace, fake_upstream, person):
    client = request.getfixturevalue(person)
    response = post_connection(client, workspace, api_key=NEW_KEY, dialect="legacy")
    assert response.status_code == 403
    saved = Workspace.objects.get(pk=workspace.pk)
    assert (saved.api_key, saved.dialect) == (TEST_API_KEY, "current")
    assert fake_upstream.requests == []


def test_checking_the_saved_key_lifts_a_pause(as_admin, workspace, fake_upstream):
    fake_upstream.on("GET", "/users/me", 200, users_me(plan="starter"))
    Workspace.objects.filter(pk=workspace.pk).update(paused_family="api_key")
    response = as_admin.post(
        reverse("settings_connection_check", args=[workspace.slug]), follow=True
    )
    assert "The saved key works" in response.content.decode()
    saved = Workspace.objects.get(pk=workspace.pk)
    assert (saved.paused_family, saved.plan) == ("", "starter")


def test_checking_a_rejected_saved_key_records_the_error_and_says_so(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", 401, error_body("auth.invalid_key"))
    response = as_admin.post(
        reverse("settings_connection_check", args=[workspace.slug]), follow=True
    )
    assert "rejects the saved key" in response.content.decode()
    # This one is the workspace's own key: the client hook records it for the banner.
    assert ErrorEvent.objects.filter(workspace=workspace, family="api_key").exists()


def test_the_settings_page_costs_a_constant_number_of_queries(
    as_admin, workspace, admin, django_assert_max_num_queries
):
    from dashboard.models import Invitation, Membership
    from tests.conftest import make_user

    url = settings_url(workspace)
    as_admin.get(url)  # warm the session
    with django_assert_max_num_queries(10) as few:
        as_admin.get(url)
    for index in range(15):
        Membership.objects.create(user=make_user(f"person{index}"), workspace=workspace)
        from django.utils import timezone

        Invitation.objects.create(
            workspace=workspace,
            email=f"x{index}@acme.test",
            token_hash=f"{index:064d}",
            expires_at=timezone.now() + timezone.timedelta(days=1),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_admin.get(url)
    assert response.content.decode().count("Change role") >= 15


def test_a_host_name_leading_to_a_private_address_is_refused_before_the_key_is_sent(
    as_admin, workspace, monkeypatch
):
    # No scripted transport: the real one, with the public-network guard, is in use.
    # 127.0.0.1.nip.io passes the form (it is a public name) but resolves to loopback.
    opened = []
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))
        ],
    )
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *a, **k: opened.append(address)
    )

    response = post_connection(
        as_admin, workspace, base_url="https://127.0.0.1.nip.io/v1", api_key=NEW_KEY
    )

    assert response.status_code == 400
    assert "leads to a private network address" in response.content.decode()
    assert "SOCIALAPI_ALLOWED_BASE_URLS" in response.content.decode()  # what the operator can do
    assert opened == []
    assert Workspace.objects.get(pk=workspace.pk).base_url == "https://api.social-api.ai/v1"
