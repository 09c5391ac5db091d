"""The ingest API: both dialects, batches, per-item errors, idempotency, and garbage."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from dashboard.crypto import token_hash
from events.models import ErrorDailyCount, ErrorEvent, ErrorGroup
from events.openapi import openapi_document
from events.recording import error_events_recorded

pytestmark = pytest.mark.django_db
URL = "/api/v1/events"


def post(
    client: Client, payload: Any, token: str | None, *, raw: bytes | None = None, **headers: str
) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = raw if raw is not None else json.dumps(payload)
    return client.post(
        URL,
        data=body,
        content_type=headers.pop("content_type", "application/json"),
        headers=headers,
    )


def test_the_url_is_the_documented_one():
    assert reverse("events_ingest") == URL
    assert reverse("events_openapi") == "/api/v1/openapi.json"


def test_it_stores_a_current_dialect_error(client, workspace, ingest_token):
    response = post(
        client,
        {
            "status": 429,
            "body": {
                "error": {
                    "code": "platform.instagram.rate_limit",
                    "message": "Instagram is rate limiting requests.",
                },
                "request_id": "req_cur_1",
            },
            "endpoint": "POST /v1/posts",
            "account_id": "acc_01HZX",
            "occurred_at": (timezone.now() - timedelta(minutes=3)).isoformat(),
            "client_id": "job-1",
        },
        ingest_token,
    )
    assert response.status_code == 202
    data = response.json()
    assert (data["accepted"], data["duplicates"], data["rejected"]) == (1, 0, 0)
    result = data["results"][0]
    assert result["status"] == "accepted"
    assert (result["code"], result["family"]) == ("platform.rate_limit", "platform_throttle")
    event = ErrorEvent.objects.get(pk=int(result["id"]))
    assert event.workspace == workspace
    assert event.source == "ingest"
    assert (event.raw_code, event.platform, event.request_id) == (
        "platform.instagram.rate_limit",
        "instagram",
        "req_cur_1",
    )
    assert (event.method, event.endpoint, event.account_upstream_id, event.client_id) == (
        "POST",
        "/posts",
        "acc_01HZX",
        "job-1",
    )
    assert event.meta["dialect"] == "current"
    assert json.loads(event.raw_body)["request_id"] == "req_cur_1"
    assert str(event.group_id) == result["group"]


def test_it_reads_the_legacy_dialect_the_same_way(client, workspace, ingest_token):
    response = post(
        client,
        {
            "events": [
                {
                    "status": 401,
                    "body": {"error": "OAuth token expired", "code": "invalid_token"},
                    "request_id": "r1",
                    "endpoint": "/v1/accounts/acc_7/limits",
                    "account_id": "acc_7",
                },
                {
                    "status": 401,
                    "body": {"error": {"code": "account.reconnection_required", "message": "x"}},
                    "request_id": "r2",
                    "endpoint": "/v1/accounts/acc_8/limits",
                    "account_id": "acc_8",
                },
                {"status": 500, "body": {"error": "Internal server error"}},
                {
                    "status": 429,
                    "body": {
                        "error": "Monthly interaction limit exceeded",
                        "code": "rate_limit_exceeded",
                    },
                },
            ]
        },
        ingest_token,
    )
    results = response.json()["results"]
    assert [(r["code"], r["family"]) for r in results] == [
        ("account.reconnection_required", "reconnect"),
        ("account.reconnection_required", "reconnect"),
        ("system.internal", "server"),
        ("validation.interaction_limit_exhausted", "monthly_limit"),
    ]
    # Same failure, both dialects: one group.
    assert (
        ErrorGroup.objects.filter(workspace=workspace, code="account.reconnection_required").count()
        == 1
    )
    assert ErrorEvent.objects.get(request_id="r1").meta["dialect"] == "legacy"


def test_a_proxy_page_is_kept_as_an_error_of_its_status(client, workspace, ingest_token):
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    response = post(
        client,
        {"status": 502, "body": html, "headers": {"X-Request-ID": "req_proxy"}},
        ingest_token,
    )
    result = response.json()["results"][0]
    assert (result["code"], result["family"]) == ("unknown", "server")
    event = ErrorEvent.objects.get()
    assert event.raw_body == html
    assert event.request_id == "req_proxy"


def test_retry_after_and_time_alias_are_understood(client, workspace, ingest_token):
    moment = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    post(
        client,
        {
            "status": 429,
            "body": {"error": "slow down", "code": "platform_rate_limit"},
            "platform": "TikTok",
            "headers": {"retry-after": "120"},
            "time": moment.isoformat(),
        },
        ingest_token,
    )
    event = ErrorEvent.objects.get()
    assert event.occurred_at == moment
    assert event.retry_after == moment + timedelta(seconds=120)
    assert event.platform == "tiktok"


def test_invalid_items_get_clear_errors_and_valid_ones_are_kept(client, workspace, ingest_token):
    response = post(
        client,
        {
            "events": [
                {"status": 500},
                {"body": {"error": "x"}},
                {"status": "500"},
                {"status": 99},
                {"status": 400, "occurred_at": "yesterday"},
                {"status": 400, "occurred_at": (timezone.now() + timedelta(hours=2)).isoformat()},
                {"status": 400, "occurred_at": (timezone.now() - timedelta(days=400)).isoformat()},
                {"status": 400, "request_id": "has spaces"},
                {"status": 400, "client_id": ""},
                {"status": 400, "body": 12},
                "not an object",
                {"status": 404, "body": {"error": "gone", "code": "not_found"}, "colour": "red"},
            ]
        },
        ingest_token,
    )
    assert response.status_code == 202
    data = response.json()
    assert (data["accepted"], data["rejected"]) == (2, 10)
    by_index = {r["index"]: r for r in data["results"]}
    assert by_index[0]["status"] == "accepted"
    assert "status" in by_index[1]["errors"] and "100 to 599" in by_index[1]["errors"]["status"]
    assert "status" in by_index[2]["errors"]
    assert "status" in by_index[3]["errors"]
    assert "RFC 3339" in by_index[4]["errors"]["occurred_at"]
    assert "future" in by_index[5]["errors"]["occurred_at"]
    assert "retention" in by_index[6]["errors"]["occurred_at"]
    assert "request_id" in by_index[7]["errors"]
    assert "client_id" in by_index[8]["errors"]
    assert "body" in by_index[9]["errors"]
    assert by_index[10]["errors"] == {"event": "Each event must be a JSON object."}
    assert by_index[11]["status"] == "accepted" and by_index[11]["ignored_fields"] == ["colour"]
    assert ErrorEvent.objects.count() == 2


def test_a_client_id_makes_sending_twice_harmless(client, workspace, ingest_token):
    item = {"status": 500, "body": {"error": "boom"}, "client_id": "evt-42"}
    first = post(client, {"events": [item, item]}, ingest_token).json()
    assert [r["status"] for r in first["results"]] == ["accepted", "duplicate"]
    again = post(client, item, ingest_token).json()
    assert again["results"] == [{"index": 0, "status": "duplicate", "client_id": "evt-42"}]
    assert ErrorEvent.objects.count() == 1
    assert ErrorGroup.objects.get().event_count == 1


def test_a_bare_list_is_a_batch(client, workspace, ingest_token):
    data = post(client, [{"status": 500}, {"status": 501}], ingest_token).json()
    assert data["accepted"] == 2


def test_the_token_picks_the_workspace(client, workspace, other_workspace, ingest_token):
    other_workspace.ingest_token_hash = token_hash("other-token")
    other_workspace.save()
    post(client, {"status": 500}, "other-token")
    assert ErrorEvent.objects.get().workspace == other_workspace


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "auth.missing_header"),
        ({"Authorization": "Bearer nope"}, "auth.invalid_token"),
        ({"Authorization": "Basic abc"}, "auth.missing_header"),
        ({"Authorization": "Bearer "}, "auth.missing_header"),
    ],
)
def test_it_refuses_requests_without_a_valid_token(client, workspace, ingest_token, headers, code):
    response = client.post(URL, data="{}", content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_workspace_without_a_token_cannot_be_reached_with_an_empty_one(client, workspace):
    response = client.post(
        URL, data="{}", content_type="application/json", headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "ingest.invalid_json"),
        (b"\xff\xfe", "application/json", 400, "ingest.invalid_json"),
        (b"", "application/json", 400, "ingest.invalid_batch"),
        (b"42", "application/json", 400, "ingest.invalid_batch"),
        (b'{"events": {}}', "application/json", 400, "ingest.invalid_batch"),
        (b'{"events": []}', "application/json", 400, "ingest.empty_batch"),
        (
            json.dumps([{"status": 500}] * 501).encode(),
            "application/json",
            413,
            "ingest.batch_too_large",
        ),
        (b"status=500", "application/x-www-form-urlencoded", 415, "ingest.unsupported_media_type"),
    ],
)
def test_whole_request_problems_are_clear_4xx(
    client, workspace, ingest_token, raw, content_type, status, code
):
    response = post(client, None, ingest_token, raw=raw, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert ErrorEvent.objects.count() == 0


def test_only_post_is_allowed(client, db):
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_no_csrf_token_is_needed(workspace, ingest_token):
    strict = Client(enforce_csrf_checks=True)
    assert post(strict, {"status": 500}, ingest_token).status_code == 202


def test_api_keys_in_messages_are_redacted(client, workspace, ingest_token):
    key = "sapi_key_" + "ab" * 31
    post(
        client,
        {"status": 401, "body": {"error": f"bad key {key}", "code": "unauthorized"}},
        ingest_token,
    )
    event = ErrorEvent.objects.get()
    assert key not in event.message and key not in event.raw_body


def test_a_failure_while_storing_keeps_nothing(client, workspace, ingest_token):
    def explode(**kwargs):
        raise RuntimeError("receiver failed")

    error_events_recorded.connect(explode, dispatch_uid="test.explode")
    try:
        with pytest.raises(RuntimeError):
            post(
                client,
                {
                    "events": [
                        {"status": 500},
                        {"status": 429, "body": {"code": "platform_rate_limit"}},
                    ]
                },
                ingest_token,
            )
    finally:
        error_events_recorded.disconnect(dispatch_uid="test.explode")
    assert (
        ErrorEvent.objects.count()
        == ErrorGroup.objects.count()
        == ErrorDailyCount.objects.count()
        == 0
    )


@pytest.mark.parametrize("n", [1, 200])
def test_a_batch_costs_the_same_queries_whatever_its_size(client, workspace, ingest_token, n):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    batch = {
        "events": [
            {"status": 500, "body": {"error": "boom"}, "client_id": f"c{i}"} for i in range(n)
        ]
    }
    with CaptureQueriesContext(connection) as queries:
        response = post(client, batch, ingest_token)
    assert response.json()["accepted"] == n
    # The events go in with multi-row INSERTs (SQLite caps the parameters of one
    # statement, so a big batch takes a few); everything else is per batch, not per event.
    inserts = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith('INSERT INTO "events_errorevent"')
    ]
    assert 1 <= len(inserts) <= max(1, n // 40 + 1)
    # PostgreSQL also takes the workspace's advisory lock (SQLite's write lock is implicit).
    # 5xx events also extend their banner episode: one more statement per batch.
    locking = 1 if connection.vendor == "postgresql" else 0
    assert len(queries.captured_queries) - len(inserts) == 10 + locking


# --- OpenAPI -----------------------------------------------------------------------------


def test_the_openapi_description_is_valid_and_served(client, db):
    spec = OpenAPI.from_dict(openapi_document())
    spec.check_spec()
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json()["paths"]["/api/v1/events"]["post"]["operationId"] == "ingestErrorEvents"


@pytest.mark.parametrize(
    "payload",
    [
        {
            "status": 429,
            "body": {"error": {"code": "billing.post_limit", "message": "Monthly"}},
            "client_id": "a",
        },
        {"events": [{"status": 500}, {"status": 7}]},
        [
            {"status": 401, "body": {"error": "x", "code": "unauthorized"}},
            {"status": 404, "body": "<html>"},
        ],
    ],
)
def test_requests_and_answers_match_the_openapi_description(
    client, settings, workspace, ingest_token, payload
):
    settings.SITE_URL = "http://testserver"
    spec = OpenAPI.from_dict(openapi_document())
    body = json.dumps(payload).encode()
    request = MockRequest(
        "http://testserver",
        "post",
        URL,
        headers={"Authorization": f"Bearer {ingest_token}"},
        data=body,
    )
    response = post(client, None, ingest_token, raw=body)
    assert response.status_code == 202
    spec.validate_response(request, MockResponse(response.content, status_code=202))
    error = post(client, None, "wrong")
    spec.validate_response(request, MockResponse(error.content, status_code=401))


# --- anything at all -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = {
    "status": st.integers(min_value=-5, max_value=700) | json_values,
    "body": json_values | st.text(max_size=200),
    "headers": st.dictionaries(
        st.sampled_from(["Retry-After", "X-Request-ID", "x"]), st.text(max_size=30)
    )
    | json_values,
    "request_id": st.text(max_size=70) | json_values,
    "method": st.sampled_from(["GET", "post", "BREW"]) | json_values,
    "endpoint": st.text(max_size=120) | json_values,
    "account_id": st.text(max_size=120) | json_values,
    "platform": st.text(max_size=50) | json_values,
    "occurred_at": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | json_values,
    "client_id": st.text(max_size=110) | json_values,
    "retry_after": st.floats(allow_nan=True, allow_infinity=True) | json_values,
}
items = st.fixed_dictionaries({}, optional=field_values) | json_values


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(items, min_size=1, max_size=8))
def test_any_batch_is_answered_per_item_and_never_half_written(
    client, workspace, ingest_token, batch
):
    before = ErrorEvent.objects.count()
    response = post(client, {"events": batch}, ingest_token)
    assert response.status_code == 202, response.content
    data = response.json()
    assert len(data["results"]) == len(batch)
    assert [r["index"] for r in data["results"]] == list(range(len(batch)))
    assert data["accepted"] + data["duplicates"] + data["rejected"] == len(batch)
    for result in data["results"]:
        if result["status"] == "rejected":
            assert result["errors"] and all(
                isinstance(v, str) and v for v in result["errors"].values()
            )
    assert ErrorEvent.objects.count() == before + data["accepted"]
    # Every stored event is counted in its group and in its day: nothing half-written.
    total = ErrorEvent.objects.count()
    assert sum(ErrorGroup.objects.values_list("event_count", flat=True)) == total
    assert sum(ErrorDailyCount.objects.values_list("count", flat=True)) == total


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_gets_a_4xx_or_a_202_never_a_500(client, workspace, ingest_token, raw):
    response = post(client, None, ingest_token, raw=raw)
    assert response.status_code in (202, 400, 413), response.content
    assert "error" in response.json() or "results" in response.json()


def test_a_database_outage_is_a_503_to_retry_not_a_500(
    client, workspace, ingest_token, monkeypatch
):
    from django.db import OperationalError

    from events import public_views

    def down(**kwargs):
        raise OperationalError("could not connect")

    monkeypatch.setattr(public_views, "error_events_ingest", down)
    response = post(client, {"status": 500}, ingest_token)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "ingest.unavailable"
