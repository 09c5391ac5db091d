"""Storage and monthly-allowance emails: once per threshold per period, to opted-in admins."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from dashboard.models import Membership, UsageSnapshot, Workspace
from events.alerts import storage_alerts_check, threshold_alerts_check, usage_alerts_check
from events.models import AlertSent
from media.models import StorageSnapshot
from media.storage import _record

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """Run a check, then its commit: alert_send hands the mail over at commit."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def figure(workspace: Workspace, used_mb: float, minutes_ago: float = 0) -> StorageSnapshot:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    return StorageSnapshot.objects.create(
        workspace=workspace,
        used_bytes=int(used_mb * MB),
        limit_bytes=100 * MB,
        since=moment,
        taken_at=moment,
    )


def test_storage_at_80_emails_admins_once(workspace, admin, member, check):
    figure(workspace, 50, minutes_ago=30)
    figure(workspace, 82, minutes_ago=20)
    assert check(storage_alerts_check, workspace=workspace) == ["storage_80"]
    figure(workspace, 85, minutes_ago=10)
    assert check(storage_alerts_check, workspace=workspace) == []
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]  # admins only
    assert message.subject == "[Acme] Storage is 82 % full"
    assert "/w/acme/storage/" in message.body


def test_the_same_figure_confirmed_again_and_again_mails_only_once(workspace, admin, check):
    start = timezone.now() - timedelta(hours=2)
    for step in range(6):
        # What every scheduled snapshot does: the same figure again moves `taken_at` forward.
        _record(
            workspace_id=workspace.pk,
            used=85 * MB,
            limit=100 * MB,
            count=None,
            source="api",
            now=start + timedelta(minutes=15 * step),
        )
        check(storage_alerts_check, workspace=workspace)
    assert StorageSnapshot.objects.filter(workspace=workspace).count() == 1
    assert [m.subject for m in mail.outbox] == ["[Acme] Storage is 85 % full"]
    assert AlertSent.objects.filter(kind="storage_80").count() == 1


def test_storage_full_after_80_sends_the_100_mail(workspace, admin, check):
    figure(workspace, 82, minutes_ago=20)
    check(storage_alerts_check, workspace=workspace)
    figure(workspace, 100)
    assert check(storage_alerts_check, workspace=workspace) == ["storage_100"]
    assert "uploads fail" in mail.outbox[-1].subject
    assert len(mail.outbox) == 2


def test_a_jump_to_full_sends_only_the_100_mail_and_no_80_on_the_way_down(workspace, admin, check):
    figure(workspace, 40, minutes_ago=30)
    figure(workspace, 101, minutes_ago=20)
    assert check(storage_alerts_check, workspace=workspace) == ["storage_100"]
    figure(workspace, 90)
    assert check(storage_alerts_check, workspace=workspace) == []
    assert len(mail.outbox) == 1


def test_a_new_episode_after_dropping_clearly_below_alerts_again(workspace, admin, check):
    figure(workspace, 82, minutes_ago=40)
    check(storage_alerts_check, workspace=workspace)
    figure(workspace, 78, minutes_ago=30)  # wobbling around 80 %: same episode
    figure(workspace, 81, minutes_ago=20)
    assert check(storage_alerts_check, workspace=workspace) == []
    figure(workspace, 50, minutes_ago=10)  # cleaned up
    figure(workspace, 83)
    assert check(storage_alerts_check, workspace=workspace) == ["storage_80"]
    assert len(mail.outbox) == 2


def test_admins_who_opted_out_get_nothing(workspace, admin, check):
    Membership.objects.filter(user=admin).update(alert_storage=False)
    figure(workspace, 90)
    check(storage_alerts_check, workspace=workspace)
    assert mail.outbox == []
    assert AlertSent.objects.filter(kind="storage_80").exists()


def usage(
    workspace: Workspace, posts_used: int, period_end: datetime, posts_limit: int = 10
) -> UsageSnapshot:
    return UsageSnapshot.objects.create(
        workspace=workspace,
        posts_used=posts_used,
        posts_limit=posts_limit,
        interactions_used=0,
        interactions_limit=50,
        period_start=period_end - timedelta(days=30),
        period_end=period_end,
    )


def test_monthly_allowance_alerts_once_per_threshold_per_period(workspace, admin, check):
    period_end = timezone.now() + timedelta(days=10)
    usage(workspace, 8, period_end)
    assert check(usage_alerts_check, workspace=workspace) == ["quota_posts_80"]
    usage(workspace, 9, period_end)
    assert check(usage_alerts_check, workspace=workspace) == []
    usage(workspace, 10, period_end)
    assert check(usage_alerts_check, workspace=workspace) == ["quota_posts_100"]
    assert check(usage_alerts_check, workspace=workspace) == []
    assert [m.subject for m in mail.outbox][-1].startswith(
        "[Acme] Monthly post limit reached — resets on "
    )
    # Next period: the same thresholds alert again.
    next_end = period_end + timedelta(days=30)
    usage(workspace, 8, next_end)
    assert check(usage_alerts_check, workspace=workspace, now=period_end + timedelta(days=1)) == [
        "quota_posts_80"
    ]
    assert len(mail.outbox) == 3


def test_a_refusal_from_socialapi_counts_as_100_percent(workspace, admin, record, check):
    usage(workspace, 4, timezone.now() + timedelta(days=10))
    UsageSnapshot.objects.update(taken_at=timezone.now() - timedelta(hours=1))
    record(code="rate_limit_exceeded", status=429, message="Monthly post limit exceeded")
    assert check(usage_alerts_check, workspace=workspace) == ["quota_posts_100"]


def test_unlimited_plans_never_alert(workspace, admin, check):
    usage(workspace, 5000, timezone.now() + timedelta(days=10), posts_limit=-1)
    StorageSnapshot.objects.create(workspace=workspace, used_bytes=10**12, limit_bytes=-1)
    assert check(threshold_alerts_check, workspace=workspace) == []


def test_fresh_figures_trigger_the_check_after_commit(
    workspace, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        figure(workspace, 96)
    assert [m.subject for m in mail.outbox] == ["[Acme] Storage is 96 % full"]


def test_storage_crossing_100_from_upstream_headers_mails_the_admins(
    workspace, admin, django_capture_on_commit_callbacks, monkeypatch
):
    """Fresh X-Storage-* headers within a minute merge into the newest figure instead of
    adding one: crossing the limit that way must still send the full-storage mail."""
    from media import storage
    from socialapi import FreshFigures

    monkeypatch.setattr(storage, "_header_writes", {})
    moments = iter([0.0, 10.0])
    monkeypatch.setattr(storage, "_monotonic", lambda: next(moments))
    with django_capture_on_commit_callbacks(execute=True):
        storage.storage_figures_apply(
            workspace_id=workspace.pk,
            figures=FreshFigures(storage_used=90 * MB, storage_limit=100 * MB),
        )
    assert [m.subject for m in mail.outbox] == ["[Acme] Storage is 90 % full"]
    with django_capture_on_commit_callbacks(execute=True):
        storage.storage_figures_apply(
            workspace_id=workspace.pk,
            figures=FreshFigures(storage_used=101 * MB, storage_limit=100 * MB),
        )
    assert StorageSnapshot.objects.filter(workspace=workspace).count() == 1  # merged
    assert mail.outbox[-1].subject == "[Acme] Storage is full: uploads fail"
    assert len(mail.outbox) == 2
