"""Each kind of channel against a local receiver, over a real socket: what it receives,
how failures are recorded and retried, and the private-network guard at connection time."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time

import pytest

from alert_channels.models import AlertSend
from alert_channels.services import MAX_ATTEMPTS, RETRY_DELAYS, alert_send_attempt
from alert_channels.tasks import alert_send_deliver
from tests.alert_channels.conftest import WEBHOOK_SECRET, channel_make
from tests.alert_channels.receiver import Answer, closed_port_url

pytestmark = pytest.mark.django_db

TITLE = "Reconnect <b>Café</b> & co (Instagram)"
TEXT = "Café <!channel> on Instagram stopped working in Acme. What to do: press Reconnect."
LINK = "https://dash.example.com/w/acme/accounts/?account=7"


def send_to(channel, **fields):
    """One alert message to `channel`, sent by its task (eager under pytest)."""
    send = AlertSend.objects.create(
        workspace=channel.workspace,
        channel=channel,
        alert_kind=fields.pop("alert_kind", "account_broken"),
        title=fields.pop("title", TITLE),
        text=fields.pop("text", TEXT),
        url=fields.pop("url", LINK),
        **fields,
    )
    alert_send_deliver.delay(send.pk)
    send.refresh_from_db()
    return send


def test_slack_gets_text_and_blocks_with_the_link_and_no_markup_from_names(workspace, receiver):
    channel = channel_make(workspace, receiver.url("/services/T1/B2/xyz"), kind="slack")
    send = send_to(channel)

    assert send.status == "delivered", send.reason
    assert send.reason == "HTTP 200 OK"
    [hit] = receiver.received
    assert hit.path == "/services/T1/B2/xyz"
    assert hit.headers["content-type"].startswith("application/json")
    payload = hit.json
    # The notification text: escaped the way Slack wants, so a name is never a mention.
    assert payload["text"].startswith("[Acme] Reconnect &lt;b&gt;Café&lt;/b&gt; &amp; co")
    assert "&lt;!channel&gt;" in payload["text"]
    assert "<!channel>" not in payload["text"]
    header, section, actions, context = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": TITLE}}
    assert section == {"type": "section", "text": {"type": "plain_text", "text": TEXT}}
    [button] = actions["elements"]
    assert button["type"] == "button"
    assert button["url"] == LINK
    assert button["text"]["text"] == "Open in the dashboard"
    assert context["elements"][0]["text"] == "Acme · SocialAPI Dashboard"


def test_teams_gets_an_adaptive_card_whose_texts_are_never_markdown(workspace, receiver):
    channel = channel_make(workspace, receiver.url("/workflows/abc/triggers/manual"), kind="teams")
    receiver.answer(Answer(202, b""))  # what a Workflows webhook answers
    send = send_to(channel, text="See [this](https://evil.example) **now**")

    assert send.status == "delivered"
    assert send.reason == "HTTP 202 Accepted"
    payload = receiver.received[0].json
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    runs = [inline for block in card["body"] for inline in block["inlines"]]
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}  # TextRun: plain
    assert [run["text"] for run in runs] == [
        TITLE,
        "See [this](https://evil.example) **now**",
        "Acme · SocialAPI Dashboard",
    ]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in the dashboard", "url": LINK}
    ]


def test_a_generic_webhook_gets_signed_json_that_the_receiver_can_verify(workspace, receiver):
    channel = channel_make(workspace, receiver.url("/alerts"), kind="webhook")
    before = int(time.time())
    send = send_to(channel, alert_kind="storage_80", title="Storage is 82 % full")

    assert send.status == "delivered"
    hit = receiver.received[0]
    timestamp = hit.headers["x-dashboard-timestamp"]
    assert before <= int(timestamp) <= time.time() + 1
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + hit.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(hit.headers["x-dashboard-signature"], f"sha256={expected}")
    assert hit.headers["x-dashboard-delivery"] == str(send.delivery_id)
    assert hit.headers["x-dashboard-event"] == "alert"
    assert hit.json == {
        "id": str(send.delivery_id),
        "type": "alert",
        "kind": "storage_80",
        "title": "Storage is 82 % full",
        "text": TEXT,
        "url": LINK,
        "workspace": {"slug": "acme", "name": "Acme"},
        "created_at": send.created_at.isoformat().replace("+00:00", "Z"),
    }
    # Signed with another secret, the same body does not verify.
    forged = hmac.new(b"another", f"{timestamp}.".encode() + hit.body, hashlib.sha256)
    assert hit.headers["x-dashboard-signature"] != f"sha256={forged.hexdigest()}"


def test_a_500_is_retried_with_backoff_then_recorded_as_failed_with_the_reason(workspace, receiver):
    channel = channel_make(workspace, receiver.url(), kind="webhook")
    receiver.otherwise = Answer(500, b"boom: database is down")
    send = send_to(channel)

    assert send.status == "failed"
    assert send.attempts == MAX_ATTEMPTS
    assert send.reason == "HTTP 500 Internal Server Error: boom: database is down"
    assert len(receiver.received) == MAX_ATTEMPTS
    # Every attempt is the same delivery (receivers dedupe on it), freshly signed.
    assert len({hit.headers["x-dashboard-delivery"] for hit in receiver.received}) == 1


def test_the_waits_between_attempts_grow_and_a_retry_after_is_honoured(workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    receiver.otherwise = Answer(503, b"busy")
    send = AlertSend.objects.create(
        workspace=workspace, channel=channel, alert_kind="storage_80", title="t", text="x", url=LINK
    )
    waits = [alert_send_attempt(send_id=send.pk) for _ in range(MAX_ATTEMPTS)]
    assert waits == [*RETRY_DELAYS, None]
    send.refresh_from_db()
    assert send.status == "failed"

    receiver.answer(Answer(429, b"rate_limited", headers=(("Retry-After", "7"),)))
    again = AlertSend.objects.create(
        workspace=workspace, channel=channel, alert_kind="storage_80", title="t", text="x", url=LINK
    )
    assert alert_send_attempt(send_id=again.pk) == 7
    again.refresh_from_db()
    assert again.status == "retrying"
    assert again.reason == f"Attempt 1 of {MAX_ATTEMPTS}: HTTP 429 Too Many Requests: rate_limited"
    assert again.next_attempt_at is not None


def test_a_send_that_fails_once_arrives_on_the_next_attempt(workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    receiver.answer(Answer(502, b"bad gateway"))
    send = send_to(channel)
    assert send.status == "delivered"
    assert send.attempts == 2


def test_a_refusal_that_retrying_cannot_fix_is_not_retried(workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    receiver.otherwise = Answer(404, b"no_service")  # Slack: the webhook was deleted
    send = send_to(channel)
    assert send.status == "failed"
    assert send.attempts == 1
    assert send.reason == "HTTP 404 Not Found: no_service"


def test_a_receiver_that_does_not_answer_in_time_is_recorded_as_a_timeout(
    workspace, receiver, settings
):
    settings.SOCIALAPI_TIMEOUT = 0.3
    channel = channel_make(workspace, receiver.url())
    receiver.otherwise = Answer(200, b"ok", delay=1.5)
    send = send_to(channel)
    assert send.status == "failed"
    assert send.attempts == MAX_ATTEMPTS
    assert send.reason == "Timed out: no answer within 0.3 s."


def test_a_refused_connection_is_recorded_with_the_reason(workspace, settings):
    url = closed_port_url()
    settings.ALERT_CHANNEL_TRUSTED_URLS = [url.rsplit("/", 1)[0]]
    send = send_to(channel_make(workspace, url))
    assert send.status == "failed"
    assert send.reason == "Connection refused: nothing answers at this address."


def test_a_redirect_is_not_followed(workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    receiver.otherwise = Answer(302, b"", headers=(("Location", "http://10.0.0.7/x"),))
    send = send_to(channel)
    assert send.status == "failed"
    assert send.reason.startswith("HTTP 302 Found: redirected to 10.0.0.7.")
    assert len(receiver.received) == 1


def test_a_public_name_that_resolves_inside_is_refused_before_connecting(
    workspace, receiver, monkeypatch
):
    # hooks.example.com passes the form (a public name) but resolves to the receiver's
    # loopback address: the guard refuses at connection time, nothing is sent.
    port = receiver.server_address[1]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))],
    )
    send = send_to(channel_make(workspace, "https://hooks.example.com/services/T/B/secret"))
    assert send.status == "failed"
    assert send.attempts == 1  # refusing again cannot help
    assert send.reason == (
        "Refused before connecting: hooks.example.com resolves to 127.0.0.1, which is not "
        "a public internet address."
    )
    assert receiver.received == []


def test_the_secret_part_of_the_url_never_appears_in_a_reason(workspace, receiver):
    url = receiver.url("/services/T1/B2/very-secret-token")
    channel = channel_make(workspace, url)
    receiver.otherwise = Answer(400, f"invalid_payload for {url}".encode())
    send = send_to(channel)
    assert send.status == "failed"
    assert "very-secret-token" not in send.reason
    assert send.reason == "HTTP 400 Bad Request: invalid_payload for …"


def test_a_paused_channel_sends_nothing_queued_for_it(workspace, receiver):
    channel = channel_make(workspace, receiver.url(), enabled=False)
    send = send_to(channel)
    assert send.status == "failed"
    assert send.reason == "Not sent: the channel was paused."
    assert receiver.received == []


def test_a_finished_send_is_never_sent_again(workspace, receiver):
    channel = channel_make(workspace, receiver.url())
    send = send_to(channel)
    assert alert_send_attempt(send_id=send.pk) is None
    assert len(receiver.received) == 1
