"""Identifiers shaped like upstream's: API keys, ULID-like ids, states, request ids."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def api_key_new() -> str:
    """A key shaped like upstream's: `sapi_key_` + 62 lowercase hex."""
    return "sapi_key_" + secrets.token_hex(31)


def ulid(at: datetime | None = None) -> str:
    """A 26-character ULID-like string (time-ordered, Crockford base32)."""
    millis = int((at.timestamp() if at else time.time()) * 1000)
    stamp = "".join(CROCKFORD[(millis >> shift) & 31] for shift in range(45, -5, -5))
    return stamp + "".join(secrets.choice(CROCKFORD) for _ in range(16))


def prefixed(prefix: str, at: datetime | None = None) -> str:
    """E.g. `acc_01HZ…`, `b_01HZ…`, `p_01HZ…`, `wh_01HZ…`, `evt_01HZ…`."""
    return f"{prefix}_{ulid(at)}"


def hex_token(nbytes: int = 16) -> str:
    """Random lowercase hex (16 bytes: upstream's OAuth state and pending ids)."""
    return secrets.token_hex(nbytes)


def request_id_for(given: str | None) -> str:
    """Echo the caller's X-Request-ID when it is well formed, else make one."""
    if given and REQUEST_ID.match(given):
        return given
    return "req_" + secrets.token_hex(12)
