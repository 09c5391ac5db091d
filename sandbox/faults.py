"""Injected faults for /v1 calls: latency, timeouts, 5xx, a proxy's HTML error page."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from django.db.models import F
from django.http import HttpResponse

from sandbox.errors import ApiError, internal
from sandbox.models import SandboxTenant

# Patched by tests so a timeout fault does not really wait.
sleep = time.sleep

PROXY_502 = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

_seeded: dict[tuple[int, int], random.Random] = {}


@dataclass
class FaultOutcome:
    """What the fault switches did to one call."""

    label: str = ""
    response: HttpResponse | None = None
    error: ApiError | None = None


def scope_parse(scope: str) -> tuple[str, str]:
    """`"DELETE /media"` → ("DELETE", "/media"); `"/media"` → ("", "/media")."""
    text = scope.strip()
    if not text:
        return "", ""
    method, _, path = text.partition(" ")
    if not path and method.startswith("/"):
        return "", method
    path = path.strip()
    if path.startswith("/v1/"):
        path = path[3:]
    return method.upper(), path


def scope_matches(scope: str, method: str, path: str) -> bool:
    """Whether a call (path relative to /v1) falls under the fault scope."""
    wanted_method, prefix = scope_parse(scope)
    if wanted_method and wanted_method != method.upper():
        return False
    return path.startswith(prefix) if prefix else True


def _chance(tenant: SandboxTenant, rate: float) -> bool:
    """A random draw; a seeded tenant draws the same sequence every time it is seeded."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    if tenant.fault_seed is None:
        return random.random() < rate
    key = (tenant.pk, tenant.fault_seed)
    rng = _seeded.setdefault(key, random.Random(tenant.fault_seed))
    return rng.random() < rate


def rng_reset(*, tenant: SandboxTenant) -> None:
    """Restart a seeded tenant's sequence (after its fault settings change)."""
    for key in [key for key in _seeded if key[0] == tenant.pk]:
        del _seeded[key]


def _take_next(tenant: SandboxTenant, counter: str) -> bool:
    """Atomically use one of the "fail the next N calls" credits."""
    if getattr(tenant, counter) <= 0:
        return False
    updated = SandboxTenant.objects.filter(pk=tenant.pk, **{f"{counter}__gt": 0}).update(
        **{counter: F(counter) - 1}
    )
    return updated == 1


def html_error() -> HttpResponse:
    """A reverse proxy's 502 page: not JSON, no error code."""
    return HttpResponse(PROXY_502, status=502, content_type="text/html; charset=utf-8")


def fault_apply(*, tenant: SandboxTenant, method: str, path: str) -> FaultOutcome:
    """Apply the tenant's faults to a call; the deterministic counters go first."""
    if not scope_matches(tenant.fault_scope, method, path):
        return FaultOutcome()
    labels = []
    if tenant.fault_latency_ms:
        sleep(tenant.fault_latency_ms / 1000)
        labels.append("latency")
    if _chance(tenant, tenant.fault_timeout_rate):
        # The call still happens after the wait: a client that gave up cannot know.
        sleep(tenant.fault_timeout_seconds)
        labels.append("timeout")
    if _take_next(tenant, "fault_next_html"):
        return FaultOutcome("html", response=html_error())
    if _take_next(tenant, "fault_next_5xx"):
        return FaultOutcome("5xx", error=internal())
    if _chance(tenant, tenant.fault_html_rate):
        return FaultOutcome("html", response=html_error())
    if _chance(tenant, tenant.fault_5xx_rate):
        return FaultOutcome("5xx", error=internal())
    return FaultOutcome(",".join(labels))
