"""Every alert that goes to email goes to the workspace's channels too: from the same
claim, once per transition, after commit, and a channel's failure costs nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from accounts.alerts import account_alerts_batched
from accounts.models import AccountStatus
from accounts.services import account_status_apply
from accounts.tasks import account_alert_reminders
from alert_channels.models import AlertSend
from alert_channels.services import STALE_AFTER, alert_sends_sweep
from dashboard.models import Membership, UsageSnapshot
from events.alerts import storage_alerts_check, usage_alerts_check
from events.models import AlertSent
from media.models import StorageSnapshot
from tests.alert_channels.conftest import channel_make
from tests.alert_channels.receiver import Answer

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class DownBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run `service(**kwargs)`, then its commit (alerts leave at commit)."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def storage_at(workspace, used_mb, minutes_ago=0):
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    StorageSnapshot.objects.create(
        workspace=workspace,
        used_bytes=int(used_mb * MB),
        limit_bytes=100 * MB,
        since=moment,
        taken_at=moment,
    )


def break_it(account, commit, *, at=None, reason="The owner changed their password."):
    commit(
        account_status_apply,
        account=account,
        status=AccountStatus.RECONNECT_REQUIRED,
        code="account.reconnection_required",
        reason=reason,
        source="sync",
        **({"at": at} if at else {}),
    )


def payloads(receiver, path):
    return [hit.json for hit in receiver.received if hit.path == path]


def test_a_storage_alert_reaches_every_channel_once_with_the_link_that_fixes_it(
    workspace, admin, receiver, commit
):
    channel_make(workspace, receiver.url("/slack"), kind="slack")
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    storage_at(workspace, 50, minutes_ago=30)
    storage_at(workspace, 82, minutes_ago=20)
    assert commit(storage_alerts_check, workspace=workspace) == ["storage_80"]
    storage_at(workspace, 85, minutes_ago=10)
    assert commit(storage_alerts_check, workspace=workspace) == []  # same episode

    assert [m.subject for m in mail.outbox] == ["[Acme] Storage is 82 % full"]
    [slack] = payloads(receiver, "/slack")
    [hook] = payloads(receiver, "/hook")
    assert slack["blocks"][0]["text"]["text"] == "Storage is 82 % full"
    assert hook["title"] == "Storage is 82 % full"
    assert hook["kind"] == "storage_80"
    assert hook["url"] == "https://dash.example.com/w/acme/storage/"
    assert hook["text"] == (
        "Storage of Acme is 82 % full: 82 MB of 100 MB used, 18 MB left. Uploads will "
        "fail once the limit is reached: delete media you no longer need, or upgrade the plan "
        "for unlimited storage."
    )
    assert "\n" not in hook["text"]  # one paragraph
    assert set(AlertSend.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_storage_forecast_alert_reaches_channels_once_per_run_with_the_forecast_link(
    workspace, admin, receiver, commit
):
    from events.alerts import storage_forecast_alerts_check
    from tests.media.conftest import storage_history

    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    channel_make(workspace, receiver.url("/quiet"), kind="webhook", alert_storage=False)
    storage_history(workspace, [40, 45, 50, 55, 60, 65, 70, 75])
    assert commit(storage_forecast_alerts_check, workspace=workspace) == ["storage_forecast"]
    assert commit(storage_forecast_alerts_check, workspace=workspace) == []  # same run
    [hook] = payloads(receiver, "/hook")
    assert payloads(receiver, "/quiet") == []  # took no storage alerts
    assert hook["kind"] == "storage_forecast"
    assert hook["title"] == "Storage full in about 5 days at this rate"
    assert hook["url"] == "https://dash.example.com/w/acme/storage/#forecast-h"
    assert hook["text"].startswith(
        "Storage of Acme will be full in about 5 days at this rate (around "
    )
    assert "it grew 35 MB over the last 7 days (5 MB a day, deletions left out)" in hook["text"]
    assert "\n" not in hook["text"]


def test_a_monthly_allowance_alert_reaches_channels_with_the_usage_link(
    workspace, admin, receiver, commit
):
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    end = timezone.now() + timedelta(days=10)
    UsageSnapshot.objects.create(
        workspace=workspace,
        posts_used=8,
        posts_limit=10,
        period_start=end - timedelta(days=30),
        period_end=end,
    )
    assert commit(usage_alerts_check, workspace=workspace) == ["quota_posts_80"]
    assert commit(usage_alerts_check, workspace=workspace) == []
    [hook] = payloads(receiver, "/hook")
    assert hook["kind"] == "quota_posts_80"
    assert hook["title"] == mail.outbox[0].subject.removeprefix("[Acme] ")
    assert hook["url"] == "https://dash.example.com/w/acme/#usage-h"
    # The banner's own words, in one paragraph.
    assert hook["text"].startswith("8 of 10 posts used on this plan. Once the allowance runs")
    assert "What to do: Spread posts out, or upgrade the plan" in hook["text"]
    assert "Clears when the allowance resets on" in hook["text"]


def test_a_broken_account_reaches_channels_once_per_break(
    workspace, admin, receiver, commit, make_account
):
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    account = make_account(name="Demo Co", scheduled_posts_at_risk=3)
    break_it(account, commit)
    break_it(account, commit)  # seen broken again: the same break
    [hook] = payloads(receiver, "/hook")
    assert hook["kind"] == "account_broken"
    assert hook["title"] == "Reconnect Demo Co (Instagram)"
    assert hook["url"] == f"https://dash.example.com/w/acme/accounts/?account={account.pk}"
    assert hook["text"].startswith("Demo Co on Instagram stopped working in Acme. ")
    assert "SocialAPI says: The owner changed their password." in hook["text"]
    assert "3 scheduled posts will fail until it is fixed." in hook["text"]
    assert "What to do: Press Reconnect" in hook["text"]

    commit(account_status_apply, account=account, status=AccountStatus.ACTIVE, source="reconnect")
    break_it(account, commit, at=timezone.now() + timedelta(seconds=1))  # a new break
    assert len(payloads(receiver, "/hook")) == 2
    assert len(mail.outbox) == 2


def test_accounts_that_break_together_are_one_channel_message(
    workspace, admin, receiver, commit, make_account
):
    channel_make(workspace, receiver.url("/slack"), kind="slack")
    first, second = make_account(name="Alpha"), make_account(name="Beta")

    def both():
        with account_alerts_batched():
            for account in (first, second):
                account_status_apply(
                    account=account, status=AccountStatus.RECONNECT_REQUIRED, source="sync"
                )

    commit(both)
    [slack] = payloads(receiver, "/slack")
    assert slack["blocks"][0]["text"]["text"] == "2 accounts stopped working: Alpha and Beta"
    assert slack["blocks"][1]["text"]["text"].startswith(
        "2 accounts stopped working in Acme: Alpha and Beta."
    )
    assert slack["blocks"][2]["elements"][0]["url"] == (
        f"https://dash.example.com/w/acme/accounts/?account={first.pk}&account={second.pk}"
    )


def test_the_two_day_reminder_reaches_channels_once(
    workspace, admin, receiver, commit, make_account
):
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    account = make_account(name="Old break")
    break_it(account, commit, at=timezone.now() - timedelta(days=2, minutes=1))
    receiver.received.clear()
    assert commit(account_alert_reminders) == 1
    assert commit(account_alert_reminders) == 0
    [hook] = payloads(receiver, "/hook")
    assert hook["kind"] == "account_reminder"
    assert hook["title"] == "Still broken: Reconnect Old break (Instagram)"
    assert hook["text"].startswith("Old break on Instagram has been broken for 2 days.")


def test_a_mail_server_outage_never_tells_a_channel_twice(
    workspace, admin, receiver, commit, make_account, settings
):
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    settings.EMAIL_BACKEND = "tests.alert_channels.test_fan_out.DownBackend"
    account = make_account(name="Demo Co")
    break_it(account, commit, at=timezone.now() - timedelta(minutes=15))
    storage_at(workspace, 90)
    commit(storage_alerts_check, workspace=workspace)
    assert not AlertSent.objects.exists()  # both email claims given back
    assert len(payloads(receiver, "/hook")) == 2  # the channel was told at once

    settings.EMAIL_BACKEND = LOCMEM
    assert commit(account_alert_reminders) == 1  # the hourly run mails the break…
    assert commit(storage_alerts_check, workspace=workspace) == ["storage_80"]  # …and storage
    assert len(mail.outbox) == 2
    assert len(payloads(receiver, "/hook")) == 2  # …and the channel hears nothing again


def test_a_failing_channel_never_holds_up_the_email_or_another_channel(
    workspace, admin, receiver, commit
):
    channel_make(workspace, receiver.url("/broken"), kind="webhook", label="Broken")
    channel_make(workspace, receiver.url("/fine"), kind="webhook", label="Fine")
    receiver.answer(*[Answer(500, b"down")] * 4)  # the broken one is first, four attempts
    storage_at(workspace, 90)
    commit(storage_alerts_check, workspace=workspace)

    assert len(mail.outbox) == 1
    sends = {s.channel.label: s for s in AlertSend.objects.select_related("channel")}
    assert (sends["Broken"].status, sends["Broken"].attempts) == ("failed", 4)
    assert sends["Broken"].reason == "HTTP 500 Internal Server Error: down"
    assert sends["Fine"].status == "delivered"


def test_a_channel_gets_only_the_kinds_of_alert_chosen_for_it(
    workspace, admin, receiver, commit, make_account
):
    channel_make(workspace, receiver.url("/accounts-only"), kind="webhook", alert_storage=False)
    channel_make(workspace, receiver.url("/paused"), kind="webhook", enabled=False)
    storage_at(workspace, 90)
    commit(storage_alerts_check, workspace=workspace)
    break_it(make_account(), commit)
    assert [p["kind"] for p in payloads(receiver, "/accounts-only")] == ["account_broken"]
    assert payloads(receiver, "/paused") == []
    assert len(mail.outbox) == 2


def test_channels_hear_of_alerts_that_no_admin_wants_by_email(workspace, admin, receiver, commit):
    Membership.objects.filter(user=admin).update(alert_storage=False)
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    storage_at(workspace, 90)
    commit(storage_alerts_check, workspace=workspace)
    assert mail.outbox == []
    assert len(payloads(receiver, "/hook")) == 1


def test_a_rolled_back_alert_reaches_no_channel(workspace, admin, receiver, commit):
    channel_make(workspace, receiver.url("/hook"), kind="webhook")
    storage_at(workspace, 90)

    def rolled_back():
        with transaction.atomic():
            storage_alerts_check(workspace=workspace)
            transaction.set_rollback(True)

    commit(rolled_back)
    assert receiver.received == []
    assert not AlertSend.objects.exists()
    commit(storage_alerts_check, workspace=workspace)  # committed this time
    assert len(payloads(receiver, "/hook")) == 1


def test_another_workspaces_channels_hear_nothing(
    workspace, other_workspace, admin, receiver, commit
):
    channel_make(other_workspace, receiver.url("/theirs"), kind="webhook")
    channel_make(workspace, receiver.url("/ours"), kind="webhook")
    storage_at(workspace, 90)
    commit(storage_alerts_check, workspace=workspace)
    assert [hit.path for hit in receiver.received] == ["/ours"]


def test_the_sweep_sends_what_a_lost_task_left_behind(workspace, receiver):
    channel = channel_make(workspace, receiver.url("/hook"), kind="webhook")
    long_ago = timezone.now() - STALE_AFTER - timedelta(minutes=1)
    queued = AlertSend.objects.create(
        workspace=workspace,
        channel=channel,
        alert_kind="storage_80",
        title="Queued",
        text="t",
        url="https://dash.example.com/",
        created_at=long_ago,
    )
    killed = AlertSend.objects.create(
        workspace=workspace,
        channel=channel,
        alert_kind="storage_80",
        title="Killed",
        text="t",
        url="https://dash.example.com/",
        status="sending",
        attempts=1,
        attempted_at=long_ago,
    )
    fresh = AlertSend.objects.create(
        workspace=workspace,
        channel=channel,
        alert_kind="storage_80",
        title="Fresh",
        text="t",
        url="https://dash.example.com/",
    )
    assert sorted(alert_sends_sweep()) == sorted([queued.pk, killed.pk])
    assert sorted(p["title"] for p in payloads(receiver, "/hook")) == ["Killed", "Queued"]
    killed.refresh_from_db()
    assert (killed.status, killed.attempts) == ("delivered", 2)
    fresh.refresh_from_db()
    assert fresh.status == "queued"  # its own task is still on the way
