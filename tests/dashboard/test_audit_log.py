"""The audit log: append-only, filters, keyset pages, UTC times, IPs, support visits, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from dashboard.audit import audit_record
from dashboard.models import AuditEvent
from tests.dashboard.test_exports import HOSTILE, formula_cells

pytestmark = pytest.mark.django_db


def record(workspace, action="api_key.change", actor=None, label="", at=None, **extra):
    if at is None:
        return audit_record(
            action=action, workspace=workspace, actor=actor, actor_label=label, **extra
        )
    # A given time: created directly (rows can never be changed afterwards).
    return AuditEvent.objects.create(
        workspace=workspace, actor_label=label or "system", action=action, created_at=at
    )


def audit_url(workspace, **params):
    from urllib.parse import urlencode

    base = reverse("audit", args=[workspace.slug])
    return f"{base}?{urlencode(params)}" if params else base


def test_it_lists_who_did_what_when_in_utc_and_from_which_ip(
    as_admin, workspace, admin, rf, settings
):
    settings.TIME_ZONE = "Europe/Paris"  # the page still shows UTC
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    request.user = admin
    entry = audit_record(
        action="member.role_change",
        workspace=workspace,
        request=request,
        target_label="bob",
        detail={"from": "member", "to": "admin", "fields": ["a", "b", "c"]},
    )
    assert entry.ip == "203.0.113.9"

    html = as_admin.get(audit_url(workspace)).content.decode()

    assert entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") in html
    assert "Time (UTC)" in html
    assert "alice" in html
    assert "Changed someone&#x27;s role" in html
    # PostgreSQL's jsonb does not keep key order, so each part is checked on its own.
    for part in ("from: member", "to: admin", "fields: a, b, c"):
        assert part in html
    assert "203.0.113.9" in html
    assert "bob" in html


def test_it_shows_a_fixed_time_as_utc(as_admin, workspace, settings):
    settings.TIME_ZONE = "America/New_York"
    record(workspace, label="alice", at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert "2026-03-04 05:06:07" in as_admin.get(audit_url(workspace)).content.decode()


def test_members_can_read_the_log_but_outsiders_cannot(as_member, as_outsider, workspace):
    record(workspace, label="system")
    assert as_member.get(audit_url(workspace)).status_code == 200
    assert as_outsider.get(audit_url(workspace)).status_code == 404


def test_it_never_shows_another_workspaces_entries(as_admin, workspace, other_workspace):
    record(workspace, action="api_key.change", label="ours")
    record(other_workspace, action="member.remove", label="theirs")
    html = as_admin.get(audit_url(workspace)).content.decode()
    assert "ours" in html
    assert "theirs" not in html


def test_it_filters_by_action_person_and_dates(as_admin, workspace):
    day = datetime(2026, 5, 10, 12, tzinfo=UTC)
    record(workspace, action="api_key.change", label="alice", at=day)
    record(workspace, action="member.remove", label="alice", at=day + timedelta(days=2))
    record(workspace, action="member.remove", label="dave", at=day + timedelta(days=2))

    def labels(**params):
        response = as_admin.get(audit_url(workspace, **params))
        assert response.status_code == 200
        return [
            row.entry.actor_label + ":" + row.entry.action
            for row in response.context["page"].entries
        ]

    assert labels(action="member.remove") == ["dave:member.remove", "alice:member.remove"]
    assert labels(actor="dave") == ["dave:member.remove"]
    assert labels(date_from="2026-05-10", date_to="2026-05-10") == ["alice:api_key.change"]
    assert labels(date_from="2026-05-11") == ["dave:member.remove", "alice:member.remove"]


def test_bad_filter_values_say_so_and_change_nothing(as_admin, workspace):
    record(workspace, label="alice")
    response = as_admin.get(
        audit_url(workspace, date_from="2026-05-12", date_to="2026-05-01", action="no.such")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "The end date is before the start date" in html
    assert "Select a valid choice" in html


def test_it_pages_with_a_keyset_cursor_newest_first(
    as_admin, workspace, django_assert_max_num_queries
):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(120):
        record(workspace, label=f"p{index:03d}", at=start + timedelta(minutes=index))

    first = as_admin.get(audit_url(workspace)).context["page"]
    assert len(first.entries) == 50
    assert first.entries[0].entry.actor_label == "p119"
    second_response = as_admin.get(audit_url(workspace, after=first.next_cursor))
    second = second_response.context["page"]
    assert second.entries[0].entry.actor_label == "p069"
    third = as_admin.get(audit_url(workspace, after=second.next_cursor)).context["page"]
    assert [row.entry.actor_label for row in third.entries][-1] == "p000"
    assert third.next_cursor == ""
    assert "Back to newest" in second_response.content.decode()

    with django_assert_max_num_queries(10):
        as_admin.get(audit_url(workspace, after=first.next_cursor))


def test_entries_with_the_same_time_are_neither_skipped_nor_repeated(as_admin, workspace):
    moment = datetime(2026, 2, 2, tzinfo=UTC)
    for index in range(75):
        record(workspace, label=f"same{index}", at=moment)
    seen = []
    cursor = ""
    while True:
        page = as_admin.get(audit_url(workspace, **({"after": cursor} if cursor else {}))).context[
            "page"
        ]
        seen += [row.entry.pk for row in page.entries]
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 75


@pytest.mark.parametrize("cursor", ["garbage", "-1-2", "1-", "99999999999999999999999-1", "1-x"])
def test_a_malformed_cursor_shows_the_first_page(as_admin, workspace, cursor):
    record(workspace, label="alice")
    response = as_admin.get(audit_url(workspace, after=cursor))
    assert response.status_code == 200
    assert response.context["page"].is_first


def test_the_htmx_request_gets_only_the_entries_region(as_admin, workspace):
    record(workspace, label="alice")
    response = as_admin.get(audit_url(workspace), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="audit-entries">')
    assert "<html" not in html


def test_support_visits_are_recorded_and_shown_to_the_workspace_admins(
    as_support, as_admin, workspace
):
    as_support.get(reverse("overview", args=[workspace.slug]))
    as_support.get(reverse("settings", args=[workspace.slug]))
    as_support.get(reverse("settings", args=[workspace.slug]))  # within 15 minutes: once
    assert AuditEvent.objects.filter(workspace=workspace, action="support.view").count() == 2

    html = as_admin.get(audit_url(workspace)).content.decode()
    assert "Support staff visits" in html
    assert "<strong>sam</strong>: 2 page views" in html
    assert "/w/acme/settings/" in html


@pytest.mark.parametrize("page", ["overview", "settings", "audit"])
def test_a_support_view_sent_as_htmx_is_audited_like_any_other(as_support, workspace, page):
    response = as_support.get(reverse(page, args=[workspace.slug]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    entry = AuditEvent.objects.get(workspace=workspace, action="support.view")
    assert (entry.actor_label, entry.target_label) == ("sam", reverse(page, args=[workspace.slug]))
    # Polling the same page stays one entry within the window.
    as_support.get(reverse(page, args=[workspace.slug]), HTTP_HX_REQUEST="true")
    assert AuditEvent.objects.filter(workspace=workspace, action="support.view").count() == 1


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.9", "198.51.100.7", "198.51.100.7"),  # no proxy: the header is ignored
        (1, "203.0.113.9", "10.0.0.2", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "10.0.0.2", "203.0.113.9"),  # only one hop is trusted
        (2, "203.0.113.9, 10.0.0.3", "10.0.0.2", "203.0.113.9"),
        (1, "203.0.113.9:5123", "10.0.0.2", "203.0.113.9"),
        (1, "[2001:db8::1]:443", "10.0.0.2", "2001:db8::1"),
        (1, "not-an-ip", "10.0.0.2", "10.0.0.2"),
        (1, "999.1.1.1", "10.0.0.2", "10.0.0.2"),
        (2, "203.0.113.9", "10.0.0.2", "10.0.0.2"),  # fewer hops than proxies
        (0, "", "garbage", None),
        (0, "", "", None),
    ],
)
def test_the_client_ip_is_always_a_valid_address_or_none(
    rf, settings, proxies, forwarded, remote, expected
):
    from dashboard.audit import client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)

    assert client_ip(request) == expected


def test_a_forged_forwarded_header_is_stored_as_the_proxy_address(rf, settings, workspace):
    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="'; DROP TABLE", REMOTE_ADDR="10.0.0.2")
    request.user = AnonymousUser()

    entry = audit_record(action="thing.do", workspace=workspace, request=request)

    assert AuditEvent.objects.get(pk=entry.pk).ip == "10.0.0.2"


def test_the_log_has_no_update_or_delete_path(workspace):
    entry = record(workspace, label="alice")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=entry.pk).delete()
    assert AuditEvent.objects.get(pk=entry.pk).action == "api_key.change"


def test_the_csv_export_follows_the_filters_and_defuses_formulas(as_member, workspace):
    record(workspace, action="member.remove", label="=HYPERLINK(evil)")
    record(workspace, action="api_key.change", label="alice")
    response = as_member.get(
        reverse("audit_export", args=[workspace.slug]) + "?action=member.remove"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time_utc", "person", "action"]
    assert len(rows) == 2
    assert rows[1][1] == "'=HYPERLINK(evil)"
    assert rows[1][2] == "member.remove"


def test_the_page_costs_a_constant_number_of_queries(
    as_admin, workspace, django_assert_max_num_queries
):
    record(workspace, label="alice")
    url = audit_url(workspace)
    as_admin.get(url)
    with django_assert_max_num_queries(10) as first:
        as_admin.get(url)
    for index in range(60):
        record(workspace, action=f"thing.{index % 7}", label=f"person{index}")
    with django_assert_max_num_queries(len(first.captured_queries)):
        as_admin.get(url)


def test_the_overview_tells_admins_support_looked_recently(
    as_support, as_admin, as_member, workspace
):
    from dashboard.models import Workspace

    overview = reverse("overview", args=[workspace.slug])
    assert "Support staff (" not in as_admin.get(overview).content.decode()
    as_support.get(reverse("accounts:list", args=[workspace.slug]))
    saved = Workspace.objects.get(pk=workspace.pk)
    assert saved.support_viewed_by == "sam"
    assert "Support staff (sam) looked at this workspace" in as_admin.get(overview).content.decode()
    assert "Support staff (sam)" not in as_member.get(overview).content.decode()
    Workspace.objects.filter(pk=workspace.pk).update(
        support_viewed_at=saved.support_viewed_at - timedelta(days=31)
    )
    assert "Support staff (sam)" not in as_admin.get(overview).content.decode()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_column_of_the_audit_csv_opens_as_a_formula(as_member, workspace, hostile):
    AuditEvent.objects.create(
        workspace=workspace,
        actor_label=hostile,
        action=hostile[:60],
        target_type=hostile[:40],
        target_id=hostile[:100],
        target_label=hostile,
        detail={"note": hostile},
    )
    response = as_member.get(reverse("audit_export", args=[workspace.slug]))
    text = b"".join(response.streaming_content).decode()
    assert formula_cells(text) == []
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 2
