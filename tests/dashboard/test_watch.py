"""The watch: each change a sandbox control makes upstream is seen by the next watch (a
few seconds at the default settings), and so is each cause clearing — without anyone
pressing anything. The sandbox is served in-process, exactly as `make run` serves it."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import Membership, UsageSnapshot, Workspace
from dashboard.scheduling import syncs_due
from media.models import MediaItem, MediaLibrary, StorageSnapshot
from sandbox import services as weather

pytestmark = pytest.mark.django_db


def test_the_default_intervals_put_a_change_upstream_on_an_open_page_within_a_minute():
    # Worst case: the change lands just after a watch; the next watch may wait up to a
    # beat; the open page asks again up to a poll later; the calls take a few seconds.
    worst = (
        django_settings.WATCH_SECONDS
        + django_settings.DISPATCH_SECONDS
        + django_settings.LIVE_POLL_SECONDS
    )
    assert worst + 10 <= 60
    # While a cause shows, its follow-up runs at least once a watch or so.
    assert django_settings.THROTTLE_PROBE_SECONDS + worst - django_settings.WATCH_SECONDS <= 60
    assert django_settings.USAGE_RECHECK_SECONDS <= django_settings.WATCH_SECONDS
    assert django_settings.SERVER_ERROR_QUIET_SECONDS + worst <= 60


def test_a_new_workspace_is_watched_every_few_seconds_on_a_ten_second_beat(workspace):
    from datetime import timedelta

    now = timezone.now()
    Workspace.objects.filter(pk=workspace.pk).update(
        watch_enqueued_at=now - timedelta(seconds=16),
        health_enqueued_at=now,
        media_enqueued_at=now,
        usage_enqueued_at=now,
    )
    fresh = Workspace.objects.get(pk=workspace.pk)
    assert fresh.watch_seconds == 20
    # 16 s after the last one, on a 10 s beat: the next beat would be 26 s, so it is due.
    assert [s.task for s in syncs_due(workspace=fresh, now=now)] == [
        "dashboard.tasks.workspace_watch"
    ]
    assert syncs_due(workspace=fresh, now=now - timedelta(seconds=8)) == []


def test_filled_storage_shows_at_the_next_watch_and_the_mirror_follows_the_figure(
    up, django_capture_on_commit_callbacks
):
    added = weather.storage_fill(tenant=up.tenant, percent=85)
    with django_capture_on_commit_callbacks(execute=True):
        steps = up.watch()
    assert "mirror" in steps
    latest = StorageSnapshot.objects.filter(workspace=up.workspace).latest("taken_at")
    assert latest.count == added
    assert round(latest.percent or 0) == 85
    banner = up.banners()["storage_nearly_full"]
    assert banner.title.startswith("Storage 85% full")
    # The mirror resynced because the figure's count disagreed: they now agree.
    library = MediaLibrary.objects.get(workspace=up.workspace)
    assert (library.item_count, library.total_bytes) == (latest.count, latest.used_bytes)
    assert MediaItem.objects.filter(workspace=up.workspace).count() == added
    # The same figure again asks for nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert "mirror" not in up.watch()


def test_storage_reaching_the_limit_mails_the_admins_once(
    up, admin, django_capture_on_commit_callbacks
):
    Membership.objects.filter(user=admin).update(alert_storage=True)
    weather.storage_fill(tenant=up.tenant, percent=100)
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    assert "storage_full" in up.banners()
    full = [m for m in mail.outbox if "Storage is full" in m.subject]
    assert len(full) == 1
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    assert len([m for m in mail.outbox if "Storage is full" in m.subject]) == 1


def test_throttling_shows_at_the_next_watch_and_clears_when_the_platform_answers(
    up, django_capture_on_commit_callbacks
):
    weather.platform_throttle(tenant=up.tenant, platform="instagram", minutes=15)
    with django_capture_on_commit_callbacks(execute=True):
        steps = up.watch()
    assert "probe:instagram" not in steps  # asked, and still throttled
    assert "platform_throttle:instagram" in up.banners()

    up.later()
    weather.throttles_clear(tenant=up.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        steps = up.watch()
    assert "probe:instagram" in steps
    assert "platform_throttle:instagram" not in up.banners()


def test_injected_5xx_show_the_outage_at_the_next_watch_and_it_clears_when_calls_succeed(
    up, django_capture_on_commit_callbacks
):
    weather.faults_set(tenant=up.tenant, rate_5xx=1.0)
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    outage = up.banners()["server_errors"]
    assert outage.request_ids  # what to quote to SocialAPI support

    up.later()
    weather.faults_clear(tenant=up.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        assert "storage" in up.watch()
    assert "server_errors" not in up.banners()


def test_an_exhausted_allowance_shows_with_its_figures_and_clears_in_a_new_period(
    up, django_capture_on_commit_callbacks
):
    weather.allowance_exhaust(tenant=up.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        steps = up.watch()
    assert "usage" in steps  # the refusal asked for the figures that confirm it
    banner = up.banners()["monthly_limit:posts"]
    assert "(10 of 10)" in banner.meaning
    latest = UsageSnapshot.objects.filter(workspace=up.workspace).latest("taken_at")
    assert (latest.posts_used, latest.posts_limit) == (10, 10)

    up.later()
    weather.usage_reset(tenant=up.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    assert "monthly_limit:posts" not in up.banners()


def test_broken_accounts_show_at_the_next_watch(up, django_capture_on_commit_callbacks):
    weather.account_credentials_invalidate(tenant=up.tenant, account_id=up.accounts["telegram"].id)
    weather.account_token_expire(tenant=up.tenant, account_id=up.accounts["instagram"].id)
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    statuses = dict(
        SocialAccount.objects.filter(workspace=up.workspace).values_list("platform", "status")
    )
    assert statuses == {
        "instagram": AccountStatus.RECONNECT_REQUIRED,
        "telegram": AccountStatus.CREDENTIALS_INVALID,
    }
    assert up.banners()["accounts_reconnect"].title == (
        "2 accounts need reconnecting or new credentials"
    )


@pytest.mark.parametrize(
    ("switch", "banner"),
    [
        (lambda t, on: weather.api_key_revoke(tenant=t, revoked=on), "api_key_rejected"),
        (lambda t, on: weather.billing_set(tenant=t, past_due=on), "billing_past_due"),
    ],
    ids=["api key revoked", "billing past due"],
)
def test_a_refused_key_or_bill_pauses_then_the_watch_notices_it_is_good_again(
    up, django_capture_on_commit_callbacks, switch, banner
):
    switch(up.tenant, True)
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    assert banner in up.banners()
    assert Workspace.objects.get(pk=up.workspace.pk).is_paused
    up.later()
    with django_capture_on_commit_callbacks(execute=True):
        # Still refused: only users/me was asked (storage and events would fail too).
        assert "storage" not in up.watch()
    assert banner in up.banners()

    up.later()
    switch(up.tenant, False)
    with django_capture_on_commit_callbacks(execute=True):
        assert "usage" in up.watch()
    assert not Workspace.objects.get(pk=up.workspace.pk).is_paused
    assert banner not in up.banners()


def test_a_platform_that_answers_with_nothing_left_is_still_throttled(
    up, django_capture_on_commit_callbacks, monkeypatch
):
    from sandbox import api_accounts

    weather.platform_throttle(tenant=up.tenant, platform="instagram", minutes=15)
    with django_capture_on_commit_callbacks(execute=True):
        up.watch()
    up.later()
    weather.throttles_clear(tenant=up.tenant)
    # The platform answers again, but its daily posting allowance is used up.
    monkeypatch.setitem(api_accounts.DAILY_LIMITS, "instagram", {"posts_remaining": 0})
    with django_capture_on_commit_callbacks(execute=True):
        assert "probe:instagram" not in up.watch()
    assert "platform_throttle:instagram" in up.banners()
