"""Run pytest with the machine's clock moved to the hours that break date arithmetic.

`make test-clock` runs the suite (or the tests given) once per moment below under
libfaketime (Debian package `faketime`), which moves the clock of pytest and of every
process it starts (the embedded server, Celery workers) by the same offset, so "now" is
00:05, 11:59 or 23:59 UTC today, or 23:59 on the last day of the month. A test that only
passes in the afternoon fails here.

    python tests/clock_run.py [pytest args…]
"""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
BASE_DIR = Path(__file__).resolve().parent.parent


def moments(now: datetime) -> dict[str, datetime]:
    """The moments to pin, all in the future or past of `now` by less than a month."""
    today = now.date()
    last_day = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return {
        "00:05 UTC": datetime.combine(today, time(0, 5), tzinfo=UTC),
        "11:59 UTC": datetime.combine(today, time(11, 59), tzinfo=UTC),
        "23:59 UTC": datetime.combine(today, time(23, 59), tzinfo=UTC),
        "23:59 UTC, last day of the month": datetime.combine(last_day, time(23, 59), tzinfo=UTC),
    }


def main(args: list[str]) -> int:
    library = Path(os.environ.get("LIBFAKETIME", LIBFAKETIME))
    if not library.exists():
        print(f"{library} is missing: apt-get install faketime", file=sys.stderr)
        return 2
    failed = []
    for label, moment in moments(datetime.now(UTC)).items():
        offset = int((moment - datetime.now(UTC)).total_seconds())
        env = {
            **os.environ,
            "LD_PRELOAD": str(library),
            # A relative offset (seconds) keeps the clock ticking, in every child process alike.
            "FAKETIME": f"{offset:+d}",
            "FAKETIME_DONT_RESET": "1",
        }
        print(f"--- pytest with the clock at {label} ({moment:%Y-%m-%d %H:%M})", flush=True)
        code = subprocess.call([sys.executable, "-m", "pytest", *args], cwd=BASE_DIR, env=env)
        if code != 0:
            failed.append(label)
    if failed:
        print("failed with the clock at: " + "; ".join(failed), file=sys.stderr)
        return 1
    print("green at every pinned moment")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
