"""The embedded broker under load from several processes, as `make run` uses it.

Stock kombu's filesystem transport creates a message file and then writes it: a worker
that lists the queue in between reads an empty file and dies with "Unrecoverable error:
JSONDecodeError" (kombu issue 1551), taking that message with it. Here producers in
processes of their own send messages while three real workers (the `make run` worker
command) consume them; every message must be handled exactly once and no worker may die.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.management.commands.run import commands
from tests.e2e.server import BASE_DIR, embedded_env
from tests.workers import wait_for

pytestmark = pytest.mark.worker

PRODUCERS = 4
MESSAGES_EACH = 100
# Large messages sent a little apart keep the queue short, so workers keep reading files
# that were just created: where the stock transport's race lives.
PADDING_BYTES = 192 * 1024
PAUSE_SECONDS = 0.03
WORKERS = 3


def _start_worker(n: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    worker = commands(host="127.0.0.1", port=0, workers=2)["worker"]
    return subprocess.Popen(
        [*worker, "--include", "tests.e2e.broker_hammer", "--hostname", f"hammer{n}@%h"],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # a worker's main process stops its pool itself
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # and anything it left behind
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_producers_in_many_processes_lose_no_message_and_kill_no_worker(tmp_path):
    env = embedded_env(tmp_path, 0)
    done = tmp_path / "done"
    done.mkdir()
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    workers = [_start_worker(n, env, log) for n, log in enumerate(logs)]

    def worker_logs() -> str:
        return "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)

    try:
        producers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.e2e.broker_hammer",
                    str(done),
                    f"p{p}",
                    str(MESSAGES_EACH),
                    str(PADDING_BYTES),
                    str(PAUSE_SECONDS),
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for p in range(PRODUCERS)
        ]
        for producer in producers:
            output, _ = producer.communicate(timeout=240)
            assert producer.returncode == 0, output.decode(errors="replace")[-3000:]

        expected = {f"p{p}-{n}" for p in range(PRODUCERS) for n in range(MESSAGES_EACH)}
        wait_for(
            lambda: (
                len(os.listdir(done)) >= len(expected) or any(w.poll() is not None for w in workers)
            ),
            timeout=240,
            message=lambda: (
                f"{len(os.listdir(done))} of {len(expected)} messages handled\n" + worker_logs()
            ),
        )
        assert [w.poll() for w in workers] == [None] * WORKERS, "a worker died\n" + worker_logs()
        assert set(os.listdir(done)) == expected
    finally:
        _stop(workers)
    assert "Unrecoverable error" not in worker_logs()
    broker = tmp_path / "broker"
    assert not [p.name for p in (broker / "queue").iterdir() if p.name.endswith(".msg")]
    assert not list((broker / "failed").iterdir())
