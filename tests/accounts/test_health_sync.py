"""Health sync: mirror upstream's list, never flip a status on a temporary error."""

from __future__ import annotations

import re

import httpx
import pytest

from accounts.health import account_check, health_sync
from accounts.models import AccountStatus, AccountTransition, SocialAccount
from accounts.tasks import health_sync as health_sync_task
from dashboard.models import Workspace
from events.models import ErrorEvent
from socialapi import ServerError
from tests.accounts.conftest import account_json, accounts_body, error_body, mirror

pytestmark = pytest.mark.django_db


def test_it_mirrors_new_changed_and_gone_accounts(api, workspace, make_account):
    kept = make_account(name="Old name")
    gone = make_account()
    api.get("/accounts").respond(
        json=accounts_body(
            account_json(kept, name="New name", profile_picture_url="https://cdn.example/p.png"),
            account_json(None, id="acc_brand_new", platform="tiktok", name="Fresh", brand_id="b_2"),
        )
    )
    result = health_sync(workspace=workspace)
    kept.refresh_from_db()
    gone.refresh_from_db()
    fresh = SocialAccount.objects.get(workspace=workspace, upstream_id="acc_brand_new")
    assert (result.seen, result.created, result.disconnected) == (2, 1, 1)
    assert kept.name == "New name" and kept.profile_picture_url == "https://cdn.example/p.png"
    assert kept.status == AccountStatus.ACTIVE and kept.last_checked_at is not None
    assert gone.status == AccountStatus.DISCONNECTED and gone.status_code == "account.not_found"
    assert (fresh.platform, fresh.name, fresh.brand_id, fresh.status) == (
        "tiktok",
        "Fresh",
        "b_2",
        "active",
    )


def test_it_marks_reconnect_required_from_upstream_status_with_its_reason(
    api, workspace, make_account
):
    account = make_account()
    api.get("/accounts").respond(
        json=accounts_body(
            account_json(account, status="reconnect_required", reconnect_reason="Password changed")
        )
    )
    api.get("/posts").respond(json={"data": [], "pagination": {"has_more": False}})
    health_sync(workspace=workspace)
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert account.reason == "Password changed"
    transition = AccountTransition.objects.get(account=account)
    assert (transition.from_status, transition.to_status, transition.source) == (
        "active",
        "reconnect_required",
        "sync",
    )


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json=error_body("system.internal")),
        httpx.Response(503, text="<html>Bad gateway</html>"),
        httpx.Response(
            429, json=error_body("platform.instagram.rate_limit"), headers={"Retry-After": "120"}
        ),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "html-503", "throttled", "timeout", "connection"],
)
def test_it_never_flips_a_status_on_a_temporary_error(api, workspace, make_account, failure):
    active = make_account()
    broken = make_account(AccountStatus.RECONNECT_REQUIRED)
    route = api.get("/accounts")
    if isinstance(failure, Exception):
        route.side_effect = failure
    else:
        route.return_value = failure
    health_sync_task(workspace.pk)  # the task swallows the failure: it is already recorded
    active.refresh_from_db()
    broken.refresh_from_db()
    assert active.status == AccountStatus.ACTIVE
    assert broken.status == AccountStatus.RECONNECT_REQUIRED
    assert not AccountTransition.objects.exists()
    assert ErrorEvent.objects.filter(
        workspace=workspace, family__in=["server", "platform_throttle"]
    ).exists()


def test_it_asks_twice_before_believing_every_account_is_gone(api, workspace, make_account):
    account = make_account()
    route = api.get("/accounts")
    route.side_effect = [
        httpx.Response(200, json=accounts_body()),
        httpx.Response(200, json=accounts_body(account_json(account))),
    ]
    health_sync(workspace=workspace)
    account.refresh_from_db()
    assert route.call_count == 2
    assert account.status == AccountStatus.ACTIVE


def test_it_counts_scheduled_posts_at_risk_for_broken_accounts_only(api, workspace, make_account):
    broken = make_account(AccountStatus.RECONNECT_REQUIRED)
    other_broken = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram")
    healthy = make_account(scheduled_posts_at_risk=3)
    api.get("/accounts").respond(
        json=accounts_body(
            account_json(broken, status="reconnect_required"),
            account_json(other_broken),
            account_json(healthy),
        )
    )
    api.get("/accounts/acc_0002/limits").respond(401, json=error_body("platform.telegram.auth"))
    posts = api.get("/posts", params={"status": "scheduled"})
    posts.side_effect = [
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "p1",
                        "status": "scheduled",
                        "targets": [{"account_id": broken.upstream_id}],
                    },
                    {
                        "id": "p2",
                        "status": "scheduled",
                        "targets": [
                            {"account_id": broken.upstream_id},
                            {"account_id": "acc_unrelated"},
                        ],
                    },
                ],
                "pagination": {"has_more": True, "next_cursor": "c2"},
            },
        ),
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "p3",
                        "status": "scheduled",
                        "targets": [{"account_id": other_broken.upstream_id}],
                    }
                ],
                "pagination": {"has_more": False},
            },
        ),
    ]
    health_sync(workspace=workspace)
    for account in (broken, other_broken, healthy):
        account.refresh_from_db()
    assert broken.scheduled_posts_at_risk == 2
    assert other_broken.scheduled_posts_at_risk == 1
    assert (
        other_broken.status == AccountStatus.CREDENTIALS_INVALID
    )  # list says active; probe says no
    assert healthy.scheduled_posts_at_risk is None
    asked = posts.calls[0].request.url.params
    assert set(asked["account_ids"].split(",")) == {broken.upstream_id, other_broken.upstream_id}


def test_it_clears_credentials_invalid_when_the_platform_accepts_them_again(
    api, workspace, make_account
):
    bot = make_account(AccountStatus.CREDENTIALS_INVALID, platform="telegram")
    api.get("/accounts").respond(json=accounts_body(account_json(bot)))
    api.get(f"/accounts/{bot.upstream_id}/limits").respond(json={"messages_remaining": 100})
    health_sync(workspace=workspace)
    bot.refresh_from_db()
    assert bot.status == AccountStatus.ACTIVE


def test_a_failed_probe_or_count_changes_nothing(api, workspace, make_account):
    bot = make_account(
        AccountStatus.CREDENTIALS_INVALID, platform="telegram", scheduled_posts_at_risk=5
    )
    api.get("/accounts").respond(json=accounts_body(account_json(bot)))
    api.get(f"/accounts/{bot.upstream_id}/limits").respond(500, json=error_body("system.internal"))
    api.get("/posts").respond(502)
    health_sync(workspace=workspace)
    bot.refresh_from_db()
    assert bot.status == AccountStatus.CREDENTIALS_INVALID
    assert bot.scheduled_posts_at_risk == 5


def test_check_now_records_why_it_could_not_tell(api, workspace, make_account):
    account = make_account(AccountStatus.RECONNECT_REQUIRED)
    api.get("/accounts").respond(500, json=error_body("system.internal", request_id="req_boom"))
    assert account_check(account=account) is False
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert account.check_error == "system.internal · req_boom"


def test_check_now_looks_in_the_whole_list_before_saying_gone(api, workspace, make_account):
    account = make_account(brand_id="b_old")
    api.get("/accounts", params={"brand_id": "b_old"}).respond(json=accounts_body())
    api.get("/accounts").respond(json=accounts_body(account_json(account, brand_id="b_new")))
    assert account_check(account=account) is True
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.brand_id == "b_new"


def test_it_syncs_against_the_sandbox_and_stays_put_while_it_fails(sandbox):
    from sandbox.services import faults_set

    healthy = sandbox.account("instagram", name="Healthy")
    broken = sandbox.account(
        "linkedin", status="reconnect_required", reconnect_reason="Revoked in LinkedIn"
    )
    health_sync(workspace=sandbox.workspace)
    statuses = dict(SocialAccount.objects.values_list("upstream_id", "status"))
    assert statuses == {healthy.id: "active", broken.id: "reconnect_required"}
    ours = SocialAccount.objects.get(upstream_id=healthy.id)
    # the sandbox's avatar is same-origin: kept
    assert ours.profile_picture_url.startswith("http://testserver/sandbox/")

    faults_set(tenant=sandbox.tenant, next_5xx=10)
    with pytest.raises(ServerError):
        health_sync(workspace=sandbox.workspace)
    assert dict(SocialAccount.objects.values_list("upstream_id", "status")) == statuses


def test_a_mirrored_account_missing_upstream_becomes_disconnected(sandbox):
    from django.utils import timezone

    live = sandbox.account("instagram")
    removed = sandbox.account("tiktok", removed_at=timezone.now())
    mirror(sandbox, live)
    ghost = mirror(sandbox, removed)
    health_sync(workspace=sandbox.workspace)
    ghost.refresh_from_db()
    assert ghost.status == AccountStatus.DISCONNECTED


def test_it_finds_credentials_the_platform_rejects_though_upstream_lists_them_active(
    api, workspace, make_account
):
    from datetime import timedelta

    from django.utils import timezone

    # failures the events sync saw before our first check (too old to flip the status)
    failed = {
        "last_error_code": "platform.auth",
        "last_error_at": timezone.now() - timedelta(hours=1),
    }
    bot = make_account(platform="telegram", **failed)
    line = make_account(platform="whatsapp", **failed)
    quiet = make_account(platform="whatsapp")  # no recent failure: not probed at all
    api.get("/accounts").respond(
        json=accounts_body(account_json(bot), account_json(line), account_json(quiet))
    )
    api.get(f"/accounts/{bot.upstream_id}/limits").respond(
        401, json=error_body("platform.telegram.auth", "Telegram rejected the stored credentials.")
    )
    api.get(f"/accounts/{line.upstream_id}/limits").respond(
        501, json=error_body("resource.not_supported")
    )
    api.get("/posts").respond(json={"data": [], "pagination": {}})
    health_sync(workspace=workspace)
    bot.refresh_from_db()
    line.refresh_from_db()
    assert bot.status == AccountStatus.CREDENTIALS_INVALID
    assert bot.reason == "Telegram rejected the stored credentials."
    assert bot.transitions.count() == 1  # marked once, though two paths saw it
    assert line.status == AccountStatus.ACTIVE  # 501 proves nothing


@pytest.mark.parametrize(
    ("dialect", "dead"),
    [
        ("legacy", {"error": "Account requires reconnection", "code": "invalid_token"}),
        ("current", error_body("account.reconnection_required", "Account requires reconnection")),
    ],
)
def test_an_api_key_account_whose_limits_answer_403_never_becomes_reconnect_required(
    api, workspace, make_account, as_admin, dialect, dead
):
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from events.banners import workspace_banners

    Workspace.objects.filter(pk=workspace.pk).update(dialect=dialect)
    hour_ago = timezone.now() - timedelta(hours=1)
    bot = make_account(
        AccountStatus.CREDENTIALS_INVALID,
        platform="telegram",
        status_code="platform.auth",
        reason="Telegram rejected the bot token.",
        status_changed_at=hour_ago,
        last_checked_at=hour_ago,
    )
    api.get("/accounts").respond(json=accounts_body(account_json(bot)))  # listed active
    api.get(f"/accounts/{bot.upstream_id}/limits").respond(403, json=dead)
    api.get("/posts").respond(json={"data": [], "pagination": {}})

    health_sync(workspace=workspace)

    bot.refresh_from_db()
    assert bot.status == AccountStatus.CREDENTIALS_INVALID
    assert not bot.transitions.filter(to_status=AccountStatus.RECONNECT_REQUIRED).exists()
    event = ErrorEvent.objects.get(workspace=workspace, account=bot)
    assert (event.family, event.platform) == ("credentials", "telegram")
    page = as_admin.get(reverse("accounts:list", args=[workspace.slug])).content.decode()
    badges = re.findall(r'<span class="badge [^"]*">([^<]+)</span>', page)
    assert badges == ["Credentials invalid"]
    assert "Update credentials" in page and ">Reconnect</button>" not in page
    (banner,) = [
        b for b in workspace_banners(workspace=workspace) if b.kind == "accounts_reconnect"
    ]
    assert "credentials the platform rejects" in banner.meaning
    assert "platform login" not in banner.meaning


def test_it_shows_brand_names_instead_of_ids(api, workspace, make_account):
    account = make_account(brand_id="b_main")
    api.get("/accounts").respond(json=accounts_body(account_json(account)))
    api.routes["brands"].respond(json={"count": 1, "data": [{"id": "b_main", "name": "Kitchen"}]})
    health_sync(workspace=workspace)
    account.refresh_from_db()
    assert account.brand_name == "Kitchen"


def test_brand_names_are_a_nicety_a_failing_brands_call_does_not_stop_the_sync(
    api, workspace, make_account
):
    account = make_account(brand_id="b_main", brand_name="Old name")
    api.get("/accounts").respond(json=accounts_body(account_json(account, name="Renamed")))
    api.routes["brands"].respond(503)
    health_sync(workspace=workspace)
    account.refresh_from_db()
    assert (account.name, account.brand_name) == ("Renamed", "Old name")


def test_it_stamps_the_last_successful_check_and_only_then(api, workspace, make_account):
    account = make_account()
    api.get("/accounts").respond(503)
    with pytest.raises(ServerError):
        health_sync(workspace=workspace)
    workspace.refresh_from_db()
    assert workspace.health_synced_at is None  # pages never say "checked" after a failure

    api.get("/accounts").respond(json=accounts_body(account_json(account)))
    health_sync(workspace=workspace)
    workspace.refresh_from_db()
    assert workspace.health_synced_at is not None
