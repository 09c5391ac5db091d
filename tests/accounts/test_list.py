"""The accounts page: rows, problems first, filters, search, pagination, roles, queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import Workspace

pytestmark = pytest.mark.django_db


def list_url(workspace: Workspace, query: str = "") -> str:
    return reverse("accounts:list", args=[workspace.slug]) + query


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="account-(\d+)"', html)]


def test_it_lists_problems_first_with_reason_fix_and_last_error(as_admin, workspace, make_account):
    healthy = make_account(name="Zebra Co")
    broken = make_account(
        AccountStatus.RECONNECT_REQUIRED,
        name="Yak Ltd",
        status_code="account.reconnection_required",
        reason="The owner changed their password.",
        last_error_code="account.reconnection_required",
        last_error_request_id="req_abc123",
        scheduled_posts_at_risk=4,
    )
    creds = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram", name="Bot")
    response = as_admin.get(list_url(workspace))
    html = response.content.decode()
    assert response.status_code == 200
    assert row_ids(html) == [broken.pk, creds.pk, healthy.pk]
    # Our words and upstream's reconnect_reason, side by side.
    assert "SocialAPI says: “The owner changed their password.”" in html
    assert "so SocialAPI can no longer post or read on its behalf" in html
    assert "Press Reconnect and sign in to the platform again" in html  # the fix, from events.fixes
    assert "req_abc123" in html and "account.reconnection_required" in html
    assert "Update the credentials for this account" in html  # the credentials family's fix
    assert "4 scheduled posts at risk" in html


def test_it_counts_accounts_per_status(as_admin, workspace, make_account):
    for _ in range(3):
        make_account()
    make_account(AccountStatus.RECONNECT_REQUIRED)
    make_account(AccountStatus.UNKNOWN)
    response = as_admin.get(list_url(workspace))
    counts = response.context["facets"].status_counts
    assert counts == {
        "active": 3,
        "reconnect_required": 1,
        "credentials_invalid": 0,
        "disconnected": 0,
        "unknown": 1,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=reconnect_required", ["Broken IG"]),
        ("?status=problems", ["Broken IG", "Dead bot"]),
        ("?platform=telegram", ["Dead bot"]),
        ("?brand=b_other", ["Other brand"]),
        ("?q=kitchen", ["Kitchen"]),
        ("?q=%40kitch", ["Kitchen"]),  # @username works
        ("?status=nonsense", ["Broken IG", "Dead bot", "Kitchen", "Other brand"]),  # ignored
    ],
)
def test_it_filters_and_searches(as_admin, workspace, make_account, query, expected):
    make_account(AccountStatus.RECONNECT_REQUIRED, name="Broken IG")
    make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram", name="Dead bot")
    make_account(name="Kitchen", username="kitchen.daily")
    make_account(name="Other brand", brand_id="b_other")
    response = as_admin.get(list_url(workspace, query))
    assert response.status_code == 200
    names = [a.name for a in response.context["page"].object_list]
    assert names == expected


def test_it_filters_to_one_account_for_alert_links(as_admin, workspace, make_account):
    make_account()
    target = make_account()
    response = as_admin.get(list_url(workspace, f"?account={target.pk}"))
    assert row_ids(response.content.decode()) == [target.pk]


def test_it_filters_to_the_several_accounts_an_alert_about_a_mass_break_names(
    as_admin, workspace, make_account
):
    first, _, third = make_account(), make_account(), make_account()
    response = as_admin.get(list_url(workspace, f"?account={first.pk}&account={third.pk}"))
    assert row_ids(response.content.decode()) == [first.pk, third.pk]


@pytest.mark.parametrize("value", ["%C2%B2", "%D9%A3", "1%C2%B2", "-1", "1e3", ""])
def test_a_non_ascii_or_malformed_account_filter_is_ignored_not_a_500(
    as_admin, workspace, make_account, value
):
    accounts = [make_account(), make_account()]
    response = as_admin.get(list_url(workspace, f"?account={value}"))
    assert response.status_code == 200
    assert sorted(row_ids(response.content.decode())) == [a.pk for a in accounts]


def test_it_paginates_fifty_per_page(as_admin, workspace, make_account):
    for _ in range(51):
        make_account()
    first = as_admin.get(list_url(workspace)).content.decode()
    second = as_admin.get(list_url(workspace, "?page=2")).content.decode()
    assert len(row_ids(first)) == 50
    assert len(row_ids(second)) == 1
    assert "Showing 1\u201350 of 51" in first
    # a page number past the end shows the last page, never a 404 or 500
    assert len(row_ids(as_admin.get(list_url(workspace, "?page=99")).content.decode())) == 1


def test_it_renders_only_the_results_for_htmx_filtering(as_admin, workspace, make_account):
    make_account(name="Only one")
    response = as_admin.get(
        list_url(workspace, "?q=only"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "Only one" in html and "<html" not in html


def test_it_shows_no_action_buttons_to_members(as_member, workspace, make_account):
    account = make_account(AccountStatus.RECONNECT_REQUIRED)
    html = as_member.get(list_url(workspace)).content.decode()
    for action in ("reconnect", "check", "link_create", "disconnect", "credentials"):
        assert reverse(f"accounts:{action}", args=[workspace.slug, account.pk]) not in html
    assert "<button" not in html.split('id="results"')[1]
    assert "Ask a workspace admin" in html


def test_it_shows_the_actions_that_fit_each_account_to_admins(as_admin, workspace, make_account):
    oauth = make_account(AccountStatus.RECONNECT_REQUIRED)
    creds = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram")
    html = as_admin.get(list_url(workspace)).content.decode()
    assert reverse("accounts:reconnect", args=[workspace.slug, oauth.pk]) in html
    assert reverse("accounts:credentials", args=[workspace.slug, creds.pk]) in html
    assert reverse("accounts:reconnect", args=[workspace.slug, creds.pk]) not in html
    assert reverse("accounts:link_create", args=[workspace.slug, oauth.pk]) in html
    assert reverse("accounts:link_create", args=[workspace.slug, creds.pk]) not in html


def test_it_hides_the_workspace_from_outsiders(as_outsider, workspace, make_account):
    account = make_account()
    assert as_outsider.get(list_url(workspace)).status_code == 404
    assert (
        as_outsider.get(reverse("accounts:detail", args=[workspace.slug, account.pk])).status_code
        == 404
    )


def test_it_lets_support_read_without_buttons(as_support, workspace, make_account):
    account = make_account(AccountStatus.RECONNECT_REQUIRED)
    response = as_support.get(list_url(workspace))
    assert response.status_code == 200
    assert (
        reverse("accounts:reconnect", args=[workspace.slug, account.pk])
        not in response.content.decode()
    )


def test_it_never_shows_a_picture_from_another_origin(as_admin, workspace, make_account):
    make_account(profile_picture_url="https://cdn.instagram.example/p.jpg")
    make_account(profile_picture_url="http://testserver/sandbox/avatars/acc_1.svg")
    html = as_admin.get(list_url(workspace)).content.decode()
    assert "cdn.instagram.example" not in html
    assert 'src="http://testserver/sandbox/avatars/acc_1.svg"' in html


def test_it_explains_an_empty_workspace(as_admin, workspace):
    assert "No connected accounts yet" in as_admin.get(list_url(workspace)).content.decode()


def test_it_runs_the_same_queries_for_one_and_fifty_accounts(
    as_admin, workspace, make_account, django_assert_max_num_queries
):
    """Pinned at ≤ 10 (quality.md) and identical for 1 and 50 rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def measure(rows: int) -> int:
        as_admin.get(list_url(workspace))  # warm the session
        with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as ctx:
            response = as_admin.get(list_url(workspace, "?status=&platform=&q="))
        assert len(row_ids(response.content.decode())) == rows
        return len(ctx.captured_queries)

    make_account(AccountStatus.RECONNECT_REQUIRED)
    one = measure(1)
    for index in range(49):
        make_account(AccountStatus.RECONNECT_REQUIRED if index % 3 == 0 else AccountStatus.ACTIVE)
    assert measure(50) == one


def test_it_shows_one_accounts_history_and_details(as_admin, workspace, make_account, admin):
    from accounts.services import account_status_apply

    account = make_account()
    account_status_apply(
        account=account,
        status=AccountStatus.RECONNECT_REQUIRED,
        code="account.reconnection_required",
        reason="Token revoked",
        source="webhook",
    )
    account_status_apply(
        account=account, status=AccountStatus.ACTIVE, source="reconnect", actor=admin
    )
    html = as_admin.get(
        reverse("accounts:detail", args=[workspace.slug, account.pk])
    ).content.decode()
    assert "Token revoked" in html
    assert "SocialAPI webhook" in html  # who broke it
    assert "alice" in html  # who fixed it
    assert SocialAccount.objects.get(pk=account.pk).transitions.count() == 2


def test_the_account_page_shows_our_words_and_upstreams_reason_side_by_side(
    as_admin, workspace, make_account
):
    bot = make_account(
        AccountStatus.CREDENTIALS_INVALID,
        platform="telegram",
        status_code="platform.auth",
        reason="Telegram rejected the bot token.",
    )
    html = as_admin.get(reverse("accounts:detail", args=[workspace.slug, bot.pk])).content.decode()
    assert "The platform rejected the credentials stored for this account" in html
    assert "SocialAPI says: “Telegram rejected the bot token.”" in html


def test_the_account_page_has_constant_queries_whatever_its_history(
    as_admin, workspace, make_account, admin, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.links import reconnect_link_create
    from accounts.services import account_status_apply

    account = make_account()
    url = reverse("accounts:detail", args=[workspace.slug, account.pk])

    def measure() -> int:
        as_admin.get(url)
        with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as ctx:
            assert as_admin.get(url).status_code == 200
        return len(ctx.captured_queries)

    first = measure()
    request = type("R", (), {"user": admin, "META": {}})()
    for index in range(20):
        status = AccountStatus.RECONNECT_REQUIRED if index % 2 == 0 else AccountStatus.ACTIVE
        account_status_apply(account=account, status=status, source="sync", actor=admin)
        reconnect_link_create(account=account, request=request)
    assert measure() == first


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("row", "row/"),
        ("check", "check/"),
        ("reconnect", "reconnect/"),
        ("credentials", "credentials/"),
        ("disconnect", "disconnect/"),
        ("link_create", "links/"),
    ],
)
def test_every_row_action_sits_under_the_account_url(name, suffix):
    # The list template reverses one URL per row and appends these suffixes.
    from django.urls import reverse

    base = reverse("accounts:detail", args=["acme", 7])
    assert reverse(f"accounts:{name}", args=["acme", 7]) == base + suffix
