"""Page speed at scale: server time of the list pages vs the Django admin, and banners.

One command (PostgreSQL must be running; the bench database is created and seeded on the
first run, then reused — `--reseed` starts over):

    .venv/bin/python bench/pages.py
    .venv/bin/python bench/pages.py --database-url postgres://postgres@127.0.0.1:5432/socialapi_bench

Seeds one workspace with 10,000 accounts, 200,000 media rows and 1,000,000 error events
(180 days, ~300 groups, per-day counts, affected accounts) plus a year of storage and
usage figures; then requests each page in-process (full middleware, session, templates;
no network) and prints p50 / p95 server time, queries per request, the Django admin
changelist over the same rows and the ratio. Then times the banner computation and
EXPLAINs its one query: the plan as PostgreSQL chooses it, and with sequential scans
disabled, which fails if any table in it has no usable index.

Targets (quality.md): p95 ≤ 50 ms per page, no slower than the admin (ratio ≤ 1.0),
banners ≤ 5 ms with no sequential scan.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/socialapi_bench"
ACCOUNTS, MEDIA, EVENTS = 10_000, 200_000, 1_000_000
PLATFORMS = (
    "instagram",
    "facebook",
    "tiktok",
    "linkedin",
    "youtube",
    "threads",
    "twitter",
    "telegram",
)
# (raw code, normalised code, family, HTTP status, message, share of events)
KINDS = (
    (
        "platform.{p}.rate_limit",
        "platform.rate_limit",
        "platform_throttle",
        429,
        "{P} is rate limiting requests.",
        30,
    ),
    (
        "account.reconnection_required",
        "account.reconnection_required",
        "reconnect",
        403,
        "Token expired.",
        15,
    ),
    ("system.internal", "system.internal", "server", 500, "Internal server error.", 12),
    (
        "validation.field_required",
        "validation.field_required",
        "validation",
        400,
        "text is required",
        12,
    ),
    (
        "billing.storage_quota",
        "billing.storage_quota",
        "storage_quota",
        413,
        "Upload would exceed storage.",
        8,
    ),
    (
        "billing.post_limit",
        "billing.post_limit",
        "monthly_limit",
        429,
        "Monthly post limit reached.",
        8,
    ),
    ("media.not_found", "media.not_found", "not_found", 404, "Media not found.", 8),
    ("resource.not_supported", "resource.not_supported", "not_supported", 501, "Not supported.", 7),
)
ENDPOINTS = ("/posts", "/accounts/{id}/limits", "/media/upload", "/media/{id}", "/accounts")


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ["DEBUG"] = "false"
    os.environ["SANDBOX_ENABLED"] = "false"
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="pages-bench-")
    os.environ.pop("PYTEST_VERSION", None)
    import django

    django.setup()


def database_ensure(database_url: str, *, reseed: bool) -> None:
    import httpx
    import psycopg

    url = httpx.URL(database_url)
    name = url.path.lstrip("/")
    with psycopg.connect(str(url.copy_with(path="/postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reseed:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def say(text: str) -> None:
    print(text, flush=True)


# --- seeding ---------------------------------------------------------------------------


def seed() -> None:
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from psycopg.types.json import Jsonb

    from accounts.models import AccountStatus, SocialAccount
    from dashboard.models import Membership, UsageSnapshot, Workspace
    from events.models import ErrorEvent, ErrorGroup, EventSyncState
    from events.recording import fingerprint
    from media.models import MediaItem, StorageSnapshot

    rng = random.Random(2026)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with transaction.atomic():
        workspace = Workspace.objects.create(
            slug="bench",
            name="Bench Co",
            plan="free",
            api_key_hint="beef",
            api_key_saved_at=now - timedelta(days=400),
        )
        # The rest of the deployment: many small workspaces, as in production, so table
        # statistics (and the planner's choices) look like a real installation's.
        others = Workspace.objects.bulk_create(
            [Workspace(slug=f"tenant-{i:03d}", name=f"Tenant {i:03d}") for i in range(499)]
        )
        user = User.objects.create_superuser("bench", "bench@example.com", "bench")
        Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.ADMIN)
        statuses = (
            [AccountStatus.ACTIVE] * 96
            + [AccountStatus.RECONNECT_REQUIRED] * 2
            + [
                AccountStatus.CREDENTIALS_INVALID,
                AccountStatus.UNKNOWN,
            ]
        )
        SocialAccount.objects.bulk_create(
            [
                SocialAccount(
                    workspace=workspace,
                    upstream_id=f"acc_{i:06d}",
                    platform=PLATFORMS[i % len(PLATFORMS)],
                    name=f"Account {i:05d}",
                    username=f"account{i:05d}",
                    brand_id=f"b_{i % 40:03d}",
                    status=rng.choice(statuses),
                    status_changed_at=now - timedelta(hours=rng.randrange(24 * 90)),
                    last_checked_at=now - timedelta(minutes=rng.randrange(600)),
                )
                for i in range(ACCOUNTS)
            ],
            batch_size=2000,
        )
    say(f"  {ACCOUNTS:,} accounts")
    types = ("image/jpeg", "image/png", "video/mp4", "image/gif", "application/pdf")
    for start in range(0, MEDIA, 10_000):
        MediaItem.objects.bulk_create(
            [
                MediaItem(
                    workspace=workspace,
                    upstream_id=f"{i:08x}-0000-4000-8000-{i:012x}",
                    filename=f"file-{i:06d}.{rng.choice(('jpg', 'png', 'mp4'))}",
                    content_type=rng.choice(types),
                    size_bytes=rng.randrange(20_000, 40_000_000),
                    created_at=now - timedelta(minutes=rng.randrange(60 * 24 * 700)),
                    in_use=rng.random() < 0.2,
                )
                for i in range(start, start + 10_000)
            ]
        )
    try:
        from media.library import media_library_summarise

        media_library_summarise(workspace=workspace)
    except Exception as exc:  # the media summary is another app's; the bench goes on
        say(f"  (media summary not computed: {exc})")
    say(f"  {MEDIA:,} media rows")
    StorageSnapshot.objects.bulk_create(
        [
            StorageSnapshot(
                workspace=workspace,
                used_bytes=int(60 * 2**20 + 26 * 2**20 * i / 35_000),
                limit_bytes=100 * 2**20,
                count=MEDIA,
                taken_at=now - timedelta(minutes=15 * (35_000 - i)),
            )
            for i in range(35_000)
        ],
        batch_size=5000,
    )
    UsageSnapshot.objects.bulk_create(
        [
            UsageSnapshot(
                workspace=workspace,
                taken_at=now - timedelta(minutes=30 * (17_500 - i)),
                posts_used=min(10, i % 1440 // 144),
                posts_limit=10,
                interactions_used=i % 50,
                interactions_limit=50,
                brands_used=2,
                brands_limit=2,
                period_start=now - timedelta(days=12),
                period_end=now + timedelta(days=18),
            )
            for i in range(17_500)
        ],
        batch_size=5000,
    )
    say("  a year of storage and usage figures")

    groups: list[tuple[ErrorGroup, tuple[Any, ...], int]] = []
    for raw, code, family, status, message, share in KINDS:
        platforms = PLATFORMS if "{p}" in raw or family == "reconnect" else ("",)
        for platform in platforms:
            for endpoint in ENDPOINTS:
                group = ErrorGroup(
                    workspace=workspace,
                    fingerprint=fingerprint(workspace.pk, code, platform, endpoint),
                    code=code,
                    family=family,
                    platform=platform,
                    endpoint=endpoint,
                    title=message.format(P=platform.title()),
                    first_seen=now,
                    last_seen=now,
                    sources=6,
                )
                groups.append((group, (raw, code, family, status, message), share))
    ErrorGroup.objects.bulk_create([g for g, _, _ in groups])
    weights = [
        share / len([1 for _, k, _ in groups if k[1] == kind[1]]) for _, kind, share in groups
    ]
    account_ids = dict(
        SocialAccount.objects.filter(workspace=workspace).values_list("upstream_id", "id")
    )
    columns = [
        *("workspace_id", "group_id", "occurred_at", "received_at", "source", "http_status"),
        *("raw_code", "code", "family", "message", "meta", "request_id", "method", "endpoint"),
        *("platform", "account_id", "account_upstream_id", "raw_body", "upstream_id", "client_id"),
    ]
    picks = rng.choices(range(len(groups)), weights=weights, k=EVENTS)
    with connection.cursor() as cursor, transaction.atomic():
        with cursor.cursor.copy(
            f"COPY {ErrorEvent._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for i, pick in enumerate(picks):
                group, (raw, code, family, status, message), _ = groups[pick]
                # More events recently, like a growing customer: skew towards now.
                age = timedelta(seconds=int(180 * 86400 * rng.random() ** 1.6))
                account = (
                    f"acc_{rng.randrange(ACCOUNTS):06d}"
                    if "{id}" in group.endpoint or family == "reconnect"
                    else ""
                )
                request_id = f"req_{i:08x}"
                copy.write_row(
                    (
                        workspace.pk,
                        group.pk,
                        now - age,
                        now - age,
                        "ingest" if i % 3 else "events_sync",
                        status,
                        raw.format(p=group.platform),
                        code,
                        family,
                        group.title,
                        Jsonb({}),
                        request_id,
                        "POST",
                        group.endpoint,
                        group.platform,
                        account_ids.get(account),
                        account,
                        f'{{"error": {{"code": "{code}", "message": "{group.title}"}}, '
                        f'"request_id": "{request_id}"}}',
                        "",
                        "",
                    )
                )
        say(f"  {EVENTS:,} error events ({time.perf_counter() - started:.0f} s so far)")
        cursor.execute(
            """
            UPDATE events_errorgroup g
            SET event_count = s.n, first_seen = s.first, last_seen = s.last, last_request_id = s.rid
            FROM (SELECT DISTINCT ON (group_id) group_id, request_id AS rid,
                         count(*) OVER (PARTITION BY group_id) AS n,
                         min(occurred_at) OVER (PARTITION BY group_id) AS first,
                         occurred_at AS last
                  FROM events_errorevent ORDER BY group_id, occurred_at DESC) s
            WHERE g.id = s.group_id
            """
        )
        cursor.execute(
            """
            INSERT INTO events_errordailycount (workspace_id, group_id, day, count)
            SELECT workspace_id, group_id, (occurred_at AT TIME ZONE 'UTC')::date, count(*)
            FROM events_errorevent GROUP BY 1, 2, 3
            """
        )
        cursor.execute(
            """
            INSERT INTO events_errorgroupaccount
                (workspace_id, group_id, account_upstream_id, account_id, first_seen)
            SELECT workspace_id, group_id, account_upstream_id, min(account_id), min(occurred_at)
            FROM events_errorevent WHERE account_upstream_id <> '' GROUP BY 1, 2, 3
            """
        )
        cursor.execute(
            """
            UPDATE events_errorgroup g SET account_count = s.n
            FROM (SELECT group_id, count(*) AS n FROM events_errorgroupaccount GROUP BY 1) s
            WHERE g.id = s.group_id
            """
        )
        ErrorGroup.objects.filter(event_count=0).delete()
    EventSyncState.objects.bulk_create(
        [
            EventSyncState(workspace=ws, synced_until=now, last_ok_at=now, last_run_at=now)
            for ws in [workspace, *others]
        ]
    )
    ErrorGroup.objects.bulk_create(
        [
            ErrorGroup(
                workspace=ws,
                fingerprint=fingerprint(ws.pk, kind[1], "", endpoint),
                code=kind[1],
                family=kind[2],
                endpoint=endpoint,
                title=kind[4].format(P=""),
                first_seen=now - timedelta(days=rng.randrange(1, 90)),
                last_seen=now - timedelta(hours=rng.randrange(1, 2000)),
                event_count=rng.randrange(1, 500),
            )
            for ws in others
            for kind in rng.sample(KINDS, 4)
            for endpoint in ENDPOINTS[:3]
        ]
    )
    say("  groups, per-day counts and affected accounts")


def dismissals_fill() -> None:
    """People's banner dismissals across the deployment, as a live installation has them
    (an empty table would let the planner pick a sequential scan nobody would see)."""
    from django.contrib.auth.models import User
    from django.db import connection

    from dashboard.models import Workspace
    from events.models import BannerDismissal

    if BannerDismissal.objects.count() >= 2000:
        return
    users = User.objects.bulk_create(
        [User(username=f"viewer-{i:03d}", email=f"viewer-{i:03d}@example.com") for i in range(200)],
        ignore_conflicts=True,
    )
    users = list(User.objects.filter(username__startswith="viewer-"))
    workspaces = list(Workspace.objects.exclude(slug="bench")[:100])
    keys = ("storage_nearly_full", "accounts_reconnect", "platform_throttle:instagram")
    BannerDismissal.objects.bulk_create(
        [
            BannerDismissal(user=user, workspace=ws, banner=key, level=1)
            for user in users
            for ws in workspaces[users.index(user) % 10 :: 10]
            for key in keys
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {BannerDismissal._meta.db_table}")


def live_traffic() -> None:
    """A few fresh failures through the real recording path: banners have something to say."""
    from django.utils import timezone

    from dashboard.models import Workspace
    from events.recording import EventInput, error_events_record

    workspace = Workspace.objects.get(slug="bench")
    now = timezone.now()
    error_events_record(
        workspace=workspace,
        events=[
            *(
                EventInput(
                    occurred_at=now - timedelta(seconds=20 * i),
                    source="ingest",
                    code="system.internal",
                    family="server",
                    http_status=502,
                    request_id=f"req_burst_{i}",
                    endpoint="/media",
                )
                for i in range(12)
            ),
            *(
                EventInput(
                    occurred_at=now - timedelta(minutes=i),
                    source="dashboard",
                    code="platform.rate_limit",
                    family="platform_throttle",
                    http_status=429,
                    platform="instagram",
                    endpoint="/posts",
                    retry_after=now + timedelta(minutes=10),
                )
                for i in range(5)
            ),
        ],
    )


# --- measuring -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def timed_get(client: Any, url: str, runs: int) -> tuple[list[float], int]:
    from django.db import connection

    for _ in range(3):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    queries = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return times, len(queries)


def admin_register() -> None:
    """ModelAdmins showing what our pages show (the baseline to beat, like for like).

    A bare ModelAdmin lists one `__str__` column; ours list every column a person needs,
    with filters and search. The admin gets the same columns, filters, search and page
    size, so the ratio compares the frameworks' cost for the same information.
    """
    from django.contrib import admin

    from accounts.models import SocialAccount
    from media.models import MediaItem

    class AccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = (
            "name",
            "username",
            "platform",
            "brand_name",
            "status",
            "reason",
            "last_checked_at",
            "last_error_code",
            "last_error_request_id",
        )
        list_filter = ("status", "platform", "brand_name")
        search_fields = ("name", "username")
        list_per_page = 50

    class MediaAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("filename", "content_type", "size_bytes", "created_at", "in_use")
        list_filter = ("content_type", "in_use")
        search_fields = ("filename",)
        list_per_page = 50

    for model, model_admin in ((SocialAccount, AccountAdmin), (MediaItem, MediaAdmin)):
        if not admin.site.is_registered(model):
            admin.site.register(model, model_admin)


def explain_banners() -> tuple[str, str]:
    from django.db import connection, transaction
    from django.utils import timezone

    from dashboard.models import Workspace
    from events.banners import burst_minutes, throttle_minutes
    from events.selectors import banner_inputs_query

    query = banner_inputs_query(
        workspace=Workspace.objects.get(slug="bench"),
        now=timezone.now(),
        short_window=timedelta(minutes=max(throttle_minutes(), burst_minutes())),
        burst_window=timedelta(minutes=burst_minutes()),
    )
    natural = query.explain(analyze=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        forced = query.explain(analyze=True)
    return natural, forced


def scans(plan: str) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for line in plan.splitlines():
        for kind in ("Seq Scan", "Index Only Scan", "Index Scan", "Bitmap Heap Scan"):
            if f"{kind} on" in line or f"{kind} using" in line:
                kinds[kind] = kinds.get(kind, 0) + 1
                break
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument(
        "--reseed", action="store_true", help="drop the bench database and seed it again"
    )
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page (default 40)")
    parser.add_argument("--show-plans", action="store_true", help="print the banner query plans")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("bench/pages.py measures PostgreSQL: pass --database-url postgres://…")

    database_ensure(args.database_url, reseed=args.reseed)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from dashboard.models import Workspace
    from events.banners import banners_visible
    from events.models import ErrorEvent, ErrorGroup

    call_command("migrate", verbosity=0)
    if not Workspace.objects.filter(slug="bench").exists():
        say("Seeding the bench database (a few minutes, once):")
        seed()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    dismissals_fill()
    live_traffic()
    workspace = Workspace.objects.get(slug="bench")
    say(
        f"Bench workspace: {workspace.social_accounts.count():,} accounts, "
        f"{workspace.media_items.count():,} media, "
        f"{ErrorEvent.objects.filter(workspace=workspace).count():,} error events in "
        f"{ErrorGroup.objects.filter(workspace=workspace).count()} groups\n"
    )
    admin_register()
    from django.contrib.auth.models import User
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # A server keeps its connection between requests (CONN_MAX_AGE); so does this loop.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    biggest = ErrorGroup.objects.filter(workspace=workspace).order_by("-event_count").first()
    assert biggest is not None
    slug = workspace.slug
    pages = [
        ("overview", reverse("overview", args=[slug]), None),
        ("accounts", reverse("accounts:list", args=[slug]), "/admin/accounts/socialaccount/"),
        ("storage", reverse("media:storage", args=[slug]), "/admin/media/mediaitem/"),
        ("media library", reverse("media:library", args=[slug]), "/admin/media/mediaitem/"),
        ("errors", reverse("events:errors", args=[slug]), "/admin/events/errorevent/"),
        (
            "errors, filtered",
            reverse("events:errors", args=[slug]) + "?family=platform_throttle&period=7d",
            "/admin/events/errorevent/?family__exact=platform_throttle",
        ),
        (
            "error group",
            reverse("events:group", args=[slug, biggest.pk]),
            f"/admin/events/errorevent/?group__id__exact={biggest.pk}",
        ),
    ]
    admin_times: dict[str, float] = {}
    rows = []
    for name, url, admin_url in pages:
        times, queries = timed_get(client, url, args.runs)
        admin_p95 = None
        if admin_url:
            if admin_url not in admin_times:
                admin_times[admin_url] = percentile(
                    timed_get(client, admin_url, max(10, args.runs // 2))[0], 0.95
                )
            admin_p95 = admin_times[admin_url]
        rows.append((name, statistics.median(times), percentile(times, 0.95), queries, admin_p95))

    banner_times = []
    for _ in range(200):
        started = time.perf_counter()
        banners = banners_visible(workspace=workspace, user=User.objects.get(username="bench"))
        banner_times.append((time.perf_counter() - started) * 1000)
    natural, forced = explain_banners()

    say(
        f"{'page':<18} {'p50 ms':>7} {'p95 ms':>7} {'queries':>8} {'admin p95':>10} {'ratio':>6}"
        "  verdict (p95 ≤ 50 ms, ratio ≤ 1.0)"
    )
    failed = False
    for name, p50, p95, queries, admin_p95 in rows:
        ratio = p95 / admin_p95 if admin_p95 else None
        ok = p95 <= 50 and (ratio is None or ratio <= 1.0)
        failed |= not ok
        say(
            f"{name:<18} {p50:>7.1f} {p95:>7.1f} {queries:>8} "
            f"{(f'{admin_p95:.1f}' if admin_p95 else '—'):>10} "
            f"{(f'{ratio:.2f}' if ratio else '—'):>6}  {'ok' if ok else 'MISSED'}"
        )
    b50, b95 = statistics.median(banner_times), percentile(banner_times, 0.95)
    natural_scans, forced_scans = scans(natural), scans(forced)
    banner_ok = b95 <= 5 and "Seq Scan" not in forced_scans
    failed |= not banner_ok
    say(
        f"\nbanners: {len(banners)} showing · p50 {b50:.2f} ms · p95 {b95:.2f} ms "
        "(target ≤ 5 ms) · "
        f"{'ok' if b95 <= 5 else 'MISSED'}"
    )
    say(f"banner query plan as chosen:      {natural_scans}")
    say(
        f"with sequential scans disabled:  {forced_scans} · "
        + (
            "every table reached through an index"
            if "Seq Scan" not in forced_scans
            else "SEQ SCAN: a table lacks an index"
        )
    )
    if "Seq Scan" in natural_scans:
        seq = [line.strip() for line in natural.splitlines() if "Seq Scan" in line]
        say(
            "  (the planner prefers a sequential scan on small tables here: " + "; ".join(seq) + ")"
        )
    if args.show_plans:
        say("\n" + natural + "\n\n" + forced)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
