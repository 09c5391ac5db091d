"""How many tasks wait in the Celery queue, read straight from the broker.

For the metrics endpoint (dashboard/metrics.py): bounded by a short timeout and never
raising, so a broker that is down or slow makes a scrape say so instead of failing it.
Redis and kombu's filesystem broker are read; other brokers are reported as unreadable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from kombu.transport.redis import PRIORITY_STEPS, Channel
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Seconds to connect to, and to wait for, the broker when measuring the queue: a slow
# broker costs a scrape this long at most, and then reads as down.
QUEUE_TIMEOUT_SECONDS = 2.0


def celery_queue_depth(*, queue: str) -> int | None:
    """Messages waiting in `queue`, or None when the broker cannot be read (or is not
    Redis or the filesystem broker)."""
    url = str(settings.CELERY_BROKER_URL)
    options: dict[str, Any] = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS or {})
    scheme = url.partition("://")[0].lower()
    try:
        if scheme == "filesystem":
            return _filesystem_depth(Path(str(options["data_folder_in"])), queue)
        if scheme in ("redis", "rediss"):
            return _redis_depth(url, queue, options)
    except Exception as error:  # a scrape reports the broker as down, it never fails
        # The class only: the broker URL, which may hold a password, stays out of logs.
        logger.warning("metrics: cannot read the Celery queue (%s)", type(error).__name__)
        return None
    logger.info("metrics: the queue of a %r broker is not measured", scheme)
    return None


def _filesystem_depth(folder: Path, queue: str) -> int:
    """Files kombu's filesystem transport would deliver for this queue."""
    wanted = f"{queue}.msg"
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if entry.name.partition(".")[2] == wanted)


def _redis_depth(url: str, queue: str, options: dict[str, Any]) -> int:
    """LLEN of the queue's list and its priority lists, as kombu's Redis transport keeps them."""
    prefix = str(options.get("global_keyprefix") or "")
    steps: Iterable[int] = options.get("priority_steps") or PRIORITY_STEPS
    keys = [prefix + (f"{queue}{Channel.sep}{step}" if step else queue) for step in steps]
    client = redis.Redis.from_url(
        url,
        socket_timeout=QUEUE_TIMEOUT_SECONDS,
        socket_connect_timeout=QUEUE_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),  # one try: a scrape never waits through retries
    )
    try:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.llen(key)
            return sum(int(n) for n in pipe.execute())
    finally:
        client.close()
