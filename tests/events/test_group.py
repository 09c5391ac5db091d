"""Group detail: events with raw body and normalised reading, states with who/when, notes."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from dashboard.models import AuditEvent, Workspace
from events.models import ErrorGroup, ErrorGroupActivity
from events.retention import error_events_prune

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(workspace: Workspace, record: Any) -> ErrorGroup:
    record(
        code="invalid_token",
        status=401,
        endpoint="/v1/accounts/acc_01HZX9/limits",
        account_upstream_id="acc_01HZX9",
        request_id="req_legacy_1",
        message="OAuth token expired",
        raw_body='{"error": "OAuth token expired", "code": "invalid_token"}',
    )
    return ErrorGroup.objects.get(workspace=workspace)


def detail(workspace: Workspace, group: ErrorGroup) -> str:
    return reverse("events:group", args=[workspace.slug, group.pk])


def state_url(workspace: Workspace, group: ErrorGroup) -> str:
    return reverse("events:group_state", args=[workspace.slug, group.pk])


def test_it_shows_raw_body_and_normalised_code_side_by_side(workspace, as_member, group):
    html = as_member.get(detail(workspace, group)).content.decode()
    assert "<h1>Reconnect required</h1>" in html
    assert "Press Reconnect and sign in to the platform again" in html
    assert "&quot;code&quot;: &quot;invalid_token&quot;" in html  # the raw legacy body, indented
    assert "<dt>Code</dt><dd><code>account.reconnection_required</code></dd>" in html
    assert "<dt>Raw code</dt><dd><code>invalid_token</code></dd>" in html
    assert "req_legacy_1" in html
    assert "/v1/accounts/acc_01HZX9/limits" in html  # the concrete path next to the template
    assert "1 affected account" in html


def test_members_read_but_see_no_triage_buttons(workspace, as_member, group):
    html = as_member.get(detail(workspace, group)).content.decode()
    assert state_url(workspace, group) not in html
    assert "Add a note" not in html
    assert as_member.post(state_url(workspace, group), {"state": "resolved"}).status_code == 403
    group.refresh_from_db()
    assert group.state == ErrorGroup.State.OPEN


def test_outsiders_get_404_everywhere(workspace, as_outsider, group):
    assert as_outsider.get(detail(workspace, group)).status_code == 404
    assert as_outsider.post(state_url(workspace, group), {"state": "resolved"}).status_code == 404
    note = reverse("events:group_note", args=[workspace.slug, group.pk])
    assert as_outsider.post(note, {"body": "hi"}).status_code == 404


def test_a_group_of_another_workspace_is_404_in_this_one(
    workspace, other_workspace, as_admin, record
):
    record(code="system.internal", target=other_workspace)
    theirs = ErrorGroup.objects.get(workspace=other_workspace)
    # An admin of Acme, Acme's URL, Globex's group id.
    assert (
        as_admin.get(reverse("events:group", args=[workspace.slug, theirs.pk])).status_code == 404
    )
    state = reverse("events:group_state", args=[workspace.slug, theirs.pk])
    assert as_admin.post(state, {"state": "resolved"}).status_code == 404
    assert as_admin.post(state, {}).status_code == 404  # even with an invalid form: 404 first
    assert (
        as_admin.get(reverse("events:group_accounts", args=[workspace.slug, theirs.pk])).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.state == ErrorGroup.State.OPEN


def test_admins_resolve_ignore_and_reopen_with_who_and_when(workspace, admin, as_admin, group):
    response = as_admin.post(state_url(workspace, group), {"state": "resolved"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.state, group.state_changed_by) == (ErrorGroup.State.RESOLVED, admin)
    as_admin.post(state_url(workspace, group), {"state": "ignored"})
    as_admin.post(state_url(workspace, group), {"state": "open"})
    kinds = list(
        ErrorGroupActivity.objects.filter(group=group)
        .order_by("id")
        .values_list("kind", "actor_label")
    )
    assert kinds == [("resolved", "alice"), ("ignored", "alice"), ("reopened", "alice")]
    actions = list(
        AuditEvent.objects.filter(workspace=workspace)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["triage.resolve", "triage.ignore", "triage.reopen"]
    html = as_admin.get(detail(workspace, group)).content.decode()
    assert "<strong>Resolved</strong> by alice." in html
    assert "<strong>Reopened</strong> by alice." in html


def test_support_staff_may_triage_any_workspace(workspace, support, as_support, group):
    response = as_support.post(state_url(workspace, group), {"state": "ignored"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.state_changed_by == support
    assert AuditEvent.objects.filter(
        action="triage.ignore", actor=support, workspace=workspace
    ).exists()


def test_an_unknown_state_changes_nothing(workspace, as_admin, group):
    response = as_admin.post(state_url(workspace, group), {"state": "deleted"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.state == ErrorGroup.State.OPEN
    assert not ErrorGroupActivity.objects.exists()


def test_the_page_shows_a_regression(workspace, as_admin, group, record):
    as_admin.post(state_url(workspace, group), {"state": "resolved"})
    record(code="invalid_token", status=401, endpoint="/v1/accounts/acc_01HZX9/limits")
    html = as_admin.get(detail(workspace, group)).content.decode()
    assert "Regression" in html
    assert "Reopened by a new event" in html


def test_notes_are_added_audited_and_validated(workspace, as_admin, group):
    url = reverse("events:group_note", args=[workspace.slug, group.pk])
    response = as_admin.post(
        url, {"body": "Told the owner; quoting req_legacy_1 <b>to support</b>"}
    )
    assert response.status_code == 302
    html = as_admin.get(detail(workspace, group)).content.decode()
    assert "Told the owner; quoting req_legacy_1 &lt;b&gt;to support&lt;/b&gt;" in html
    assert AuditEvent.objects.filter(action="triage.note").count() == 1
    empty = as_admin.post(url, {"body": "   "})
    assert empty.status_code == 400
    assert "This field is required." in empty.content.decode()
    long = as_admin.post(url, {"body": "x" * 6000})
    assert long.status_code == 400
    assert ErrorGroupActivity.objects.filter(kind="note").count() == 1


def test_older_events_page_by_cursor(workspace, as_member, record):
    record(code="system.internal", n=25)
    group = ErrorGroup.objects.get()
    html = as_member.get(detail(workspace, group)).content.decode()
    assert html.count('<article class="event"') == 20
    import re

    older = re.search(r'href="[^"]*\?before=([^"#]+)#events-h"', html)
    assert older
    rest = as_member.get(
        detail(workspace, group) + f"?before={older.group(1)}",
        headers={"HX-Request": "true", "HX-Target": "group-events"},
    )
    assert rest.content.decode().count('<article class="event"') == 5
    assert "<html" not in rest.content.decode()


def test_a_group_whose_events_were_pruned_still_opens(workspace, as_member, group, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.ERROR_EVENT_RETENTION_DAYS = 0
    error_events_prune(now=timezone.now() + timedelta(days=1))
    html = as_member.get(detail(workspace, group)).content.decode()
    assert "No stored events" in html
    assert "<dd>1</dd>" in html  # the count is kept


def test_affected_accounts_are_listed(workspace, as_member, group):
    html = as_member.get(
        reverse("events:group_accounts", args=[workspace.slug, group.pk])
    ).content.decode()
    assert "acc_01HZX9" in html
    assert "Not in this dashboard" in html


def test_the_detail_page_costs_few_queries_whatever_the_events(workspace, as_member, group, record):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        as_member.get(detail(workspace, group))  # warm per-connection caches
        with CaptureQueriesContext(connection) as queries:
            assert as_member.get(detail(workspace, group)).status_code == 200
        return len(queries.captured_queries)

    few = count()
    record(code="invalid_token", status=401, endpoint="/v1/accounts/acc_01HZX9/limits", n=30)
    # The group rides with its events; history is one more query; then the page chrome.
    assert count() == few <= 10
