"""Settings → "Register with SocialAPI" against the sandbox, through the real path.

`POST /v1/webhooks` makes the sandbox (as upstream does) ping the webhook URL while the
registration is still open, signed with the secret the dashboard only learns from the
answer. Over real sockets (a live server answering the dashboard's call to the sandbox
and, on another thread, the sandbox's ping to our receiver), and with no server at all
(everything in-process).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import WebhookDelivery
from dashboard.models import AuditEvent, Workspace
from events.models import ErrorEvent
from sandbox.models import SandboxCall, SandboxWebhookDelivery, SandboxWebhookEndpoint
from sandbox.services import account_token_expire
from tests.accounts.conftest import sandbox_for
from tests.conftest import SANDBOX_URL

SECRET_SHOWN = re.compile(r'value="([0-9a-f]{64})"')


def register(client: Client, workspace: Workspace, **kwargs: Any) -> Any:
    return client.post(reverse("settings_webhook_register", args=[workspace.slug]), **kwargs)


def last_ping_shown(html: str) -> str:
    found = re.search(r"<dt>Last test ping from SocialAPI</dt>\s*<dd>(.*?)</dd>", html)
    assert found, "no last ping on the Settings page"
    return re.sub(r"<[^>]+>", "", found.group(1))


@pytest.mark.django_db(transaction=True)
def test_it_registers_over_real_http_with_the_ping_answered_and_shown(
    live_server, settings, workspace, as_admin
):
    settings.SITE_URL = live_server.url
    sandbox = sandbox_for(workspace, live_server.url + "/sandbox/v1")
    tenant = sandbox.tenant

    response = register(as_admin, workspace)

    html = response.content.decode()
    assert response.status_code == 200, html[:2000]
    assert "Webhook registered" in html
    endpoint = SandboxWebhookEndpoint.objects.get(tenant=tenant)
    assert endpoint.url == f"{live_server.url}/webhooks/socialapi/{workspace.slug}"
    assert SECRET_SHOWN.findall(html) == [endpoint.secret]  # shown once, on this answer
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.webhook_secret == endpoint.secret and saved.webhook_id == endpoint.id
    assert saved.webhook_ping_at is not None  # the ping reached our receiver...
    assert not WebhookDelivery.objects.exists()  # ...which noted it and kept nothing
    assert last_ping_shown(html) == "just now"
    page = as_admin.get(reverse("settings", args=[workspace.slug])).content.decode()
    assert last_ping_shown(page) == "just now" and endpoint.secret not in page

    # The stored secret is the one the sandbox signs real deliveries with.
    account_token_expire(tenant=tenant, account_id=sandbox.account("instagram").id)
    sent = SandboxWebhookDelivery.objects.get(event="account.disconnected")
    assert (sent.status, sent.last_status_code) == ("delivered", 200)
    assert WebhookDelivery.objects.get().signature == "v2"


@pytest.mark.django_db(transaction=True)
def test_a_url_that_fails_the_ping_is_explained_on_settings_and_changes_nothing(
    live_server, settings, workspace, as_admin
):
    # A SITE_URL with a wrong path: the ping to the webhook URL gets a 404.
    settings.SITE_URL = live_server.url + "/not-the-dashboard"
    tenant = sandbox_for(workspace, live_server.url + "/sandbox/v1").tenant
    before = Workspace.objects.get(pk=workspace.pk)

    response = register(as_admin, workspace, follow=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "While registering the webhook, SocialAPI called its URL once (a test ping) and did "
        "not get a 2xx answer, so it registered nothing." in html
    )
    assert f"It called {live_server.url}/not-the-dashboard/webhooks/socialapi/acme" in html
    assert "SITE_URL must be the dashboard&#x27;s public https address" in html
    assert "register again from Settings" in html
    saved = Workspace.objects.get(pk=workspace.pk)
    for field in ("webhook_id", "webhook_registered_at", "webhook_secret_saved_at"):
        assert getattr(saved, field) == getattr(before, field)
    assert saved.webhook_ping_at is None
    assert not SandboxWebhookEndpoint.objects.filter(tenant=tenant).exists()
    assert not AuditEvent.objects.filter(action="webhook.register").exists()
    assert SandboxCall.objects.filter(tenant=tenant, method="POST", status=400).exists()
    # Recorded like every failed call, with the same words on the errors pages.
    event = ErrorEvent.objects.get(workspace=workspace)
    assert event.code == "webhook_verification_failed"


@pytest.mark.django_db
def test_it_registers_in_process_with_no_server_at_all(
    in_process_sandbox, settings, workspace, as_admin
):
    settings.SITE_URL = "http://testserver"
    tenant = sandbox_for(workspace, SANDBOX_URL).tenant

    response = register(as_admin, workspace)

    assert response.status_code == 200 and "Webhook registered" in response.content.decode()
    endpoint = SandboxWebhookEndpoint.objects.get(tenant=tenant)
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.webhook_secret == endpoint.secret
    assert saved.webhook_ping_at is not None and not WebhookDelivery.objects.exists()
