"""The support console: every workspace's health, staff only, constant queries, search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import AuditEvent, Workspace
from events.models import ErrorGroup
from media.models import StorageSnapshot

pytestmark = pytest.mark.django_db

SUPPORT_URL = reverse("support")


def account(workspace, status, n):
    return SocialAccount.objects.create(
        workspace=workspace,
        upstream_id=f"acc_{workspace.slug}_{n}",
        platform="instagram",
        name=f"a{n}",
        status=status,
    )


def group(workspace, state, n):
    now = timezone.now()
    return ErrorGroup.objects.create(
        workspace=workspace,
        fingerprint=f"fp{n}",
        code="system.internal",
        family="server",
        first_seen=now,
        last_seen=now,
        event_count=1,
        state=state,
    )


def snapshot(workspace, used, limit, minutes_ago):
    return StorageSnapshot.objects.create(
        workspace=workspace,
        used_bytes=used,
        limit_bytes=limit,
        taken_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def health(workspace, other_workspace):
    account(workspace, AccountStatus.RECONNECT_REQUIRED, 1)
    account(workspace, AccountStatus.CREDENTIALS_INVALID, 2)
    account(workspace, AccountStatus.ACTIVE, 3)
    account(other_workspace, AccountStatus.ACTIVE, 4)
    group(workspace, ErrorGroup.State.OPEN, 1)
    group(workspace, ErrorGroup.State.RESOLVED, 2)
    group(other_workspace, ErrorGroup.State.OPEN, 3)
    group(other_workspace, ErrorGroup.State.OPEN, 4)
    snapshot(workspace, 50, 100, minutes_ago=60)
    snapshot(workspace, 90, 100, minutes_ago=1)  # the latest counts
    snapshot(other_workspace, 5, -1, minutes_ago=1)


def row_for(page, slug):
    return next(ws for ws in page.object_list if ws.slug == slug)


def test_it_lists_every_workspace_with_its_health(as_support, health):
    response = as_support.get(SUPPORT_URL)
    assert response.status_code == 200
    page = response.context["page"]
    acme, globex = row_for(page, "acme"), row_for(page, "globex")
    assert (acme.accounts_broken, acme.accounts_total, acme.open_errors) == (2, 3, 1)
    assert acme.storage_percent == pytest.approx(90.0)
    assert (globex.accounts_broken, globex.open_errors, globex.storage_limit) == (0, 2, -1)
    assert globex.storage_percent is None
    html = response.content.decode()
    assert "90 %" in html
    assert "unlimited" in html
    assert reverse("overview", args=["acme"]) in html
    assert reverse("audit", args=["globex"]) in html


def test_problems_sort_first(as_support, health):
    page = as_support.get(SUPPORT_URL).context["page"]
    assert [ws.slug for ws in page.object_list] == ["acme", "globex"]
    by_errors = as_support.get(SUPPORT_URL + "?sort=errors").context["page"]
    assert [ws.slug for ws in by_errors.object_list] == ["globex", "acme"]


def test_it_searches_by_name_or_slug(as_support, health):
    assert [
        w.slug for w in as_support.get(SUPPORT_URL + "?q=glob").context["page"].object_list
    ] == ["globex"]
    assert [
        w.slug for w in as_support.get(SUPPORT_URL + "?q=ACME").context["page"].object_list
    ] == ["acme"]
    empty = as_support.get(SUPPORT_URL + "?q=nothing-like-it")
    assert "No workspace matches" in empty.content.decode()


def test_only_problems_filter(as_support, health):
    Workspace.objects.create(slug="calm", name="Calm")
    slugs = [
        w.slug for w in as_support.get(SUPPORT_URL + "?problems=on").context["page"].object_list
    ]
    assert "calm" not in slugs
    assert set(slugs) == {"acme", "globex"}


def test_nonsense_parameters_are_ignored(as_support, health):
    response = as_support.get(SUPPORT_URL + "?sort=drop_table&page=abc&q=" + "x" * 500)
    assert response.status_code == 200


def test_it_costs_the_same_queries_for_two_or_forty_workspaces(
    as_support, health, django_assert_max_num_queries
):
    as_support.get(SUPPORT_URL)
    with django_assert_max_num_queries(10) as few:
        as_support.get(SUPPORT_URL)
    for index in range(40):
        ws = Workspace.objects.create(slug=f"ws{index}", name=f"Workspace {index}")
        account(ws, AccountStatus.RECONNECT_REQUIRED, index)
        group(ws, ErrorGroup.State.OPEN, index)
        snapshot(ws, index, 100, 1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_support.get(SUPPORT_URL)
    assert response.context["page"].paginator.count == 42


def test_it_is_for_support_staff_only(as_admin, as_member, client, workspace):
    assert as_admin.get(SUPPORT_URL).status_code == 403
    assert as_member.get(SUPPORT_URL).status_code == 403
    anonymous = client.get(SUPPORT_URL)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("login"))


def test_the_console_itself_is_not_a_workspace_visit(as_support, health):
    as_support.get(SUPPORT_URL)
    assert not AuditEvent.objects.filter(action="support.view").exists()


def test_a_htmx_search_returns_only_the_results(as_support, health):
    response = as_support.get(SUPPORT_URL + "?q=acme", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="support-results">')
    assert "<html" not in html


def test_support_reads_a_workspace_but_cannot_change_it(as_support, workspace):
    assert as_support.get(reverse("settings", args=[workspace.slug])).status_code == 200
    html = as_support.get(reverse("settings", args=[workspace.slug])).content.decode()
    assert "Test and save" not in html
    response = as_support.post(
        reverse("settings_syncs", args=[workspace.slug]),
        {"health_sync_minutes": 99, "watch_seconds": 99},
    )
    assert response.status_code == 403
