"""Identifiers shaped like upstream's: API keys, ULID-like ids, states, request ids.

Ids are opaque upstream and come in more than one shape (the docs and the OpenAPI
examples show `acc_01HZ…` and `acc_abc123`, brand ids `b_01HZ…` and UUIDs, logins
`cred_01J…`): new objects get one of the shapes at random, so clients never lean on one.
"""

from __future__ import annotations

import random
import re
import secrets
import string
import time
import uuid
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


def short_id(prefix: str, length: int = 10) -> str:
    """The short form, e.g. `acc_k3v9x0q2mz`."""
    alphabet = string.ascii_lowercase + string.digits
    return f"{prefix}_" + "".join(secrets.choice(alphabet) for _ in range(length))


def account_id_new(at: datetime | None = None, rng: random.Random | None = None) -> str:
    """`acc_` + a ULID, or (one in four) the short form."""
    if (rng or random).random() < 0.25:
        return short_id("acc")
    return prefixed("acc", at)


def brand_id_new(at: datetime | None = None, rng: random.Random | None = None) -> str:
    """`b_` + a ULID, or (one in three) a bare UUID ("Internal brand UUID")."""
    if (rng or random).random() < 1 / 3:
        return str(uuid.uuid4())
    return prefixed("b", at)


def login_id_new(at: datetime | None = None) -> str:
    """A shared credential (Facebook login) id: `cred_` + a ULID."""
    return prefixed("cred", at)


def hex_token(nbytes: int = 16) -> str:
    """Random lowercase hex (16 bytes: upstream's OAuth state and pending ids)."""
    return secrets.token_hex(nbytes)


def request_id_for(given: str | None) -> str:
    """Echo the caller's X-Request-ID when it is well formed, else make one."""
    if given and REQUEST_ID.match(given):
        return given
    return "req_" + secrets.token_hex(12)
