"""Support staff see every workspace's errors, with a workspace filter and column."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dashboard.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/support/errors/"


def rows(html: str) -> list[str]:
    return re.findall(r'<td data-label="Workspace"><a href="[^"]+">([^<]+)</a></td>', html)


def test_the_url(db):
    assert reverse("events_support_errors") == URL


def test_support_sees_every_workspace(workspace, other_workspace, as_support, record):
    record(code="system.internal")
    record(code="billing.past_due", status=402, target=other_workspace)
    html = as_support.get(URL).content.decode()
    assert sorted(rows(html)) == ["Acme", "Globex"]
    assert f'href="/w/{other_workspace.slug}/errors/' in html
    filtered = as_support.get(URL, {"workspace": "globex"}).content.decode()
    assert rows(filtered) == ["Globex"]


def test_it_is_for_staff_only(workspace, as_admin, client):
    assert as_admin.get(URL).status_code == 403
    assert client.get(URL).status_code == 302


def test_visits_are_audited_once_per_window(workspace, support, as_support):
    as_support.get(URL)
    as_support.get(URL)
    assert (
        AuditEvent.objects.filter(action="support.view", actor=support, workspace=None).count() == 1
    )


def test_a_support_search_by_request_id_finds_the_workspace(
    workspace, other_workspace, as_support, record
):
    record(code="system.internal", request_id="req_quoted_by_customer", target=other_workspace)
    record(code="system.internal", request_id="req_other")
    html = as_support.get(URL, {"q": "req_quoted_by_customer"}).content.decode()
    assert rows(html) == ["Globex"]
