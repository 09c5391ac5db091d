"""Alert emails: sent after commit, once per subject and period, retried after a failure."""

from __future__ import annotations

import smtplib
from email import message_from_bytes

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from dashboard.alerts import alert_send, header_text
from dashboard.models import Membership, Workspace
from events.models import AlertSent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def send(workspace, period="2026-05"):
    return alert_send(
        workspace=workspace,
        kind="storage_80",
        subject_key="storage",
        period_key=period,
        subject="Storage is 82 % full",
        template="events/email/storage_alert.txt",
        context={"percent": 82, "full": False, "used": 82, "limit": 100, "free": 18, "url": "u"},
    )


class Rollback(Exception):
    pass


def test_the_mail_goes_only_once_the_transaction_commits(
    workspace, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        assert send(workspace) is True
        assert mail.outbox == []  # the caller's transaction has not committed yet

    for callback in callbacks:
        callback()
    assert [m.subject for m in mail.outbox] == ["[Acme] Storage is 82 % full"]
    assert mail.outbox[0].to == ["alice@example.com"]


def test_a_rolled_back_transaction_sends_nothing_and_claims_nothing(
    workspace, admin, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        send(workspace)
        raise Rollback

    assert callbacks == []
    assert mail.outbox == []
    assert not AlertSent.objects.exists()


class DisconnectedBackend(BaseEmailBackend):
    """A mail server that hangs up."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("gone")


DISCONNECTED = "tests.dashboard.test_alert_sending.DisconnectedBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def test_a_mail_server_failure_gives_the_claim_back_so_a_later_run_sends_it(
    workspace, admin, django_capture_on_commit_callbacks, settings, caplog
):
    settings.EMAIL_BACKEND = DISCONNECTED
    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is True  # queued for commit; the failure comes after
    settings.EMAIL_BACKEND = LOCMEM

    assert mail.outbox == []
    assert not AlertSent.objects.exists()
    assert "not sent (SMTPServerDisconnected); a later run retries" in caplog.text

    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is True
    assert len(mail.outbox) == 1
    assert AlertSent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_sends_at_once_and_reports_a_failure(workspace, admin, settings):
    assert send(workspace) is True
    assert len(mail.outbox) == 1

    settings.EMAIL_BACKEND = DISCONNECTED
    assert send(workspace, period="2026-06") is False
    assert list(AlertSent.objects.values_list("period_key", flat=True)) == ["2026-05"]


def test_it_is_sent_once_per_subject_and_period(
    workspace, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is True
        assert send(workspace) is False
        assert send(workspace, period="2026-06") is True

    assert len(mail.outbox) == 2


def test_an_alert_another_worker_claimed_is_not_sent_again(
    workspace, admin, django_capture_on_commit_callbacks
):
    AlertSent.objects.create(
        workspace=workspace, kind="storage_80", subject_key="storage", period_key="2026-05"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is False

    assert mail.outbox == []


def test_alert_mails_link_to_the_persons_own_alert_settings(
    admin, workspace, django_capture_on_commit_callbacks
):
    from dashboard.alerts import alert_preferences_url
    from events.alerts import storage_alerts_check
    from media.models import StorageSnapshot

    url = alert_preferences_url(workspace)
    assert url.endswith(f"/w/{workspace.slug}/settings/#alerts")
    StorageSnapshot.objects.create(workspace=workspace, used_bytes=90, limit_bytes=100)
    with django_capture_on_commit_callbacks(execute=True):
        storage_alerts_check(workspace=workspace)
    assert len(mail.outbox) == 1
    assert url in mail.outbox[0].body


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Evil\r\nBcc: victim@example.com", "Evil Bcc: victim@example.com"),
        ("Line\u2028separator\u2029paragraph", "Line separator paragraph"),
        ("Tab\tand\x0bvertical\x0cfeed", "Tab and vertical feed"),
        ("C1\x85next line\x9fend", "C1 next line end"),
        ("  spaces \n\n  around  ", "spaces around"),
        ("Café 🚀 ✓", "Café 🚀 ✓"),
    ],
)
def test_header_text_keeps_a_name_on_one_clean_line(raw, clean):
    assert header_text(raw) == clean


def test_header_text_cuts_a_huge_name():
    text = header_text("x" * 10_000)
    assert len(text) == 200 and text.endswith("…")


@given(st.text())
def test_any_text_makes_a_subject_django_can_send_as_one_header(text):
    message = EmailMessage(
        f"[Acme] {header_text(text)}", "body", "from@example.com", ["to@example.com"]
    ).message()  # raises BadHeaderError for a line break
    parsed = message_from_bytes(message.as_bytes())
    assert [name for name in parsed if name.lower() == "subject"] == ["Subject"]
    assert parsed.get_all("Bcc") is None and parsed.get_all("Cc") is None


def test_a_workspace_name_with_a_line_break_still_gets_its_alert(
    workspace, admin, django_capture_on_commit_callbacks
):
    Workspace.objects.filter(pk=workspace.pk).update(name="Acme\r\nBcc: victim@example.com")
    workspace.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is True
    assert [m.subject for m in mail.outbox] == [
        "[Acme Bcc: victim@example.com] Storage is 82 % full"
    ]
    assert mail.outbox[0].recipients() == ["alice@example.com"]
    assert AlertSent.objects.count() == 1


class OneAddressRefusedBackend(locmem.EmailBackend):
    """A mail server that refuses one recipient and takes the others."""

    def send_messages(self, messages):
        for message in messages:
            if "bounce@example.com" in message.to:
                raise smtplib.SMTPRecipientsRefused({"bounce@example.com": (550, b"no such user")})
        return super().send_messages(messages)


def test_one_refused_admin_address_never_stops_the_others(
    workspace, admin, django_capture_on_commit_callbacks, settings, caplog
):
    bounce = make_user("bounce", email="bounce@example.com")  # first in the recipient list
    Membership.objects.create(user=bounce, workspace=workspace, role=Membership.Role.ADMIN)
    settings.EMAIL_BACKEND = "tests.dashboard.test_alert_sending.OneAddressRefusedBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is True
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert AlertSent.objects.count() == 1  # sent: no second mail to alice in an hour
    assert "not sent to 1 of 2 admins (SMTPRecipientsRefused)" in caplog.text
