"""The embedded broker (dashboard/broker.py): a file that holds no message cannot kill a worker.

Stock kombu reads whatever file matches the queue and dies on one it cannot parse (kombu
issue 1551): these tests drop such files into the queue folder, as a crashed or racing
writer leaves them, and read through the transport the embedded default uses.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from kombu import Connection
from kombu.transport import virtual

from dashboard.broker import Transport


@pytest.fixture(autouse=True)
def _fresh_broker_state(monkeypatch):
    """kombu remembers bindings per process; each test has folders of its own to bind in."""
    monkeypatch.setattr(Transport, "global_state", virtual.BrokerState())


def _connection(root: Path) -> Connection:
    folders = {name: root / name for name in ("queue", "processed", "control", "failed")}
    for folder in folders.values():
        folder.mkdir()
    return Connection(
        "filesystem://",
        transport=Transport,
        transport_options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "failed_folder": str(folders["failed"]),
            "store_processed": False,
        },
    )


def _message_file(root: Path) -> Path:
    [path] = (root / "queue").glob("*.jobs.msg")
    return path


@pytest.mark.parametrize(
    "content",
    [b"", b"half", b"[]", b'{"body": "no properties"}', b"\xff\xfe"],
    ids=["empty", "truncated", "json-but-no-envelope", "no-properties", "not-utf8"],
)
def test_it_sets_aside_a_file_that_holds_no_message_and_delivers_the_next_one(
    tmp_path, caplog, content
):
    with _connection(tmp_path) as connection:
        jobs = connection.SimpleQueue("jobs")
        jobs.put({"job": 1})
        real = _message_file(tmp_path)
        # Sorts first, as the file being written when a worker lists the folder does.
        broken = tmp_path / "queue" / "0_broken.jobs.msg"
        broken.write_bytes(content)

        with caplog.at_level(logging.ERROR, logger="dashboard.broker"):
            message = jobs.get(timeout=5)

        assert message.payload == {"job": 1}
        message.ack()
        assert not real.exists()
        assert (tmp_path / "failed" / broken.name).read_bytes() == content
        assert f"{broken.name} ({len(content)} bytes) is not a readable message" in caplog.text
        with pytest.raises(jobs.Empty):
            jobs.get(timeout=0.2)
        jobs.close()
