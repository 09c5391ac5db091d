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


def workspace_form(**overrides):
    return {
        "name": "Acme",
        "slug": "acme",
        "base_url": "https://api.social-api.ai/v1",
        "dialect": "current",
        "health_sync_minutes": 10,
        "watch_seconds": 20,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
        **overrides,
    }


def test_the_admin_applies_the_base_url_guard_to_a_new_workspace(as_superuser, db):
    from dashboard.models import Workspace

    response = as_superuser.post(
        reverse("admin:dashboard_workspace_add"),
        workspace_form(slug="new", base_url="https://169.254.169.254/latest"),
    )
    assert response.status_code == 200
    assert "private network" in response.content.decode()
    assert not Workspace.objects.filter(slug="new").exists()


def test_creating_a_workspace_in_the_admin_is_audited(as_superuser, db):
    from dashboard.models import Workspace

    response = as_superuser.post(
        reverse("admin:dashboard_workspace_add"), workspace_form(name="New", slug="new")
    )
    assert response.status_code == 302
    workspace = Workspace.objects.get(slug="new")
    entry = AuditEvent.objects.get(workspace=workspace, action="workspace.create")
    assert entry.actor_label == "root"


def test_the_admin_cannot_change_a_workspaces_base_url_or_api_version(as_superuser, workspace):
    from dashboard.models import Workspace

    url = reverse("admin:dashboard_workspace_change", args=[workspace.pk])
    html = as_superuser.get(url).content.decode()
    assert 'name="base_url"' not in html
    assert 'name="dialect"' not in html

    response = as_superuser.post(
        url,
        workspace_form(name="Acme Inc", base_url="https://collector.example/v1", dialect="legacy"),
    )

    assert response.status_code == 302
    saved = Workspace.objects.get(pk=workspace.pk)
    assert (saved.name, saved.base_url, saved.dialect) == (
        "Acme Inc",
        "https://api.social-api.ai/v1",
        "current",
    )


def test_the_admin_cannot_change_roles_or_remove_people(as_superuser, workspace, admin):
    from dashboard.models import Membership

    url = reverse("admin:dashboard_workspace_change", args=[workspace.pk])
    membership = Membership.objects.get(user=admin)
    html = as_superuser.get(url).content.decode()
    assert 'name="memberships-0-role"' not in html
    assert 'name="memberships-0-DELETE"' not in html

    as_superuser.post(
        url,
        workspace_form(
            **{
                "memberships-TOTAL_FORMS": 1,
                "memberships-INITIAL_FORMS": 1,
                "memberships-0-id": membership.pk,
                "memberships-0-workspace": workspace.pk,
                "memberships-0-user": admin.pk,
                "memberships-0-role": "member",
                "memberships-0-DELETE": "on",
            }
        ),
    )

    assert Membership.objects.get(pk=membership.pk).role == "admin"


def test_adding_someone_in_the_admin_is_audited(as_superuser, workspace):
    from dashboard.models import Membership
    from tests.conftest import make_user

    carol = make_user("carol")
    response = as_superuser.post(
        reverse("admin:dashboard_workspace_change", args=[workspace.pk]),
        workspace_form(
            **{
                "memberships-TOTAL_FORMS": 1,
                "memberships-0-user": carol.pk,
                "memberships-0-role": "admin",
                "memberships-0-alert_accounts": "on",
            }
        ),
    )

    assert response.status_code == 302
    assert Membership.objects.get(user=carol, workspace=workspace).role == "admin"
    entry = AuditEvent.objects.get(workspace=workspace, action="member.add")
    assert (entry.actor_label, entry.target_label, entry.detail["role"]) == (
        "root",
        "carol",
        "admin",
    )
