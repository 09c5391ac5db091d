"""Storing events: grouping by fingerprint, dedupe, counts, affected accounts, regressions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from accounts.models import SocialAccount
from events.models import (
    SOURCE_BITS,
    ErrorDailyCount,
    ErrorEvent,
    ErrorGroup,
    ErrorGroupAccount,
    ErrorGroupActivity,
)
from events.recording import (
    endpoint_template,
    error_event_record_from_exception,
    error_events_record,
    error_events_record_each,
)
from events.triage import error_group_state_set
from socialapi import error_from_response
from tests.events.conftest import event

pytestmark = pytest.mark.django_db


def test_it_groups_events_by_code_platform_and_endpoint(workspace, record):
    record(code="platform.instagram.rate_limit", status=429, endpoint="/posts", n=3)
    record(code="platform_rate_limit", status=429, platform="instagram", endpoint="POST /v1/posts")
    record(code="platform.tiktok.rate_limit", status=429, endpoint="/posts")
    groups = {
        (g.code, g.platform, g.endpoint): g for g in ErrorGroup.objects.filter(workspace=workspace)
    }
    assert set(groups) == {
        ("platform.rate_limit", "instagram", "/posts"),
        ("platform.rate_limit", "tiktok", "/posts"),
    }
    # Both dialects of the same failure land in one group.
    assert groups[("platform.rate_limit", "instagram", "/posts")].event_count == 4
    assert groups[("platform.rate_limit", "tiktok", "/posts")].event_count == 1


def test_groups_never_mix_workspaces(workspace, other_workspace, record):
    record(code="system.internal")
    record(code="system.internal", target=other_workspace)
    assert ErrorGroup.objects.filter(workspace=workspace).count() == 1
    assert ErrorGroup.objects.filter(workspace=other_workspace).count() == 1
    assert (
        ErrorGroup.objects.get(workspace=workspace).fingerprint
        != ErrorGroup.objects.get(workspace=other_workspace).fingerprint
    )


@pytest.mark.parametrize(
    ("raw", "method", "expected"),
    [
        ("/accounts/{id}/limits", "GET", ("GET", "/accounts/{id}/limits")),
        ("POST /v1/posts", "", ("POST", "/posts")),
        ("/v1/accounts/acc_01HZX9K2M3/limits?x=1", "get", ("GET", "/accounts/{id}/limits")),
        (
            "https://api.social-api.ai/v1/media/3f2b8c1e-0d4a-4b8e-9c1d-2a3b4c5d6e7f",
            "DELETE",
            ("DELETE", "/media/{id}"),
        ),
        ("/accounts/pending/0123456789abcdef0123456789abcdef", "", ("", "/accounts/pending/{id}")),
        ("/posts/{pid}/publish", "POST", ("POST", "/posts/{id}/publish")),
        ("/platforms/linkedin_page/limits", "", ("", "/platforms/linkedin_page/limits")),
        ("", "", ("", "")),
        ("nonsense with spaces", "BREW", ("", "/nonsense with spaces")),
    ],
)
def test_endpoints_become_templates(raw, method, expected):
    assert endpoint_template(raw, method) == expected


def test_one_failing_call_on_many_accounts_is_one_group(workspace):
    inputs = [
        event(code="invalid_token", status=401, endpoint=f"/v1/accounts/acc_00000{i}1/limits")
        for i in range(5)
    ]
    error_events_record(workspace=workspace, events=inputs)
    group = ErrorGroup.objects.get(workspace=workspace)
    assert group.endpoint == "/accounts/{id}/limits"
    assert group.event_count == 5
    # The concrete path is kept on each event.
    assert ErrorEvent.objects.filter(meta__path="/v1/accounts/acc_0000021/limits").count() == 1


def test_it_dedupes_on_upstream_and_client_ids(workspace):
    first = error_events_record_each(
        workspace=workspace,
        events=[
            event(upstream_id="evt_1"),
            event(client_id="c-1"),
            event(upstream_id="evt_1"),
            event(),
        ],
    )
    assert [row is not None for row in first] == [True, True, False, True]
    again = error_events_record_each(
        workspace=workspace, events=[event(upstream_id="evt_1"), event(client_id="c-1")]
    )
    assert again == [None, None]
    group = ErrorGroup.objects.get(workspace=workspace)
    assert ErrorEvent.objects.count() == 3
    assert group.event_count == 3
    assert ErrorDailyCount.objects.get(group=group).count == 3


def test_dedupe_keys_are_per_workspace(workspace, other_workspace):
    error_events_record(workspace=workspace, events=[event(client_id="same")])
    stored = error_events_record(workspace=other_workspace, events=[event(client_id="same")])
    assert len(stored) == 1


def test_counts_first_last_seen_and_daily_counts(workspace):
    # Yesterday noon: in the past at any hour of the day (future times are bounded to now).
    now = (timezone.now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    error_events_record(
        workspace=workspace,
        events=[
            event(at=now - timedelta(days=2), request_id="old"),
            event(at=now, request_id="new"),
        ],
    )
    error_events_record(
        workspace=workspace, events=[event(at=now - timedelta(days=5), request_id="older")]
    )
    group = ErrorGroup.objects.get(workspace=workspace)
    assert group.event_count == 3
    assert group.first_seen == now - timedelta(days=5)
    assert group.last_seen == now
    # A late event (older than the last one) does not replace the latest request id.
    assert group.last_request_id == "new"
    days = dict(ErrorDailyCount.objects.filter(group=group).values_list("day", "count"))
    assert days == {
        (now - timedelta(days=5)).date(): 1,
        (now - timedelta(days=2)).date(): 1,
        now.date(): 1,
    }


def test_days_are_utc_days(workspace):
    day_before = (timezone.now() - timedelta(days=2)).date()
    late_evening_in_tokyo = datetime.combine(day_before, time(23, 30), tzinfo=UTC)
    error_events_record(workspace=workspace, events=[event(at=late_evening_in_tokyo)])
    assert ErrorDailyCount.objects.get().day == day_before


def test_it_remembers_sources_and_affected_accounts(workspace):
    account = SocialAccount.objects.create(
        workspace=workspace, upstream_id="acc_known", platform="instagram"
    )
    # One platform named throughout: an unnamed one would be filled from the mirror for
    # the known account only, and that is another group.
    error_events_record(
        workspace=workspace,
        events=[
            event(source="ingest", account_upstream_id="acc_known", platform="instagram"),
            event(source="events_sync", account_upstream_id="acc_unknown", platform="instagram"),
            event(source="ingest", account_upstream_id="acc_known", platform="instagram"),
        ],
    )
    group = ErrorGroup.objects.get(workspace=workspace)
    assert group.sources == SOURCE_BITS["ingest"] | SOURCE_BITS["events_sync"]
    affected = {
        a.account_upstream_id: a.account_id for a in ErrorGroupAccount.objects.filter(group=group)
    }
    assert affected == {"acc_known": account.pk, "acc_unknown": None}
    assert group.account_count == 2
    assert ErrorEvent.objects.filter(account=account).count() == 2
    # The same accounts again, and one new: only the new one counts.
    error_events_record(
        workspace=workspace,
        events=[
            event(account_upstream_id="acc_known", platform="instagram"),
            event(account_upstream_id="acc_third", platform="instagram"),
        ],
    )
    group.refresh_from_db()
    assert group.account_count == 3 == ErrorGroupAccount.objects.filter(group=group).count()


def test_a_resolved_group_reopens_on_a_new_event_as_a_regression(workspace, admin, record):
    record(code="system.internal", minutes_ago=10)
    group = ErrorGroup.objects.get(workspace=workspace)
    error_group_state_set(workspace=workspace, group_id=group.pk, state="resolved", user=admin)
    record(code="system.internal", request_id="req_again")
    group.refresh_from_db()
    assert group.state == ErrorGroup.State.OPEN
    assert group.regressed_at is not None
    assert group.state_changed_by is None
    regression = ErrorGroupActivity.objects.get(group=group, kind=ErrorGroupActivity.Kind.REGRESSED)
    assert "req_again" in regression.body


def test_an_event_older_than_the_resolution_does_not_reopen(workspace, admin, record):
    record(code="system.internal", minutes_ago=10)
    group = ErrorGroup.objects.get(workspace=workspace)
    error_group_state_set(workspace=workspace, group_id=group.pk, state="resolved", user=admin)
    # The events sync brings in a failure that happened before it was resolved.
    record(code="system.internal", minutes_ago=5)
    group.refresh_from_db()
    assert group.state == ErrorGroup.State.RESOLVED
    assert group.event_count == 2
    assert not ErrorGroupActivity.objects.filter(kind=ErrorGroupActivity.Kind.REGRESSED).exists()


def test_an_ignored_group_stays_ignored(workspace, admin, record):
    record(code="system.internal", minutes_ago=10)
    group = ErrorGroup.objects.get(workspace=workspace)
    error_group_state_set(workspace=workspace, group_id=group.pk, state="ignored", user=admin)
    record(code="system.internal")
    group.refresh_from_db()
    assert group.state == ErrorGroup.State.IGNORED
    assert group.event_count == 2


def test_text_is_cleaned_for_any_database(workspace):
    stored = error_events_record(
        workspace=workspace,
        events=[
            event(
                message="nul\x00byte and lone \ud800 surrogate",
                request_id="r\x00id",
                meta={"k\x00": ["v\x00", {"deep": float("nan")}], "when": timezone.now()},
                raw_body="x" * 50_000,
            )
        ],
    )
    row = ErrorEvent.objects.get(pk=stored[0].pk)
    assert "\x00" not in row.message and "\ud800" not in row.message
    assert row.request_id == "rid"
    assert row.meta["k"][0] == "v"
    assert row.meta["k"][1] == {"deep": None}
    assert len(row.raw_body) == 8 * 1024


def test_a_dashboard_call_failure_is_recorded_with_its_account(workspace):
    exc = error_from_response(
        403,
        b'{"error": {"code": "account.reconnection_required", "message": "Token expired"}, '
        b'"request_id": "rq1"}',
        method="GET",
        endpoint="/accounts/{id}/limits",
        path="/accounts/acc_9/limits",
        path_params={"id": "acc_9"},
    )
    row = error_event_record_from_exception(workspace=workspace, exc=exc)
    assert row is not None
    assert (row.code, row.family, row.request_id, row.account_upstream_id) == (
        "account.reconnection_required",
        "reconnect",
        "rq1",
        "acc_9",
    )
    assert row.source == "dashboard"
    assert row.endpoint == "/accounts/{id}/limits"


def test_concurrent_writers_store_each_dedupe_key_once(transactional_db, workspace):
    """Four senders retrying the same batch at the same moment: one copy of each event."""
    import threading

    from django.db import connection as default_connection

    barrier = threading.Barrier(4)
    outcomes: list[list[bool]] = []
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            batch = [event(client_id=f"shared-{i}") for i in range(30)] + [
                event(client_id=f"own-{n}")
            ]
            barrier.wait()
            stored = error_events_record_each(workspace=workspace, events=batch)
            outcomes.append([row is not None for row in stored])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            default_connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ErrorEvent.objects.count() == 30 + 4
    assert ErrorEvent.objects.values("client_id").distinct().count() == 34
    # Each shared event was accepted by exactly one sender.
    assert [sum(o[i] for o in outcomes) for i in range(30)] == [1] * 30
    assert ErrorGroup.objects.get().event_count == 34
    assert sum(ErrorDailyCount.objects.values_list("count", flat=True)) == 34


# --- times that no real event has ----------------------------------------------------------


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59+00:00", "2099-01-01T00:00:00Z"]
)
def test_an_event_from_the_future_is_stored_at_the_receive_time(workspace, stamp):
    before = timezone.now()
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    [row] = error_events_record(workspace=workspace, events=[event(at=moment)])
    row.refresh_from_db()
    assert before <= row.occurred_at <= timezone.now()
    assert row.group.last_seen == row.occurred_at


def test_an_event_older_than_the_retention_is_stored_at_its_edge(workspace, settings):
    settings.ERROR_EVENT_RETENTION_DAYS = 30
    moment = datetime.fromisoformat("0001-01-01T00:00:00+01:00")  # no UTC equivalent
    [row] = error_events_record(workspace=workspace, events=[event(at=moment)])
    age = timezone.now() - row.occurred_at
    assert timedelta(days=30) <= age <= timedelta(days=30, minutes=1)


def test_a_few_minutes_of_clock_skew_are_kept_as_sent(workspace):
    ahead = timezone.now() + timedelta(minutes=3)
    [row] = error_events_record(workspace=workspace, events=[event(at=ahead)])
    assert row.occurred_at == ahead


def test_an_absurd_retry_after_is_capped_at_a_day(workspace):
    exc = error_from_response(
        429,
        b'{"error": {"code": "platform.instagram.rate_limit", "message": "Slow down"}}',
        {"Retry-After": "999999999"},  # 31 years
        method="POST",
        endpoint="/posts",
    )
    row = error_event_record_from_exception(workspace=workspace, exc=exc)
    assert row is not None and row.retry_after is not None
    assert row.retry_after - row.occurred_at == timedelta(days=1)


def test_a_webhook_failure_time_at_the_edge_of_the_calendar_is_stored(workspace):
    from events.webhook_events import post_failure_events_record

    data = {
        "id": "p_1",
        "targets": [
            {
                "platform": "instagram",
                "account_id": "acc_1",
                "failed_at": "9999-12-31T23:59:59-01:00",
                "error": {"code": "platform.instagram.rate_limit", "message": "Slow down"},
            }
        ],
    }
    before = timezone.now()
    assert post_failure_events_record(workspace=workspace, data=data, delivery_id="dlv_1") == 1
    row = ErrorEvent.objects.get()
    assert before <= row.occurred_at <= timezone.now()
