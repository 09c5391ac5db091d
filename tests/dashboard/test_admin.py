"""The Django admin: staff only, never shows secrets, the audit log is read-only there too."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dashboard.audit import audit_record
from dashboard.models import AuditEvent
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_superuser(db: Any) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "root")
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_needs_staff(as_admin, client, workspace):
    url = reverse("admin:dashboard_workspace_changelist")
    assert client.get(url).status_code == 302
    assert as_admin.get(url).url.startswith(reverse("admin:login"))


def test_the_workspace_page_never_shows_secrets(as_superuser, workspace):
    page = as_superuser.get(reverse("admin:dashboard_workspace_change", args=[workspace.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert TEST_API_KEY not in html
    assert f"sapi_key_…{TEST_API_KEY[-4:]}" in html
    assert 'name="api_key"' not in html
    assert 'name="webhook_secret"' not in html
    assert 'name="ingest_token_hash"' not in html


def test_audit_entries_can_be_read_but_not_added_changed_or_deleted(as_superuser, workspace):
    entry = audit_record(action="api_key.change", workspace=workspace, actor_label="alice")
    changelist = as_superuser.get(reverse("admin:dashboard_auditevent_changelist"))
    assert changelist.status_code == 200
    assert "api_key.change" in changelist.content.decode()
    change = as_superuser.get(reverse("admin:dashboard_auditevent_change", args=[entry.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert as_superuser.get(reverse("admin:dashboard_auditevent_add")).status_code == 403
    assert (
        as_superuser.post(
            reverse("admin:dashboard_auditevent_change", args=[entry.pk]), {"action": "x"}
        ).status_code
        == 403
    )
    assert (
        as_superuser.post(
            reverse("admin:dashboard_auditevent_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    bulk = as_superuser.post(
        reverse("admin:dashboard_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=entry.pk).action == "api_key.change"


def test_the_admin_applies_the_base_url_guard(as_superuser, workspace):
    url = reverse("admin:dashboard_workspace_change", args=[workspace.pk])
    data = {
        "name": "Acme",
        "slug": "acme",
        "base_url": "https://169.254.169.254/latest",
        "dialect": "current",
        "health_sync_minutes": 10,
        "storage_sync_minutes": 15,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    response = as_superuser.post(url, data)
    assert response.status_code == 200
    assert "private network" in response.content.decode()
    from dashboard.models import Workspace

    assert Workspace.objects.get(pk=workspace.pk).base_url == "https://api.social-api.ai/v1"
