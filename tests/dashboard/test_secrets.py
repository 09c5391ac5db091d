"""Secrets at rest: encrypted columns, key rotation, loud decryption failures, no leaks."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from dashboard import crypto
from dashboard.models import Workspace
from tests.dashboard.conftest import users_me

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
API_KEY = "sapi_key_" + "5e" * 31
WEBHOOK_SECRET = "whsec_" + "77" * 20


def raw(column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM dashboard_workspace WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def make_workspace(slug="vault", **secrets):
    return Workspace.objects.create(slug=slug, name=slug.title(), **secrets)


def test_the_database_column_never_holds_the_plaintext(db):
    ws = make_workspace(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    for column, secret in (("api_key", API_KEY), ("webhook_secret", WEBHOOK_SECRET)):
        stored = raw(column, ws.pk)
        assert secret not in stored
        assert secret[-8:] not in stored
        assert stored.startswith("gAAAA")  # a Fernet token
        assert crypto.decrypt(stored) == secret
    assert Workspace.objects.get(pk=ws.pk).api_key == API_KEY


def test_saving_a_key_through_the_settings_page_stores_ciphertext(
    as_admin, workspace, fake_upstream
):
    fake_upstream.on("GET", "/users/me", 200, users_me())
    as_admin.post(
        reverse("settings_connection", args=[workspace.slug]),
        {"api_key": API_KEY, "base_url": workspace.base_url, "dialect": "current"},
    )
    assert API_KEY not in raw("api_key", workspace.pk)
    assert Workspace.objects.get(pk=workspace.pk).api_key == API_KEY


def test_every_key_in_the_list_decrypts_and_the_first_encrypts(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    ws = make_workspace(api_key=API_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert Workspace.objects.get(pk=ws.pk).api_key == API_KEY
    other = make_workspace(slug="fresh", api_key=API_KEY)
    Fernet(NEW_KEY.encode()).decrypt(raw("api_key", other.pk).encode())  # no InvalidToken


def test_a_secret_that_no_key_decrypts_raises_instead_of_returning_ciphertext(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    ws = make_workspace(api_key=API_KEY, api_key_hint=API_KEY[-4:])
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    loaded = Workspace.objects.get(pk=ws.pk)  # pages that never read the secret still work
    assert loaded.name == "Vault"
    with pytest.raises(crypto.SecretDecryptionError):
        _ = loaded.api_key
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt("not-a-fernet-token")
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(raw("api_key", ws.pk)[:-5])


def test_the_settings_page_tells_the_admin_a_saved_secret_is_unreadable(
    as_admin, workspace, settings
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the fixture's key was encrypted with the dev key
    response = as_admin.get(reverse("settings", args=[workspace.slug]))
    assert response.status_code == 200
    assert "cannot be decrypted" in response.content.decode()


def test_a_new_key_can_be_saved_over_an_unreadable_one(
    as_admin, workspace, settings, fake_upstream
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    fake_upstream.on("GET", "/users/me", 200, users_me())
    response = as_admin.post(
        reverse("settings_connection", args=[workspace.slug]),
        {"api_key": API_KEY, "base_url": workspace.base_url, "dialect": "current"},
    )
    assert response.status_code == 302
    assert Workspace.objects.get(pk=workspace.pk).api_key == API_KEY


def test_rotation_re_encrypts_every_secret_with_the_first_key(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    rows = [
        make_workspace(
            slug=f"ws{i}", api_key=f"{API_KEY[:-2]}{i:02d}", webhook_secret=WEBHOOK_SECRET
        )
        for i in range(5)
    ]
    make_workspace(slug="empty")  # blank secrets stay blank
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    out = StringIO()
    call_command("secrets_rotate", batch_size=2, stdout=out)

    assert "dashboard.Workspace.api_key: 5 rotated, 0 already current" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key can now be removed
    for index, ws in enumerate(rows):
        fresh = Workspace.objects.get(pk=ws.pk)
        assert fresh.api_key == f"{API_KEY[:-2]}{index:02d}"
        assert fresh.webhook_secret == WEBHOOK_SECRET
    assert raw("api_key", Workspace.objects.get(slug="empty").pk) == ""


def test_rotation_is_idempotent(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    ws = make_workspace(api_key=API_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("secrets_rotate", stdout=StringIO())
    after_first = raw("api_key", ws.pk)
    out = StringIO()
    call_command("secrets_rotate", stdout=out)
    assert "0 secrets re-encrypted; 1 already used the first key" in out.getvalue()
    assert raw("api_key", ws.pk) == after_first


def test_a_dry_run_changes_nothing(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    ws = make_workspace(api_key=API_KEY)
    before = raw("api_key", ws.pk)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    out = StringIO()
    call_command("secrets_rotate", dry_run=True, stdout=out)
    assert "1 secrets would be re-encrypted" in out.getvalue()
    assert raw("api_key", ws.pk) == before


def test_rotation_reports_undecryptable_rows_and_still_rotates_the_others(db, settings):
    lost = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [lost]
    broken = make_workspace(slug="broken", api_key=API_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    fine = make_workspace(slug="fine", api_key=API_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    broken_before = raw("api_key", broken.pk)

    err = StringIO()
    with pytest.raises(CommandError, match="1 secrets cannot be decrypted"):
        call_command("secrets_rotate", stdout=StringIO(), stderr=err)

    assert f"row {broken.pk}" in err.getvalue()
    assert raw("api_key", broken.pk) == broken_before
    assert crypto.encrypted_with_first_key(raw("api_key", fine.pk))


def test_rotation_never_overwrites_a_secret_the_app_changed_meanwhile(db, settings, monkeypatch):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    ws = make_workspace(api_key=API_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    replacement = "sapi_key_" + "99" * 31
    from dashboard.management.commands import secrets_rotate

    real_rotate = secrets_rotate.rotate

    def rotate_while_an_admin_saves(ciphertext):
        Workspace.objects.filter(pk=ws.pk).update(api_key=replacement)  # the settings page, mid-run
        return real_rotate(ciphertext)

    monkeypatch.setattr(secrets_rotate, "rotate", rotate_while_an_admin_saves)
    call_command("secrets_rotate", stdout=StringIO())
    assert Workspace.objects.get(pk=ws.pk).api_key == replacement


def test_a_malformed_encryption_key_fails_the_system_check(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, "not-a-fernet-key"]
    errors = crypto.encryption_keys_check()
    assert [e.id for e in errors] == ["dashboard.E001"]
    assert "entry 2" in errors[0].msg
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert crypto.encryption_keys_check() == []


def test_secrets_never_reach_logs_task_arguments_or_pages(
    as_admin, workspace, fake_upstream, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    from celery.app.task import Task

    enqueued: list[tuple] = []
    monkeypatch.setattr(
        Task,
        "apply_async",
        lambda self, args=None, kwargs=None, **o: enqueued.append((self.name, args, kwargs)),
    )
    fake_upstream.on("GET", "/users/me", 200, users_me())
    fake_upstream.on("GET", "/webhooks", 200, {"count": 0, "data": []})
    fake_upstream.on(
        "POST", "/webhooks", 201, {"id": "wh_1", "url": "x", "events": [], "secret": WEBHOOK_SECRET}
    )
    caplog.set_level(logging.DEBUG)
    slug = workspace.slug

    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(
            reverse("settings_connection", args=[slug]),
            {"api_key": API_KEY, "base_url": workspace.base_url, "dialect": "current"},
        )
        as_admin.post(reverse("settings_webhook_register", args=[slug]))
        token_page = as_admin.post(reverse("settings_ingest_token", args=[slug])).content.decode()
        # A rejected key goes through the error path and its logging too.
        fake_upstream.on(
            "GET",
            "/users/me",
            401,
            {"error": {"code": "auth.invalid_key", "message": f"bad {API_KEY}x"}},
        )
        as_admin.post(
            reverse("settings_connection", args=[slug]),
            {"api_key": API_KEY + "x", "base_url": workspace.base_url, "dialect": "current"},
        )
    token = token_page.split('id="revealed-value"', 1)[1].split('value="', 1)[1].split('"', 1)[0]

    secrets = [API_KEY, WEBHOOK_SECRET, token]
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in repr(enqueued)
    pages = [
        as_admin.get(reverse(name, args=[slug])).content.decode()
        for name in ("settings", "audit", "overview")
    ]
    for page in pages:
        for secret in secrets:
            assert secret not in page
    from dashboard.models import AuditEvent

    for entry in AuditEvent.objects.all():
        for secret in secrets:
            assert secret not in str(entry.detail) + entry.target_label
