"""The sandbox's alert inbox: alert channels end to end in demos, without the internet.

A live server plays both sides: the dashboard sends a test alert to its own sandbox's
inbox over a real socket, through the same sender and guard as any channel.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from alert_channels.forms import channel_url_operator_trusted
from alert_channels.models import AlertChannel, AlertSend
from sandbox.models import SandboxInboxMessage
from tests.alert_channels.conftest import channel_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(live_server, settings):
    settings.SITE_URL = live_server.url
    return live_server.url


def test_it_trusts_the_inbox_only_while_the_sandbox_is_enabled(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    inbox = "http://127.0.0.1:8000/sandbox/inbox/"
    assert channel_url_operator_trusted(inbox)
    assert channel_url_operator_trusted(inbox + "?status=503")
    assert not channel_url_operator_trusted("http://127.0.0.1:8000/sandbox/inboxes/")
    assert not channel_url_operator_trusted("http://127.0.0.1:8000/sandbox/inbox/../../admin/")
    assert not channel_url_operator_trusted("http://127.0.0.1:8000/admin/")
    settings.SANDBOX_ENABLED = False
    assert not channel_url_operator_trusted(inbox)


def test_a_test_alert_reaches_the_sandbox_inbox_and_shows_on_the_control_page(
    site, workspace, admin, support
):
    client = Client()
    client.force_login(admin)
    added = client.post(
        reverse("alert_channels:add", args=[workspace.slug]),
        {
            "kind": "teams",
            "label": "Demo inbox",
            "url": f"{site}/sandbox/inbox/",
            "alert_accounts": "on",
        },
    )
    assert added.status_code == 302, added.content.decode()[-2000:]
    channel = AlertChannel.objects.get()
    response = client.post(
        reverse("alert_channels:test", args=[workspace.slug, channel.pk]), follow=True
    )
    assert "Test alert delivered to Demo inbox (HTTP 200 OK)." in response.content.decode()
    message = SandboxInboxMessage.objects.get()
    assert (message.kind, message.title) == ("teams", "Test alert from the SocialAPI Dashboard")
    assert message.link == f"{site}/w/acme/settings/#channels"

    staff = Client()
    staff.force_login(support)
    control = staff.get(reverse("sandbox:control")).content.decode()
    assert "Alert inbox" in control
    assert "Test alert from the SocialAPI Dashboard" in control
    assert f"{site}/sandbox/inbox/" in control


def test_the_inbox_can_fail_on_purpose_to_show_failures(site, workspace, admin):
    channel = channel_make(workspace, f"{site}/sandbox/inbox/?status=503", kind="webhook")
    client = Client()
    client.force_login(admin)
    page = client.post(
        reverse("alert_channels:test", args=[workspace.slug, channel.pk]), follow=True
    ).content.decode()
    assert (
        "Test alert to #webhook-alerts failed: HTTP 503 Service Unavailable: "
        "sandbox inbox answered 503 as asked" in page
    )
    message = SandboxInboxMessage.objects.get()
    assert (message.kind, message.signed, message.answered) == ("webhook", True, 503)
    assert AlertSend.objects.get().status == "failed"


def test_the_inbox_takes_anything_and_never_fails(client, db):
    url = reverse("sandbox:inbox")
    assert client.post(url, b"not json", content_type="text/plain").status_code == 200
    assert (
        client.post(url, {"blocks": "nonsense"}, content_type="application/json").status_code == 200
    )
    assert client.post(url, b"x" * (65 * 1024), content_type="text/plain").status_code == 413
    assert list(SandboxInboxMessage.objects.values_list("kind", flat=True)) == [
        "unknown",
        "unknown",
    ]
