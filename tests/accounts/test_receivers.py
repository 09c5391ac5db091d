"""Stored error events mark accounts: token and credential families only, never stale ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, AccountTransition, SocialAccount
from events.recording import EventInput, error_events_record
from socialapi import classify

pytestmark = pytest.mark.django_db


def event(
    account: SocialAccount,
    raw_code: str,
    status: int,
    *,
    minutes_ago: float = 0,
    request_id: str = "req_1",
) -> EventInput:
    found = classify(raw_code, status, platform=account.platform)
    return EventInput(
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        source="ingest",
        code=found.code,
        family=str(found.family),
        http_status=status,
        raw_code=raw_code,
        message=f"{raw_code} happened",
        request_id=request_id,
        endpoint="/posts",
        platform=found.platform or "",
        account_upstream_id=account.upstream_id,
    )


def old(make_account, **fields):
    """An account whose status was last learned an hour ago."""
    hour_ago = timezone.now() - timedelta(hours=1)
    return make_account(status_changed_at=hour_ago, last_checked_at=hour_ago, **fields)


@pytest.mark.parametrize(
    ("platform", "raw_code", "status", "expected"),
    [
        ("instagram", "account.reconnection_required", 403, AccountStatus.RECONNECT_REQUIRED),
        ("instagram", "invalid_token", 401, AccountStatus.RECONNECT_REQUIRED),  # legacy dialect
        ("instagram", "platform.instagram.auth", 401, AccountStatus.RECONNECT_REQUIRED),
        ("telegram", "platform.telegram.auth", 401, AccountStatus.CREDENTIALS_INVALID),
        ("whatsapp", "invalid_credentials", 401, AccountStatus.CREDENTIALS_INVALID),
        # An API-key platform has no OAuth login to lose: never "reconnect required".
        ("telegram", "account.reconnection_required", 403, AccountStatus.CREDENTIALS_INVALID),
        ("whatsapp", "invalid_token", 401, AccountStatus.CREDENTIALS_INVALID),
        ("instagram", "account.not_found", 404, AccountStatus.DISCONNECTED),
    ],
)
def test_it_marks_an_account_from_its_error_family(
    make_account, workspace, platform, raw_code, status, expected
):
    account = old(make_account, platform=platform)
    error_events_record(workspace=workspace, events=[event(account, raw_code, status)])
    account.refresh_from_db()
    assert account.status == expected
    assert account.last_error_code and account.last_error_request_id == "req_1"
    transition = AccountTransition.objects.get(account=account)
    assert transition.source == "event" and transition.request_id == "req_1"


@pytest.mark.parametrize(
    ("raw_code", "status"),
    [
        ("system.internal", 500),
        ("platform.instagram.rate_limit", 429),
        ("platform_rate_limit", 429),
        ("rate_limit_exceeded", 429),
        ("auth.invalid_token", 401),  # the workspace key, not the account's token
        ("unauthorized", 401),
        ("billing.storage_quota", 413),
        ("", 502),
    ],
)
def test_temporary_and_workspace_errors_only_update_the_last_error(
    make_account, workspace, raw_code, status
):
    account = old(make_account)
    error_events_record(
        workspace=workspace, events=[event(account, raw_code, status, request_id="req_tmp")]
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert account.last_error_request_id == "req_tmp"
    assert not AccountTransition.objects.exists()


@pytest.mark.parametrize(
    ("platform", "family", "expected"),
    [
        ("telegram", "credentials", AccountStatus.CREDENTIALS_INVALID),
        ("instagram", "reconnect", AccountStatus.RECONNECT_REQUIRED),
    ],
)
def test_an_event_naming_an_account_but_no_platform_takes_the_accounts_platform(
    make_account, workspace, platform, family, expected
):
    """A legacy body names no platform (ingest, or a call made without one): the mirror
    knows the account's, and the family follows its auth kind."""
    from events.models import ErrorGroup

    account = old(make_account, platform=platform)
    found = classify("invalid_token", 401)  # what a legacy body alone says: reconnect
    error_events_record(
        workspace=workspace,
        events=[
            EventInput(
                occurred_at=timezone.now(),
                source="ingest",
                code=found.code,
                family=str(found.family),
                http_status=401,
                raw_code="invalid_token",
                endpoint="/posts",
                account_upstream_id=account.upstream_id,
            )
        ],
    )
    group = ErrorGroup.objects.get(workspace=workspace)
    account.refresh_from_db()
    assert (group.platform, group.family) == (platform, family)
    assert group.events.get().family == family
    assert account.status == expected


def test_an_event_older_than_what_we_know_changes_nothing(make_account, workspace):
    account = make_account()  # checked just now
    error_events_record(
        workspace=workspace,
        events=[event(account, "account.reconnection_required", 403, minutes_ago=30)],
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_events_for_other_workspaces_accounts_are_ignored(make_account, workspace, other_workspace):
    account = old(make_account)
    error_events_record(
        workspace=other_workspace, events=[event(account, "account.reconnection_required", 403)]
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert account.last_error_code == ""


def test_a_failed_dashboard_call_on_an_account_marks_it(api, make_account, workspace):
    """The client hook records the failure; the receiver turns it into a status."""
    from dashboard.upstream import upstream
    from socialapi import ReconnectRequired
    from tests.accounts.conftest import error_body

    account = old(make_account)
    api.get(f"/accounts/{account.upstream_id}/limits").respond(
        403, json=error_body("account.reconnection_required", "Token revoked by the user")
    )
    with pytest.raises(ReconnectRequired):
        upstream(workspace).account_limits(account.upstream_id)
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert account.reason == "Token revoked by the user"


def test_an_old_credentials_failure_makes_the_account_checked_again(
    api, make_account, workspace, django_capture_on_commit_callbacks
):
    """Upstream's list said active (it always does for API-key platforms): verify."""
    bot = make_account(platform="telegram")  # "checked just now" by the list
    api.get("/accounts", params={"brand_id": "b_main"}).respond(
        json={"data": [{"id": bot.upstream_id, "platform": "telegram", "status": "active"}]}
    )
    api.get(f"/accounts/{bot.upstream_id}/limits").respond(
        401,
        json={
            "error": {"code": "platform.telegram.auth", "message": "Rejected"},
            "request_id": "r",
        },
    )
    api.get("/posts").respond(json={"data": [], "pagination": {}})
    with django_capture_on_commit_callbacks(execute=True) as queued:
        error_events_record(
            workspace=workspace,
            events=[event(bot, "platform.telegram.auth", 401, minutes_ago=60)],
        )
    assert len(queued) == 2  # one check for the account, then the alert for the break it found
    bot.refresh_from_db()
    assert bot.status == AccountStatus.CREDENTIALS_INVALID


def test_old_failures_of_oauth_accounts_trigger_no_check(make_account, workspace, api):
    account = make_account()
    error_events_record(
        workspace=workspace,
        events=[event(account, "account.reconnection_required", 403, minutes_ago=60)],
    )
    assert not api.calls


def test_a_token_failure_on_an_account_the_mirror_lacks_asks_for_a_health_sync_soon(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts import tasks
    from dashboard.models import Workspace

    sent: list[int] = []
    monkeypatch.setattr(tasks.health_sync, "delay", sent.append)
    stranger = SocialAccount(workspace=workspace, upstream_id="acc_new_1", platform="instagram")

    def failure(raw_code: str, status: int, request_id: str) -> list:
        with django_capture_on_commit_callbacks(execute=True):
            return error_events_record(
                workspace=workspace,
                events=[event(stranger, raw_code, status, request_id=request_id)],
            )

    failure("platform.instagram.rate_limit", 429, "req_t")  # temporary: nothing to check
    assert sent == []
    failure("account.reconnection_required", 403, "req_a")
    assert sent == [workspace.pk]
    assert Workspace.objects.get(pk=workspace.pk).health_enqueued_at is not None
    failure("account.reconnection_required", 403, "req_b")  # moments later: once is enough
    assert sent == [workspace.pk]
