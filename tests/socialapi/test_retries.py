"""Retries, backoff, the time budget, hooks, logging and keeping the API key secret."""

from __future__ import annotations

import logging
import pickle
import time
from email.utils import formatdate

import httpx
import pytest

from socialapi import (
    MonthlyLimitReached,
    NotSupported,
    PlatformThrottled,
    ServerError,
    SocialAPIError,
    UnknownError,
    UpstreamUnavailable,
)
from tests.socialapi.helpers import API_KEY, error_body

CONNECT = {"auth_url": "https://ig.example/oauth", "state": "s"}


def connect(api):
    return api.accounts_connect("instagram", redirect_uri="https://d/cb", state="s")


def exchange(api):
    return api.oauth_exchange("tiktok", code="c", redirect_uri="https://d/cb", state="s")


def test_it_retries_a_get_on_503(api, router, recorder):
    router.get("/usage").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json={})]
    )

    api.usage()

    assert len(router.calls) == 3
    assert len(recorder.sleeps) == 2
    assert recorder.errors == []


def test_a_get_on_5xx_stops_after_max_attempts_and_reports_once(api, router, recorder):
    router.get("/usage").respond(500, json=error_body("system.internal"))

    with pytest.raises(ServerError) as caught:
        api.usage()

    assert len(router.calls) == 4
    assert caught.value.attempts == 4
    assert len(recorder.sleeps) == 3
    assert recorder.errors == [caught.value]


def test_max_attempts_is_configurable(make_client, router):
    router.delete("/media/m1").respond(502)

    with pytest.raises(ServerError) as caught:
        make_client(max_attempts=2).media_delete("m1")

    assert (len(router.calls), caught.value.attempts) == (2, 2)


def test_a_delete_on_5xx_is_retried(api, router):
    router.delete("/media/m1").mock(side_effect=[httpx.Response(500), httpx.Response(204)])

    assert api.media_delete("m1") is True
    assert len(router.calls) == 2


def test_a_post_on_5xx_is_not_retried(api, router, recorder):
    router.post("/webhooks").respond(500, json=error_body("system.internal"))

    with pytest.raises(ServerError) as caught:
        api.webhooks_create("https://d/h", ["post.failed"])

    assert len(router.calls) == 1
    assert caught.value.attempts == 1
    assert recorder.sleeps == []
    assert len(recorder.errors) == 1


def test_the_exchange_is_never_retried_even_on_a_connection_error(api, router, recorder):
    router.post("/oauth/exchange").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(UpstreamUnavailable) as caught:
        exchange(api)

    assert len(router.calls) == 1
    assert (caught.value.status, caught.value.code) == (None, "network.connection_error")
    assert recorder.sleeps == []
    assert recorder.errors == [caught.value]


def test_the_exchange_is_not_retried_on_5xx(api, router):
    router.post("/oauth/exchange").respond(503)

    with pytest.raises(ServerError):
        exchange(api)

    assert len(router.calls) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")])
def test_a_post_is_retried_when_the_request_never_left(api, router, error):
    router.post("/accounts/connect").mock(side_effect=[error, httpx.Response(202, json=CONNECT)])

    assert connect(api).auth_url == "https://ig.example/oauth"
    assert len(router.calls) == 2


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.WriteTimeout("slow"),
        httpx.PoolTimeout("busy"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("bad"),
    ],
)
def test_a_post_is_not_retried_when_upstream_may_have_acted(api, router, error):
    router.post("/accounts/connect").mock(side_effect=error)

    with pytest.raises(UpstreamUnavailable):
        connect(api)

    assert len(router.calls) == 1


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ReadTimeout("slow"), "network.timeout"),
        (httpx.ConnectTimeout("slow"), "network.timeout"),
        (httpx.ReadError("reset"), "network.connection_error"),
        (httpx.RemoteProtocolError("bad"), "network.connection_error"),
    ],
)
def test_a_get_is_retried_on_timeouts_and_broken_connections(api, router, error, code):
    router.get("/media/storage").mock(side_effect=error)

    with pytest.raises(UpstreamUnavailable) as caught:
        api.media_storage()

    assert len(router.calls) == 4
    assert (caught.value.code, caught.value.status, caught.value.attempts) == (code, None, 4)
    assert caught.value.family == "server"


def test_a_monthly_limit_429_is_never_retried(api, router, recorder):
    router.get("/accounts/acc_1/limits").respond(
        429, json=error_body("validation.post_limit_exhausted"), headers={"Retry-After": "1"}
    )

    with pytest.raises(MonthlyLimitReached):
        api.account_limits("acc_1")

    assert len(router.calls) == 1
    assert recorder.sleeps == []


def test_a_platform_throttle_is_retried_on_get(api, router, recorder):
    router.get("/accounts/acc_1/limits").mock(
        side_effect=[
            httpx.Response(429, json=error_body("platform.instagram.rate_limit")),
            httpx.Response(200, json={"posts_remaining": 3}),
        ]
    )

    assert api.account_limits("acc_1") == {"posts_remaining": 3}
    assert len(router.calls) == 2
    assert len(recorder.sleeps) == 1


def test_a_429_without_a_known_code_is_not_retried(api, router, recorder):
    router.get("/accounts/acc_1/limits").respond(
        429, text="<html>slow down</html>", headers={"Retry-After": "1"}
    )

    with pytest.raises(UnknownError) as caught:
        api.account_limits("acc_1")

    assert len(router.calls) == 1
    assert recorder.sleeps == []
    assert (caught.value.family, caught.value.platform) == ("unknown", None)


def test_a_platform_throttle_is_not_retried_on_post(api, router):
    router.post("/accounts/connect").respond(
        429, json=error_body("platform.instagram.rate_limit"), headers={"Retry-After": "90"}
    )

    with pytest.raises(PlatformThrottled) as caught:
        connect(api)

    assert len(router.calls) == 1
    assert (caught.value.platform, caught.value.retry_after) == ("instagram", 90.0)


def test_a_501_is_not_retried(api, router):
    router.get("/accounts/acc_1/limits").respond(501, json=error_body("resource.not_supported"))

    with pytest.raises(NotSupported):
        api.account_limits("acc_1")

    assert len(router.calls) == 1


def test_retry_after_in_seconds_is_honoured(api, router, recorder):
    router.get("/usage").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(200, json={}),
        ]
    )

    api.usage()

    assert recorder.sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured(api, router, recorder):
    when = formatdate(time.time() + 12, usegmt=True)
    router.get("/usage").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200, json={}),
        ]
    )

    api.usage()

    (slept,) = recorder.sleeps
    assert 10.0 <= slept <= 12.0


def test_backoff_is_exponential_with_full_jitter_under_the_cap(make_client, router, recorder):
    router.get("/usage").respond(503)
    api = make_client(max_attempts=8, backoff_base=0.5, backoff_cap=4.0, max_retry_seconds=999)

    with pytest.raises(ServerError):
        api.usage()

    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert len(recorder.sleeps) == len(ceilings)
    assert all(0 <= slept <= top for slept, top in zip(recorder.sleeps, ceilings, strict=True))
    assert len(set(recorder.sleeps)) == len(recorder.sleeps)


def test_a_retry_after_beyond_the_budget_stops_at_once(api, router, recorder):
    router.get("/usage").respond(503, headers={"Retry-After": "60"})

    with pytest.raises(ServerError) as caught:
        api.usage()

    assert len(router.calls) == 1
    assert recorder.sleeps == []
    assert caught.value.retry_after == 60.0
    assert len(recorder.errors) == 1


def test_the_total_time_budget_is_respected(make_client, router, recorder):
    router.get("/usage").respond(503, headers={"Retry-After": "4"})
    api = make_client(max_attempts=50, max_retry_seconds=10.0)

    with pytest.raises(ServerError) as caught:
        api.usage()

    assert recorder.sleeps == [4.0, 4.0]
    assert sum(recorder.sleeps) <= 10.0
    assert (caught.value.attempts, caught.value.retry_after) == (3, 4.0)


# --- hooks ---------------------------------------------------------------------------


def test_on_figures_gets_the_quota_headers_and_ignores_garbage(api, router, recorder):
    router.get("/media/storage").respond(
        200,
        json={"used_bytes": 10, "limit_bytes": 100, "count": 1},
        headers={
            "X-Storage-Used": "10",
            "X-Storage-Limit": "-1",
            "X-Posts-Used": "lots",
            "X-Interactions-Limit": " 50 ",
        },
    )

    api.media_storage()

    (figures,) = recorder.figures
    assert (figures.storage_used, figures.storage_limit) == (10, -1)
    assert (figures.posts_used, figures.posts_limit) == (None, None)
    assert (figures.interactions_used, figures.interactions_limit) == (None, 50)


def test_on_figures_is_not_called_without_figures(api, router, recorder):
    router.get("/usage").respond(200, json={}, headers={"X-Posts-Used": "n/a"})

    api.usage()

    assert recorder.figures == []


def test_on_figures_also_sees_error_responses(api, router, recorder):
    router.post("/media/upload").respond(
        413,
        json=error_body("billing.storage_quota"),
        headers={"X-Storage-Used": "104857600", "X-Storage-Limit": "104857600"},
    )

    with pytest.raises(SocialAPIError):
        api.media_upload("a.jpg", b"x", "image/jpeg")

    assert recorder.figures[0].storage_used == 104857600


def test_a_failing_hook_does_not_break_the_call(make_client, router, recorder, caplog):
    api = make_client()

    def explode(_: object) -> None:
        raise RuntimeError(f"hook broke {API_KEY}")

    api._session.on_error = explode
    api._session.on_figures = explode
    router.get("/usage").respond(200, json={"posts_used": 1}, headers={"X-Posts-Used": "1"})
    router.get("/users/me").respond(404)

    assert api.usage().posts_used == 1
    with pytest.raises(SocialAPIError) as caught:
        api.users_me()

    assert caught.value.status == 404
    assert "hook failed" in caplog.text
    assert API_KEY not in caplog.text


# --- logging and secrecy -------------------------------------------------------------


def test_each_failed_attempt_is_logged_once_with_its_request_id(api, router, caplog):
    router.get("/media/storage").respond(503)
    caplog.set_level(logging.WARNING, logger="socialapi")

    with pytest.raises(ServerError):
        api.media_storage()

    lines = [r.getMessage() for r in caplog.records if r.name == "socialapi"]
    assert len(lines) == 4
    sent = [call.request.headers["X-Request-ID"] for call in router.calls]
    for line, request_id in zip(lines, sent, strict=True):
        assert "GET /media/storage failed: status=503 code=unknown" in line
        assert f"request_id={request_id}" in line


def test_the_key_never_appears_in_errors_or_logs(api, router, caplog):
    caplog.set_level(logging.DEBUG)
    router.get("/usage").mock(side_effect=httpx.ConnectError(f"refused for {API_KEY}"))
    router.get("/users/me").respond(
        401, json={"error": f"Key {API_KEY} revoked", "code": "unauthorized"}
    )
    other_key = "sapi_key_" + "Zz9" * 8
    # Current dialect: upstream echoes the key in meta (nested), the code and the request id.
    router.get("/media/storage").respond(
        400,
        json={
            "error": {
                "code": f"validation.{API_KEY}",
                "message": "bad request",
                "meta": {
                    "received": API_KEY,
                    "headers": {"authorization": f"Bearer {API_KEY}", API_KEY: "as a key"},
                    "tried": [other_key, {"deep": [f"key={API_KEY}"]}],
                    "count": 3,
                },
            },
            "request_id": API_KEY,
        },
    )

    errors = []
    for call in (api.usage, api.users_me, api.media_storage):
        with pytest.raises(SocialAPIError) as caught:
            call()
        errors.append(caught.value)

    for error in errors:
        texts = [str(error), repr(error), *map(repr, error.args), repr(vars(error))]
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
        texts.append(repr(copy.as_dict()))
        assert not any(API_KEY in text for text in texts)
        assert not any(other_key in text for text in texts)
        assert error.__cause__ is None
        assert error.__context__ is None
    assert errors[1].code == "auth.invalid_key"
    meta = errors[2].meta
    assert meta["received"] == "[redacted]"
    assert meta["headers"] == {"authorization": "Bearer [redacted]", "[redacted]": "as a key"}
    assert meta["tried"] == ["sapi_key_[redacted]", {"deep": ["key=[redacted]"]}]
    assert meta["count"] == 3
    assert errors[2].family == "validation"
    assert API_KEY not in caplog.text
    assert "Authorization" not in caplog.text
