"""The encryption keys changed under the stored secrets: pages keep working and say why,
actions explain instead of failing, webhooks are refused so upstream retries, nothing is lost.

The walk takes its URLs from the resolver (tests/dashboard/url_matrix.py): a new page is
covered the moment it is routed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import SocialAccount, WebhookDelivery
from dashboard.crypto import SecretDecryptionError
from dashboard.models import Workspace
from media.models import BulkDeletion, BulkDeletionItem
from socialapi import sign_v2
from tests.dashboard.url_matrix import Sample, all_routes, build_url, registry

pytestmark = pytest.mark.django_db

REGISTRY = registry()
ROUTES = [
    route
    for route in all_routes()
    if route.namespace not in REGISTRY.excluded_namespaces
    and route.namespace != "sandbox"
    and route.name != "logout"  # would end the walk's session
]
LOST_KEY = Fernet.generate_key().decode()
WEBHOOK_SECRET = "whsec_" + "42" * 20
BANNER = "Stored secrets cannot be decrypted"
EXPLAINED = "cannot be decrypted: the encryption keys changed"
PUBLIC_PAGE = "cannot use this workspace's stored SocialAPI credentials"


@pytest.fixture
def keys_changed(workspace: Workspace, settings: Any) -> Workspace:
    """Secrets stored with one key, then the server restarted with another."""
    settings.FIELD_ENCRYPTION_KEYS = [LOST_KEY]
    workspace.api_key = "sapi_key_" + "9f" * 31
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return workspace


def raw(column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM dashboard_workspace WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def _problem(route_name: str, method: str, response: Any, client: Client) -> str | None:
    """What is wrong with one answer, or None."""
    status = response.status_code
    content = b"".join(response.streaming_content) if response.streaming else response.content
    body = content.decode(errors="replace")
    if status == 503 and "text/html" in response.get("Content-Type", ""):
        return None if PUBLIC_PAGE in body or EXPLAINED in body else "a 503 page without why"
    if status >= 500:
        return f"answered {status}"
    if status in (301, 302, 303):
        location = response["Location"]
        if not location.startswith("/w/acme/"):
            return None
        page = client.get(location)
        if page.status_code >= 500:
            return f"redirected to {location}, which answered {page.status_code}"
        text = page.content.decode(errors="replace")
        if page.status_code == 200 and "text/html" in page["Content-Type"] and BANNER not in text:
            return f"redirected to {location}, which does not say the secrets are unreadable"
        return None
    full_page = "text/html" in response.get("Content-Type", "") and "<main" in body
    if status == 200 and full_page and route_name not in _OUTSIDE_WORKSPACE and BANNER not in body:
        return "a workspace page that does not say the secrets are unreadable"
    return None


# Routes whose pages are not about one workspace: nothing to explain there.
_OUTSIDE_WORKSPACE = {
    route.name for route in ROUTES if "workspace_slug" not in route.kwargs or route.access is None
}


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_every_url_works_and_explains_when_the_stored_secrets_cannot_be_decrypted(
    route,
    keys_changed,
    other_workspace,
    admin,
    member,
    outsider,
    support,
    fake_upstream,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # A call that gets as far as upstream finds it down: this is about the secrets.
    fake_upstream.otherwise = (503, {"error": {"code": "system.internal", "message": "down"}})
    cast = {
        "workspace": keys_changed,
        "other_workspace": other_workspace,
        "admin": admin,
        "member": member,
        "outsider": outsider,
        "support": support,
    }
    client = Client(raise_request_exception=False)
    client.force_login(support if route.access == "staff" else admin)
    problems = []
    for method in ("GET", "POST"):
        savepoint = transaction.savepoint()
        try:
            url = build_url(route, REGISTRY, Sample(keys_changed, cast))
            with django_capture_on_commit_callbacks(execute=True):
                response = client.get(url) if method == "GET" else client.post(url, {})
            problem = _problem(route.name, method, response, client)
            if problem:
                problems.append(f"{method} {url}: {problem}")
        finally:
            transaction.savepoint_rollback(savepoint)
    assert not problems, "\n".join(problems)


def test_the_overview_shows_the_banner_with_what_to_do(as_member, keys_changed):
    page = as_member.get(reverse("overview", args=[keys_changed.slug])).content.decode()
    assert BANNER in page
    assert "FIELD_ENCRYPTION_KEYS" in page and "README" in page


def test_no_banner_while_the_keys_read_the_secrets(as_admin, workspace):
    page = as_admin.get(reverse("overview", args=[workspace.slug])).content.decode()
    assert BANNER not in page


def test_an_action_that_needs_the_key_goes_back_with_the_explanation(
    as_admin, keys_changed, make_account
):
    account = make_account()
    detail = reverse("accounts:detail", args=[keys_changed.slug, account.pk])
    response = as_admin.post(
        reverse("accounts:reconnect", args=[keys_changed.slug, account.pk]),
        HTTP_REFERER=f"http://testserver{detail}",
    )
    assert response.status_code == 302
    assert response["Location"] == f"http://testserver{detail}"
    page = as_admin.get(detail).content.decode()
    assert EXPLAINED in page  # the message, under the banner


def test_an_htmx_action_reloads_the_page_to_show_the_explanation(
    as_admin, keys_changed, make_account
):
    account = make_account()
    response = as_admin.post(
        reverse("accounts:disconnect", args=[keys_changed.slug, account.pk]),
        {"next": f"/w/{keys_changed.slug}/accounts/"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/w/{keys_changed.slug}/accounts/"
    assert SocialAccount.objects.filter(pk=account.pk).exists()  # nothing was changed


def test_an_action_never_goes_back_to_another_site(as_admin, keys_changed, make_account):
    account = make_account()
    response = as_admin.post(
        reverse("accounts:reconnect", args=[keys_changed.slug, account.pk]),
        {"next": "//evil.example/"},
        HTTP_REFERER="https://evil.example/phish",
    )
    assert response["Location"] == reverse("overview", args=[keys_changed.slug])


def test_check_now_ends_with_the_reason_instead_of_polling_forever(
    as_admin, keys_changed, make_account, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = make_account()
    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(reverse("accounts:check", args=[keys_changed.slug, account.pk]))
    account.refresh_from_db()
    assert account.check_requested_at is None
    assert account.check_error == "stored secrets cannot be decrypted"


def test_a_bulk_deletion_stops_and_keeps_its_files_for_a_retry(keys_changed):
    from media.deletion_runner import bulk_deletion_run

    job = BulkDeletion.objects.create(workspace=keys_changed, description="old files")
    BulkDeletionItem.objects.create(job=job, media_upstream_id="med_1", filename="a.png")
    result = bulk_deletion_run(job_id=job.pk)
    job.refresh_from_db()
    assert result.outcome == "stopped"
    assert job.status == BulkDeletion.Status.STOPPED
    assert job.stop_code == "secrets_unreadable"
    assert "cannot be decrypted" in job.stop_reason
    assert BulkDeletionItem.objects.get(job=job).state == BulkDeletionItem.State.PENDING


def _deliver(client: Client, workspace: Workspace, delivery: str) -> Any:
    body = json.dumps({"event": "account.disconnected", "data": {"account_id": "acc_x"}}).encode()
    stamp = str(int(time.time()))
    return client.post(
        reverse("webhook_receive", args=[workspace.slug]),
        data=body,
        content_type="application/json",
        HTTP_X_SOCIALAPI_DELIVERY=delivery,
        HTTP_X_SOCIALAPI_SIGNATURE_V2=sign_v2(WEBHOOK_SECRET, body, stamp),
        HTTP_X_SOCIALAPI_TIMESTAMP=stamp,
    )


def test_the_webhook_receiver_asks_for_a_retry_and_takes_the_retry_once_the_key_is_back(
    client, keys_changed, settings
):
    response = _deliver(client, keys_changed, "dlv_keys")
    assert response.status_code == 503  # not 2xx: SocialAPI delivers it again later
    assert response.json() == {"ok": False, "error": "secret_unreadable"}
    kept = WebhookDelivery.objects.get(workspace=keys_changed)
    assert kept.signature == "rejected" and kept.outcome == "rejected: secret_unreadable"

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), LOST_KEY]  # key restored
    retried = _deliver(client, keys_changed, "dlv_keys")
    assert retried.status_code == 200, retried.content
    accepted = WebhookDelivery.objects.exclude(signature="rejected").get(delivery_id="dlv_keys")
    assert accepted.event == "account.disconnected"


def test_saving_a_workspace_keeps_a_secret_it_cannot_read(keys_changed, settings):
    before = raw("api_key", keys_changed.pk)
    loaded = Workspace._base_manager.get(pk=keys_changed.pk)  # every column, secrets included
    loaded.health_sync_minutes = 30
    loaded.save()
    assert raw("api_key", keys_changed.pk) == before
    with pytest.raises(SecretDecryptionError):
        _ = loaded.api_key
    settings.FIELD_ENCRYPTION_KEYS = [LOST_KEY]
    assert Workspace.objects.get(pk=keys_changed.pk).api_key == "sapi_key_" + "9f" * 31


def test_loading_through_a_relation_never_decrypts(keys_changed, make_account):
    account = make_account()
    loaded = SocialAccount.objects.select_related("workspace").get(pk=account.pk)
    assert loaded.workspace.name == keys_changed.name
    assert loaded.workspace.secrets_unreadable


@pytest.fixture
def make_account(keys_changed: Workspace) -> Any:
    def make() -> SocialAccount:
        return SocialAccount.objects.create(
            workspace=keys_changed,
            upstream_id="acc_keys_1",
            platform="instagram",
            name="Keys account",
            brand_id="brand_1",
            status="reconnect_required",
        )

    return make
