"""Start the dashboard the way `make run` does, in a scratch VAR_DIR, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Variables that would make the server use the test configuration or the CI services:
# the embedded default must be exercised exactly as a fresh clone runs it.
_STRIP = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "PYTEST_VERSION",
    "CELERY_TASK_ALWAYS_EAGER",
    "CACHE_URL",
    "SITE_URL",
    "SANDBOX_BASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "CELERY_QUEUE",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(var_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIP and not k.startswith("PYTEST_")}
    env.update(VAR_DIR=str(var_dir), PORT=str(port), SANDBOX_ENABLED="true", PYTHONUNBUFFERED="1")
    return env


@contextmanager
def embedded_server(var_dir: Path, settings: dict[str, str] | None = None) -> Iterator[str]:
    """Migrate, load the demo data and run web + worker + beat; yields the base URL.

    `settings`: environment variables on top of the embedded default (shorter intervals
    for a test that watches changes arrive, never a different stack)."""
    port = free_port()
    env = {**embedded_env(var_dir, port), **(settings or {})}
    python = sys.executable
    log = (var_dir / "server.log").open("ab")
    for args in (["migrate", "--noinput"], ["demo_load"]):
        subprocess.run(
            [python, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    proc = subprocess.Popen(
        [python, "manage.py", "run", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start:\n" + server_log(var_dir))
            time.sleep(0.5)
        yield base_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def server_log(var_dir: Path) -> str:
    path = var_dir / "server.log"
    return path.read_text(errors="replace")[-5000:] if path.exists() else ""
