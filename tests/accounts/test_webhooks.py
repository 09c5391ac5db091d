"""The webhook receiver: signatures, staleness, dedupe, the ping, and what each event does."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AccountStatus, WebhookDelivery
from dashboard.models import Workspace
from events.models import ErrorEvent
from socialapi import sign_v1, sign_v2
from tests.accounts.conftest import account_json, accounts_body

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret"


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = SECRET
    workspace.save()
    return workspace


def url(workspace: Workspace) -> str:
    return reverse("webhook_receive", args=[workspace.slug])


def body_of(event: str, delivery: str = "dlv_1", **data: Any) -> bytes:
    return json.dumps({"event": event, "data": data}).encode()


def send(
    client: Client,
    workspace: Workspace,
    body: bytes,
    *,
    sign: str = "v2",
    delivery: str = "dlv_1",
    ts: int | None = None,
    **headers: Any,
) -> Any:
    stamp = str(ts if ts is not None else int(time.time()))
    extra = {
        "HTTP_X_SOCIALAPI_DELIVERY": delivery,
        "HTTP_X_SOCIALAPI_EVENT": json.loads(body).get("event", ""),
    }
    if sign == "v1":
        extra["HTTP_X_SOCIALAPI_SIGNATURE"] = sign_v1(SECRET, body)
    elif sign == "v2":
        extra["HTTP_X_SOCIALAPI_SIGNATURE_V2"] = sign_v2(SECRET, body, stamp)
        extra["HTTP_X_SOCIALAPI_TIMESTAMP"] = stamp
    extra.update(headers)
    return client.post(url(workspace), data=body, content_type="application/json", **extra)


@pytest.mark.parametrize("sign", ["v1", "v2"])
def test_signed_deliveries_are_stored_and_processed(
    client, hooked, make_account, sign, django_capture_on_commit_callbacks
):
    if sign == "v1":  # v1 alone is accepted only from workspaces on the legacy API
        Workspace.objects.filter(pk=hooked.pk).update(dialect=Workspace.Dialect.LEGACY)
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = body_of(
        "account.disconnected",
        account_id=account.upstream_id,
        reason="access_revoked",
        reconnect_required=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, hooked, body, sign=sign)
    assert response.status_code == 200 and response.json() == {"ok": True}
    delivery = WebhookDelivery.objects.get()
    assert delivery.signature == sign and delivery.processed_at is not None
    assert delivery.outcome == "marked reconnect required"
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert account.reason == "Access was revoked on the platform."
    assert account.transitions.get().source == "webhook"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad_v1", "v2_required"),  # current API: a v1-only delivery could be a replay
        ("bad_v2", "bad_signature"),
        ("stale", "stale_timestamp"),
        ("future", "stale_timestamp"),
        ("v2_wrong_v1_right", "bad_signature"),  # a V2 header must verify: no fallback to v1
        ("unsigned", "missing_signature"),
        ("v2_no_timestamp", "missing_timestamp"),
    ],
)
def test_deliveries_that_do_not_prove_their_origin_are_refused(
    client, hooked, make_account, case, reason
):
    account = make_account()
    body = body_of("account.disconnected", account_id=account.upstream_id)
    now = int(time.time())
    if case == "bad_v1":
        response = send(
            client, hooked, body, sign="none", HTTP_X_SOCIALAPI_SIGNATURE="sha256=" + "0" * 64
        )
    elif case == "bad_v2":
        response = send(
            client, hooked, body, sign="v2", HTTP_X_SOCIALAPI_SIGNATURE_V2="sha256=" + "f" * 64
        )
    elif case == "stale":
        response = send(client, hooked, body, ts=now - 400)
    elif case == "future":
        response = send(client, hooked, body, ts=now + 400)
    elif case == "v2_wrong_v1_right":
        response = send(
            client,
            hooked,
            body,
            sign="v1",
            HTTP_X_SOCIALAPI_SIGNATURE_V2="sha256=" + "a" * 64,
            HTTP_X_SOCIALAPI_TIMESTAMP=str(now),
        )
    elif case == "unsigned":
        response = send(client, hooked, body, sign="none")
    else:
        response = send(
            client,
            hooked,
            body,
            sign="none",
            HTTP_X_SOCIALAPI_SIGNATURE_V2=sign_v2(SECRET, body, now),
        )
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error": reason}
    trace = WebhookDelivery.objects.get()
    assert trace.signature == "rejected" and trace.outcome == f"rejected: {reason}"
    assert trace.payload == {"size": len(body)}  # an unproven body is not kept
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_a_replayed_delivery_is_acknowledged_but_processed_once(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = body_of(
        "account.disconnected", account_id=account.upstream_id, reason="all_pages_removed"
    )
    with django_capture_on_commit_callbacks(execute=True) as first:
        assert send(client, hooked, body, delivery="dlv_same").status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as second:
        again = send(client, hooked, body, delivery="dlv_same")
    assert again.status_code == 200 and again.json() == {"ok": True, "duplicate": True}
    assert len(first) == 1 and len(second) == 0  # nothing queued for the retry
    delivery = WebhookDelivery.objects.get()
    assert delivery.times_received == 2
    account.refresh_from_db()
    assert account.status == AccountStatus.DISCONNECTED
    assert account.transitions.count() == 1


def post_failed_body(account_upstream_id: str) -> bytes:
    target = {
        "account_id": account_upstream_id,
        "platform": "instagram",
        "error": {"code": "platform.instagram.auth", "message": "Token expired"},
    }
    return body_of("post.failed", id="post_1", targets=[target])


def test_the_same_signed_content_under_a_fresh_delivery_id_is_processed_once(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    """X-SocialAPI-Delivery is not signed: a captured delivery sent again with a new id
    within the timestamp tolerance verifies, and must still count once."""
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = post_failed_body(account.upstream_id)
    stamp = int(time.time())
    with django_capture_on_commit_callbacks(execute=True):
        assert send(client, hooked, body, delivery="dlv_a", ts=stamp).json() == {"ok": True}
    with django_capture_on_commit_callbacks(execute=True) as queued:
        replay = send(client, hooked, body, delivery="dlv_forged", ts=stamp)
        no_id = send(client, hooked, body, delivery="", ts=stamp)
    assert replay.json() == no_id.json() == {"ok": True, "duplicate": True}
    assert not queued
    assert ErrorEvent.objects.filter(workspace=hooked).count() == 1
    assert WebhookDelivery.objects.get().times_received == 3
    # The same body signed at another moment is another event (an account can fail the
    # same way twice): it is processed.
    with django_capture_on_commit_callbacks(execute=True):
        again = send(client, hooked, body, delivery="dlv_b", ts=stamp - 1)
    assert again.json() == {"ok": True}
    assert ErrorEvent.objects.filter(workspace=hooked).count() == 2


@pytest.mark.parametrize("first", ["v1", "v2"])
def test_a_v1_replay_of_any_accepted_body_is_processed_once(
    client, hooked, make_account, first, django_capture_on_commit_callbacks
):
    """A legacy workspace accepts v1, which signs the body alone: that body verifies again
    forever, under any delivery id, also when it first came signed with v2 as well (the
    V2 header can simply be dropped)."""
    Workspace.objects.filter(pk=hooked.pk).update(dialect=Workspace.Dialect.LEGACY)
    hooked.refresh_from_db()
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = post_failed_body(account.upstream_id)
    v1 = {"HTTP_X_SOCIALAPI_SIGNATURE": sign_v1(SECRET, body)}
    with django_capture_on_commit_callbacks(execute=True):
        if first == "v1":
            accepted = send(client, hooked, body, sign="none", delivery="dlv_a", **v1)
        else:  # as upstream sends: both headers
            accepted = send(client, hooked, body, delivery="dlv_a", **v1)
    assert accepted.json() == {"ok": True}
    assert WebhookDelivery.objects.get().signature == first
    with django_capture_on_commit_callbacks(execute=True) as queued:
        replay = send(client, hooked, body, sign="none", delivery="dlv_later", **v1)
    assert replay.json() == {"ok": True, "duplicate": True}
    assert not queued
    assert ErrorEvent.objects.filter(workspace=hooked).count() == 1
    assert WebhookDelivery.objects.get().times_received == 2


@pytest.mark.parametrize("stored_secret", [True, False])
@pytest.mark.parametrize(
    "signed_with", ["nothing", "the new secret", "the stored secret", "garbage", "stale"]
)
def test_the_test_ping_is_answered_2xx_unverified_and_only_noted(
    client, workspace, make_account, stored_secret, signed_with
):
    """Upstream pings while POST /v1/webhooks is open: signed with the secret the dashboard
    learns only from that call's answer, or not at all, and without a delivery id."""
    if stored_secret:
        workspace.webhook_secret = SECRET
        workspace.save()
    account = make_account()
    body = body_of("webhook.test", message="SocialAPI webhook endpoint check")
    now = int(time.time())
    headers: dict[str, Any] = {"HTTP_X_SOCIALAPI_EVENT": "webhook.test"}
    if signed_with == "the new secret":
        headers["HTTP_X_SOCIALAPI_SIGNATURE"] = sign_v1("brand-new-secret", body)
        headers["HTTP_X_SOCIALAPI_SIGNATURE_V2"] = sign_v2("brand-new-secret", body, now)
        headers["HTTP_X_SOCIALAPI_TIMESTAMP"] = str(now)
    elif signed_with == "the stored secret":
        headers["HTTP_X_SOCIALAPI_SIGNATURE_V2"] = sign_v2(SECRET, body, now)
        headers["HTTP_X_SOCIALAPI_TIMESTAMP"] = str(now)
    elif signed_with == "garbage":
        headers["HTTP_X_SOCIALAPI_SIGNATURE_V2"] = "sha256=nonsense"
    elif signed_with == "stale":
        headers["HTTP_X_SOCIALAPI_SIGNATURE_V2"] = sign_v2(SECRET, body, now - 4000)
        headers["HTTP_X_SOCIALAPI_TIMESTAMP"] = str(now - 4000)
    response = client.post(url(workspace), data=body, content_type="application/json", **headers)
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert not WebhookDelivery.objects.exists()  # nothing kept, nothing queued
    assert not ErrorEvent.objects.exists()
    pinged = Workspace.objects.get(pk=workspace.pk).webhook_ping_at
    assert pinged is not None and timezone.now() - pinged < timedelta(minutes=1)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


@pytest.mark.parametrize("body", [b"not json", b'{"data": {"n": NaN}}', b'{"data": "x\\u0000"}'])
def test_a_ping_announced_by_its_header_alone_is_answered_2xx_whatever_the_body(
    client, hooked, body
):
    response = client.post(
        url(hooked),
        data=body,
        content_type="application/json",
        HTTP_X_SOCIALAPI_EVENT="webhook.test",
    )
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert not WebhookDelivery.objects.exists()
    assert Workspace.objects.get(pk=hooked.pk).webhook_ping_at is not None


@pytest.mark.parametrize("header_event", ["webhook.test", "account.disconnected", None])
def test_nothing_in_a_ping_is_acted_on(
    client, hooked, make_account, header_event, django_capture_on_commit_callbacks
):
    """A body calling itself a ping gets in unverified, so whatever else it carries (or the
    event header claims) must never reach a handler."""
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = json.dumps(
        {
            "event": "webhook.test",
            "data": {
                "account_id": account.upstream_id,
                "reason": "access_revoked",
                "reconnect_required": True,
                "targets": [{"account_id": account.upstream_id, "error": {"code": "x"}}],
            },
        }
    ).encode()
    headers = {"HTTP_X_SOCIALAPI_DELIVERY": "dlv_forged"}
    if header_event:
        headers["HTTP_X_SOCIALAPI_EVENT"] = header_event
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(url(hooked), data=body, content_type="application/json", **headers)
    assert response.status_code == 200
    assert not queued
    assert not WebhookDelivery.objects.exists() and not ErrorEvent.objects.exists()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and not account.transitions.exists()


def last_ping_shown(client: Client, workspace: Workspace) -> str:
    """What the Settings page says next to "Last test ping from SocialAPI" (tags removed)."""
    page = client.get(reverse("settings", args=[workspace.slug])).content.decode()
    found = re.search(r"<dt>Last test ping from SocialAPI</dt>\s*<dd>(.*?)</dd>", page)
    assert found, "no last ping on the Settings page"
    return re.sub(r"<[^>]+>", "", found.group(1)).replace("\xa0", " ")


def test_settings_shows_when_the_last_test_ping_arrived(client, as_admin, workspace):
    assert last_ping_shown(as_admin, workspace) == "None received yet"
    send(client, workspace, body_of("webhook.test"), sign="none")
    assert last_ping_shown(as_admin, workspace) == "just now"
    Workspace.objects.filter(pk=workspace.pk).update(
        webhook_ping_at=timezone.now() - timedelta(minutes=3)
    )
    assert last_ping_shown(as_admin, workspace) == "3 minutes ago"


def test_without_a_secret_only_the_ping_gets_in(client, workspace, make_account):
    account = make_account()
    body = body_of("account.disconnected", account_id=account.upstream_id)
    response = send(client, workspace, body, sign="none")
    # answered like any refused delivery (no hint about the workspace); the trace says why
    assert response.status_code == 401 and response.json()["error"] == "missing_signature"
    assert WebhookDelivery.objects.get().outcome == "rejected: no_secret"
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_a_forged_unsigned_account_event_calling_itself_a_ping_is_refused(
    client, hooked, make_account
):
    account = make_account()
    body = json.dumps(
        {"event": "account.disconnected", "data": {"account_id": account.upstream_id}}
    ).encode()
    response = send(client, hooked, body, sign="none", HTTP_X_SOCIALAPI_EVENT="webhook.test")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 400), (b"[1, 2]", 400), (b"{" * 5000, 400), (b"{}" + b" " * (300 * 1024), 413)],
)
def test_malformed_bodies_are_4xx_never_500(client, hooked, body, status):
    response = client.post(url(hooked), data=body, content_type="application/json")
    assert response.status_code == status


def test_get_requests_are_refused(client, hooked):
    assert client.get(url(hooked)).status_code == 405
    assert client.get("/webhooks/socialapi/nope").status_code == 405


@pytest.mark.parametrize(
    "case",
    [
        "forged_v2",
        "forged_v1",
        "unsigned",
        "stale",
        "not_json",
        "ping",
        "signed_ping",
        "secretless",
    ],
)
def test_an_unknown_workspace_is_answered_exactly_like_a_bad_signature(
    client, hooked, other_workspace, case
):
    """The answers never tell which workspace names exist (no 404 for unknown ones)."""
    body = body_of("account.disconnected", account_id="acc_1")
    kwargs: dict[str, Any] = {}
    if case == "forged_v2":
        kwargs = {"HTTP_X_SOCIALAPI_SIGNATURE_V2": "sha256=" + "f" * 64}
    elif case == "forged_v1":
        kwargs = {"sign": "none", "HTTP_X_SOCIALAPI_SIGNATURE": "sha256=" + "0" * 64}
    elif case == "unsigned":
        kwargs = {"sign": "none"}
    elif case == "stale":
        kwargs = {"ts": int(time.time()) - 400}
    elif case == "not_json":
        body = b'{"event": "x"'
    elif case == "ping":
        body, kwargs = body_of("webhook.test"), {"sign": "none"}
    elif case == "signed_ping":
        body = body_of("webhook.test")
    real = hooked if case != "secretless" else other_workspace  # no secret set
    unknown = Workspace(slug="no-such-workspace", name="?")

    def answer(workspace: Workspace) -> tuple[int, Any]:
        if case == "not_json":
            response = client.post(url(workspace), data=body, content_type="application/json")
        else:
            response = send(client, workspace, body, **kwargs)
        return response.status_code, response.json()

    status, payload = answer(unknown)
    assert (status, payload) == answer(real)
    assert status == (200 if "ping" in case else 400 if case == "not_json" else 401)
    stored = WebhookDelivery.objects.count()
    answer(unknown)
    assert WebhookDelivery.objects.count() == stored  # nothing stored for an unknown name


def test_a_ping_cannot_take_the_delivery_id_of_a_signed_delivery(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    ping = send(client, hooked, body_of("webhook.test"), sign="none", delivery="dlv_42")
    assert ping.status_code == 200
    body = body_of("account.disconnected", account_id=account.upstream_id, reconnect_required=True)
    with django_capture_on_commit_callbacks(execute=True):
        genuine = send(client, hooked, body, delivery="dlv_42")
    assert genuine.json() == {"ok": True}  # not taken for a retry of the ping
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    # and a signed delivery cannot be counted as received again by a ping
    send(client, hooked, body_of("webhook.test"), sign="none", delivery="dlv_42")
    assert WebhookDelivery.objects.get().times_received == 1


def test_a_flood_of_pings_writes_the_workspace_at_most_once_per_interval(client, hooked):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def workspace_writes(pings: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            for _ in range(pings):
                response = send(client, hooked, body_of("webhook.test"), sign="none")
                assert (response.status_code, response.json()) == (200, {"ok": True})
        return sum(
            1
            for q in ctx.captured_queries
            if q["sql"].startswith("UPDATE") and "dashboard_workspace" in q["sql"]
        )

    assert workspace_writes(20) == 1
    first = Workspace.objects.get(pk=hooked.pk).webhook_ping_at
    Workspace.objects.filter(pk=hooked.pk).update(webhook_ping_at=first - timedelta(minutes=1))
    assert workspace_writes(5) == 1
    assert Workspace.objects.get(pk=hooked.pk).webhook_ping_at >= first
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"event": "post.published", "data": {"n": NaN}}', "not_json"),
        (b'{"event": "post.published", "data": {"n": Infinity}}', "not_json"),
        (b'{"event": "post.published", "data": {"n": -Infinity}}', "not_json"),
        (b'{"event": "post.published", "data": {"n": 1e999}}', "not_json"),
        (b'{"event": "post.published", "data": {"s": "a\\u0000b"}}', "bad_body"),
        (b'{"event": "post.published", "data": {"a\\u0000": 1}}', "bad_body"),
        (b'{"event": "post.published\\u0000"}', "bad_body"),
        (b'{"event": "post.published", "data": ["\\ud800"]}', "bad_body"),
    ],
)
def test_signed_bodies_no_database_can_store_are_refused_with_400(
    client, hooked, raw, error, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = send(client, hooked, raw, delivery="dlv_odd")
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": error}  # never "duplicate"
    trace = WebhookDelivery.objects.get()
    assert trace.signature == "rejected" and trace.outcome == f"rejected: {error}"
    assert not queued


def test_a_delivery_the_database_refuses_is_not_called_a_duplicate(client, hooked, monkeypatch):
    from django.db import IntegrityError

    real_create = WebhookDelivery.objects.create

    def refuse_accepted(**fields: Any) -> Any:
        if fields.get("signature") != "rejected":
            raise IntegrityError("CHECK constraint failed")
        return real_create(**fields)

    monkeypatch.setattr(WebhookDelivery.objects, "create", refuse_accepted)
    response = send(client, hooked, body_of("post.published", id="p"), delivery="dlv_new")
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "bad_body"}
    assert WebhookDelivery.objects.get().outcome == "rejected: bad_body"


def test_account_disconnected_without_reconnect_marks_it_disconnected(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = body_of(
        "account.disconnected",
        account_id=account.upstream_id,
        reason="all_pages_removed",
        reconnect_required=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(client, hooked, body)
    account.refresh_from_db()
    assert account.status == AccountStatus.DISCONNECTED
    assert account.reason == "Every page was removed from the login."


def test_an_api_key_account_said_to_need_a_reconnect_is_marked_credentials_invalid(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    bot = make_account(platform="telegram", status_changed_at=timezone.now() - timedelta(hours=1))
    body = body_of(
        "account.disconnected",
        account_id=bot.upstream_id,
        reason="access_revoked",
        reconnect_required=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(client, hooked, body)
    bot.refresh_from_db()
    assert bot.status == AccountStatus.CREDENTIALS_INVALID  # no OAuth login to reconnect
    assert bot.transitions.get().to_status == AccountStatus.CREDENTIALS_INVALID
    assert WebhookDelivery.objects.get().outcome == "marked credentials invalid"


def test_an_old_retried_delivery_does_not_undo_a_newer_change(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    account = make_account()  # status changed just now (e.g. reconnected)
    body = body_of("account.disconnected", account_id=account.upstream_id, reconnect_required=True)
    with django_capture_on_commit_callbacks(execute=True):
        send(client, hooked, body, ts=int(time.time()) - 120)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert WebhookDelivery.objects.get().outcome == "ignored: older than the account's last change"


def test_account_connected_refreshes_the_account_from_upstream(
    client, hooked, api, make_account, django_capture_on_commit_callbacks
):
    account = make_account(AccountStatus.RECONNECT_REQUIRED, brand_id="b_main")
    api.get("/accounts").respond(
        json=accounts_body(account_json(account, name="Renamed", status="active"))
    )
    body = body_of("account.connected", account_id=account.upstream_id, platform="instagram")
    with django_capture_on_commit_callbacks(execute=True):
        assert send(client, hooked, body).status_code == 200
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.name == "Renamed"
    assert WebhookDelivery.objects.get().outcome == "refreshed: active"


def test_account_connected_for_a_new_account_adds_it(
    client, hooked, api, django_capture_on_commit_callbacks
):
    api.get("/accounts").respond(
        json=accounts_body(account_json(None, id="acc_fresh", name="Fresh"))
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(client, hooked, body_of("account.connected", account_id="acc_fresh"))
    assert hooked.social_accounts.get().name == "Fresh"


def test_a_refresh_that_fails_is_noted_and_harmless(
    client, hooked, api, make_account, django_capture_on_commit_callbacks
):
    account = make_account(AccountStatus.RECONNECT_REQUIRED)
    api.get("/accounts").respond(500)
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            send(
                client, hooked, body_of("account.connected", account_id=account.upstream_id)
            ).status_code
            == 200
        )
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert WebhookDelivery.objects.get().outcome.startswith("refresh failed")


def test_post_failed_becomes_error_events_that_can_mark_the_account(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    account = make_account(
        status_changed_at=timezone.now() - timedelta(hours=1), last_checked_at=None
    )
    body = body_of(
        "post.failed",
        id="post_1",
        targets=[
            {
                "account_id": account.upstream_id,
                "platform": "instagram",
                "error": {
                    "code": "platform.instagram.auth",
                    "message": "Token expired",
                    "category": "auth",
                },
            },
            {"account_id": "acc_other", "platform": "tiktok", "status": "published"},
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(client, hooked, body, delivery="dlv_post")
    assert ErrorEvent.objects.filter(workspace=hooked, upstream_id="dlv_post:0").count() == 1
    assert WebhookDelivery.objects.get().outcome == "1 error event(s) stored"
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED


def test_unknown_events_are_stored_and_ignored(client, hooked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert send(client, hooked, body_of("post.published", id="p")).status_code == 200
    assert WebhookDelivery.objects.get().outcome.startswith("ignored")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=400),
    signature=st.text(max_size=80),
    timestamp=st.text(max_size=20),
    delivery=st.text(max_size=150),
)
def test_any_input_gets_an_answer_below_500(client, hooked, body, signature, timestamp, delivery):
    headers = {}
    for key, value in (
        ("HTTP_X_SOCIALAPI_SIGNATURE_V2", signature),
        ("HTTP_X_SOCIALAPI_TIMESTAMP", timestamp),
        ("HTTP_X_SOCIALAPI_DELIVERY", delivery),
    ):
        if value.isprintable() and value.isascii():
            headers[key] = value
    response = client.post(url(hooked), data=body, content_type="application/json", **headers)
    assert response.status_code < 500


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(exclude_categories=()), max_size=12)
    | st.sampled_from(["\x00", "a\x00", "\ud800", "\udfff x", "\U0001f600"])
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["\x00", "\ud800"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event=st.sampled_from(["webhook.test", "post.published", "account.connected"]),
    data=JSON_VALUES,
    signed=st.booleans(),
)
def test_any_json_body_is_stored_or_refused_never_500(client, hooked, event, data, signed):
    """NaN, Infinity, NUL and lone surrogates included: a 400, never a 500 or "duplicate"."""
    WebhookDelivery.objects.all().delete()  # examples share the database: the same signed
    # body twice in one second would rightly be a duplicate
    body = json.dumps({"event": event, "data": data}, allow_nan=True).encode()
    delivery = f"dlv_{uuid.uuid4().hex}"
    response = send(client, hooked, body, sign="v2" if signed else "none", delivery=delivery)
    assert response.status_code in (200, 400, 401)
    assert "duplicate" not in response.json()
    if event == "webhook.test":  # a ping is never stored, whatever it carries
        assert not WebhookDelivery.objects.filter(delivery_id=delivery).exists()
    elif response.status_code == 200 and signed:
        stored = WebhookDelivery.objects.get(delivery_id=delivery)  # jsonb may renormalise numbers
        assert stored.event == event and set(stored.payload) == {"event", "data"}


def test_deliveries_are_listed_for_triage_with_constant_queries(
    client, as_member, hooked, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page_url = reverse("accounts:webhooks", args=[hooked.slug])
    send(client, hooked, body_of("webhook.test"), sign="none", delivery="dlv_ping")
    send(client, hooked, body_of("post.published", id="p0"), delivery="dlv_first")

    def measure() -> tuple[int, str]:
        as_member.get(page_url)
        with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as ctx:
            response = as_member.get(page_url)
        return len(ctx.captured_queries), response.content.decode()

    few, html = measure()
    assert "Last test ping from SocialAPI: <time" in html and "just now" in html
    assert "dlv_first" in html and "dlv_ping" not in html  # a ping is noted, not listed
    for n in range(30):
        send(
            client,
            hooked,
            body_of("account.connected"),
            sign="v1" if n % 2 else "bad",
            delivery=f"d{n}",
        )
    many, html = measure()
    assert many == few
    assert "refused" in html and "rejected: missing_signature" in html
    refused = as_member.get(page_url + "?rejected=1").content.decode()
    assert "dlv_first" not in refused


def test_other_workspaces_cannot_see_deliveries(as_outsider, hooked):
    assert as_outsider.get(reverse("accounts:webhooks", args=[hooked.slug])).status_code == 404


def test_a_delivery_whose_processing_was_lost_is_picked_up_by_the_next_health_sync(
    client, hooked, api, make_account
):
    from accounts.tasks import health_sync

    account = make_account(status_changed_at=timezone.now() - timedelta(hours=1))
    body = body_of("account.disconnected", account_id=account.upstream_id, reconnect_required=True)
    send(client, hooked, body)  # queued on commit, which never comes here: "lost"
    WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    api.get("/accounts").respond(500)  # the sync itself may fail: the sweep still runs
    health_sync(hooked.pk)
    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at is not None and delivery.outcome == "marked reconnect required"


def test_old_deliveries_and_reconnect_attempts_are_forgotten(hooked, make_account, api):
    from accounts.models import ReconnectState
    from accounts.tasks import health_sync

    account = make_account()
    old = timezone.now() - timedelta(days=120)
    WebhookDelivery.objects.create(
        workspace=hooked, delivery_id="old", event="x", signature="v1", received_at=old
    )
    WebhookDelivery.objects.create(workspace=hooked, delivery_id="new", event="x", signature="v1")
    for n, created in enumerate((old, timezone.now())):
        ReconnectState.objects.create(
            workspace=hooked,
            account=account,
            state_hash=f"h{n}",
            session_hash="s",
            dialect="current",
            redirect_uri="http://testserver/oauth/callback/",
            created_at=created,
            expires_at=created + timedelta(minutes=10),
        )
    api.get("/accounts").respond(500)
    health_sync(hooked.pk)
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["new"]
    assert ReconnectState.objects.count() == 1


def test_a_refresh_without_an_api_key_is_noted_not_crashed(
    client, hooked, make_account, django_capture_on_commit_callbacks
):
    account = make_account()
    hooked.api_key = ""
    hooked.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            send(
                client, hooked, body_of("account.connected", account_id=account.upstream_id)
            ).status_code
            == 200
        )
    assert WebhookDelivery.objects.get().outcome == "refresh skipped: the workspace has no API key"


def test_a_legacy_workspace_accepts_only_a_valid_v1_signature(client, hooked, make_account):
    Workspace.objects.filter(pk=hooked.pk).update(dialect=Workspace.Dialect.LEGACY)
    hooked.refresh_from_db()
    account = make_account()
    body = body_of("account.disconnected", account_id=account.upstream_id)
    response = send(
        client, hooked, body, sign="none", HTTP_X_SOCIALAPI_SIGNATURE="sha256=" + "0" * 64
    )
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert not WebhookDelivery.objects.filter(signature="v1").exists()
