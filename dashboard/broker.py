"""The embedded broker: kombu's filesystem transport, made safe across processes.

`make run` (no configuration) queues Celery tasks as files under `var/broker/`. Stock
kombu 5.7 creates a message file under its final name and only then writes it, so a
worker listing the folder in between takes an empty file, fails to parse it and dies with
"Unrecoverable error: JSONDecodeError" (kombu issue 1551); that message is gone too. Its
exchange tables in `control/` are created the same way and can be read empty.

This transport keeps the format, folders and everything else of the stock one, with:
- writes under a name no reader matches (`….writing`), renamed into place when complete
  (a rename within a folder is atomic: a reader sees the whole file or none of it);
- a reader that claims a message by renaming it into `processed_folder` (same filesystem,
  so exactly one worker wins; stock falls back to copying into /tmp across filesystems);
- a message file it cannot read as a message moved to `failed_folder` with an error in
  the log, instead of killing the worker; the worker goes on with the next message;
- exchange-table updates done under a lock file and written the same atomic way.

Celery loads it through `CELERY_BROKER_TRANSPORT` (see settings); the task code path is
the production one, only the transport differs (Redis there).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

log = logging.getLogger(__name__)

WRITING_SUFFIX = ".writing"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` beside `path` under a name nobody reads, then rename it over `path`."""
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}{WRITING_SUFFIX}")
    try:
        with temporary.open("xb") as f:
            f.write(data)
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ChannelError(f"Cannot write {path}: {exc}") from exc


def _as_message(raw: bytes) -> dict[str, Any] | None:
    """The message envelope in a file, or None when the file does not hold one."""
    try:
        payload = loads(bytes_to_str(raw))
    except ValueError:  # empty, truncated or not JSON (JSONDecodeError, UnicodeDecodeError)
        return None
    if not isinstance(payload, dict):
        return None
    properties = payload.get("properties")
    if not isinstance(properties, dict) or "delivery_tag" not in properties:
        return None
    return payload


class Channel(filesystem.Channel):
    """The stock filesystem channel with atomic writes and a reader that cannot be killed."""

    # The two overrides keep the stock signatures (which the kombu stubs mark the same way).
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        # The stock name: readers sort on the leading milliseconds and match ".<queue>.msg".
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        _write_atomically(Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)))

    def _get(self, queue: str) -> dict[str, Any]:  # type: ignore[override]
        wanted = f"{queue}.msg"
        queue_folder, processed = Path(self.data_folder_in), Path(self.processed_folder)
        for name in sorted(os.listdir(queue_folder)):  # noqa: PTH208 (names, sorted)
            if name.partition(".")[2] != wanted:
                continue
            claimed = processed / name
            try:
                (queue_folder / name).rename(claimed)
            except FileNotFoundError:
                continue  # another worker claimed it first
            except OSError as exc:  # e.g. processed_folder on another filesystem
                raise ChannelError(f"Cannot claim {name} into {processed}") from exc
            try:
                raw = claimed.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read {claimed}") from exc
            message = _as_message(raw)
            if message is None:
                self._set_aside(claimed, size=len(raw))
                continue
            if not self.store_processed:
                claimed.unlink()
            return message
        raise Empty()

    def _set_aside(self, claimed: Path, *, size: int) -> None:
        """Keep a file that holds no message where a person can look at it, and say so."""
        failed = Path(self.failed_folder)
        failed.mkdir(parents=True, exist_ok=True)
        claimed.replace(failed / claimed.name)
        log.error(
            "broker: %s (%d bytes) is not a readable message; moved it to %s",
            claimed.name,
            size,
            failed,
        )

    @cached_property
    def failed_folder(self) -> str:
        return str(self.transport_options.get("failed_folder", "failed"))

    @contextlib.contextmanager
    def _table_locked(self, file: Path) -> Iterator[None]:
        """Serialise read-modify-write of one exchange table across processes."""
        with file.with_name(f"{file.name}.lock").open("ab") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _table_file(self, exchange: str) -> Path:
        """`control/<exchange>.exchange`, refusing names that would leave the folder."""
        # kombu 5.7's validating helper, not in the stubs yet.
        file: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]
        return file

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        file = self._table_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_locked(file):
            table = self.get_table(exchange)
            if entry not in table:
                _write_atomically(file, str_to_bytes(dumps([entry, *table])))

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        file = self._table_file(exchange)
        if not file.exists():
            return
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_locked(file):
            table = self.get_table(exchange)
            if entry in table:
                table.remove(entry)
                _write_atomically(file, str_to_bytes(dumps(table)))


class Transport(filesystem.Transport):
    Channel = Channel
