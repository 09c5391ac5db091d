"""Settings: webhook registration and secret, the ingest token, check intervals, alerts."""

from __future__ import annotations

import json

import httpx
import pytest
from django.urls import reverse

from dashboard.models import AuditEvent, Membership, Workspace
from dashboard.selectors import webhook_url, workspace_for_ingest_token
from tests.conftest import error_body

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_" + "9f" * 20
NO_ENDPOINTS = {"count": 0, "data": []}


def endpoints(*items):
    """A GET /webhooks answer: (id, url) or (id, url, is_active) per endpoint."""
    data = [
        {
            "id": i[0],
            "url": i[1],
            "events": ["post.failed"],
            "is_active": i[2] if len(i) > 2 else True,
        }
        for i in items
    ]
    return {"count": len(data), "data": data}


def created(endpoint_id="wh_new", secret=WEBHOOK_SECRET, workspace=None):
    return {
        "id": endpoint_id,
        "url": webhook_url(workspace) if workspace else "x",
        "events": ["account.connected"],
        "secret": secret,
    }


def url(name, workspace):
    return reverse(name, args=[workspace.slug])


# --- webhooks ------------------------------------------------------------------------


def test_it_shows_the_exact_webhook_url_to_register(as_admin, workspace, settings):
    expected = webhook_url(workspace)
    assert expected.startswith(settings.SITE_URL)
    assert expected.endswith("acme")
    response = as_admin.get(url("settings", workspace))
    assert f'value="{expected}"' in response.content.decode()


def test_registering_the_webhook_stores_the_secret_encrypted_and_shows_it_once(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/webhooks", 200, NO_ENDPOINTS)
    fake_upstream.on(
        "POST",
        "/webhooks",
        201,
        {
            "id": "wh_123",
            "url": webhook_url(workspace),
            "events": ["account.connected"],
            "secret": WEBHOOK_SECRET,
        },
    )

    response = as_admin.post(url("settings_webhook_register", workspace))

    assert response.status_code == 200
    assert WEBHOOK_SECRET in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    [call] = fake_upstream.calls("POST", "/webhooks")
    assert json.loads(call.content) == {
        "url": webhook_url(workspace),
        "events": [
            "account.connected",
            "account.disconnected",
            "post.failed",
            "post.partial",
            "post.published",
        ],
    }
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.webhook_secret == WEBHOOK_SECRET
    assert saved.webhook_id == "wh_123"
    assert saved.webhook_registered_at is not None
    entry = AuditEvent.objects.get(action="webhook.register")
    assert WEBHOOK_SECRET not in json.dumps(entry.detail)
    # Shown once: the next visit does not carry it.
    assert WEBHOOK_SECRET not in as_admin.get(url("settings", workspace)).content.decode()


def test_it_explains_when_socialapi_cannot_reach_the_webhook_url(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/webhooks", 200, NO_ENDPOINTS)
    fake_upstream.on(
        "POST",
        "/webhooks",
        400,
        error_body("validation.body_invalid", "webhook_verification_failed"),
    )
    response = as_admin.post(url("settings_webhook_register", workspace), follow=True)
    html = response.content.decode()
    assert "could not verify" in html
    assert "reachable from the internet" in html
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.webhook_registered_at is None
    assert not AuditEvent.objects.filter(action="webhook.register").exists()


def test_it_explains_when_registration_fails_because_socialapi_is_down(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/webhooks", error=httpx.ConnectError)
    response = as_admin.post(url("settings_webhook_register", workspace), follow=True)
    assert "could not be reached" in response.content.decode()
    assert Workspace.objects.get(pk=workspace.pk).webhook_registered_at is None


def test_registering_again_creates_no_second_endpoint_when_ours_is_active(
    as_admin, workspace, fake_upstream
):
    Workspace.objects.filter(pk=workspace.pk).update(webhook_id="wh_1")
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save(update_fields=["webhook_secret"])
    fake_upstream.on(
        "GET",
        "/webhooks",
        200,
        endpoints(("wh_other", "https://elsewhere.example/h"), ("wh_1", webhook_url(workspace))),
    )

    response = as_admin.post(url("settings_webhook_register", workspace), follow=True)

    assert "Already registered with SocialAPI (endpoint wh_1)" in response.content.decode()
    assert fake_upstream.calls("POST", "/webhooks") == []
    assert Workspace.objects.get(pk=workspace.pk).webhook_secret == WEBHOOK_SECRET
    assert not AuditEvent.objects.filter(action="webhook.register").exists()


def test_registering_again_without_a_usable_secret_replaces_the_old_endpoint(
    as_admin, workspace, fake_upstream
):
    # The secret was lost (never stored): a new endpoint is the only way to get one, and
    # the old one for the same URL is deleted so events do not arrive twice.
    mine = webhook_url(workspace)
    fake_upstream.on(
        "GET",
        "/webhooks",
        200,
        endpoints(("wh_old", mine), ("wh_other", "https://elsewhere.example/h")),
    )
    fake_upstream.then(
        "GET",
        "/webhooks",
        200,
        endpoints(("wh_new", mine), ("wh_other", "https://elsewhere.example/h")),
    )
    fake_upstream.on("POST", "/webhooks", 201, created(workspace=workspace))
    fake_upstream.on("DELETE", "/webhooks/wh_old", 200, {"success": True})

    response = as_admin.post(url("settings_webhook_register", workspace))

    assert response.status_code == 200
    assert WEBHOOK_SECRET in response.content.decode()
    assert "older endpoint (wh_old) was removed" in response.content.decode()
    assert len(fake_upstream.calls("DELETE", "/webhooks/wh_old")) == 1
    assert [r.url.path for r in fake_upstream.requests if r.method == "DELETE"] == [
        "/v1/webhooks/wh_old"
    ]
    saved = Workspace.objects.get(pk=workspace.pk)
    assert (saved.webhook_id, saved.webhook_secret) == ("wh_new", WEBHOOK_SECRET)
    entry = AuditEvent.objects.get(action="webhook.register")
    assert entry.detail["replaced"] == ["wh_old"]


def test_an_inactive_endpoint_for_our_url_is_replaced_even_with_a_stored_secret(
    as_admin, workspace, fake_upstream
):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save(update_fields=["webhook_secret"])
    fake_upstream.on("GET", "/webhooks", 200, endpoints(("wh_off", webhook_url(workspace), False)))
    fake_upstream.then("GET", "/webhooks", 200, endpoints(("wh_new", webhook_url(workspace))))
    fake_upstream.on("POST", "/webhooks", 201, created(secret="whsec_" + "aa" * 20))
    fake_upstream.on("DELETE", "/webhooks/wh_off", 200, {"success": True})

    response = as_admin.post(url("settings_webhook_register", workspace))

    assert response.status_code == 200
    assert Workspace.objects.get(pk=workspace.pk).webhook_id == "wh_new"
    assert len(fake_upstream.calls("DELETE", "/webhooks/wh_off")) == 1


def test_when_socialapi_keeps_the_old_endpoint_the_admin_is_told_to_delete_it(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/webhooks", 200, endpoints(("wh_old", webhook_url(workspace))))
    fake_upstream.on("POST", "/webhooks", 201, created(workspace=workspace))
    # Like the sandbox: no DELETE route, so a JSON 404 that looks like "already gone".
    fake_upstream.on("DELETE", "/webhooks/wh_old", 404, error_body("resource.not_found"))

    response = as_admin.post(url("settings_webhook_register", workspace))

    html = response.content.decode()
    assert response.status_code == 200
    assert WEBHOOK_SECRET in html
    assert "SocialAPI kept the older endpoint (wh_old)" in html
    assert Workspace.objects.get(pk=workspace.pk).webhook_id == "wh_new"
    assert AuditEvent.objects.get(action="webhook.register").detail["left_over"] == ["wh_old"]


def test_registering_needs_an_api_key(as_admin, workspace, fake_upstream):
    Workspace.objects.filter(pk=workspace.pk).update(api_key="", api_key_hint="")
    response = as_admin.post(url("settings_webhook_register", workspace), follow=True)
    assert "API key first" in response.content.decode()
    assert fake_upstream.requests == []


def test_an_admin_can_paste_a_secret_from_a_manual_registration(as_admin, workspace):
    response = as_admin.post(url("settings_webhook_secret", workspace), {"secret": WEBHOOK_SECRET})
    assert response.status_code == 302
    assert Workspace.objects.get(pk=workspace.pk).webhook_secret == WEBHOOK_SECRET
    assert AuditEvent.objects.filter(action="webhook.secret_change").count() == 1


def test_a_too_short_secret_is_refused(as_admin, workspace):
    response = as_admin.post(url("settings_webhook_secret", workspace), {"secret": "short"})
    assert response.status_code == 400
    assert "at least 16 characters" in response.content.decode()
    assert Workspace.objects.get(pk=workspace.pk).webhook_secret == ""


# --- ingest token --------------------------------------------------------------------


def test_creating_an_ingest_token_shows_it_once_and_stores_only_its_hash(as_admin, workspace):
    response = as_admin.post(url("settings_ingest_token", workspace))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = revealed_value(response.content.decode())
    assert token.startswith("ingest_")
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.ingest_token_hint == token[-4:]
    assert token not in saved.ingest_token_hash
    assert workspace_for_ingest_token(token) == saved
    assert workspace_for_ingest_token(f" {token} ") == saved
    assert AuditEvent.objects.filter(action="ingest_token.create").count() == 1
    assert token not in as_admin.get(url("settings", workspace)).content.decode()


def revealed_value(html):
    return html.split('id="revealed-value"', 1)[1].split('value="', 1)[1].split('"', 1)[0]


def test_rotating_the_ingest_token_stops_the_old_one(as_admin, workspace):
    first = as_admin.post(url("settings_ingest_token", workspace)).content.decode()
    old = revealed_value(first)
    second = as_admin.post(url("settings_ingest_token", workspace)).content.decode()
    new = revealed_value(second)
    assert old != new
    assert workspace_for_ingest_token(old) is None
    assert workspace_for_ingest_token(new).pk == workspace.pk
    assert "The previous token no longer works" in second
    assert AuditEvent.objects.filter(action="ingest_token.rotate").count() == 1


def test_revoking_the_ingest_token(as_admin, workspace):
    page = as_admin.post(url("settings_ingest_token", workspace)).content.decode()
    token = revealed_value(page)
    as_admin.post(url("settings_ingest_token_revoke", workspace))
    assert workspace_for_ingest_token(token) is None
    assert Workspace.objects.get(pk=workspace.pk).ingest_token_hint == ""


def test_ingest_tokens_of_one_workspace_never_match_another(as_admin, workspace, other_workspace):
    page = as_admin.post(url("settings_ingest_token", workspace)).content.decode()
    token = revealed_value(page)
    assert workspace_for_ingest_token(token).slug == "acme"
    assert workspace_for_ingest_token("") is None
    assert workspace_for_ingest_token(token[:-1]) is None
    assert workspace_for_ingest_token("x" * 5000) is None


# --- check intervals -----------------------------------------------------------------


def test_an_admin_changes_the_check_intervals(as_admin, workspace):
    response = as_admin.post(
        url("settings_syncs", workspace), {"health_sync_minutes": 30, "watch_seconds": 60}
    )
    assert response.status_code == 302
    saved = Workspace.objects.get(pk=workspace.pk)
    assert (saved.health_sync_minutes, saved.watch_seconds) == (30, 60)
    entry = AuditEvent.objects.get(action="settings.sync_change")
    assert entry.detail["health_sync_minutes"][1] == 30


@pytest.mark.parametrize("value", ["0", "1", "100000", "abc", ""])
def test_out_of_range_intervals_are_refused(as_admin, workspace, value):
    before = Workspace.objects.get(pk=workspace.pk).health_sync_minutes
    response = as_admin.post(
        url("settings_syncs", workspace), {"health_sync_minutes": value, "watch_seconds": 20}
    )
    assert response.status_code == 400
    assert Workspace.objects.get(pk=workspace.pk).health_sync_minutes == before


def test_a_member_cannot_change_the_intervals(as_member, workspace):
    response = as_member.post(
        url("settings_syncs", workspace), {"health_sync_minutes": 30, "watch_seconds": 60}
    )
    assert response.status_code == 403


# --- alert preferences ---------------------------------------------------------------


def test_a_member_changes_their_own_alert_preferences(as_member, member, workspace):
    response = as_member.post(url("settings_alerts", workspace), {"alert_storage": "on"})
    assert response.status_code == 302
    mine = Membership.objects.get(user=member, workspace=workspace)
    assert (mine.alert_accounts, mine.alert_storage, mine.alert_quota) == (False, True, False)
    # A personal preference, not a workspace change: nothing in the audit log.
    assert not AuditEvent.objects.filter(workspace=workspace).exists()


def test_alert_preferences_change_only_the_persons_own_membership(
    as_admin, admin, member, workspace
):
    as_admin.post(url("settings_alerts", workspace), {})
    assert Membership.objects.get(user=admin).alert_accounts is False
    assert Membership.objects.get(user=member).alert_accounts is True


def test_alert_preferences_save_in_place_with_htmx(as_admin, admin, workspace):
    response = as_admin.post(
        url("settings_alerts", workspace), {"alert_quota": "on"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="alerts"')
    assert "Saved" in html
    assert Membership.objects.get(user=admin).alert_quota is True


def test_support_staff_have_no_alert_preferences_here(as_support, workspace):
    response = as_support.post(url("settings_alerts", workspace), {"alert_quota": "on"})
    assert response.status_code == 403


def test_alert_opt_out_takes_effect_for_alert_emails(as_admin, admin, workspace):
    from dashboard.alerts import alert_recipients

    assert alert_recipients(workspace=workspace, preference="alert_storage") == [admin.email]
    as_admin.post(url("settings_alerts", workspace), {"alert_accounts": "on"})
    assert alert_recipients(workspace=workspace, preference="alert_storage") == []
