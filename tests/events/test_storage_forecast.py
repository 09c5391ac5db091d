"""The storage forecast's banner and alert: on when storage would be full within
STORAGE_FORECAST_DAYS at the recent pace, off (with hysteresis) when the pace drops or
space is freed; one email per run, to admins who want storage alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from dashboard.models import Membership
from events.alerts import storage_forecast_alerts_check, threshold_alerts_check
from events.banners import banner_dismiss, banners_visible, workspace_banners
from events.models import AlertSent
from media.storage import _record
from tests.media.conftest import MB, storage_history

pytestmark = pytest.mark.django_db

FILLING = [40, 45, 50, 55, 60, 65, 70, 75]  # 5 MB a day: 25 MB left is 5 days


def banners(workspace):
    return {b.key: b for b in workspace_banners(workspace=workspace)}


def later(workspace, used_mb, *, minutes, limit_mb=100, source="api"):
    """A figure `minutes` after the latest one."""
    from media.storage import storage_latest

    latest = storage_latest(workspace=workspace)
    assert latest is not None
    return _record(
        workspace_id=workspace.pk,
        used=int(used_mb * MB),
        limit=int(limit_mb * MB),
        count=None,
        source=source,
        now=latest.taken_at + timedelta(minutes=minutes),
    )


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def test_storage_filling_within_a_week_shows_a_banner_with_the_pace(workspace):
    storage_history(workspace, FILLING)
    banner = banners(workspace)["storage_filling"]
    assert banner.level == "warning"
    assert banner.title == "Storage full in about 5 days at this rate"
    assert banner.meaning == (
        "It grew 35 MB over the last 7 days (5 MB a day, deletions left out); 25 MB of 100 MB "
        "is left. Uploads will fail once the limit is reached."
    )
    assert banner.action_url == "/w/acme/storage/#forecast-h"
    assert "more than 9 days" in banner.clears


def test_no_banner_while_storage_lasts_longer_or_the_figures_say_too_little(workspace):
    storage_history(workspace, [40, 41, 42, 43, 44, 45, 46, 47])  # 53 days left
    assert "storage_filling" not in banners(workspace)
    later(workspace, 97, minutes=1)  # jumps, but with two days of history…
    assert "storage_filling" not in banners(workspace)  # …nearly full says it


def test_a_new_workspace_gets_no_forecast_banner_from_two_days_of_figures(workspace):
    storage_history(workspace, [10, 40, 70])
    assert "storage_filling" not in banners(workspace)


def test_the_banner_stays_through_a_small_cleanup_and_clears_after_a_real_one(workspace):
    storage_history(workspace, FILLING)
    first = banners(workspace)["storage_filling"]
    later(workspace, 60, minutes=5)  # 8 days left: over 7, under 7 + 2
    kept = banners(workspace)["storage_filling"]
    assert kept.title == "Storage full in about 8 days at this rate"
    assert kept.since == first.since  # the same run
    later(workspace, 52, minutes=10)  # 9.6 days left
    assert "storage_filling" not in banners(workspace)
    later(workspace, 66, minutes=15)  # 6.8 days: a new run
    again = banners(workspace)["storage_filling"]
    assert first.since is not None and again.since is not None and again.since > first.since


def test_the_banner_clears_when_the_pace_drops(workspace):
    storage_history(workspace, FILLING)
    assert "storage_filling" in banners(workspace)
    # Uploads stop: each day the same figure again; the 7-day pace falls day by day.
    start = timezone.now()
    gone_after = None
    for day in range(1, 9):
        row = storage_history(workspace, [75], end=start + timedelta(days=day))
        if "storage_filling" not in {
            b.key for b in workspace_banners(workspace=workspace, now=row.taken_at)
        }:
            gone_after = gone_after or day
            assert not row.forecast.shown or (row.forecast.days_left or 0) > 9
    assert gone_after is not None and gone_after < 8  # before the pace is zero
    assert row.forecast.state == "flat"


def test_nearly_full_says_the_forecast_itself_and_no_second_banner_shows(workspace):
    storage_history(workspace, [60, 64, 68, 72, 76, 80, 84, 88])  # 12 MB left at 4 MB a day
    found = banners(workspace)
    assert "storage_filling" not in found
    assert found["storage_nearly_full"].meaning == (
        "88 MB of 100 MB used. Uploads will fail once the limit is reached. At the recent "
        "pace it is full in about 3 days."
    )
    later(workspace, 100, minutes=1)
    assert set(banners(workspace)) == {"storage_full"}


def test_an_unlimited_plan_never_gets_a_forecast_banner(workspace):
    storage_history(workspace, [40, 400, 800, 1600, 3200, 6400, 12800, 25600], limit_mb=-1)
    assert banners(workspace) == {}


def test_a_dismissed_forecast_banner_comes_back_with_the_next_run(workspace, admin):
    storage_history(workspace, FILLING)
    assert banner_dismiss(workspace=workspace, user=admin, key="storage_filling")
    assert "storage_filling" not in {
        b.key for b in banners_visible(workspace=workspace, user=admin)
    }
    later(workspace, 50, minutes=5)  # cleaned up: the run ends
    later(workspace, 70, minutes=10)  # filling again: a new run
    visible = {b.key for b in banners_visible(workspace=workspace, user=admin)}
    assert "storage_filling" in visible


def test_the_forecast_banner_costs_no_query_of_its_own(workspace, admin, django_assert_num_queries):
    storage_history(workspace, FILLING)
    with django_assert_num_queries(1):
        visible = banners_visible(workspace=workspace, user=admin)
    assert [b.key for b in visible] == ["storage_filling"]


# --- the alert -----------------------------------------------------------------------


def test_admins_are_emailed_once_per_run(workspace, admin, member, check):
    storage_history(workspace, FILLING)
    assert check(storage_forecast_alerts_check, workspace=workspace) == ["storage_forecast"]
    assert check(storage_forecast_alerts_check, workspace=workspace) == []
    later(workspace, 76, minutes=5)
    assert check(threshold_alerts_check, workspace=workspace) == []
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[Acme] Storage full in about 5 days at this rate"
    assert (
        "It grew 35 MB over the last 7 days (5 MB a day, deletions left out); 25 MB of "
        "100 MB is left." in message.body
    )
    assert "/w/acme/storage/#forecast-h" in message.body
    assert "turn off storage alerts" in message.body


def test_a_new_run_after_space_was_freed_emails_again(workspace, admin, check):
    storage_history(workspace, FILLING)
    check(storage_forecast_alerts_check, workspace=workspace)
    later(workspace, 50, minutes=5)  # 10 days left: the run is over
    assert check(storage_forecast_alerts_check, workspace=workspace) == []
    later(workspace, 70, minutes=10)
    assert check(storage_forecast_alerts_check, workspace=workspace) == ["storage_forecast"]
    assert len(mail.outbox) == 2
    assert AlertSent.objects.filter(kind="storage_forecast").count() == 2


def test_admins_who_turned_storage_alerts_off_get_no_forecast_email(workspace, admin, check):
    Membership.objects.filter(user=admin).update(alert_storage=False)
    storage_history(workspace, FILLING)
    assert check(storage_forecast_alerts_check, workspace=workspace) == ["storage_forecast"]
    assert mail.outbox == []


def test_no_forecast_email_once_storage_is_full(workspace, admin, check):
    storage_history(workspace, FILLING)
    later(workspace, 100, minutes=1)
    assert check(storage_forecast_alerts_check, workspace=workspace) == []


def test_a_run_that_starts_inside_a_merged_figure_still_emails(
    workspace, admin, django_capture_on_commit_callbacks
):
    """Fresh headers merge into the newest row in place (a burst of uploads): the run
    starting there is noticed like a new row, through the stored figure's save."""
    storage_history(workspace, [40, 43, 46, 49, 52, 55, 58, 61])  # 3 MB a day
    with django_capture_on_commit_callbacks(execute=True):
        later(workspace, 76, minutes=1, source="header")  # 8 days left: no run
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        row = later(workspace, 79.5, minutes=0.5, source="header")  # merged: 6.8 days
    assert row.first_bytes == 76 * MB  # the same row, updated in place
    assert [m.subject for m in mail.outbox] == ["[Acme] Storage full in about 7 days at this rate"]
