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
