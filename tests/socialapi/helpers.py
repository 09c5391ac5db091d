"""Shared constants and small builders for the SocialAPI tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from socialapi import FreshFigures, SocialAPIError

BASE_URL = "https://api.social-api.test/v1"
API_KEY = "sapi_key_" + "0123456789abcdef" * 3 + "fedcba9876543a"
REQUEST_ID = r"^[A-Za-z0-9_-]{1,64}$"


@dataclass
class Recorder:
    """What the client did besides HTTP: sleeps, hook calls, and a fake monotonic clock."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    errors: list[SocialAPIError] = field(default_factory=list)
    figures: list[FreshFigures] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def error_body(code: str, message: str = "nope", **meta: Any) -> dict[str, Any]:
    """A current-dialect error body."""
    return {"error": {"code": code, "message": message, "meta": meta}, "request_id": "req_up_1"}
