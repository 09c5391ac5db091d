"""Banners: each appears for its cause, clears when the cause is gone, can be dismissed
per person, comes back when the cause recurs or worsens, and costs constant queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import UsageSnapshot, Workspace
from events.banners import (
    Banner,
    banner_dismiss,
    banner_dismissals_expire,
    banners_visible,
    workspace_banners,
)
from events.models import BannerDismissal, ErrorEvent, ErrorGroup
from events.recording import fingerprint
from media.models import StorageSnapshot
from media.storage import _record

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


def keys(workspace: Workspace, **kwargs: Any) -> list[str]:
    return [b.key for b in workspace_banners(workspace=workspace, **kwargs)]


def banner(workspace: Workspace, key: str) -> Banner:
    found = {b.key: b for b in workspace_banners(workspace=workspace)}
    assert key in found, f"no {key} banner in {sorted(found)}"
    return found[key]


def storage(
    workspace: Workspace, used_mb: float, limit_mb: float = 100, minutes_ago: float = 0
) -> StorageSnapshot:
    """A storage figure, stored the way media stores every figure."""
    return _record(
        workspace_id=workspace.pk,
        used=int(used_mb * MB),
        limit=int(limit_mb * MB) if limit_mb >= 0 else -1,
        count=None,
        source="api",
        now=timezone.now() - timedelta(minutes=minutes_ago),
    )


class Clock:
    """Django's clock, moved by the test: recording, banners and dismissals all read it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = timezone.now()
        self.start = self.now
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def at(self, minutes: float) -> datetime:
        """Move to `minutes` after the start of the test."""
        self.now = self.start + timedelta(minutes=minutes)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def usage(
    workspace: Workspace,
    *,
    posts: tuple[int, int] = (0, 10),
    interactions: tuple[int, int] = (0, 50),
    period_end: datetime | None = None,
    minutes_ago: float = 0.0,
) -> UsageSnapshot:
    now = timezone.now()
    return UsageSnapshot.objects.create(
        workspace=workspace,
        taken_at=now - timedelta(minutes=minutes_ago),
        posts_used=posts[0],
        posts_limit=posts[1],
        interactions_used=interactions[0],
        interactions_limit=interactions[1],
        period_start=now - timedelta(days=10),
        period_end=period_end or now + timedelta(days=20),
    )


def broken_account(
    workspace: Workspace, n: int, status: str = AccountStatus.RECONNECT_REQUIRED
) -> SocialAccount:
    return SocialAccount.objects.create(
        workspace=workspace,
        upstream_id=f"acc_{n}",
        platform="instagram",
        name=f"Account {n}",
        status=status,
        status_changed_at=timezone.now(),
    )


def test_a_healthy_workspace_shows_no_banner(workspace):
    storage(workspace, 10)
    usage(workspace, posts=(1, 10))
    assert keys(workspace) == []


def test_api_key_rejected_appears_and_clears_when_a_call_with_the_key_succeeds(workspace, record):
    workspace.api_key_saved_at = timezone.now() - timedelta(days=1)
    workspace.save()
    record(code="unauthorized", status=401, request_id="req_key_1")
    found = banner(workspace, "api_key_rejected")
    assert found.level == "danger"
    assert found.title == "API key rejected — every call from this workspace fails"
    assert "req_key_1" in found.request_ids
    assert found.action_url == reverse("settings", args=[workspace.slug])
    # users/me answered with the current key: the key works again.
    workspace.plan_checked_at = timezone.now() + timedelta(seconds=1)
    workspace.save()
    assert "api_key_rejected" not in keys(workspace)


def test_api_key_banner_clears_when_a_new_key_is_saved(workspace, record):
    record(code="auth.invalid_key", status=401)
    assert "api_key_rejected" in keys(workspace)
    workspace.api_key_saved_at = timezone.now() + timedelta(seconds=1)
    workspace.save()
    assert "api_key_rejected" not in keys(workspace)


def test_api_key_banner_follows_the_background_pause(workspace):
    workspace.paused_family, workspace.paused_at = "api_key", timezone.now()
    workspace.save()
    assert "api_key_rejected" in keys(workspace)
    workspace.paused_family, workspace.paused_at = "", None
    workspace.save()
    assert keys(workspace) == []


def test_a_workspace_without_a_key_is_told_to_add_one(workspace):
    workspace.api_key_hint = ""
    workspace.save()
    assert banner(workspace, "api_key_missing").action_url == reverse(
        "settings", args=[workspace.slug]
    )


def test_billing_past_due_appears_and_clears_when_a_later_call_succeeds(workspace, record):
    record(code="billing.past_due", status=402)
    found = banner(workspace, "billing_past_due")
    assert found.title == "Billing past due — all API calls are blocked"
    # A later GET /v1/usage went through (it is blocked while billing is past due).
    usage(workspace, posts=(1, 10))
    assert "billing_past_due" not in keys(workspace)


def test_billing_is_the_most_severe_banner(workspace, record):
    broken_account(workspace, 1)
    storage(workspace, 90)
    record(code="billing.past_due", status=402)
    record(code="platform.instagram.rate_limit", status=429)
    assert keys(workspace) == [
        "billing_past_due",
        "accounts_reconnect",
        "platform_throttle:instagram",
        "storage_nearly_full",
    ]


def test_storage_full_appears_from_the_figure_and_clears_when_a_newer_figure_is_under(workspace):
    storage(workspace, 101, minutes_ago=5)
    found = banner(workspace, "storage_full")
    assert found.title == "Storage full — uploads fail"
    assert "Free at least 1 MB" in found.action
    assert found.action_url == reverse("media:storage", args=[workspace.slug])
    storage(workspace, 60)
    assert keys(workspace) == []


def test_storage_full_appears_from_a_refused_upload(workspace, record):
    storage(workspace, 97, minutes_ago=30)
    record(
        code="storage_quota_exceeded", status=413, endpoint="/media/upload", request_id="req_413"
    )
    found = banner(workspace, "storage_full")
    assert "An upload was refused" in found.meaning
    assert found.request_ids == ("req_413",)
    # The refresh that follows a refusal shows room: back to "nearly full".
    storage(workspace, 97)
    assert keys(workspace) == ["storage_nearly_full"]


def test_storage_nearly_full_at_80_and_stronger_at_95(workspace):
    storage(workspace, 85)
    found = banner(workspace, "storage_nearly_full")
    assert (found.level, found.rank) == ("warning", 1)
    assert found.title == "Storage 85% full — 15 MB left"
    storage(workspace, 96)
    found = banner(workspace, "storage_nearly_full")
    assert (found.level, found.rank) == ("danger", 2)
    storage(workspace, 79)
    assert keys(workspace) == []


def test_unlimited_storage_never_warns(workspace):
    storage(workspace, 5000, limit_mb=-1)
    assert keys(workspace) == []


def test_monthly_limit_says_which_allowance_and_when_it_resets(workspace):
    reset = datetime(2026, 12, 15, 0, 0, tzinfo=UTC)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    UsageSnapshot.objects.create(
        workspace=workspace,
        taken_at=now,
        posts_used=10,
        posts_limit=10,
        interactions_used=5,
        interactions_limit=50,
        period_start=now - timedelta(days=16),
        period_end=reset,
    )
    found = {b.key: b for b in workspace_banners(workspace=workspace, now=now)}[
        "monthly_limit:posts"
    ]
    assert found.title == "Monthly post limit reached — resets on 15 Dec"
    assert "Retrying before the reset will not help" in found.meaning
    # The period ends: the banner clears by itself.
    assert keys(workspace, now=reset + timedelta(minutes=1)) == []


def test_monthly_limit_from_a_refusal_and_cleared_by_figures_showing_room(workspace, record):
    usage(workspace, posts=(3, 10), interactions=(10, 50), minutes_ago=60)
    record(
        code="validation.interaction_limit_exhausted",
        status=429,
        request_id="req_429",
        minutes_ago=1,
    )
    found = banner(workspace, "monthly_limit:interactions")
    assert found.title.startswith("Monthly interaction limit reached — resets on ")
    assert found.request_ids == ("req_429",)
    usage(workspace, posts=(3, 10), interactions=(10, 50))
    assert keys(workspace) == []


def test_a_figure_from_the_same_second_as_the_refusal_does_not_clear_it(workspace, record):
    # Upstream stamps events to the second: this figure may be older than the refusal.
    refused = record(code="billing.post_limit", status=429)[0]
    UsageSnapshot.objects.create(
        workspace=workspace,
        taken_at=refused.occurred_at + timedelta(milliseconds=600),
        posts_used=3,
        posts_limit=10,
        interactions_used=0,
        interactions_limit=50,
        period_start=refused.occurred_at - timedelta(days=3),
        period_end=refused.occurred_at + timedelta(days=20),
    )
    assert keys(workspace) == ["monthly_limit:posts"]


def test_a_refusal_from_last_period_is_not_shown(workspace, record):
    usage(workspace, posts=(2, 10))
    record(code="billing.post_limit", status=429, minutes_ago=60 * 24 * 12)  # before period_start
    assert keys(workspace) == []


def test_monthly_allowance_nearly_used_is_a_gentle_warning(workspace):
    usage(workspace, posts=(8, 10))
    found = banner(workspace, "monthly_limit:posts")
    assert (found.kind, found.level) == ("monthly_nearly_used", "info")
    assert found.title.startswith("80% of this month's posts used — 2 left until ")


def test_platform_throttling_names_the_platform_and_the_retry_time(workspace, record):
    # Yesterday at 14:05: events are stored within the retention and never in the future.
    now = (timezone.now() - timedelta(days=1)).replace(hour=14, minute=5, second=0, microsecond=0)
    record(
        code="platform.instagram.rate_limit",
        status=429,
        at=now - timedelta(minutes=2),
        retry_after=now.replace(minute=20),
        request_id="req_ig",
    )
    found = {b.key: b for b in workspace_banners(workspace=workspace, now=now)}[
        "platform_throttle:instagram"
    ]
    assert found.title == (
        "Instagram is throttling requests; this does not use your quota; retrying after ~14:20 UTC"
    )
    assert "req_ig" in found.request_ids
    # Thirty minutes without a new one (the last was at 14:03): gone.
    assert keys(workspace, now=now + timedelta(minutes=27)) == ["platform_throttle:instagram"]
    assert keys(workspace, now=now + timedelta(minutes=29)) == []


def test_each_throttled_platform_has_its_own_banner(workspace, record):
    record(code="platform.instagram.rate_limit", status=429)
    record(code="platform_rate_limit", status=429, platform="tiktok")
    assert keys(workspace) == ["platform_throttle:instagram", "platform_throttle:tiktok"]
    assert "TikTok is throttling requests" in banner(workspace, "platform_throttle:tiktok").title


def test_accounts_need_reconnecting_counts_them_and_clears_when_none_are_left(workspace):
    first = broken_account(workspace, 1)
    broken_account(workspace, 2, status=AccountStatus.CREDENTIALS_INVALID)
    found = banner(workspace, "accounts_reconnect")
    assert found.title == "2 accounts need reconnecting or new credentials"
    assert (
        "1 account lost its platform login; 1 account has credentials the platform rejects."
        in found.meaning
    )
    # The button opens the list of both (the number and the list it opens always match).
    assert found.action_url == reverse("accounts:list", args=[workspace.slug]) + "?status=problems"
    SocialAccount.objects.filter(workspace=workspace).update(status=AccountStatus.ACTIVE)
    assert keys(workspace) == []
    assert first.pk


def test_a_burst_of_server_errors_quotes_request_ids(workspace, record):
    # From the customer's backend (ingest): only a burst of them shows the banner.
    record(code="system.internal", status=500, n=4, request_id="req_500_a", source="ingest")
    assert keys(workspace) == []
    record(
        code="system.internal",
        status=502,
        endpoint="/media",
        request_id="req_500_b",
        source="ingest",
    )
    found = banner(workspace, "server_errors")
    assert found.title == "SocialAPI errors — 5 failed calls in the last 10 minutes"
    # The newest request ids, to quote to SocialAPI support.
    assert found.request_ids == ("req_500_b", "req_500_a")


def test_the_server_burst_is_over_after_ten_quiet_minutes(workspace, record):
    record(code="system.internal", status=500, n=6, minutes_ago=11)
    assert keys(workspace) == []


def test_two_of_the_dashboards_own_calls_failing_after_retries_show_the_outage_at_once(
    workspace, record
):
    record(code="system.internal", status=503, request_id="req_own_1")
    assert keys(workspace) == []
    record(code="system.internal", status=503, endpoint="/media/storage", request_id="req_own_2")
    found = banner(workspace, "server_errors")
    assert found.title == "SocialAPI errors — 2 failed calls in the last 10 minutes"
    assert found.request_ids == ("req_own_2", "req_own_1")


def test_the_outage_clears_once_a_call_succeeds_after_a_quiet_moment(
    workspace, record, clock, settings
):
    from dashboard.upstream import upstream_ok

    settings.SERVER_ERROR_QUIET_SECONDS = 15
    record(code="system.internal", status=500, n=6, source="ingest")
    clock.at(5 / 60)
    upstream_ok(workspace)  # 5 s after the newest 5xx: too soon to call it over
    assert keys(workspace) == ["server_errors"]
    clock.at(20 / 60)
    upstream_ok(workspace)
    assert keys(workspace) == []  # long before the ten minutes of the burst window
    # The next 5xx starts counting afresh: the old burst does not come back with it.
    clock.at(1)
    record(code="system.internal", status=500, source="ingest")
    assert keys(workspace) == []
    record(code="system.internal", status=500, n=4, source="ingest")
    assert keys(workspace) == ["server_errors"]
    assert banner(workspace, "server_errors").title.startswith("SocialAPI errors — 5 failed")


def test_a_dismissed_outage_banner_shows_again_when_a_new_outage_starts_after_the_end(
    workspace, admin, record, clock
):
    from dashboard.upstream import upstream_ok

    record(code="system.internal", status=500, n=2)
    banner_dismiss(workspace=workspace, user=admin, key="server_errors")
    assert visible_keys(workspace, admin) == []
    clock.at(1)
    upstream_ok(workspace)
    clock.at(2)
    record(code="system.internal", status=500, n=2)
    assert visible_keys(workspace, admin) == ["server_errors"]


def test_throttling_clears_once_the_platform_answers_again(workspace, record):
    from events.models import ErrorEpisode

    record(code="platform.instagram.rate_limit", status=429)
    record(code="platform.tiktok.rate_limit", status=429, platform="tiktok")
    ErrorEpisode.objects.filter(workspace=workspace, platform="instagram").update(
        ended_at=timezone.now() + timedelta(seconds=1)
    )
    assert keys(workspace) == ["platform_throttle:tiktok"]
    record(
        code="platform.instagram.rate_limit", status=429, at=timezone.now() + timedelta(seconds=2)
    )
    assert keys(workspace) == ["platform_throttle:instagram", "platform_throttle:tiktok"]


# --- dismiss, snooze, return ---------------------------------------------------------------


@pytest.fixture
def bob(workspace: Workspace) -> User:
    return User.objects.create_user("carol", password="x")


def test_a_dismissed_banner_is_hidden_for_that_person_only(workspace, admin, bob):
    storage(workspace, 85)
    assert banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full") is not None
    assert banners_visible(workspace=workspace, user=admin) == []
    assert [b.key for b in banners_visible(workspace=workspace, user=bob)] == [
        "storage_nearly_full"
    ]


def test_a_dismissed_banner_returns_when_it_worsens(workspace, admin):
    storage(workspace, 85)
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full")
    storage(workspace, 90)
    assert banners_visible(workspace=workspace, user=admin) == []  # same level: still hidden
    storage(workspace, 96)
    assert [b.key for b in banners_visible(workspace=workspace, user=admin)] == [
        "storage_nearly_full"
    ]


def test_a_dismissed_banner_returns_when_another_account_breaks(workspace, admin):
    broken_account(workspace, 1)
    banner_dismiss(workspace=workspace, user=admin, key="accounts_reconnect")
    assert banners_visible(workspace=workspace, user=admin) == []
    broken_account(workspace, 2)
    assert [b.key for b in banners_visible(workspace=workspace, user=admin)] == [
        "accounts_reconnect"
    ]


def visible_keys(workspace: Workspace, user: User) -> list[str]:
    return [b.key for b in banners_visible(workspace=workspace, user=user)]


def test_a_dismissed_throttle_banner_returns_as_soon_as_throttling_starts_again(
    workspace, admin, record, clock
):
    record(code="platform.instagram.rate_limit", status=429)
    banner_dismiss(workspace=workspace, user=admin, key="platform_throttle:instagram")
    clock.at(10)
    record(code="platform.instagram.rate_limit", status=429)  # the same throttling goes on
    assert visible_keys(workspace, admin) == []
    clock.at(45)  # quiet for more than 30 minutes: over (no periodic sync ran meanwhile)
    assert visible_keys(workspace, admin) == []
    clock.at(50)
    record(code="platform.instagram.rate_limit", status=429)
    assert visible_keys(workspace, admin) == ["platform_throttle:instagram"]


def test_a_dismissed_throttle_banner_stays_hidden_while_the_throttling_goes_on(
    workspace, admin, record, clock
):
    record(code="platform.instagram.rate_limit", status=429)
    banner_dismiss(workspace=workspace, user=admin, key="platform_throttle:instagram")
    for minute in range(5, 125, 5):  # two hours, a throttled call every five minutes
        clock.at(minute)
        record(code="platform.instagram.rate_limit", status=429)
        assert visible_keys(workspace, admin) == []


def test_a_late_event_from_the_sync_does_not_restart_the_throttling(
    workspace, admin, record, clock
):
    record(code="platform.instagram.rate_limit", status=429)
    banner_dismiss(workspace=workspace, user=admin, key="platform_throttle:instagram")
    clock.at(20)
    # Upstream's log brings a call from before the dismissal, then a new one arrives.
    record(code="platform.instagram.rate_limit", status=429, minutes_ago=25)
    record(code="platform.instagram.rate_limit", status=429)
    assert visible_keys(workspace, admin) == []


def test_a_dismissed_server_errors_banner_returns_with_the_next_burst(
    workspace, admin, record, clock
):
    record(code="system.internal", status=500, n=5)
    banner_dismiss(workspace=workspace, user=admin, key="server_errors")
    assert visible_keys(workspace, admin) == []
    clock.at(30)
    assert visible_keys(workspace, admin) == []  # over
    record(code="system.internal", status=502, n=5)
    assert visible_keys(workspace, admin) == ["server_errors"]


def test_a_dismissed_storage_banner_returns_when_storage_fills_up_again(workspace, admin, clock):
    storage(workspace, 85)
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full")
    clock.at(15)
    storage(workspace, 86)  # a different figure, still over 80 %: the same cause
    assert visible_keys(workspace, admin) == []
    clock.at(30)
    storage(workspace, 60)  # cleaned up
    clock.at(45)
    storage(workspace, 84)
    assert visible_keys(workspace, admin) == ["storage_nearly_full"]


def test_a_dismissed_storage_full_banner_returns_when_storage_is_full_again(
    workspace, admin, clock
):
    storage(workspace, 100)
    banner_dismiss(workspace=workspace, user=admin, key="storage_full")
    clock.at(15)
    storage(workspace, 101)
    assert "storage_full" not in visible_keys(workspace, admin)
    clock.at(30)
    storage(workspace, 90)
    clock.at(45)
    storage(workspace, 100)
    assert "storage_full" in visible_keys(workspace, admin)


def test_the_same_storage_figure_confirmed_again_keeps_a_dismissal(workspace, admin, clock):
    storage(workspace, 85)
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full")
    for minute in (15, 30, 45):
        clock.at(minute)
        storage(workspace, 85)
    assert visible_keys(workspace, admin) == []


def test_a_dismissed_api_key_banner_returns_after_the_key_fails_again(workspace, admin):
    workspace.paused_family, workspace.paused_at = "api_key", timezone.now() - timedelta(hours=2)
    workspace.save()
    banner_dismiss(workspace=workspace, user=admin, key="api_key_rejected")
    assert banners_visible(workspace=workspace, user=admin) == []
    # Fixed, then broken again: a new pause starts a new cause.
    workspace.paused_at = timezone.now()
    workspace.save()
    assert [b.key for b in banners_visible(workspace=workspace, user=admin)] == ["api_key_rejected"]


def test_a_snoozed_banner_returns_after_the_snooze(workspace, admin):
    storage(workspace, 85)
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full", snooze_minutes=60)
    assert banners_visible(workspace=workspace, user=admin) == []
    later = timezone.now() + timedelta(minutes=61)
    assert [b.key for b in banners_visible(workspace=workspace, user=admin, now=later)] == [
        "storage_nearly_full"
    ]


def test_dismissing_a_banner_that_is_not_showing_stores_nothing(workspace, admin):
    assert banner_dismiss(workspace=workspace, user=admin, key="storage_full") is None
    assert not BannerDismissal.objects.exists()


def test_a_cause_that_got_better_lowers_the_remembered_level(workspace, admin):
    storage(workspace, 96)
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full")
    storage(workspace, 85)
    banner_dismissals_expire(workspace=workspace)
    assert BannerDismissal.objects.get().level == 1
    assert banners_visible(workspace=workspace, user=admin) == []
    storage(workspace, 97)
    assert [b.key for b in banners_visible(workspace=workspace, user=admin)] == [
        "storage_nearly_full"
    ]


# --- constant cost -----------------------------------------------------------------------------


def _bulk_events(workspace: Workspace, n: int) -> None:
    """n stored events spread over a month in a few groups (bulk, like a busy workspace)."""
    now = timezone.now()
    groups = {}
    for code, family, platform in (
        ("platform.rate_limit", "platform_throttle", "instagram"),
        ("system.internal", "server", ""),
        ("billing.storage_quota", "storage_quota", ""),
        ("validation.field_required", "validation", ""),
    ):
        groups[family] = ErrorGroup.objects.create(
            workspace=workspace,
            fingerprint=fingerprint(workspace.pk, code, platform, "/posts"),
            code=code,
            family=family,
            platform=platform,
            endpoint="/posts",
            first_seen=now - timedelta(days=30),
            last_seen=now,
            event_count=n // 4,
        )
    families = list(groups)
    ErrorEvent.objects.bulk_create(
        [
            ErrorEvent(
                workspace=workspace,
                group=groups[families[i % 4]],
                occurred_at=now - timedelta(seconds=i * (30 * 86400 // max(n, 1))),
                source="ingest",
                http_status=500,
                code=groups[families[i % 4]].code,
                family=families[i % 4],
                platform=groups[families[i % 4]].platform,
                request_id=f"req_{i}",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


@pytest.mark.parametrize("n", [10, 10_000])
def test_banners_cost_the_same_queries_with_10_or_10000_events(
    workspace, admin, n, django_assert_num_queries
):
    _bulk_events(workspace, n)
    storage(workspace, 90)
    usage(workspace, posts=(9, 10))
    broken_account(workspace, 1)
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full")
    assert ErrorEvent.objects.count() == n
    # One query for every input, this person's dismissals included.
    with django_assert_num_queries(1):
        visible = banners_visible(workspace=workspace, user=admin)
    assert {b.key for b in visible} >= {
        "platform_throttle:instagram",
        "monthly_limit:posts",
        "accounts_reconnect",
    }


def test_no_banner_costs_a_single_query(workspace, admin, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert banners_visible(workspace=workspace, user=admin) == []


# --- pages ----------------------------------------------------------------------------------------


def test_banners_show_on_every_workspace_page(workspace, as_member):
    storage(workspace, 101)
    for url in (
        reverse("overview", args=[workspace.slug]),
        reverse("events:errors", args=[workspace.slug]),
    ):
        html = as_member.get(url).content.decode()
        assert "Storage full — uploads fail" in html
        # The page's poller: it refreshes the banners (and every live region) in place.
        assert 'hx-get="' + reverse("live", args=[workspace.slug]) + '"' in html


def test_the_banners_region_refreshes_in_place_only_when_it_changed(workspace, as_member):
    import re

    storage(workspace, 85)
    errors_url = reverse("events:errors", args=[workspace.slug])
    page = as_member.get(errors_url).content.decode()
    version = re.search(r'hx-vals=\'{"v": "([^"]+)"}\'', page)
    assert version
    url = reverse("live", args=[workspace.slug])
    htmx = {"HX-Request": "true", "HX-Current-URL": "http://testserver" + errors_url}
    # Nothing changed: 204, htmx swaps nothing (an expanded banner stays open).
    assert as_member.get(url, {"v": version.group(1)}, headers=htmx).status_code == 204
    storage(workspace, 101)
    response = as_member.get(url, {"v": version.group(1)}, headers=htmx)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="banners" class="banners"' in html and 'hx-swap-oob="true"' in html
    assert "Storage full — uploads fail" in html and "Storage 85%" not in html
    assert "<html" not in html
    # The region alone is still served (the page fetches it after a dismissal).
    region = as_member.get(reverse("events:banners", args=[workspace.slug]), headers=htmx)
    assert region.content.decode().startswith('<div id="banners"')


def test_anyone_in_the_workspace_can_dismiss_for_themselves(workspace, member, as_member):
    storage(workspace, 85)
    url = reverse("events:banner_dismiss", args=[workspace.slug])
    response = as_member.post(
        url, {"banner": "storage_nearly_full"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-banner="storage_nearly_full"' not in html
    # Hidden, not gone: the person who hid it can see it and bring it back.
    assert "1 alert you hid" in html and "Show again" in html
    assert BannerDismissal.objects.get().user == member
    # Without JavaScript: back to the page it was pressed on.
    storage(workspace, 97)
    response = as_member.post(
        url, {"banner": "storage_nearly_full", "snooze": "60", "next": "/w/acme/errors/"}
    )
    assert response.status_code == 302 and response.url == "/w/acme/errors/"
    assert BannerDismissal.objects.get().snoozed_until is not None


def test_dismissing_never_redirects_off_site(workspace, as_member):
    url = reverse("events:banner_dismiss", args=[workspace.slug])
    response = as_member.post(url, {"banner": "x", "next": "https://evil.example/"})
    assert response.url == reverse("overview", args=[workspace.slug])
    response = as_member.post(url, {"banner": "x", "next": "//evil.example/"})
    assert response.url == reverse("overview", args=[workspace.slug])


def test_outsiders_cannot_see_or_dismiss_banners(workspace, as_outsider):
    assert as_outsider.get(reverse("events:banners", args=[workspace.slug])).status_code == 404
    assert (
        as_outsider.post(
            reverse("events:banner_dismiss", args=[workspace.slug]), {"banner": "x"}
        ).status_code
        == 404
    )


def test_banners_never_mix_workspaces(workspace, other_workspace, record):
    storage(other_workspace, 101)
    record(code="billing.past_due", status=402, target=other_workspace)
    record(code="platform.instagram.rate_limit", status=429)
    assert keys(workspace) == ["platform_throttle:instagram"]
    assert keys(other_workspace) == ["billing_past_due", "storage_full"]


def test_the_person_who_hid_a_banner_sees_it_listed_and_can_bring_it_back(
    workspace, admin, member, as_member
):
    storage(workspace, 97)
    record_dismissal = banner_dismiss(
        workspace=workspace, user=member, key="storage_nearly_full", snooze_minutes=60
    )
    assert record_dismissal is not None
    banner_dismiss(workspace=workspace, user=admin, key="storage_nearly_full")
    page = as_member.get(reverse("overview", args=[workspace.slug])).content.decode()
    assert 'data-banner="storage_nearly_full"' not in page
    assert "1 alert you hid" in page and "Storage 97% full" in page
    assert "snoozed, back" in page and "Show again" in page

    url = reverse("events:banner_restore", args=[workspace.slug])
    response = as_member.post(
        url, {"banner": "storage_nearly_full"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert 'data-banner="storage_nearly_full"' in html and "you hid" not in html
    # Only their own dismissal went: the admin still has it hidden.
    assert [b.key for b in banners_visible(workspace=workspace, user=admin)] == []
    assert BannerDismissal.objects.filter(user=admin).exists()
    # Without JavaScript: back to the page it was pressed on; bad input changes nothing.
    response = as_member.post(url, {"banner": "", "next": "/w/acme/storage/"})
    assert response.status_code == 302 and response.url == "/w/acme/storage/"
    assert BannerDismissal.objects.filter(user=admin).exists()
