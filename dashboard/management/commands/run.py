"""`manage.py run`: the web server, a Celery worker and Celery beat, kept running together.

This is what `make run` ends with. A child that dies is started again after a short
backoff (with a line saying why) while the others keep running; only Ctrl-C or SIGTERM
stops everything. In production run the three with a process manager instead (see the
README); the processes and the task code paths are the same.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

FIRST_RESTART_DELAY = 2.0  # seconds before the first restart of a child that died
MAX_RESTART_DELAY = 30.0  # the delay doubles with each quick death, up to this
STABLE_SECONDS = 60.0  # a child that ran this long starts over at the first delay


def commands(*, host: str, port: int, workers: int) -> dict[str, list[str]]:
    """The three children, as `make run` starts them (tests reuse the worker's line)."""
    python = sys.executable
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "dashboard.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "1",
            "--threads",
            "8",
            "--timeout",
            "60",
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(workers),
            "--without-gossip",
            "--without-mingle",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
    }


class Child:
    """One supervised process: started, and started again with backoff when it dies."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.delay = FIRST_RESTART_DELAY
        self.restart_at: float | None = None

    def start(self) -> None:
        # Each child runs in a process group of its own: a Ctrl-C in the terminal reaches
        # only this supervisor, which then stops every group exactly once (a server that
        # gets both the terminal's SIGINT and our SIGTERM can hang mid-shutdown).
        self.proc = subprocess.Popen(
            self.command, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.restart_at is None

    def check(self, now: float) -> str | None:
        """Restart when due; after a death, schedule the restart and say why (else None)."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return None
        code = None if self.proc is None else self.proc.poll()
        if self.proc is None or code is None:
            return None
        _signal_group(self.proc, signal.SIGKILL)  # whatever it left behind (pool processes)
        if now - self.started_at >= STABLE_SECONDS:
            self.delay = FIRST_RESTART_DELAY
        wait, self.delay = self.delay, min(self.delay * 2, MAX_RESTART_DELAY)
        self.restart_at = now + wait
        return f"{self.name} {_how_it_ended(code)}; restarting in {wait:g} s"


class Command(BaseCommand):
    help = "Serve the dashboard with a Celery worker and beat; Ctrl-C stops all three."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        (settings.VAR_DIR / "broker").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Whoever tries the product sees its own 404/403/500 pages, not Django's debug
        # pages (which list every URL); tracebacks of real errors still reach this
        # terminal, and a long-running worker keeps no per-query debug log. DEBUG=true
        # brings the debug pages back; `manage.py runserver` keeps them by default.
        env.setdefault("DEBUG", "false")
        children = {
            name: Child(name, command, env)
            for name, command in commands(host=host, port=port, workers=workers).items()
        }
        for child in children.values():
            child.start()
        self._banner(host, port)

        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                now = time.monotonic()
                for child in children.values():
                    news = child.check(now)
                    if news:
                        self.stderr.write(news)
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _banner(self, host: str, port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nDashboard: http://{host}:{port}/"))
        if settings.SANDBOX_ENABLED:
            self.stdout.write(
                "Demo logins: admin / admin (workspace admin) · member / member (read-only) · "
                "support / support (support staff)"
            )
            self.stdout.write(f"Sandbox control page: http://{host}:{port}/sandbox/control/")
        self.stdout.write("Web server, Celery worker and beat are running. Press Ctrl-C to stop.\n")

    def _stop(self, children: dict[str, Child]) -> None:
        """Stop beat and the worker first (their tasks may still be calling the sandbox
        on the web server), then the web server; SIGKILL whatever outlives its grace.
        A child waiting to be restarted has nothing left to stop."""
        self.stdout.write("Stopping…")
        for names, grace in ((("beat", "worker"), 20.0), (("web",), 10.0)):
            group = [
                child.proc
                for name in names
                if (child := children[name]).running and child.proc is not None
            ]
            for proc in group:
                if proc.poll() is None:
                    proc.terminate()  # the main process shuts its own children down
            deadline = time.monotonic() + grace
            for proc in group:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                _signal_group(proc, signal.SIGKILL)  # also any process the main one left
                proc.wait()
        self.stdout.write("Stopped.")


def _how_it_ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(proc.pid, signum)


def _die_with_parent() -> None:
    """Linux: if this supervisor is killed outright, its children get SIGTERM too."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
