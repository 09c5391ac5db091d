"""The diagnostic bundle: what support needs, and never a secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from dashboard.crypto import token_hash
from dashboard.models import AuditEvent, UsageSnapshot, Workspace
from events.models import ErrorGroup
from media.models import StorageSnapshot
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.django_db
WEBHOOK_SECRET = "whsec_" + "9f" * 20
INGEST_TOKEN = "ingest_" + "7e" * 20


@pytest.fixture
def busy(workspace: Workspace, record: Any) -> Workspace:
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.ingest_token_hash = token_hash(INGEST_TOKEN)
    workspace.ingest_token_hint = INGEST_TOKEN[-4:]
    workspace.base_url = "https://user:hunter2@proxy.example/v1"
    workspace.plan = "free"
    workspace.save()
    UsageSnapshot.objects.create(
        workspace=workspace, posts_used=10, posts_limit=10, period_end=timezone.now()
    )
    StorageSnapshot.objects.create(workspace=workspace, used_bytes=90, limit_bytes=100, count=3)
    SocialAccount.objects.create(
        workspace=workspace,
        upstream_id="acc_broken",
        platform="instagram",
        status=AccountStatus.RECONNECT_REQUIRED,
        reason=f"token revoked ({TEST_API_KEY})",
        last_error_request_id="req_acc",
    )
    SocialAccount.objects.create(
        workspace=workspace, upstream_id="acc_fine", platform="tiktok", status=AccountStatus.ACTIVE
    )
    for i in range(7):
        record(
            code="system.internal",
            request_id=f"req_{i}",
            minutes_ago=i,
            message=f"boom with {TEST_API_KEY}",
        )
    record(code="platform.instagram.rate_limit", status=429, request_id="req_ig")
    return workspace


def download(client, workspace):
    response = client.get(reverse("events:bundle", args=[workspace.slug]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="diagnostic-{workspace.slug}-'
    )
    assert response["Cache-Control"] == "no-store"
    return response


def test_it_has_plan_usage_storage_accounts_and_open_groups(busy, as_admin):
    data = download(as_admin, busy).json()
    assert data["workspace"]["plan"] == "free"
    assert data["workspace"]["base_url"] == "https://proxy.example/v1"
    assert data["usage"]["posts"] == {"used": 10, "limit": 10}
    assert data["storage"]["used_bytes"] == 90
    assert data["accounts"]["counts"]["reconnect_required"] == 1
    assert [a["id"] for a in data["accounts"]["not_active"]] == ["acc_broken"]
    groups = {g["code"]: g for g in data["open_groups"]}
    assert groups["system.internal"]["latest_request_ids"] == [
        "req_0",
        "req_1",
        "req_2",
        "req_3",
        "req_4",
    ]
    assert groups["platform.rate_limit"]["latest_request_ids"] == ["req_ig"]
    assert "storage_nearly_full" in [b["key"] for b in data["banners"]]


def test_it_holds_no_secret(busy, as_admin):
    text = download(as_admin, busy).content.decode()
    from django.db import connection

    with connection.cursor() as cursor:  # the ciphertext as stored, too
        cursor.execute(
            "SELECT api_key, webhook_secret FROM dashboard_workspace WHERE id = %s", [busy.pk]
        )
        stored = cursor.fetchone()
    assert stored[0] and stored[0] != TEST_API_KEY
    for secret in (
        TEST_API_KEY,
        TEST_API_KEY[-4:],
        WEBHOOK_SECRET,
        INGEST_TOKEN,
        token_hash(INGEST_TOKEN),
        "hunter2",
        *stored,
    ):
        assert secret not in text
    assert "sapi_key_[redacted]" in text  # the key inside messages and reasons is masked
    data = json.loads(text)
    assert data["workspace"]["api_key_configured"] is True
    assert "api_key_hint" not in data["workspace"]


def test_support_and_members_can_download_and_it_is_audited(busy, as_support, as_member, support):
    download(as_support, busy)
    download(as_member, busy)
    assert AuditEvent.objects.filter(action="support.bundle", workspace=busy).count() == 2
    assert AuditEvent.objects.filter(action="support.bundle", actor=support).exists()


def test_outsiders_cannot_download(busy, as_outsider):
    assert as_outsider.get(reverse("events:bundle", args=[busy.slug])).status_code == 404


def test_resolved_groups_are_left_out(busy, as_admin):
    ErrorGroup.objects.filter(code="system.internal").update(state=ErrorGroup.State.RESOLVED)
    data = download(as_admin, busy).json()
    assert [g["code"] for g in data["open_groups"]] == ["platform.rate_limit"]
