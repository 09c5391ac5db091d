"""A real Celery worker process for tests, on the configured broker and test database.

The worker listens on a queue of its own (unique per test), reads the test database
through DATABASE_URL, and runs in its own process group so a test can SIGKILL it and
everything it started, as if the machine died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A URL for the database the test process is using right now."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    host = s["HOST"] or "127.0.0.1"
    port = s["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


class WorkerProcess:
    """Start, kill and restart a `celery worker` bound to one queue."""

    def __init__(
        self,
        *,
        queue: str | None = None,
        concurrency: int = 2,
        pool: str = "threads",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.queue = queue or f"test-{uuid.uuid4().hex[:12]}"
        self.concurrency = concurrency
        self.pool = pool
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(settings.VAR_DIR) / f"worker-{self.queue}.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_QUEUE": self.queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "SANDBOX_ENABLED": "true",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "--queues",
            self.queue,
            "--pool",
            self.pool,
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"{self.queue}-{uuid.uuid4().hex[:6]}@%h",
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def enqueue(self, task: Any, *args: Any) -> None:
        """Send a task to this worker's queue (never run eagerly here)."""
        eager = current_app.conf.task_always_eager
        current_app.conf.task_always_eager = False
        try:
            task.apply_async(args=args, queue=self.queue)
        finally:
            current_app.conf.task_always_eager = eager

    def kill(self) -> None:
        """SIGKILL the worker and every process it started."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for(
    predicate: Callable[[], bool],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> None:
    """Poll until `predicate()` is true; fail with `message` (or its result) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    text = message() if callable(message) else message
    raise AssertionError(f"timed out after {timeout}s waiting for {text}")
