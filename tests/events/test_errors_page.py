"""The errors page: groups with counts, sparklines and fixes; filters, search, keyset pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Workspace
from events.models import ErrorGroup
from events.recording import error_events_record
from tests.events.conftest import event

pytestmark = pytest.mark.django_db


def url(workspace: Workspace, **params: Any) -> str:
    base = reverse("events:errors", args=[workspace.slug])
    if params:
        from urllib.parse import urlencode

        base += "?" + urlencode(params)
    return base


def titles(html: str) -> list[str]:
    return re.findall(r'<a class="cell-main" href="[^"]+">([^<]+)</a>', html)


def test_members_see_groups_with_counts_sparkline_and_fix(workspace, as_member, record):
    record(code="platform.instagram.rate_limit", status=429, n=3, account_upstream_id="acc_1")
    record(
        code="platform.instagram.rate_limit",
        status=429,
        minutes_ago=60 * 24 * 3,
        account_upstream_id="acc_2",
    )
    response = as_member.get(url(workspace))
    assert response.status_code == 200
    html = response.content.decode()
    assert titles(html) == ["Platform throttling"]
    assert "Wait a few minutes; calls are retried with backoff." in html  # the fix
    assert '<td data-label="Events" class="num">4</td>' in html
    assert '<td data-label="Accounts" class="num">2</td>' in html
    assert (
        'class="spark"' in html
        and "Events per day over the last 14 days: 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 3" in html
    )
    assert "1 group · 4 events" in html


def test_it_is_empty_and_says_what_shows_up_here(workspace, as_member):
    html = as_member.get(url(workspace)).content.decode()
    assert "No open errors." in html
    assert "ingest API" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"family": "platform_throttle"}, ["Platform throttling"]),
        ({"code": "system.internal"}, ["SocialAPI error"]),
        ({"platform": "tiktok"}, ["Reconnect required"]),
        ({"account": "acc_tt"}, ["Reconnect required"]),
        ({"source": "ingest"}, ["SocialAPI error"]),
        ({"period": "1h"}, ["Platform throttling", "Reconnect required"]),
        ({"q": "rate limiting"}, ["Platform throttling"]),
        ({"q": "req_findme"}, ["SocialAPI error"]),
        (
            {"family": "nonsense", "period": "forever", "source": "x"},
            ["Platform throttling", "Reconnect required", "SocialAPI error"],
        ),
    ],
)
def test_filters_and_search(workspace, as_member, record, params, expected):
    record(
        code="platform.instagram.rate_limit",
        status=429,
        message="Instagram is rate limiting requests.",
    )
    record(code="platform.tiktok.auth", status=401, minutes_ago=5, account_upstream_id="acc_tt")
    record(
        code="system.internal",
        status=500,
        minutes_ago=60 * 5,
        source="ingest",
        request_id="req_other",
    )
    record(
        code="system.internal",
        status=500,
        minutes_ago=60 * 6,
        source="ingest",
        request_id="req_findme",
    )
    response = as_member.get(url(workspace, **params))
    assert response.status_code == 200
    assert titles(response.content.decode()) == expected


def test_state_filter_hides_resolved_groups_by_default(workspace, as_member, record, admin):
    from events.triage import error_group_state_set

    record(code="system.internal", status=500)
    record(code="platform.instagram.rate_limit", status=429)
    group = ErrorGroup.objects.get(code="system.internal")
    error_group_state_set(workspace=workspace, group_id=group.pk, state="resolved", user=admin)
    assert titles(as_member.get(url(workspace)).content.decode()) == ["Platform throttling"]
    assert titles(as_member.get(url(workspace, state="resolved")).content.decode()) == [
        "SocialAPI error"
    ]
    assert len(titles(as_member.get(url(workspace, state="all")).content.decode())) == 2


def test_keyset_pages_walk_every_group_once(workspace, as_member, monkeypatch):
    from events import views

    now = timezone.now()
    error_events_record(
        workspace=workspace,
        events=[
            event(code="system.internal", endpoint=f"/thing{i}", at=now - timedelta(minutes=i))
            for i in range(7)
        ],
    )
    real = views.error_groups_page
    monkeypatch.setattr(views, "error_groups_page", lambda **kw: real(**{**kw, "limit": 3}))
    seen: list[str] = []
    page_url = url(workspace)
    for _ in range(5):
        html = as_member.get(page_url).content.decode()
        seen += re.findall(r"<code>(/thing\d)</code>", html)
        older = re.search(r'rel="next" href="([^"]+)"', html)
        if not older:
            break
        page_url = url(workspace) + older.group(1).replace("&amp;", "&")
    assert seen == [f"/thing{i}" for i in range(7)]
    # And back: "Newer" from the last page returns the previous one.
    newer = re.search(r'rel="prev" href="([^"]+)"', html)
    assert newer
    back = as_member.get(url(workspace) + newer.group(1).replace("&amp;", "&")).content.decode()
    assert re.findall(r"<code>(/thing\d)</code>", back) == ["/thing3", "/thing4", "/thing5"]


def test_a_tampered_cursor_is_ignored(workspace, as_member, record):
    record(code="system.internal")
    for cursor in ("%%%", "bm90LWEtY3Vyc29y", "MjAyNi0wMS0wMXwtMQ", "x" * 500):
        response = as_member.get(url(workspace, after=cursor, before=cursor))
        assert response.status_code == 200
        assert titles(response.content.decode()) == ["SocialAPI error"]


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_cursor_at_the_edge_of_the_calendar_is_ignored_on_every_errors_page(
    workspace, as_member, as_support, record, stamp
):
    import base64

    record(code="system.internal")
    group = ErrorGroup.objects.get()
    cursor = base64.urlsafe_b64encode(f"{stamp}|{group.pk}".encode()).decode().rstrip("=")
    for direction in ("after", "before"):
        page = as_member.get(url(workspace, **{direction: cursor}))
        assert page.status_code == 200
        assert titles(page.content.decode()) == ["SocialAPI error"]
        support = as_support.get(reverse("events_support_errors"), {direction: cursor})
        assert support.status_code == 200 and "SocialAPI error" in support.content.decode()
    detail = as_member.get(
        reverse("events:group", args=[workspace.slug, group.pk]), {"before": cursor}
    )
    assert detail.status_code == 200
    assert detail.content.decode().count('<article class="event"') == 1


def test_htmx_gets_the_results_only(workspace, as_member, record):
    record(code="system.internal")
    response = as_member.get(
        url(workspace, family="server"),
        headers={"HX-Request": "true", "HX-Target": "error-results"},
    )
    html = response.content.decode()
    assert html.strip().startswith('<div id="error-results"')
    assert "<form" not in html and "SocialAPI error" in html


def test_old_overview_links_open_the_group(workspace, as_member, record):
    record(code="system.internal")
    group = ErrorGroup.objects.get()
    response = as_member.get(url(workspace, group=group.pk))
    assert response.status_code == 302
    assert response.url == reverse("events:group", args=[workspace.slug, group.pk])


def test_outsiders_get_404_and_anonymous_people_the_login(workspace, as_outsider, client):
    assert as_outsider.get(url(workspace)).status_code == 404
    assert client.get(url(workspace)).status_code == 302


def test_the_page_costs_the_same_few_queries_for_1_or_50_groups(workspace, as_member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        as_member.get(url(workspace))  # warm per-connection caches (SQLite's JSON check)
        with CaptureQueriesContext(connection) as queries:
            response = as_member.get(url(workspace))
        assert response.status_code == 200
        return len(queries.captured_queries)

    def groups(start: int, n: int) -> None:
        error_events_record(
            workspace=workspace,
            events=[
                event(
                    code="platform.instagram.rate_limit",
                    status=429,
                    endpoint=f"/e{i}",
                    account_upstream_id=f"acc_{i}",
                )
                for i in range(start, start + n)
            ],
        )

    groups(0, 1)
    one = count()
    groups(1, 49)
    assert len(titles(as_member.get(url(workspace)).content.decode())) == 50
    # Sync state, groups with their totals, sparklines, banner inputs and this person's
    # dismissals (a throttle banner shows), plus the page chrome: never more than 10.
    assert count() == one <= 10


def test_sparklines_scale_bars_and_escape_their_label():
    from events.templatetags.events_tags import sparkline

    svg = str(sparkline([0, 5, 10], label='<b>"x"</b>'))
    assert 'aria-label="&lt;b&gt;&quot;x&quot;&lt;/b&gt;"' in svg
    assert '<rect x="0" y="19" width="4" height="1" class="spark-zero">' in svg
    assert '<rect x="5" y="10" width="4" height="10" class="spark-bar">' in svg
    assert '<rect x="10" y="0" width="4" height="20" class="spark-bar">' in svg
    assert "style" not in svg  # the CSP forbids inline styles
