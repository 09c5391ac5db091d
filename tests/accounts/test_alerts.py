"""Alert emails: one per break, a reminder after two days, per-person opt-out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from accounts.alerts import account_alerts_batched
from accounts.health import health_sync
from accounts.models import AccountStatus
from accounts.services import account_status_apply
from accounts.tasks import account_alert_reminders
from dashboard.models import Membership
from events.models import AlertSent
from events.recording import error_events_record
from tests.accounts.conftest import account_json, accounts_body
from tests.accounts.test_receivers import event
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def break_it(account, capture, **kwargs):
    with capture(execute=True):
        account_status_apply(
            account=account,
            status=kwargs.pop("status", AccountStatus.RECONNECT_REQUIRED),
            code="account.reconnection_required",
            reason=kwargs.pop("reason", "The owner changed their password."),
            source="sync",
            **kwargs,
        )


def test_admins_get_one_email_naming_the_account_reason_and_a_filtered_link(
    admin, member, make_account, django_capture_on_commit_callbacks
):
    account = make_account(name="Demo Co", scheduled_posts_at_risk=3)
    break_it(account, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [admin.email]  # admins only, not members
    assert message.subject == "[Acme] Reconnect Demo Co (Instagram)"
    assert "The owner changed their password." in message.body
    assert "Press Reconnect" in message.body  # the fix, from events.fixes
    assert f"http://testserver/w/acme/accounts/?account={account.pk}" in message.body
    assert "3 scheduled posts will fail" in message.body


def test_a_sync_that_sees_the_same_break_again_sends_nothing_more(
    admin, api, workspace, make_account, django_capture_on_commit_callbacks
):
    account = make_account()
    broken = accounts_body(
        account_json(account, status="reconnect_required", reconnect_reason="Expired")
    )
    api.get("/accounts").respond(json=broken)
    api.get("/posts").respond(json={"data": [], "pagination": {}})
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            health_sync(workspace=workspace)
    assert len(mail.outbox) == 1


def test_a_new_break_after_a_fix_is_a_new_alert(
    admin, make_account, django_capture_on_commit_callbacks
):
    account = make_account()
    break_it(account, django_capture_on_commit_callbacks)
    account_status_apply(account=account, status=AccountStatus.ACTIVE, source="reconnect")
    break_it(account, django_capture_on_commit_callbacks, at=timezone.now() + timedelta(seconds=1))
    assert len(mail.outbox) == 2


def test_credentials_alerts_say_what_to_do(admin, make_account, django_capture_on_commit_callbacks):
    bot = make_account(platform="telegram", name="Kitchen bot")
    break_it(bot, django_capture_on_commit_callbacks, status=AccountStatus.CREDENTIALS_INVALID)
    assert mail.outbox[0].subject == "[Acme] Update the credentials of Kitchen bot (Telegram)"
    assert "a browser sign-in will not fix it" in mail.outbox[0].body


def test_a_fix_before_the_task_runs_sends_nothing(
    admin, make_account, django_capture_on_commit_callbacks
):
    account = make_account()
    with django_capture_on_commit_callbacks() as queued:
        account_status_apply(
            account=account, status=AccountStatus.RECONNECT_REQUIRED, source="sync"
        )
        account_status_apply(account=account, status=AccountStatus.ACTIVE, source="reconnect")
    for callback in queued:
        callback()
    assert mail.outbox == []


def test_a_reminder_goes_out_once_after_two_days(
    admin, make_account, django_capture_on_commit_callbacks
):
    broke_long_ago = timezone.now() - timedelta(days=2, minutes=1)
    old = make_account(name="Old break")
    break_it(old, django_capture_on_commit_callbacks, at=broke_long_ago)
    recent = make_account(name="Recent break")
    break_it(recent, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):  # alerts go out after commit
        assert account_alert_reminders() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert account_alert_reminders() == 0  # hourly beat: still only one reminder
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Acme] Still broken: Reconnect Old break (Instagram)"
    assert "broken for 2 days" in mail.outbox[0].body


def test_no_reminder_for_accounts_fixed_meanwhile(
    admin, make_account, django_capture_on_commit_callbacks
):
    account = make_account()
    break_it(account, django_capture_on_commit_callbacks, at=timezone.now() - timedelta(days=3))
    account_status_apply(account=account, status=AccountStatus.ACTIVE, source="reconnect")
    mail.outbox.clear()
    assert account_alert_reminders() == 0


def test_each_admin_can_opt_out_for_themselves(
    as_admin, admin, workspace, make_account, django_capture_on_commit_callbacks
):
    colleague = make_user("dave")
    Membership.objects.create(user=colleague, workspace=workspace, role=Membership.Role.ADMIN)
    response = as_admin.post(
        reverse("accounts:alerts", args=[workspace.slug]), {"enabled": "0"}, follow=True
    )
    assert "no longer get emails" in response.content.decode()
    assert Membership.objects.get(user=admin).alert_accounts is False
    break_it(make_account(), django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [[colleague.email]]

    as_admin.post(reverse("accounts:alerts", args=[workspace.slug]), {"enabled": "1"})
    assert Membership.objects.get(user=admin).alert_accounts is True


def test_members_have_no_alert_switch(as_member, workspace):
    assert (
        as_member.post(
            reverse("accounts:alerts", args=[workspace.slug]), {"enabled": "1"}
        ).status_code
        == 403
    )


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


def test_a_sync_that_breaks_several_accounts_sends_each_admin_one_email_naming_them_all(
    as_admin, admin, api, workspace, make_account, django_capture_on_commit_callbacks
):
    colleague = make_user("dave")
    Membership.objects.create(user=colleague, workspace=workspace, role=Membership.Role.ADMIN)
    shops = [make_account(name=f"Shop {n}", scheduled_posts_at_risk=2) for n in range(3)]
    fine = make_account(name="Fine")
    api.get("/accounts").respond(
        json=accounts_body(
            *[
                account_json(a, status="reconnect_required", reconnect_reason=f"{a.name} expired")
                for a in shops
            ],
            account_json(fine),
        )
    )
    api.get("/posts").respond(json={"data": [], "pagination": {}})
    with django_capture_on_commit_callbacks(execute=True):
        health_sync(workspace=workspace)

    assert sorted(m.to[0] for m in mail.outbox) == sorted([admin.email, colleague.email])
    message = mail.outbox[0]
    assert message.subject == "[Acme] 3 accounts stopped working: Shop 0, Shop 1 and Shop 2"
    for shop in shops:
        assert f"- {shop.label} on Instagram" in message.body
        assert f"{shop.name} expired" in message.body
    assert "Fine" not in message.body
    link = "http://testserver/w/acme/accounts/?" + "&".join(f"account={a.pk}" for a in shops)
    assert f"Open these accounts: {link}" in message.body
    # still one alert record per account break (a later sync mails none of them again)
    assert AlertSent.objects.filter(kind="account_broken").count() == 3
    listed = as_admin.get(link.removeprefix("http://testserver")).context["page"].object_list
    assert sorted(a.pk for a in listed) == [a.pk for a in shops]


def test_error_events_that_break_several_accounts_send_one_email(
    admin, workspace, make_account, django_capture_on_commit_callbacks
):
    hour_ago = timezone.now() - timedelta(hours=1)
    first, second = (
        make_account(name=name, status_changed_at=hour_ago, last_checked_at=hour_ago)
        for name in ("Alpha", "Beta")
    )
    with django_capture_on_commit_callbacks(execute=True):
        error_events_record(
            workspace=workspace,
            events=[
                event(first, "account.reconnection_required", 403),
                event(second, "platform.instagram.auth", 401, request_id="req_2"),
            ],
        )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Acme] 2 accounts stopped working: Alpha and Beta"


def test_a_break_alert_the_mail_server_refused_goes_out_with_the_next_hourly_run(
    admin, make_account, settings, django_capture_on_commit_callbacks
):
    account = make_account(name="Demo Co")
    settings.EMAIL_BACKEND = "tests.accounts.test_alerts.RefusingBackend"
    break_it(account, django_capture_on_commit_callbacks, at=timezone.now() - timedelta(minutes=15))
    account.refresh_from_db()
    assert account.alerted_at is None and not AlertSent.objects.exists()  # claim given back

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert account_alert_reminders() == 1
    assert [m.subject for m in mail.outbox] == ["[Acme] Reconnect Demo Co (Instagram)"]
    account.refresh_from_db()
    assert account.alerted_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert account_alert_reminders() == 0  # the next hour: nothing more
    assert len(mail.outbox) == 1


def test_the_hourly_run_leaves_a_fresh_break_to_its_own_alert(
    admin, make_account, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.accounts.test_alerts.RefusingBackend"
    break_it(make_account(), django_capture_on_commit_callbacks)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert account_alert_reminders() == 0  # its own task may still be on its way
    assert mail.outbox == []


def test_reminders_for_several_accounts_of_a_workspace_are_one_email(
    admin, make_account, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - timedelta(days=3)
    for name in ("Old one", "Old two"):
        break_it(make_account(name=name), django_capture_on_commit_callbacks, at=long_ago)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert account_alert_reminders() == 2
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Acme] Still broken: 2 accounts (Old one and Old two)"
    assert "Old two on Instagram, broken for 3 days" in mail.outbox[0].body


def break_together(accounts, capture, **kwargs):
    with capture(execute=True), account_alerts_batched():
        for account in accounts:
            account_status_apply(
                account=account,
                status=AccountStatus.RECONNECT_REQUIRED,
                code="account.reconnection_required",
                reason="Expired.",
                source="sync",
                **kwargs,
            )


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Evil\r\nBcc: victim@example.com", "Evil Bcc: victim@example.com"),
        ("Evil\nBcc: victim@example.com", "Evil Bcc: victim@example.com"),
        ("Evil\u2028Bcc: victim@example.com", "Evil Bcc: victim@example.com"),
        ("Evil\tTab\x0bV", "Evil Tab V"),
    ],
)
def test_a_line_break_in_an_upstream_name_never_costs_anyone_their_alert(
    admin, make_account, django_capture_on_commit_callbacks, name, shown
):
    evil, good = make_account(name=name), make_account(name="Good")
    break_together([evil, good], django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == f"[Acme] 2 accounts stopped working: {shown} and Good"
    assert message.recipients() == [admin.email]  # no Bcc smuggled in
    assert "victim" not in str(message.message().get_all("Bcc"))
    assert AlertSent.objects.filter(kind="account_broken").count() == 2
    evil.refresh_from_db()
    good.refresh_from_db()
    assert evil.alerted_at is not None and good.alerted_at is not None


class PoisonBackend(locmem.EmailBackend):
    """Refuses any message naming one account (a message-level failure, not the server)."""

    def send_messages(self, messages):
        for message in messages:
            if "Poison" in message.body:
                raise ValueError("this message cannot be encoded")
        return super().send_messages(messages)


def test_a_mail_refused_for_one_accounts_data_still_alerts_the_others(
    admin, make_account, django_capture_on_commit_callbacks, settings, caplog
):
    settings.EMAIL_BACKEND = "tests.accounts.test_alerts.PoisonBackend"
    shops = [make_account(name=n) for n in ("Alpha", "Poison", "Gamma")]
    break_together(shops, django_capture_on_commit_callbacks)
    assert sorted(m.subject for m in mail.outbox) == [
        "[Acme] Reconnect Alpha (Instagram)",
        "[Acme] Reconnect Gamma (Instagram)",
    ]
    assert "alert for account" in caplog.text and "cannot be sent (ValueError)" in caplog.text
    # The bad one is settled, not retried (and failing again) every hour.
    with django_capture_on_commit_callbacks(execute=True):
        assert account_alert_reminders() == 0
    assert len(mail.outbox) == 2


def test_when_the_mail_server_is_down_the_batch_is_kept_whole_for_the_hourly_run(
    admin, make_account, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "tests.accounts.test_alerts.RefusingBackend"
    shops = [make_account(name=n) for n in ("Alpha", "Beta")]
    break_together(
        shops, django_capture_on_commit_callbacks, at=timezone.now() - timedelta(minutes=15)
    )
    assert not AlertSent.objects.exists()  # every claim given back, nothing split
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert account_alert_reminders() == 2
    assert [m.subject for m in mail.outbox] == ["[Acme] 2 accounts stopped working: Alpha and Beta"]
