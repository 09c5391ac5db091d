"""The Prometheus endpoint: off by default, opened only by its token and/or network, the
figures of each workspace from stored state in a constant number of queries, a counter
that never goes down, and the Celery queue's depth on both brokers."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import AccountStatus, SocialAccount
from dashboard import metrics
from dashboard.models import UsageSnapshot, Workspace
from dashboard.scheduling import SYNCS
from dashboard.tasks import workspace_syncs_dispatch
from events.models import ErrorGroup
from events.recording import EventInput, error_events_record
from events.retention import error_events_prune
from media.models import BulkDeletion, StorageSnapshot
from sandbox.checks import storage_figures
from sandbox.services import account_token_expire, sandbox_tenant_create
from socialapi import classify
from tests.conftest import SANDBOX_URL
from tests.dashboard.test_hardening import production_env, run
from tests.sandbox.conftest import account_make, media_make

pytestmark = pytest.mark.django_db

TOKEN = "metrics-" + "q7Zk" * 10
GB = 1024**3
REDIS_URL = "redis://127.0.0.1:6379/7"


def scrape(client: Client | None = None, token: str = TOKEN, **extra):
    return (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    assert response.status_code == 200, response.status_code
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, **labels: str):
    return found.get((name, tuple(sorted(labels.items()))))


def names(found) -> set[str]:
    return {name for name, _ in found}


@pytest.fixture
def enabled(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


@pytest.fixture
def broker_dir(settings, tmp_path: Path) -> Path:
    """A filesystem broker of the test's own (the shared var/broker/ may hold anything)."""
    queue = tmp_path / "queue"
    queue.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(tmp_path),
        "control_folder": str(tmp_path),
        "store_processed": False,
    }
    return queue


# --- who may scrape ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_is_off_by_default_and_looks_like_any_unknown_url(method, as_support, settings):
    assert not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_NETWORKS
    # The CSRF check never answers first (a 403 would tell the endpoint exists).
    for client in (Client(enforce_csrf_checks=True), as_support):
        response = getattr(client, method)("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 404


def test_it_answers_the_token_and_nothing_else(enabled, as_support):
    assert scrape().status_code == 200
    for response in (
        Client().get("/metrics"),
        scrape(token="metrics-wrong"),
        scrape(token=TOKEN[:-1]),
        scrape(token=TOKEN + "x"),
        Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}"),
        Client().get("/metrics", HTTP_AUTHORIZATION=TOKEN),
        # A session, even support staff's, is not a way in: it shows every workspace.
        as_support.get("/metrics"),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert response.content == b""


def test_the_scheme_is_case_insensitive_and_a_post_is_refused(enabled):
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_an_allowed_network_opens_it_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "2001:db8::/32"]
    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="2001:db8::7").get("/metrics").status_code == 200
    refused = Client(REMOTE_ADDR="192.0.2.1").get("/metrics")
    assert refused.status_code == 403 and refused.content == b""


def test_the_network_is_read_through_trusted_proxies_only(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    forged = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "10.0.0.5"}
    settings.TRUSTED_PROXY_COUNT = 0
    assert Client().get("/metrics", **forged).status_code == 403
    settings.TRUSTED_PROXY_COUNT = 1
    via_proxy = {"REMOTE_ADDR": "10.9.9.9", "HTTP_X_FORWARDED_FOR": "10.0.0.5"}
    assert Client().get("/metrics", **via_proxy).status_code == 200
    outside = {"REMOTE_ADDR": "10.9.9.9", "HTTP_X_FORWARDED_FOR": "10.0.0.5, 192.0.2.1"}
    assert Client().get("/metrics", **outside).status_code == 403


def test_with_both_set_a_scrape_needs_both(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert scrape(Client(REMOTE_ADDR="10.0.0.2")).status_code == 200
    assert scrape(Client(REMOTE_ADDR="192.0.2.1")).status_code == 403
    assert Client(REMOTE_ADDR="10.0.0.2").get("/metrics").status_code == 401


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,intranet"}, "'intranet' is not an address"),
        ({"METRICS_TOKEN": "short-token"}, "METRICS_TOKEN must be at least 32 characters"),
    ],
)
def test_bad_metrics_settings_stop_the_start(tmp_path, overrides, complaint):
    result = run(["manage.py", "check"], production_env(tmp_path, **overrides))
    assert result.returncode != 0
    assert complaint in result.stderr


# --- what it says ------------------------------------------------------------------------


@pytest.fixture
def seeded(workspace, other_workspace):
    """Acme: accounts, a 90 % full store, a month of usage, errors, a running deletion.
    Globex: unlimited plan, paused on billing, one error."""
    now = timezone.now()
    workspace.name = "Acme Confidential Brand"
    workspace.health_synced_at = now - timedelta(seconds=120)
    workspace.events_synced_at = now - timedelta(hours=2)
    workspace.save()
    other_workspace.paused_family = "billing"
    other_workspace.paused_at = now
    other_workspace.usage_synced_at = now - timedelta(minutes=10)
    other_workspace.save()
    for index, (platform, status) in enumerate(
        [
            ("instagram", AccountStatus.ACTIVE),
            ("instagram", AccountStatus.ACTIVE),
            ("instagram", AccountStatus.RECONNECT_REQUIRED),
            ("linkedin", AccountStatus.CREDENTIALS_INVALID),
        ]
    ):
        SocialAccount.objects.create(
            workspace=workspace,
            upstream_id=f"acc_secret_{index}",
            platform=platform,
            name=f"Private Person {index}",
            username=f"private_handle_{index}",
            status=status,
        )
    SocialAccount.objects.create(
        workspace=other_workspace, upstream_id="acc_g", platform="tiktok", status="active"
    )
    StorageSnapshot.objects.create(
        workspace=workspace, used_bytes=1 * GB, limit_bytes=10 * GB, taken_at=now - timedelta(1)
    )
    StorageSnapshot.objects.create(workspace=workspace, used_bytes=9 * GB, limit_bytes=10 * GB)
    StorageSnapshot.objects.create(workspace=other_workspace, used_bytes=5 * GB, limit_bytes=-1)
    period_end = now.replace(microsecond=0) + timedelta(days=12)
    UsageSnapshot.objects.create(
        workspace=workspace, taken_at=now - timedelta(hours=1), posts_used=1, posts_limit=10
    )
    UsageSnapshot.objects.create(
        workspace=workspace,
        posts_used=7,
        posts_limit=10,
        interactions_used=20,
        interactions_limit=50,
        brands_used=1,
        brands_limit=2,
        profile_units_used=4,
        profile_units_limit=15,
        period_end=period_end,
    )
    UsageSnapshot.objects.create(workspace=other_workspace, posts_used=300)
    record = [("account.reconnection_required", 403, "instagram")] * 3 + [
        ("system.internal", 500, "")
    ] * 2
    error_events_record(workspace=workspace, events=[_event(*r) for r in record])
    error_events_record(workspace=other_workspace, events=[_event("system.internal", 500, "")])
    ErrorGroup.objects.filter(workspace=workspace, family="server").update(state="resolved")
    BulkDeletion.objects.create(
        workspace=workspace,
        status="running",
        total_items=100,
        deleted_count=40,
        skipped_count=2,
        failed_count=1,
        heartbeat_at=now - timedelta(seconds=30),
    )
    BulkDeletion.objects.create(workspace=workspace, status="queued", total_items=10)
    BulkDeletion.objects.create(
        workspace=workspace, status="finished", total_items=500, deleted_count=500
    )
    BulkDeletion.objects.create(workspace=other_workspace, status="cancelled", total_items=3)
    return {"period_end": period_end}


def _event(code: str, status: int, platform: str, at=None) -> EventInput:
    found = classify(code, status, platform=platform or None)
    return EventInput(
        occurred_at=at or timezone.now(),
        source="ingest",
        code=found.code,
        family=str(found.family),
        http_status=status,
        raw_code=code,
        platform=found.platform or platform,
        endpoint="/posts",
        client_id=secrets.token_hex(8),
    )


def test_it_gives_each_workspace_its_own_figures(enabled, seeded, broker_dir):
    found = samples(scrape())
    acme, globex = {"workspace": "acme"}, {"workspace": "globex"}

    def accounts(platform, status, ws=acme):
        return value(found, "dashboard_accounts", platform=platform, status=status, **ws)

    assert accounts("instagram", "active") == 2
    assert accounts("instagram", "reconnect_required") == 1
    assert accounts("instagram", "credentials_invalid") == 0  # every status, zero or not
    assert accounts("linkedin", "credentials_invalid") == 1
    assert accounts("tiktok", "active", globex) == 1
    assert accounts("tiktok", "active") is None

    assert value(found, "dashboard_storage_used_bytes", **acme) == 9 * GB  # the latest figure
    assert value(found, "dashboard_storage_limit_bytes", **acme) == 10 * GB
    assert value(found, "dashboard_storage_used_bytes", **globex) == 5 * GB
    assert value(found, "dashboard_storage_limit_bytes", **globex) is None  # unlimited

    assert value(found, "dashboard_usage_used", resource="posts", **acme) == 7
    assert value(found, "dashboard_usage_limit", resource="posts", **acme) == 10
    assert value(found, "dashboard_usage_limit", resource="profile_units", **acme) == 15
    assert value(found, "dashboard_usage_used", resource="posts", **globex) == 300
    assert value(found, "dashboard_usage_limit", resource="posts", **globex) is None
    assert value(found, "dashboard_usage_period_end_timestamp_seconds", **acme) == (
        seeded["period_end"].timestamp()
    )

    assert value(found, "dashboard_error_groups_open", family="reconnect", **acme) == 1
    assert value(found, "dashboard_error_groups_open", family="server", **acme) == 0
    assert value(found, "dashboard_error_groups_open", family="server", **globex) == 1
    assert value(found, "dashboard_error_events_total", family="reconnect", **acme) == 3
    assert value(found, "dashboard_error_events_total", family="server", **acme) == 2
    assert value(found, "dashboard_error_events_total", family="billing", **acme) == 0

    assert value(found, "dashboard_bulk_deletions_active", **acme) == 2
    assert value(found, "dashboard_bulk_deletions_active", **globex) == 0
    for state, n in {"total": 110, "deleted": 40, "skipped": 2, "failed": 1}.items():
        assert value(found, "dashboard_bulk_deletion_items", state=state, **acme) == n
    assert value(found, "dashboard_bulk_deletion_items", state="total", **globex) is None
    heartbeat = value(found, "dashboard_bulk_deletion_heartbeat_age_seconds", **acme)
    assert heartbeat is not None and 30 <= heartbeat < 90

    health_age = value(found, "dashboard_sync_age_seconds", kind="health", **acme)
    assert health_age is not None and 120 <= health_age < 180
    assert value(found, "dashboard_sync_age_seconds", kind="storage", **acme) is None  # never
    assert value(found, "dashboard_sync_interval_seconds", kind="health", **acme) == 600
    # The watch takes the storage figure and reads the events log: both follow its interval.
    assert value(found, "dashboard_sync_interval_seconds", kind="events", **acme) == 20
    assert value(found, "dashboard_sync_interval_seconds", kind="storage", **acme) == 20
    # Paused on billing: only the usage sync (which lifts the pause) is expected to run.
    assert value(found, "dashboard_workspace_paused", family="billing", **globex) == 1
    assert value(found, "dashboard_workspace_paused", family="", **acme) == 0
    # The watch keeps running while paused, but only to ask users/me whether it is over.
    assert [
        kind
        for sync in SYNCS
        for kind in sync.kinds
        if value(found, "dashboard_sync_interval_seconds", kind=kind, **globex)
    ] == ["storage", "events", "usage"]
    assert value(found, "dashboard_workspace_configured", **acme) == 1

    assert value(found, "dashboard_celery_broker_up") == 1
    assert value(found, "dashboard_celery_queue_depth", queue="dashboard") == 0
    assert {"dashboard_build_info", "dashboard_scrape_duration_seconds"} <= names(found)


def test_it_names_no_person_account_or_secret(enabled, seeded, workspace, broker_dir):
    body = scrape().content.decode()
    workspace = Workspace.objects.get(pk=workspace.pk)
    for secret in (
        workspace.name,
        workspace.api_key,
        workspace.api_key_hint,
        "Private Person",
        "private_handle",
        "acc_secret",
        "alice",
        "@example.com",
        TOKEN,
    ):
        assert secret not in body


def test_a_workspace_without_an_api_key_expects_no_syncs(enabled, workspace, broker_dir):
    Workspace.objects.filter(pk=workspace.pk).update(api_key="")
    found = samples(scrape())
    assert value(found, "dashboard_workspace_configured", workspace="acme") == 0
    assert "dashboard_sync_interval_seconds" not in names(found)


def test_the_events_counter_never_goes_down_when_old_events_are_pruned(
    enabled, workspace, settings, broker_dir
):
    settings.ERROR_EVENT_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=29, hours=23)
    error_events_record(
        workspace=workspace,
        events=[
            _event("system.internal", 500, "", at=old - timedelta(seconds=i)) for i in range(4)
        ],
    )
    before = value(
        samples(scrape()), "dashboard_error_events_total", workspace="acme", family="server"
    )
    assert before == 4
    assert error_events_prune(now=timezone.now() + timedelta(days=2)) == 4
    error_events_record(workspace=workspace, events=[_event("system.internal", 500, "")])
    after = value(
        samples(scrape()), "dashboard_error_events_total", workspace="acme", family="server"
    )
    assert after == 5


def test_a_workspace_created_while_a_scrape_runs_waits_for_the_next_one(
    enabled, seeded, monkeypatch, broker_dir
):
    listed = metrics.metrics_workspaces
    monkeypatch.setattr(
        metrics, "metrics_workspaces", lambda: [ws for ws in listed() if ws.slug == "acme"]
    )
    found = samples(scrape())
    assert (
        value(found, "dashboard_accounts", workspace="acme", platform="instagram", status="active")
        == 2
    )
    assert not [labels for _, labels in found if ("workspace", "globex") in labels]


def _workspace_like_acme(slug: str) -> Workspace:
    ws = Workspace.objects.create(slug=slug, name=slug.title(), api_key="sapi_key_" + "ef" * 31)
    SocialAccount.objects.create(workspace=ws, upstream_id="acc_1", platform="x", status="active")
    StorageSnapshot.objects.create(workspace=ws, used_bytes=1, limit_bytes=10)
    UsageSnapshot.objects.create(workspace=ws, posts_used=1, posts_limit=10)
    error_events_record(workspace=ws, events=[_event("system.internal", 500, "")])
    BulkDeletion.objects.create(workspace=ws, status="running", total_items=5)
    return ws


def _scrape_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        assert scrape().status_code == 200
    return len(queries)


def test_a_scrape_costs_the_same_queries_for_one_workspace_or_three(
    enabled, broker_dir, django_assert_num_queries
):
    _workspace_like_acme("one")
    # workspaces, storage figures, usage figures, accounts, error groups, bulk deletions
    with django_assert_num_queries(6):
        assert scrape().status_code == 200
    _workspace_like_acme("two")
    _workspace_like_acme("three")
    assert _scrape_queries() == 6


# --- the Celery queue --------------------------------------------------------------------


def _publish(url: str, queue: str, n: int, transport_options=None, priority=None) -> None:
    with Connection(url, transport_options=transport_options or {}) as conn:
        simple = conn.SimpleQueue(queue)
        for index in range(n):
            simple.put({"n": index}, priority=priority)
        simple.close()


def test_it_counts_the_filesystem_queue(enabled, settings, broker_dir):
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    _publish("filesystem://", "dashboard", 3, options)
    _publish("filesystem://", "someone-else", 2, options)
    found = samples(scrape())
    assert value(found, "dashboard_celery_broker_up") == 1
    assert value(found, "dashboard_celery_queue_depth", queue="dashboard") == 3


def test_a_broker_that_cannot_be_read_is_down_and_the_scrape_still_answers(
    enabled, settings, tmp_path, workspace
):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}
    found = samples(scrape())
    assert value(found, "dashboard_celery_broker_up") == 0
    assert "dashboard_celery_queue_depth" not in names(found)
    assert value(found, "dashboard_workspace_configured", workspace="acme") == 1


def test_a_redis_nobody_answers_reads_as_down(enabled, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2-secret@127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = scrape()
    found = samples(response)
    assert value(found, "dashboard_celery_broker_up") == 0
    assert "dashboard_celery_queue_depth" not in names(found)
    assert b"hunter2" not in response.content


@pytest.fixture
def redis_db7():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    queue = f"metrics-test-{secrets.token_hex(4)}"
    yield queue
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)
    client.close()


def test_it_counts_the_redis_queue_with_its_priority_lists(enabled, settings, redis_db7):
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    settings.CELERY_TASK_DEFAULT_QUEUE = redis_db7
    _publish(REDIS_URL, redis_db7, 2)
    _publish(REDIS_URL, redis_db7, 3, priority=9)
    _publish(REDIS_URL, f"{redis_db7}-other", 4)
    found = samples(scrape())
    assert value(found, "dashboard_celery_broker_up") == 1
    assert value(found, "dashboard_celery_queue_depth", queue=redis_db7) == 5


# --- end to end ----------------------------------------------------------------------------


def test_it_reports_what_the_syncs_stored_from_the_sandbox(
    enabled, workspace, in_process_sandbox, broker_dir, django_capture_on_commit_callbacks
):
    tenant = sandbox_tenant_create(name="Metrics Sandbox")
    account_make(tenant, "instagram")
    broken = account_make(tenant, "facebook")
    media_make(tenant, 3, size=250_000)
    account_token_expire(tenant=tenant, account_id=broken.id)
    workspace.base_url = SANDBOX_URL
    workspace.api_key = tenant.api_key
    workspace.save()

    current_app.loader.import_default_modules()  # autodiscovery: every app's tasks.py
    # Run inline by the eager test worker. The watch finds the broken token in the events
    # log and runs the health sync itself, so the dispatcher may not need to: every kind
    # must have succeeded either way (checked below).
    with django_capture_on_commit_callbacks(execute=True):
        assert workspace_syncs_dispatch() >= len(SYNCS) - 1

    found = samples(scrape())
    acme = {"workspace": "acme"}
    assert value(found, "dashboard_accounts", platform="instagram", status="active", **acme) == 1
    assert (
        value(found, "dashboard_accounts", platform="facebook", status="reconnect_required", **acme)
        == 1
    )
    used, _ = storage_figures(tenant)
    assert used == 750_000
    assert value(found, "dashboard_storage_used_bytes", **acme) == used
    assert value(found, "dashboard_storage_limit_bytes", **acme) == tenant.storage_limit_bytes
    assert value(found, "dashboard_usage_limit", resource="posts", **acme) == tenant.posts_limit
    assert value(found, "dashboard_usage_period_end_timestamp_seconds", **acme) == pytest.approx(
        tenant.period_end.timestamp(), abs=1
    )
    # The failed publish the broken token caused came in through the events log.
    assert value(found, "dashboard_error_events_total", family="reconnect", **acme) >= 1
    assert value(found, "dashboard_error_groups_open", family="reconnect", **acme) >= 1
    for kind in (kind for sync in SYNCS for kind in sync.kinds):
        age = value(found, "dashboard_sync_age_seconds", kind=kind, **acme)
        assert age is not None and age < 60, kind


# --- the README ------------------------------------------------------------------------------


def _readme_section() -> str:
    text = (Path(django_settings.BASE_DIR) / "README.md").read_text()
    section = text[text.index("## Monitoring with Prometheus") :]
    return section[: section.index("\n## ", 1)]


def _readme_rules() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", _readme_section(), re.S)
    rules = [str(block) for block in blocks if block.startswith("groups:")]
    assert len(rules) == 1, "the README's Monitoring section has one block of alert rules"
    return rules[0]


def test_the_readme_lists_every_metric_and_its_rules_use_only_those(enabled, seeded, broker_dir):
    response = scrape()
    families = {family.name for family in text_string_to_metric_families(response.text)}
    exposed = {name for name, _ in samples(response)}
    documented = set(
        re.findall(
            r"^\| `(dashboard_[a-z_]+)`(?: / `(dashboard_[a-z_]+)`)?", _readme_section(), re.M
        )
    )
    documented_names = {name for pair in documented for name in pair if name}
    # Counters are documented by their sample name (`…_total`), the rest by family name.
    assert documented_names == {name for name in exposed if name.endswith("_total")} | {
        family for family in families if f"{family}_total" not in exposed
    }
    used = set(re.findall(r"\bdashboard_[a-z_]+", _readme_rules()))
    assert used and used <= exposed


def test_the_readme_alert_rules_load_in_prometheus(tmp_path, enabled, seeded, broker_dir):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    rules = tmp_path / "rules.yml"
    rules.write_text(_readme_rules())
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    linted = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape().text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
