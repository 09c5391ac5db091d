"""The upstream events log sync: classification, dedupe, cursor resume, the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import SocialAccount
from dashboard.models import Workspace
from events import sync
from events.models import ErrorEvent, ErrorGroup, EventSyncState
from events.sync import events_sync
from socialapi import Event

pytestmark = pytest.mark.django_db


def upstream_event(
    n: int, *, code: str | None = "platform.instagram.rate_limit", status: int = 429, **fields: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"evt_{n:04d}",
        "category": "post",
        "action": "create",
        "status": "failed",
        "status_code": status,
        "error_category": "rate_limit",
        "error_message": "Instagram is rate limiting requests.",
        "summary": "Create post failed on Instagram",
        "platform": "instagram",
        "account_id": "acc_ig",
        "metadata": {"request_id": f"req_{n}", "endpoint": "POST /v1/posts"},
        "created_at": (timezone.now() - timedelta(minutes=n)).isoformat(),
    }
    if code:
        data["metadata"]["error_code"] = code
    data.update(fields)
    return data


def page(events: list[dict[str, Any]], next_cursor: str | None = None) -> dict[str, Any]:
    return {
        "events": events,
        "pagination": {
            "has_more": next_cursor is not None,
            "next_cursor": next_cursor,
            "limit": 100,
        },
        "retention_days": 30,
    }


class Log:
    """A fake events log: pages by cursor, with failures on demand; remembers the calls."""

    def __init__(self, pages: dict[str | None, Any]) -> None:
        self.pages = pages
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.calls.append(params)
        answer = self.pages[params.get("cursor")]
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)


def test_it_copies_failed_events_and_classifies_them(workspace, api):
    api.get("/events").mock(
        side_effect=Log(
            {None: page([upstream_event(1), upstream_event(2, code="billing.post_limit")])}
        )
    )
    result = events_sync(workspace=workspace)
    assert (result.pages, result.seen, result.stored, result.complete) == (1, 2, 2, True)
    throttle = ErrorEvent.objects.get(upstream_id="evt_0001")
    assert (throttle.code, throttle.family, throttle.platform) == (
        "platform.rate_limit",
        "platform_throttle",
        "instagram",
    )
    assert (throttle.source, throttle.request_id, throttle.method, throttle.endpoint) == (
        "events_sync",
        "req_1",
        "POST",
        "/posts",
    )
    assert throttle.account_upstream_id == "acc_ig"
    assert throttle.meta["category"] == "post"
    assert ErrorEvent.objects.get(upstream_id="evt_0002").family == "monthly_limit"


def test_running_twice_stores_nothing_twice(workspace, api):
    log = Log({None: page([upstream_event(1), upstream_event(2)])})
    api.get("/events").mock(side_effect=log)
    events_sync(workspace=workspace)
    again = events_sync(workspace=workspace)
    assert (again.seen, again.stored) == (2, 0)
    assert ErrorEvent.objects.count() == 2
    assert ErrorGroup.objects.get().event_count == 2
    # The second window starts where the first ended, minus a small overlap.
    assert parse_datetime(log.calls[1]["from"]) == log_to(log.calls[0]) - sync.OVERLAP
    assert log.calls[0]["status"] == "failed"


def log_to(params: dict[str, str]) -> datetime | None:
    return parse_datetime(params["to"])


def test_the_first_window_covers_upstreams_retention(workspace, api):
    log = Log({None: page([])})
    api.get("/events").mock(side_effect=log)
    events_sync(workspace=workspace)
    span = log_to(log.calls[0]) - parse_datetime(log.calls[0]["from"])
    assert timedelta(days=29) < span <= timedelta(days=30, seconds=1)


def test_an_interrupted_run_resumes_from_its_cursor(workspace, api):
    log = Log(
        {
            None: page([upstream_event(1), upstream_event(2)], next_cursor="c2"),
            "c2": httpx.Response(
                500, json={"error": {"code": "system.internal", "message": "boom"}}
            ),
        }
    )
    api.get("/events").mock(side_effect=log)
    first = events_sync(workspace=workspace)
    assert (first.stored, first.complete) == (2, False)
    state = EventSyncState.objects.get(workspace=workspace)
    assert (
        state.cursor == "c2"
        and state.synced_until is None
        and "system.internal" in state.last_error
    )
    window = (state.window_from, state.window_to)
    # The failure itself was recorded like any failed dashboard call.
    assert ErrorEvent.objects.filter(source="dashboard", code="system.internal").exists()

    log.pages["c2"] = page([upstream_event(3), upstream_event(2)])
    second = events_sync(workspace=workspace)
    assert (second.stored, second.complete) == (1, True)
    resumed = log.calls[-1]
    assert resumed["cursor"] == "c2"
    assert (parse_datetime(resumed["from"]), log_to(resumed)) == window
    state.refresh_from_db()
    assert state.cursor == "" and state.window_from is None
    assert state.synced_until == window[1]
    assert state.last_error == "" and state.last_ok_at is not None
    assert ErrorEvent.objects.filter(source="events_sync").count() == 3


def test_a_page_fetched_again_after_a_crash_is_deduplicated(workspace, api):
    log = Log({None: page([upstream_event(1)], next_cursor="c2"), "c2": page([upstream_event(2)])})
    api.get("/events").mock(side_effect=log)
    events_sync(workspace=workspace, max_pages=1)
    # A worker killed before its cursor was saved starts the window again.
    EventSyncState.objects.filter(workspace=workspace).update(cursor="")
    result = events_sync(workspace=workspace)
    assert (result.seen, result.stored) == (2, 1)
    assert ErrorEvent.objects.filter(source="events_sync").count() == 2


def test_a_refused_cursor_restarts_the_window(workspace, api):
    log = Log(
        {
            None: page([upstream_event(1), upstream_event(2)]),
            "stale": httpx.Response(
                400, json={"error": {"code": "validation.field_invalid", "message": "bad cursor"}}
            ),
        }
    )
    api.get("/events").mock(side_effect=log)
    now = timezone.now()
    EventSyncState.objects.create(
        workspace=workspace, cursor="stale", window_from=now - timedelta(hours=1), window_to=now
    )
    result = events_sync(workspace=workspace)
    assert (result.stored, result.complete) == (2, True)
    assert [c.get("cursor") for c in log.calls] == ["stale", None]


def test_a_repeated_cursor_cannot_loop_forever(workspace, api):
    log = Log(
        {
            None: page([upstream_event(1)], next_cursor="same"),
            "same": page([upstream_event(2)], next_cursor="same"),
        }
    )
    api.get("/events").mock(side_effect=log)
    result = events_sync(workspace=workspace)
    assert result.complete and result.pages == 2


def test_a_rejected_key_stops_the_sync_and_pauses_background_work(workspace, api):
    api.get("/events").mock(
        return_value=httpx.Response(
            401, json={"error": {"code": "auth.invalid_key", "message": "x"}}
        )
    )
    result = events_sync(workspace=workspace)
    assert not result.complete and "auth.invalid_key" in result.error
    workspace.refresh_from_db()
    assert workspace.paused_family == "api_key"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "status_code": 429,
                "error_message": "Monthly post limit reached (10 on the free plan).",
            },
            ("validation.post_limit_exhausted", "monthly_limit"),
        ),
        (
            {"status_code": 429, "error_message": "Monthly interaction limit reached."},
            ("validation.interaction_limit_exhausted", "monthly_limit"),
        ),
        (
            {"status_code": 429, "error_message": "Instagram is rate limiting requests."},
            ("platform.rate_limit", "platform_throttle"),
        ),
        ({"status_code": 401, "error_category": "auth"}, ("platform.auth", "reconnect")),
        (
            {"status_code": 401, "error_category": "auth", "platform": "telegram"},
            ("platform.auth", "credentials"),
        ),
        (
            {"status_code": 403, "error_category": "auth"},
            ("account.reconnection_required", "reconnect"),
        ),
        ({"status_code": 402, "error_category": "billing"}, ("billing.past_due", "billing")),
        (
            {"status_code": 413, "error_category": "billing"},
            ("billing.storage_quota", "storage_quota"),
        ),
        ({"status_code": 503, "error_category": "system"}, ("system.internal", "server")),
        ({"status_code": 400, "error_category": "validation"}, ("unknown", "validation")),
    ],
)
def test_events_without_an_error_code_are_classified_from_what_is_there(fields, expected):
    data = upstream_event(1, code=None, **fields)
    found = sync.event_input_from_upstream(Event.from_json(data))
    assert (found.code, found.family) == expected


def test_an_event_dated_past_the_calendar_neither_crashes_nor_blocks_the_cursor(workspace, api):
    log = Log(
        {
            None: page(
                [upstream_event(1, created_at="9999-12-31T23:59:59-01:00")], next_cursor="c2"
            ),
            "c2": page([upstream_event(2)]),
        }
    )
    api.get("/events").mock(side_effect=log)
    before = timezone.now()
    result = events_sync(workspace=workspace)
    assert (result.pages, result.stored, result.complete) == (2, 2, True)
    odd = ErrorEvent.objects.get(upstream_id="evt_0001")
    assert before <= odd.occurred_at <= timezone.now()


def test_a_throttle_logged_in_2099_does_not_keep_its_banner_up(workspace, api):
    from events.banners import workspace_banners

    api.get("/events").mock(
        side_effect=Log({None: page([upstream_event(1, created_at="2099-01-01T00:00:00Z")])})
    )
    events_sync(workspace=workspace)
    now = timezone.now()
    assert [b.key for b in workspace_banners(workspace=workspace, now=now)] == [
        "platform_throttle:instagram"
    ]
    assert workspace_banners(workspace=workspace, now=now + timedelta(minutes=31)) == []


def test_an_event_without_an_id_is_still_deduplicated():
    data = upstream_event(1)
    data.pop("id")
    first = sync.event_input_from_upstream(Event.from_json(data))
    second = sync.event_input_from_upstream(Event.from_json(data))
    assert first.upstream_id.startswith("sha1:") and first.upstream_id == second.upstream_id


def test_the_task_continues_a_long_backlog_and_re_arms_banners(
    workspace, api, monkeypatch, django_capture_on_commit_callbacks
):
    from events.tasks import events_sync as events_sync_task

    monkeypatch.setattr(sync, "MAX_PAGES_PER_RUN", 1)
    log = Log(
        {
            None: page([upstream_event(1)], next_cursor="c2"),
            "c2": page([upstream_event(2)], next_cursor="c3"),
            "c3": page([upstream_event(3)]),
        }
    )
    api.get("/events").mock(side_effect=log)
    with django_capture_on_commit_callbacks(execute=True):
        events_sync_task(workspace.pk)
    assert len(log.calls) == 3
    assert ErrorEvent.objects.filter(source="events_sync").count() == 3


# --- against the sandbox ---------------------------------------------------------------------


def test_the_sandbox_events_log_is_synced_and_grouped(workspace, sandbox_link, settings):
    from sandbox.seed import sandbox_demo_seed

    tenant = sandbox_demo_seed(
        name="Sync demo", webhook_url="http://testserver/webhooks/x", webhook_secret="s" * 32
    )
    workspace.api_key = tenant.api_key
    workspace.base_url = "http://testserver/sandbox/v1"
    workspace.save()
    SocialAccount.objects.bulk_create(
        [
            SocialAccount(workspace=workspace, upstream_id=a.id, platform=a.platform, name=a.name)
            for a in tenant.accounts.all()
        ]
    )
    first = events_sync(workspace=workspace)
    assert first.complete and first.stored == first.seen > 50
    again = events_sync(workspace=workspace)
    assert again.stored == 0
    groups = ErrorGroup.objects.filter(workspace=workspace)
    codes = set(groups.values_list("code", flat=True))
    assert {
        "platform.rate_limit",
        "billing.post_limit",
        "billing.storage_quota",
        "account.reconnection_required",
        "system.internal",
        "platform.auth",
    } <= codes
    assert sum(groups.values_list("event_count", flat=True)) == first.stored
    # Events name real accounts: they are linked, and the Telegram one is a credentials problem.
    assert ErrorEvent.objects.filter(workspace=workspace, account__isnull=False).exists()
    # (from the failed publish calls and from a post that failed when it came due)
    assert set(groups.filter(code="platform.auth").values_list("family", flat=True)) == {
        "credentials"
    }


def test_sandbox_faults_become_banners(workspace, sandbox_link):
    from dashboard.usage import usage_sync
    from events.banners import workspace_banners
    from sandbox.services import allowance_exhaust, platform_throttle

    link = sandbox_link(plan="free")
    platform_throttle(tenant=link.tenant, platform="instagram", minutes=15)
    allowance_exhaust(tenant=link.tenant)
    events_sync(workspace=workspace)
    usage_sync(workspace=Workspace.objects.get(pk=workspace.pk))
    banners = {
        b.key: b for b in workspace_banners(workspace=Workspace.objects.get(pk=workspace.pk))
    }
    assert "platform_throttle:instagram" in banners
    assert banners["platform_throttle:instagram"].title.startswith(
        "Instagram is throttling requests; this does not use your quota; retrying after ~"
    )
    assert banners["monthly_limit:posts"].title.startswith(
        "Monthly post limit reached — resets on "
    )


def test_a_failed_dashboard_call_is_not_stored_again_from_upstreams_log(workspace, sandbox_link):
    from dashboard.upstream import upstream
    from sandbox.models import SandboxEvent
    from sandbox.services import platform_throttle
    from socialapi import SocialAPIError
    from tests.sandbox.conftest import account_make

    link = sandbox_link(plan="free")
    account = account_make(link.tenant, "instagram")
    platform_throttle(tenant=link.tenant, platform="instagram", minutes=15)
    SandboxEvent.objects.filter(tenant=link.tenant).delete()  # only this test's call is logged
    with pytest.raises(SocialAPIError) as failure:
        upstream(workspace).account_limits(account.id)
    dashboard = ErrorEvent.objects.get(workspace=workspace)
    assert (dashboard.source, dashboard.request_id) == ("dashboard", failure.value.request_id)
    logged = SandboxEvent.objects.filter(tenant=link.tenant)
    assert [e.metadata["request_id"] for e in logged] == [failure.value.request_id]

    result = events_sync(workspace=workspace)
    assert (result.seen, result.stored) == (1, 0)
    assert list(ErrorEvent.objects.values_list("source", flat=True)) == ["dashboard"]
    assert ErrorGroup.objects.get().event_count == 1


def test_an_upstream_event_with_a_request_id_seen_twice_in_one_page_is_stored_once(workspace, api):
    twin = upstream_event(2)
    twin["metadata"]["request_id"] = "req_1"
    api.get("/events").mock(side_effect=Log({None: page([upstream_event(1), twin])}))
    assert events_sync(workspace=workspace).stored == 1
