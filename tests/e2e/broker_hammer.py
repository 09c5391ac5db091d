"""A task and a producer for the embedded-broker hammer test (tests/e2e/test_embedded_broker.py).

The hammer's workers import this module (`celery -A dashboard worker --include ...`), so
the task runs on the dashboard's own Celery app, settings and transport, exactly as the
real tasks do. Each delivery creates one file named after its token; a second delivery of
the same token leaves a `.again-…` file beside it, so duplicates show as well as losses.

Run as a program it is one producer:
`python -m tests.e2e.broker_hammer FOLDER PREFIX COUNT PADDING_BYTES PAUSE_SECONDS`.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.e2e.broker_hammer.record", ignore_result=True)
def broker_hammer_record(folder: str, token: str, padding: str = "") -> None:
    path = Path(folder) / token
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        (Path(folder) / f"{token}.again-{uuid.uuid4().hex}").touch()
        return
    os.close(fd)


def main(folder: str, prefix: str, count: int, padding: int, pause: float) -> None:
    import dashboard  # noqa: F401  (the Celery app, configured from the settings)

    for n in range(count):
        broker_hammer_record.delay(folder, f"{prefix}-{n}", "x" * padding)
        time.sleep(pause)


if __name__ == "__main__":
    folder, prefix, count, padding, pause = sys.argv[1:]
    main(folder, prefix, int(count), int(padding), float(pause))
