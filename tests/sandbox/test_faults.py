"""Injected faults: next-N failures, rates, scope, latency, timeouts, quota switches."""

from __future__ import annotations

import pytest

from sandbox.faults import scope_matches
from sandbox.models import SandboxCall, SandboxEvent, SandboxMedia
from sandbox.services import (
    SandboxError,
    faults_clear,
    faults_set,
    sandbox_tenant_create,
    storage_fill,
)
from socialapi.codes import parse_error_body
from tests.sandbox.conftest import media_make


def statuses(api, path: str, n: int) -> list[int]:
    return [api.get(path).status_code for _ in range(n)]


def test_it_fails_exactly_the_next_n_calls_with_a_500(api, tenant):
    faults_set(tenant=tenant, next_5xx=2)
    responses = [api.get("/accounts") for _ in range(4)]
    assert [r.status_code for r in responses] == [500, 500, 200, 200]
    assert responses[0].json()["error"]["code"] == "system.internal"
    tenant.refresh_from_db()
    assert tenant.fault_next_5xx == 0
    assert [c.fault for c in SandboxCall.objects.order_by("id")] == ["5xx", "5xx", "", ""]


def test_a_legacy_500_has_no_code(legacy_api, legacy_tenant):
    faults_set(tenant=legacy_tenant, next_5xx=1)
    response = legacy_api.get("/accounts")
    assert response.status_code == 500
    assert "code" not in response.json() and response.json()["error"]


def test_it_answers_a_proxys_html_page(api, tenant):
    faults_set(tenant=tenant, next_html=1)
    response = api.get("/media/storage")
    assert response.status_code == 502
    assert response["Content-Type"].startswith("text/html")
    assert b"Bad Gateway" in response.content
    assert parse_error_body(502, response.content).dialect == "unparseable"
    assert response["X-Request-ID"]
    assert api.get("/media/storage").status_code == 200
    faults_set(tenant=tenant, next_html=1)
    assert "X-Storage-Used" not in api.get("/media")


def test_html_errors_are_not_in_the_events_log_but_5xx_are(api, tenant):
    faults_set(tenant=tenant, next_html=1, next_5xx=1)
    api.get("/accounts"), api.get("/accounts")
    assert [e.status_code for e in SandboxEvent.objects.all()] == [500]


def test_a_scope_limits_faults_to_matching_calls(api, tenant):
    (media,) = media_make(tenant, 1)
    faults_set(tenant=tenant, next_5xx=1, scope="DELETE /media")
    assert api.get("/media").status_code == 200
    assert api.delete(f"/media/{media.id}").status_code == 500
    assert api.delete(f"/media/{media.id}").status_code == 204


@pytest.mark.parametrize(
    ("scope", "method", "path", "hit"),
    [
        ("", "GET", "/accounts", True),
        ("DELETE /media", "DELETE", "/media/abc", True),
        ("DELETE /media", "GET", "/media", False),
        ("/media", "GET", "/media/storage", True),
        ("GET /v1/media", "GET", "/media", True),
        ("POST /posts", "POST", "/accounts/connect", False),
    ],
)
def test_a_scope_matches_a_method_and_a_path_prefix(scope, method, path, hit):
    assert scope_matches(scope, method, path) is hit


def test_a_rate_of_one_always_fails_and_zero_never(api, tenant):
    faults_set(tenant=tenant, rate_5xx=1.0)
    assert statuses(api, "/usage", 3) == [500, 500, 500]
    faults_set(tenant=tenant, rate_5xx=0.0)
    assert statuses(api, "/usage", 3) == [200, 200, 200]


def test_seeded_rates_repeat_the_same_sequence(api, tenant):
    faults_set(tenant=tenant, rate_5xx=0.5, seed=7)
    first = statuses(api, "/usage", 12)
    faults_set(tenant=tenant, seed=7)
    assert statuses(api, "/usage", 12) == first
    assert 500 in first and 200 in first


def test_latency_and_timeouts_sleep_before_answering(api, tenant, sleeps):
    faults_set(tenant=tenant, latency_ms=250, timeout_rate=1.0, timeout_seconds=12)
    assert api.get("/accounts").status_code == 200
    assert sleeps.seconds == [0.25, 12]
    assert SandboxCall.objects.get().fault == "latency,timeout"


def test_clearing_faults_restores_normal_answers(api, tenant, sleeps):
    faults_set(tenant=tenant, rate_html=1.0, latency_ms=10, next_5xx=3, scope="GET /accounts")
    faults_clear(tenant=tenant)
    assert api.get("/accounts").status_code == 200
    assert sleeps.seconds == []


@pytest.mark.parametrize(
    "values",
    [{"rate_5xx": 1.5}, {"rate_html": -0.1}, {"latency_ms": 10**7}, {"next_5xx": -1}],
)
def test_out_of_range_fault_values_are_refused(tenant, values):
    with pytest.raises(SandboxError):
        faults_set(tenant=tenant, **values)
    tenant.refresh_from_db()
    assert tenant.fault_5xx_rate == 0 and tenant.fault_latency_ms == 0


@pytest.mark.parametrize("scope", ["DROP /media", "GET media"])
def test_a_malformed_scope_is_refused(tenant, scope):
    with pytest.raises(SandboxError):
        faults_set(tenant=tenant, scope=scope)


def test_filling_storage_reaches_the_percentage_and_logs_quota_errors(api, tenant):
    media_make(tenant, 2, size=5_000_000)
    added = storage_fill(tenant=tenant, percent=95)
    assert added > 0
    storage = api.get("/media/storage").json()
    assert storage["used_bytes"] == int(104_857_600 * 0.95)
    assert storage["count"] == 2 + added
    codes = {e.metadata["error_code"] for e in SandboxEvent.objects.filter(tenant=tenant)}
    assert codes == {"billing.storage_quota"}


def test_filling_storage_never_removes_anything(tenant):
    media_make(tenant, 1, size=80_000_000)
    assert storage_fill(tenant=tenant, percent=50) == 0
    assert SandboxMedia.objects.count() == 1


def test_unlimited_storage_cannot_be_filled(db):
    with pytest.raises(SandboxError, match="unlimited"):
        storage_fill(tenant=sandbox_tenant_create(name="Pro", plan="pro"), percent=90)
