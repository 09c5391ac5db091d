"""Alert emails: sent after commit, once per subject and period, retried after a failure."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.db import transaction

from dashboard import alerts
from dashboard.alerts import alert_send
from events.models import AlertSent

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


def test_a_mail_server_failure_gives_the_claim_back_so_a_later_run_sends_it(
    workspace, admin, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    with monkeypatch.context() as patch:
        patch.setattr(alerts, "send_mass_mail", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            assert send(workspace) is True  # queued for commit; the failure comes after

    assert mail.outbox == []
    assert not AlertSent.objects.exists()
    assert "not sent (SMTPServerDisconnected); a later run retries" in caplog.text

    with django_capture_on_commit_callbacks(execute=True):
        assert send(workspace) is True
    assert len(mail.outbox) == 1
    assert AlertSent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_sends_at_once_and_reports_a_failure(
    workspace, admin, monkeypatch
):
    assert send(workspace) is True
    assert len(mail.outbox) == 1

    monkeypatch.setattr(
        alerts, "send_mass_mail", lambda *a, **k: (_ for _ in ()).throw(OSError("refused"))
    )
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
    from django.core import mail

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
