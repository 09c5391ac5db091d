"""`manage.py run` (the end of `make run`): Ctrl-C stops web, worker and beat, frees the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import BASE_DIR, embedded_env, free_port
from tests.workers import wait_for


def _started(var_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = embedded_env(var_dir, port)
    log = (var_dir / "run.log").open("ab")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        stdout=log,
        stderr=subprocess.STDOUT,
        timeout=600,
    )
    # A session of its own stands for the terminal: its foreground process group.
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError((var_dir / "run.log").read_text())


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), however deep."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("who", ["the terminal's process group", "the supervisor alone"])
def test_ctrl_c_stops_everything_and_frees_the_port(tmp_path, who):
    proc, port = _started(tmp_path)
    family = _descendants(proc.pid)
    assert len(family) >= 3, "web, worker and beat run under the supervisor"
    if who == "the supervisor alone":
        proc.send_signal(signal.SIGINT)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in family):
        time.sleep(0.2)
    assert not [pid for pid in family if _alive(pid)], (tmp_path / "run.log").read_text()[-3000:]
    with socket.socket() as sock:  # nothing holds the port any more
        sock.bind(("127.0.0.1", port))
    assert "Stopped." in (tmp_path / "run.log").read_text()


def _child(pid: int, *words: str) -> int | None:
    """The live direct child of `pid` whose command line has all these words, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and all(word in argv for word in words):
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
def test_a_killed_worker_is_started_again_while_the_web_server_keeps_answering(tmp_path):
    proc, port = _started(tmp_path)
    log = tmp_path / "run.log"
    try:
        web = _child(proc.pid, "gunicorn")
        worker = _child(proc.pid, "celery", "worker")
        assert web and worker, log.read_text()
        pool = _descendants(worker)

        os.kill(worker, signal.SIGKILL)

        def worker_back() -> bool:
            # The web server answers all along (before, it was stopped with the others).
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            return _child(proc.pid, "celery", "worker") not in (None, worker)

        wait_for(worker_back, timeout=60, message=lambda: "a new worker\n" + log.read_text())
        assert "worker was killed by SIGKILL; restarting in 2 s" in log.read_text()
        assert _child(proc.pid, "gunicorn") == web, "the web server was not restarted"
        assert not [pid for pid in pool if _alive(pid)], "the dead worker's pool is gone"

        # Tasks go through the embedded broker to the new worker.
        sent = subprocess.run(
            [
                *(sys.executable, "-m", "celery", "-A", "dashboard", "call"),
                "dashboard.tasks.workspace_syncs_dispatch",
            ],
            cwd=BASE_DIR,
            env=embedded_env(tmp_path, port),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        task_id = sent.stdout.strip()
        wait_for(
            lambda: f"[{task_id}] succeeded" in log.read_text(),
            timeout=90,
            message=lambda: f"task {task_id} to run\n" + log.read_text()[-3000:],
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert "Stopped." in log.read_text()


def test_a_child_that_keeps_dying_waits_longer_each_time_up_to_a_cap_and_starts_over_once_stable():
    from dashboard.management.commands.run import STABLE_SECONDS, Child

    child = Child("beat", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    child.start()
    waits = []
    for _ in range(6):
        assert child.proc is not None
        child.proc.wait(timeout=60)
        died = child.started_at + 1  # it died a second after it started
        news = child.check(died)
        assert news is not None and news.startswith("beat exited with code 3; restarting in ")
        waits.append(news.rsplit(" in ", 1)[1])
        assert child.check(died) is None, "nothing new until the restart is due"
        assert child.proc.poll() is not None, "not restarted early"
        child.check(died + float(waits[-1].removesuffix(" s")))  # due: started again
    assert waits == ["2 s", "4 s", "8 s", "16 s", "30 s", "30 s"]

    assert child.proc is not None
    child.proc.wait(timeout=60)
    news = child.check(child.started_at + STABLE_SECONDS)  # it had stayed up a while
    assert news == "beat exited with code 3; restarting in 2 s"
