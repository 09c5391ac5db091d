"""`post_retry` and `post_get`: retrying a failed post is a POST that uses a credit, so it is
never sent twice by the client, and every documented answer means one thing."""

from __future__ import annotations

import json
import pickle

import httpx
import pytest

from socialapi import (
    Conflict,
    Family,
    MonthlyLimitReached,
    NotFound,
    ServerError,
    UpstreamUnavailable,
    ValidationFailed,
)
from tests.socialapi.helpers import error_body

RETRY = "/posts/p_01HZ/retry"


def test_it_sends_an_empty_post_and_reads_success(api, router):
    route = router.post(RETRY).respond(200, json={"success": True})

    assert api.post_retry("p_01HZ") is True

    (call,) = route.calls
    assert call.request.method == "POST" and call.request.content == b""


def test_an_answer_saying_no_success_is_false_and_an_empty_200_is_true(api, router):
    router.post(RETRY).mock(
        side_effect=[httpx.Response(200, json={"success": False}), httpx.Response(200)]
    )

    assert api.post_retry("p_01HZ") is False
    assert api.post_retry("p_01HZ") is True


@pytest.mark.parametrize(
    ("answer", "sent"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow"), False),
        (httpx.ReadTimeout("slow"), None),
        (httpx.RemoteProtocolError("cut"), None),
        (httpx.Response(503), True),
        (httpx.Response(500, json=error_body("system.internal")), True),
    ],
)
def test_it_is_never_resent_and_says_whether_the_call_reached_upstream(
    api, router, recorder, answer, sent
):
    route = router.post(RETRY).mock(side_effect=[answer, httpx.Response(200, json={})])

    with pytest.raises((UpstreamUnavailable, ServerError)) as caught:
        api.post_retry("p_01HZ")

    assert route.call_count == 1
    assert recorder.sleeps == []
    assert caught.value.sent is sent
    assert pickle.loads(pickle.dumps(caught.value)).sent is sent  # noqa: S301 - our own object


@pytest.mark.parametrize(
    ("status", "code", "family", "cls"),
    [
        (400, "post.no_retryable_deliveries", Family.VALIDATION, ValidationFailed),
        (404, "post.not_found", Family.NOT_FOUND, NotFound),
        (409, "post.state_invalid", Family.CONFLICT, Conflict),
        (429, "billing.post_limit", Family.MONTHLY_LIMIT, MonthlyLimitReached),
    ],
)
@pytest.mark.parametrize("dialect", ["current", "legacy", "legacy without a code"])
def test_each_documented_refusal_means_the_same_in_both_dialects(
    api, router, status, code, family, cls, dialect
):
    legacy_codes = {"post.not_found": "not_found", "billing.post_limit": "rate_limit_exceeded"}
    if dialect == "current":
        body: dict = error_body(code, "Refused")
    elif dialect == "legacy":
        body = {"error": "Refused", "code": legacy_codes.get(code, code)}
    else:
        body = {"error": "Refused"}
    router.post(RETRY).respond(status, content=json.dumps(body).encode())

    with pytest.raises(cls) as caught:
        api.post_retry("p_01HZ")

    assert caught.value.family == family
    if dialect != "legacy" or code not in legacy_codes:
        assert caught.value.code == code  # a seed code keeps the seed's own normalisation
    assert caught.value.sent is True


def test_post_get_reads_status_retry_count_and_each_targets_error(api, router):
    router.get("/posts/p_01HZ").respond(
        200,
        json={
            "id": "p_01HZ",
            "status": "partial",
            "text": "Launch day",
            "retry_count": 1,
            "scheduled_at": "2026-06-01T09:00:00Z",
            "updated_at": "2026-06-01T09:00:05Z",
            "targets": [
                {"account_id": "acc_1", "platform": "instagram", "status": "published"},
                {
                    "account_id": "acc_2",
                    "platform": "linkedin",
                    "status": "failed",
                    "error": {
                        "category": "auth",
                        "caused_by": "user",
                        "code": "account.reconnection_required",
                        "message": "Reconnect.",
                    },
                },
            ],
        },
    )

    post = api.post_get("p_01HZ")

    assert (post.status, post.retry_count, post.text) == ("partial", 1, "Launch day")
    assert post.updated_at is not None and post.updated_at.second == 5
    assert post.target_for("acc_2")["error"]["code"] == "account.reconnection_required"
    assert post.target_for("acc_9") == {}


def test_post_get_of_an_unknown_post_is_not_found(api, router):
    router.get("/posts/p_x").respond(404, json=error_body("post.not_found", "Post not found"))

    with pytest.raises(NotFound):
        api.post_get("p_x")
