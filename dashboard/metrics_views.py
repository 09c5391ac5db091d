"""GET /metrics: the Prometheus endpoint (what it measures is in dashboard/metrics.py).

Off unless `METRICS_TOKEN` and/or `METRICS_ALLOWED_NETWORKS` is set: then 404, like any
unknown URL. It shows every workspace, so a session never opens it: only the scraper's
bearer token and/or its network do. Refusals carry no body.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.exposition import choose_encoder

from dashboard.audit import client_ip
from dashboard.metrics import REGISTRY


def metrics_enabled() -> bool:
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS)


def metrics_network_allowed(*, ip: str | None) -> bool:
    """Whether the caller's address is in one of METRICS_ALLOWED_NETWORKS (any, if none)."""
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not networks:
        return True
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


def metrics_token_valid(*, request: HttpRequest) -> bool:
    """Whether `Authorization: Bearer <METRICS_TOKEN>` was sent (any, if no token is set).

    Digests are compared, in constant time: neither the length nor any prefix of the
    token can be learned from how long a refusal takes.
    """
    expected = settings.METRICS_TOKEN
    if not expected:
        return True
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(
        hashlib.sha256(presented.strip().encode()).digest(),
        hashlib.sha256(expected.encode()).digest(),
    )


# Exempt so that the answers below come first (a disabled endpoint is a 404 to any
# method); nothing here changes state, and a POST that passes them is refused with 405.
@csrf_exempt
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_enabled():
        raise Http404("No such page")
    if not metrics_network_allowed(ip=client_ip(request)):
        return HttpResponse(status=403)
    if not metrics_token_valid(request=request):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encoder(REGISTRY), content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
