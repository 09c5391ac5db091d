"""Sending DELETEs: one call and what became of the item, and the threads that send them.

The threads only talk HTTP (through the workspace's shared, thread-safe client); every
change to the job's rows is made by the runner (`media.deletion_runner`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

from events.fixes import reason_text
from media.models import BulkDeletionItem
from socialapi import Family, SocialAPI, SocialAPIError

log = logging.getLogger(__name__)

State = BulkDeletionItem.State

# Upstream refusals that no amount of retrying fixes: the job stops and says why.
STOPPING_FAMILIES = (Family.API_KEY, Family.BILLING)
UNSENT = "dashboard.unsent"  # an outcome for an item handed back without being sent
ALREADY_GONE_CODE = "media.not_found"  # a 404: deleted before this job's DELETE


@dataclass(frozen=True)
class Claimed:
    id: int
    media_upstream_id: str
    size_bytes: int


@dataclass(frozen=True)
class Outcome:
    item: Claimed
    state: str
    family: str = ""
    code: str = ""
    reason: str = ""
    request_id: str = ""
    stops_job: bool = False
    # Deleted by this DELETE (204). A 404 is deleted too (already gone) but freed nothing now.
    freed: bool = False


def _reason(family: str, code: str, message: str) -> str:
    """Our words for the outcome, with upstream's own message beside them."""
    return reason_text(family=family, code=code, message=message)[:2000]


def delete_one(client: SocialAPI, item: Claimed) -> Outcome:
    """Send one DELETE and say what became of the item. Never raises."""
    try:
        # Reference: https://docs.social-api.ai/api-reference — DELETE /v1/media/{id}
        gone_now = client.media_delete(item.media_upstream_id)
    except SocialAPIError as exc:
        family = str(exc.family)
        request_id = (exc.request_id or "")[:64]
        if exc.family is Family.CONFLICT:
            # 409 media.in_use: attached to a scheduled post. Not an error of the job.
            reason = _reason(family, exc.code, exc.message)
            return Outcome(item, State.SKIPPED, family, exc.code, reason, request_id)
        return Outcome(
            item,
            State.FAILED,
            family,
            exc.code,
            _reason(family, exc.code, exc.message),
            request_id,
            stops_job=exc.family in STOPPING_FAMILIES,
        )
    except Exception as exc:  # a bug must fail one item, not kill the runner silently
        log.exception("bulk deletion: unexpected error deleting %s", item.media_upstream_id)
        return Outcome(
            item,
            State.FAILED,
            "unknown",
            "dashboard.unexpected",
            f"Unexpected error: {type(exc).__name__}",
        )
    if gone_now:
        return Outcome(item, State.DELETED, freed=True)
    return Outcome(item, State.DELETED, "not_found", ALREADY_GONE_CODE, "Already gone upstream.")


class Senders:
    """A fixed set of threads sending DELETEs through one shared (thread-safe) client.

    Claimed items wait in `todo` so a thread never idles while the runner is busy with
    the database. Before each DELETE a thread checks that the job still runs under this
    runner's lease; `halt` (cancel, stop, lost lease, end of the time slice) makes the
    threads hand queued items back unsent, so only the DELETEs already on the wire finish.
    """

    def __init__(self, client: SocialAPI, size: int, still_ours: Callable[[], bool]) -> None:
        self.client = client
        self.still_ours = still_ours
        self.halt = threading.Event()
        self.todo: queue.Queue[Claimed | None] = queue.Queue()
        self.done: queue.Queue[Outcome] = queue.Queue()
        self.threads = [
            threading.Thread(target=self._loop, name=f"bulk-delete-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def _loop(self) -> None:
        try:
            while (item := self.todo.get()) is not None:
                # Checked right before each DELETE: a cancel (or a lost lease) stops the
                # queue at once; only the DELETEs already on the wire complete.
                if self.halt.is_set() or not self.still_ours():
                    self.halt.set()
                    self.done.put(Outcome(item, State.PENDING, code=UNSENT))
                    continue
                outcome = delete_one(self.client, item)
                if outcome.stops_job:
                    self.halt.set()  # at once: the other threads send nothing more
                self.done.put(outcome)
        finally:
            # The client's hooks record errors from this thread: close its connection.
            connections.close_all()

    def submit(self, item: Claimed) -> None:
        self.todo.put(item)

    def take(self, timeout: float) -> list[Outcome]:
        """Wait up to `timeout` for one outcome, then take every other one ready."""
        try:
            outcomes = [self.done.get(timeout=max(0.0, timeout))]
        except queue.Empty:
            return []
        while True:
            try:
                outcomes.append(self.done.get_nowait())
            except queue.Empty:
                return outcomes

    def close(self, wait: float | None = None) -> None:
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join(wait)
