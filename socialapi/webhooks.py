"""Webhook signatures: sign and verify SocialAPI's v1 and v2 HMAC-SHA256 headers."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE = "x-socialapi-signature"
SIGNATURE_V2 = "x-socialapi-signature-v2"
TIMESTAMP = "x-socialapi-timestamp"
MAX_TIMESTAMP_DIGITS = 12


class WebhookSignatureError(Exception):
    """A delivery whose signature does not prove it came from SocialAPI."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _bytes(value: str | bytes) -> bytes:
    """Return value as UTF-8 bytes."""
    return value.encode("utf-8") if isinstance(value, str) else value


def _hex_hmac(secret: str | bytes, message: bytes) -> str:
    """Return "sha256=<hex>" of HMAC-SHA256(secret, message)."""
    return "sha256=" + hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def sign_v1(secret: str | bytes, body: str | bytes) -> str:
    """Sign the raw body (X-SocialAPI-Signature)."""
    return _hex_hmac(secret, _bytes(body))


def sign_v2(secret: str | bytes, body: str | bytes, timestamp: int | str) -> str:
    """Sign "<timestamp>.<raw body>" (X-SocialAPI-Signature-V2)."""
    return _hex_hmac(secret, f"{timestamp}.".encode() + _bytes(body))


def _matches(expected: str, given: str) -> bool:
    """Compare signatures in constant time (hex case-insensitively)."""
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8"))


def verify_signature(
    secret: str | bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance: int = 300,
    require_v2: bool = True,
) -> str:
    """Return "v2" or "v1" for a genuine delivery; raise WebhookSignatureError otherwise.

    A v1 signature covers the body only, so a captured delivery verifies forever: it is
    accepted only with `require_v2=False` (senders that cannot sign v2, e.g. the legacy API).
    """
    if not secret:
        raise WebhookSignatureError("no_secret")
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    signature_v2 = lowered.get(SIGNATURE_V2)
    if signature_v2 is not None:
        # A V2 header must verify: falling back to v1 would let a replayed body through.
        raw_timestamp = lowered.get(TIMESTAMP, "").strip()
        if not raw_timestamp:
            raise WebhookSignatureError("missing_timestamp")
        if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
            raise WebhookSignatureError("bad_timestamp")
        if len(raw_timestamp) > MAX_TIMESTAMP_DIGITS:
            raise WebhookSignatureError("stale_timestamp")
        current = time.time() if now is None else now
        if abs(current - int(raw_timestamp)) > tolerance:
            raise WebhookSignatureError("stale_timestamp")
        if not _matches(sign_v2(secret, body, raw_timestamp), signature_v2):
            raise WebhookSignatureError("bad_signature")
        return "v2"
    signature_v1 = lowered.get(SIGNATURE)
    if signature_v1 is None:
        raise WebhookSignatureError("missing_signature")
    if require_v2:
        # Checked before the HMAC so a dropped V2 header never gets a verdict on v1.
        raise WebhookSignatureError("v2_required")
    if not _matches(sign_v1(secret, body), signature_v1):
        raise WebhookSignatureError("bad_signature")
    return "v1"
