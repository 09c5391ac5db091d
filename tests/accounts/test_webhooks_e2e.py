"""Over real HTTP: the sandbox (playing SocialAPI) signs and sends webhooks to our live
receiver; a dead token ends as a marked account and one email to the admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import AccountStatus, WebhookDelivery
from sandbox.models import SandboxWebhookDelivery
from sandbox.services import account_remove, account_token_expire, webhook_configure
from tests.accounts.conftest import mirror, sandbox_for

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "e2e-webhook-secret"


@pytest.fixture
def wired(live_server: Any, settings: Any, workspace: Any, admin: Any) -> Any:
    settings.SITE_URL = live_server.url
    sandbox = sandbox_for(workspace, live_server.url + "/sandbox/v1")
    webhook_configure(
        tenant=sandbox.tenant,
        url=f"{live_server.url}/webhooks/socialapi/{workspace.slug}",
        secret=SECRET,
    )
    workspace.webhook_secret = SECRET
    workspace.save()
    return sandbox


def test_a_token_expiring_upstream_marks_the_account_and_alerts_once(wired):
    upstream = wired.account("instagram", name="Demo Co")
    ours = mirror(wired, upstream, status_changed_at=timezone.now() - timedelta(hours=1))
    account_token_expire(tenant=wired.tenant, account_id=upstream.id, reason="Password changed")
    sent = SandboxWebhookDelivery.objects.get(event="account.disconnected")
    assert sent.status == "delivered" and sent.last_status_code == 200
    delivery = WebhookDelivery.objects.get(event="account.disconnected")
    assert delivery.signature == "v2" and delivery.delivery_id == sent.id
    assert delivery.outcome == "marked reconnect required"
    ours.refresh_from_db()
    assert ours.status == AccountStatus.RECONNECT_REQUIRED
    assert [m.subject for m in mail.outbox] == ["[Acme] Reconnect Demo Co (Instagram)"]


def test_an_account_removed_upstream_becomes_disconnected(wired):
    upstream = wired.account("tiktok")
    ours = mirror(wired, upstream, status_changed_at=timezone.now() - timedelta(hours=1))
    account_remove(tenant=wired.tenant, account_id=upstream.id)
    ours.refresh_from_db()
    assert ours.status == AccountStatus.DISCONNECTED
    assert mail.outbox == []  # gone on purpose is not an alert
