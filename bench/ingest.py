"""Ingest throughput: error events per second through `POST /api/v1/events`, in batches.

One command (a scratch SQLite database unless DATABASE_URL points at PostgreSQL):

    .venv/bin/python bench/ingest.py                      # 20,000 events, batches of 500
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ingest_bench .venv/bin/python bench/ingest.py

It migrates a fresh database, creates a workspace with an ingest token, starts the app
under gunicorn on a free port, posts realistic batches (both error dialects, many codes,
platforms and accounts, client ids) over real HTTP with 1 and 4 concurrent senders,
checks every event was stored exactly once, and prints a table. Target (quality.md):
at least 2,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET = 2000.0
CODES = (
    (429, "platform.{p}.rate_limit", "{P} is rate limiting requests."),
    (429, "billing.post_limit", "Monthly post limit reached."),
    (403, "account.reconnection_required", "The access token expired."),
    (413, "billing.storage_quota", "Upload would exceed your plan's storage limit."),
    (500, "system.internal", "Internal server error."),
    (400, "validation.field_required", "text is required"),
)
LEGACY = {
    "platform.{p}.rate_limit": "platform_rate_limit",
    "billing.post_limit": "rate_limit_exceeded",
    "account.reconnection_required": "invalid_token",
    "billing.storage_quota": "storage_quota_exceeded",
    "system.internal": None,
    "validation.field_required": "missing_metadata",
}
PLATFORMS = ("instagram", "tiktok", "linkedin", "youtube", "facebook", "threads")
ENDPOINTS = ("POST /v1/posts", "/v1/accounts/{a}/limits", "POST /v1/media/upload", "GET /v1/media")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def item(rng: random.Random, run: str, n: int) -> dict[str, Any]:
    status, code, message = rng.choice(CODES)
    platform = rng.choice(PLATFORMS)
    account = f"acc_{rng.randrange(2000):05d}"
    code_text = code.format(p=platform)
    text = message.format(P=platform.title())
    if rng.random() < 0.5:
        body: dict[str, Any] = {
            "error": {"code": code_text, "message": text, "meta": {}},
            "request_id": f"r{run}{n}",
        }
    else:
        legacy = LEGACY[code]
        body = {"error": text, **({"code": legacy} if legacy else {})}
    return {
        "status": status,
        "body": body,
        "request_id": f"r{run}{n}",
        "endpoint": rng.choice(ENDPOINTS).format(a=account),
        "account_id": account,
        "platform": platform,
        "occurred_at": (
            datetime.now(UTC) - timedelta(seconds=rng.randrange(86400 * 20))
        ).isoformat(),
        "client_id": f"{run}-{n}",
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=20_000, help="events per run (default 20,000)"
    )
    parser.add_argument("--batch", type=int, default=500, help="events per request (max 500)")
    parser.add_argument(
        "--concurrency", default="1,4", help="concurrent senders per run (default 1,4)"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    port = free_port()
    token = "bench_" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        VAR_DIR=str(scratch),
        DEBUG="false",
        SANDBOX_ENABLED="false",
        LOG_LEVEL="WARNING",
        PORT=str(port),
    )
    if env.get("DATABASE_URL", "").startswith("postgres"):
        # A fresh database every time: drop and create the one named in DATABASE_URL.
        import psycopg

        url = httpx.URL(env["DATABASE_URL"])
        name = url.path.lstrip("/")
        admin = str(url.copy_with(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    manage(env, "migrate", "--noinput")
    manage(
        env,
        "shell",
        "-c",
        "from dashboard.crypto import token_hash; from dashboard.models import Workspace; "
        "Workspace.objects.create(slug='bench', name='Bench', "
        f"ingest_token_hash=token_hash({token!r}))",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dashboard.wsgi",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.3)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        sent_total = 0
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            run = secrets.token_hex(3)
            rng = random.Random(run)
            batches = [
                json.dumps({"events": [item(rng, run, i + b) for i in range(args.batch)]})
                for b in range(0, args.events, args.batch)
            ]
            latencies: list[float] = []

            def send(payload: str, client: httpx.Client, latencies: list[float] = latencies) -> int:
                started = time.perf_counter()
                response = client.post(f"{base}/api/v1/events", content=payload, headers=headers)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()
                return int(response.json()["accepted"])

            with httpx.Client(timeout=120) as client:
                send(batches[0], client)  # warm-up batch (its events count too)
                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    accepted = sum(pool.map(lambda p: send(p, client), batches[1:]))
                elapsed = time.perf_counter() - started
            measured = len(batches) - 1
            sent_total += len(batches) * args.batch
            latencies = latencies[1:]
            rows.append(
                (
                    concurrency,
                    measured * args.batch,
                    accepted,
                    elapsed,
                    accepted / elapsed,
                    statistics.median(latencies) * 1000,
                    sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000,
                )
            )
        output = manage(
            env,
            "shell",
            "-c",
            "from events.models import ErrorEvent; print(ErrorEvent.objects.count())",
        )
        stored = int(output.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)

    backend = "PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(
        f"\nIngest API throughput ({backend}, gunicorn x{args.workers}, batches of {args.batch})\n"
    )
    print(
        f"{'senders':>8} {'events':>8} {'stored':>8} {'seconds':>8} {'events/s':>10} "
        f"{'p50 ms':>8} {'p95 ms':>8}  target"
    )
    for concurrency, events, accepted, elapsed, rate, p50, p95 in rows:
        verdict = "ok" if rate >= TARGET else "BELOW"
        print(
            f"{concurrency:>8} {events:>8} {accepted:>8} {elapsed:>8.2f} {rate:>10.0f} "
            f"{p50:>8.0f} {p95:>8.0f}"
            f"  ≥{TARGET:.0f}/s {verdict}"
        )
    exact = stored == sent_total
    print(
        f"\nstored {stored} of {sent_total} sent: "
        f"{'every event exactly once' if exact else 'MISMATCH'}"
    )
    return 0 if exact and all(r[4] >= TARGET for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
