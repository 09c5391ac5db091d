"""The alert channels section of Settings: add, test, pause and remove (admins), read
(everyone in the workspace, URLs masked), with the URL guard and the test throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from alert_channels.forms import channel_url_problem
from alert_channels.models import AlertChannel, AlertSend
from alert_channels.services import MAX_CHANNELS, TESTS_PER_HOUR
from dashboard.crypto import decrypt
from dashboard.models import AuditEvent
from tests.alert_channels.conftest import channel_make
from tests.alert_channels.receiver import Answer

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx"


def settings_url(workspace):
    return reverse("settings", args=[workspace.slug])


def add(client, workspace, **fields):
    data = {
        "kind": "slack",
        "label": "#ops-alerts",
        "url": SLACK_URL,
        "alert_accounts": "on",
        "alert_storage": "on",
        "alert_quota": "on",
        **fields,
    }
    return client.post(reverse("alert_channels:add", args=[workspace.slug]), data)


def raw_column(channel, column):
    sql = f"SELECT {column} FROM alert_channels_alertchannel WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [channel.pk])
        return cursor.fetchone()[0]


def test_an_admin_adds_a_slack_channel_stored_encrypted_and_shown_masked(
    as_admin, workspace, admin
):
    response = add(as_admin, workspace)
    assert response.status_code == 302
    assert response.url.endswith("/settings/#channels")
    channel = AlertChannel.objects.get(workspace=workspace)
    assert (channel.kind, channel.label, channel.created_by) == ("slack", "#ops-alerts", admin)
    assert channel.url == SLACK_URL  # decrypted on read
    stored = raw_column(channel, "url")
    assert "hooks.slack.com" not in stored and "abcdefghij" not in stored
    assert decrypt(stored) == SLACK_URL
    assert channel.url_hint == "https://hooks.slack.com/…uvwx"

    page = as_admin.get(settings_url(workspace)).content.decode()
    assert "Alert channel #ops-alerts added. Send a test alert to check it works." in page
    assert "https://hooks.slack.com/…uvwx" in page
    assert "abcdefghij" not in page
    entry = AuditEvent.objects.get(action="alert_channel.add")
    assert entry.target_label == "#ops-alerts"
    assert entry.detail == {"kind": "slack", "url": "https://hooks.slack.com/…uvwx"}


def test_a_generic_webhook_shows_its_signing_secret_once(as_admin, workspace):
    response = add(
        as_admin, workspace, kind="webhook", label="Ops pager", url="https://ops.example.com/alerts"
    )
    assert response.status_code == 200
    channel = AlertChannel.objects.get(workspace=workspace)
    assert channel.secret.startswith("whsec_")
    page = response.content.decode()
    assert "Alert channel Ops pager added" in page
    assert channel.secret in page
    assert "no-store" in response["Cache-Control"]
    assert channel.secret not in raw_column(channel, "secret")
    assert channel.secret not in as_admin.get(settings_url(workspace)).content.decode()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://10.0.0.5/hook", "This address is on a private network."),
        ("https://[::1]/hook", "This address is on a private network."),
        ("https://169.254.169.254/latest/meta-data", "This address is on a private network."),
        ("https://0x7f.1/hook", "This address is on a private network."),
        ("https://localhost/hook", "This host name only exists on a private network."),
        ("https://chat.internal/hooks/x", "This host name only exists on a private network."),
        ("http://hooks.slack.com/services/T/B/x", "Use an https:// URL"),
        ("https://hooks.example.com:8443/x", "Use the standard https port (443)"),
        ("https://user:pw@hooks.example.com/x", "Remove the user name and password"),
        ("hooks.slack.com/services/T/B/x", "Paste the full URL, starting with https://."),
        ("https://hooks.example.com/x y", "copy it again"),
        ("https://[nope/x", "This is not a valid URL."),
        ("https://hooks.example.com/hooks/%2e%2e/admin", "Remove the /./ or /../ parts"),
    ],
)
def test_an_unusable_url_is_refused_with_words_and_nothing_is_stored(
    as_admin, workspace, url, says
):
    response = add(as_admin, workspace, url=url)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not AlertChannel.objects.exists()
    assert not AuditEvent.objects.filter(action="alert_channel.add").exists()


def test_a_private_address_the_operator_trusts_is_accepted(as_admin, workspace, settings):
    settings.ALERT_CHANNEL_TRUSTED_URLS = ["http://mattermost.internal:8065/hooks"]
    assert (
        add(as_admin, workspace, url="http://mattermost.internal:8065/hooks/xyz").status_code == 302
    )
    # A neighbour of the trusted prefix is not trusted.
    response = add(as_admin, workspace, url="http://mattermost.internal:8065/hooksevil/xyz")
    assert response.status_code == 400
    assert AlertChannel.objects.count() == 1


def test_a_channel_needs_at_least_one_kind_of_alert(as_admin, workspace):
    response = add(as_admin, workspace, alert_accounts="", alert_storage="", alert_quota="")
    assert response.status_code == 400
    assert "Choose at least one kind of alert" in response.content.decode()


def test_a_workspace_has_a_bounded_number_of_channels(as_admin, workspace):
    for index in range(MAX_CHANNELS):
        channel_make(workspace, f"https://hooks.slack.com/services/T/B/{index:024d}")
    response = add(as_admin, workspace)
    assert response.status_code == 400
    assert f"at most {MAX_CHANNELS} alert channels" in response.content.decode()


@given(url=st.text(max_size=300))
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_url_guard_never_fails_on_any_input(url):
    problem = channel_url_problem(url)
    assert problem is None or isinstance(problem, str)


def test_send_a_test_alert_delivers_records_and_audits(as_admin, workspace, receiver):
    channel = channel_make(workspace, receiver.url("/services/T/B/x"))
    response = as_admin.post(
        reverse("alert_channels:test", args=[workspace.slug, channel.pk]), follow=True
    )
    page = response.content.decode()
    assert "Test alert delivered to #slack-alerts (HTTP 200 OK)." in page
    send = AlertSend.objects.get(channel=channel)
    assert (send.is_test, send.status, send.attempts) == (True, "delivered", 1)
    payload = receiver.received[0].json
    assert payload["blocks"][0]["text"]["text"] == "Test alert from the SocialAPI Dashboard"
    assert payload["blocks"][2]["elements"][0]["url"] == (
        "https://dash.example.com/w/acme/settings/#channels"
    )
    assert "alice sent this test from the settings of Acme." in payload["blocks"][1]["text"]["text"]
    entry = AuditEvent.objects.get(action="alert_channel.test")
    assert entry.detail == {"delivered": True, "reason": "HTTP 200 OK"}
    # The send record on the page.
    assert "Sent to channels" in page
    assert "Delivered" in page


def test_a_failed_test_alert_says_why_on_the_page(as_admin, workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    receiver.otherwise = Answer(403, b"invalid_token")
    response = as_admin.post(
        reverse("alert_channels:test", args=[workspace.slug, channel.pk]), follow=True
    )
    page = response.content.decode()
    assert "Test alert to #slack-alerts failed: HTTP 403 Forbidden: invalid_token" in page
    assert len(receiver.received) == 1  # a test is tried once, never retried
    assert AuditEvent.objects.get(action="alert_channel.test").detail["delivered"] is False


def test_the_test_button_cannot_hammer_a_url(as_admin, workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    url = reverse("alert_channels:test", args=[workspace.slug, channel.pk])
    as_admin.post(url)
    page = as_admin.post(url, follow=True).content.decode()
    assert "A test alert went to #slack-alerts moments ago: wait 30 seconds" in page
    assert len(receiver.received) == 1
    assert AlertSend.objects.count() == 1

    AlertChannel.objects.update(tested_at=timezone.now() - timedelta(seconds=31))
    as_admin.post(url)
    assert len(receiver.received) == 2


def test_a_workspace_sends_a_bounded_number_of_tests_per_hour(as_admin, workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    AlertSend.objects.bulk_create(
        AlertSend(
            workspace=workspace,
            channel=channel,
            alert_kind="test",
            is_test=True,
            title="t",
            text="t",
            url="https://dash.example.com/",
            status="delivered",
        )
        for _ in range(TESTS_PER_HOUR)
    )
    page = as_admin.post(
        reverse("alert_channels:test", args=[workspace.slug, channel.pk]), follow=True
    ).content.decode()
    assert f"{TESTS_PER_HOUR} test alerts were sent from this workspace in the last hour" in page
    assert receiver.received == []


def test_an_admin_pauses_resumes_and_removes_a_channel(as_admin, workspace):
    channel = channel_make(workspace, SLACK_URL)
    as_admin.post(reverse("alert_channels:enabled", args=[workspace.slug, channel.pk]))
    channel.refresh_from_db()
    assert channel.enabled is False
    as_admin.post(
        reverse("alert_channels:enabled", args=[workspace.slug, channel.pk]), {"enabled": "on"}
    )
    channel.refresh_from_db()
    assert channel.enabled is True

    response = as_admin.post(
        reverse("alert_channels:remove", args=[workspace.slug, channel.pk]), follow=True
    )
    assert "Alert channel #slack-alerts removed; its URL is forgotten." in response.content.decode()
    assert not AlertChannel.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="alert_channel.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["alert_channel.pause", "alert_channel.resume", "alert_channel.remove"]


def test_a_member_sees_the_channels_and_sends_but_no_url_and_no_buttons(
    as_member, workspace, receiver
):
    channel = channel_make(workspace, SLACK_URL)
    AlertSend.objects.create(
        workspace=workspace,
        channel=channel,
        alert_kind="storage_80",
        title="Storage is 82 % full",
        text="t",
        url="https://dash.example.com/",
        status="failed",
        reason="HTTP 404 Not Found: no_service",
    )
    page = as_member.get(settings_url(workspace)).content.decode()
    assert "#slack-alerts" in page
    assert "https://hooks.slack.com/…uvwx" in page
    assert "abcdefghij" not in page
    assert "Storage is 82 % full" in page
    assert "HTTP 404 Not Found: no_service" in page
    assert "Send a test alert" not in page
    assert "Add a channel" not in page
    response = as_member.post(reverse("alert_channels:test", args=[workspace.slug, channel.pk]))
    assert response.status_code == 403
    assert receiver.received == []


def test_another_workspaces_channel_is_not_found(as_admin, workspace, other_workspace):
    theirs = channel_make(other_workspace, SLACK_URL)
    for name in ("test", "enabled", "remove"):
        response = as_admin.post(
            reverse(f"alert_channels:{name}", args=[workspace.slug, theirs.pk])
        )
        assert response.status_code == 404
    assert AlertChannel.objects.filter(pk=theirs.pk, enabled=True).exists()


def test_the_settings_page_costs_the_same_queries_for_one_channel_or_many(
    as_admin, workspace, django_assert_max_num_queries
):
    def channel_with_sends(index, sends):
        channel = channel_make(workspace, f"https://hooks.slack.com/services/T/B/{index:024d}")
        AlertSend.objects.bulk_create(
            AlertSend(
                workspace=workspace,
                channel=channel,
                alert_kind="storage_80",
                title=f"Alert {index}-{n}",
                text="t",
                url="https://dash.example.com/",
            )
            for n in range(sends)
        )

    channel_with_sends(0, 1)
    url = settings_url(workspace)
    as_admin.get(url)  # warm the session
    with django_assert_max_num_queries(10) as few:
        as_admin.get(url)
    for index in range(1, MAX_CHANNELS):
        channel_with_sends(index, 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = as_admin.get(url).content.decode()
    assert page.count("Send a test alert<span") == MAX_CHANNELS
    assert page.count("Alert ") >= 20


def test_key_rotation_re_encrypts_channel_urls_and_secrets(workspace, settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    workspace_keys = list(settings.FIELD_ENCRYPTION_KEYS)  # the workspace's API key
    settings.FIELD_ENCRYPTION_KEYS = [old]
    channel = channel_make(workspace, SLACK_URL, kind="webhook")
    settings.FIELD_ENCRYPTION_KEYS = [new, old, *workspace_keys]
    out = StringIO()
    call_command("secrets_rotate", stdout=out)
    assert "alert_channels.AlertChannel.url: 1 rotated" in out.getvalue()
    assert "alert_channels.AlertChannel.secret: 1 rotated" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
    fresh = AlertChannel.objects.get(pk=channel.pk)
    assert fresh.url == SLACK_URL
    assert fresh.secret.startswith("whsec_")


def test_a_url_no_key_decrypts_fails_the_send_with_words_and_the_page_still_works(
    as_admin, workspace, settings
):
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    channel = channel_make(workspace, SLACK_URL)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the keys changed
    page = as_admin.post(
        reverse("alert_channels:test", args=[workspace.slug, channel.pk]), follow=True
    )
    assert page.status_code == 200
    assert "The stored URL cannot be decrypted with this server" in page.content.decode()
    assert "(FIELD_ENCRYPTION_KEYS changed): restore the key, or remove the channel" in (
        page.content.decode()
    )
    assert AlertSend.objects.get().status == "failed"


@given(
    data=st.dictionaries(
        st.sampled_from(["kind", "label", "url", "alert_accounts", "alert_storage"]),
        st.text(max_size=80),
    )
)
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_input_to_the_add_form_is_answered_without_a_500(as_admin, workspace, data):
    before = AlertChannel.objects.count()
    response = as_admin.post(reverse("alert_channels:add", args=[workspace.slug]), data)
    assert response.status_code in (200, 302, 400)
    if response.status_code == 400:
        assert AlertChannel.objects.count() == before  # refused: nothing stored
