"""`manage.py run`: the web server, a Celery worker and Celery beat, stopped together.

This is what `make run` ends with. In production run the three with a process manager
instead (see the README); the processes and the task code paths are the same.
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


class Command(BaseCommand):
    help = "Serve the dashboard with a Celery worker and beat; Ctrl-C stops all three."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        (settings.VAR_DIR / "broker").mkdir(parents=True, exist_ok=True)
        python = sys.executable
        commands = {
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
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Whoever tries the product sees its own 404/403/500 pages, not Django's debug
        # pages (which list every URL); tracebacks of real errors still reach this
        # terminal, and a long-running worker keeps no per-query debug log. DEBUG=true
        # brings the debug pages back; `manage.py runserver` keeps them by default.
        env.setdefault("DEBUG", "false")
        # Each child runs in a process group of its own: a Ctrl-C in the terminal reaches
        # only this supervisor, which then stops every group exactly once (a server that
        # gets both the terminal's SIGINT and our SIGTERM can hang mid-shutdown).
        procs = {
            name: subprocess.Popen(
                cmd, env=env, start_new_session=True, preexec_fn=_die_with_parent
            )
            for name, cmd in commands.items()
        }
        self._banner(host, port)

        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(
                            f"{name} exited with code {proc.returncode}; stopping the others."
                        )
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop(procs)

    def _banner(self, host: str, port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nDashboard: http://{host}:{port}/"))
        if settings.SANDBOX_ENABLED:
            self.stdout.write(
                "Demo logins: admin / admin (workspace admin) · member / member (read-only) · "
                "support / support (support staff)"
            )
            self.stdout.write(f"Sandbox control page: http://{host}:{port}/sandbox/control/")
        self.stdout.write("Web server, Celery worker and beat are running. Press Ctrl-C to stop.\n")

    def _stop(self, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        """Stop beat and the worker first (their tasks may still be calling the sandbox
        on the web server), then the web server; SIGKILL whatever outlives its grace."""
        self.stdout.write("Stopping…")
        for names, grace in ((("beat", "worker"), 20.0), (("web",), 10.0)):
            group = [procs[name] for name in names]
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
