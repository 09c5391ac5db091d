"""Every endpoint method against schema-shaped responses, plus headers and pagination."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import httpx
import pytest
import respx

from socialapi import (
    ClientConfig,
    Conflict,
    CredentialsInvalid,
    NotFound,
    PlatformThrottled,
    ReconnectRequired,
    SocialAPI,
    SocialAPIError,
    UnknownError,
    ValidationFailed,
)
from tests.socialapi.helpers import API_KEY, BASE_URL, REQUEST_ID, error_body

ACCOUNT = {
    "id": "acc_1",
    "platform": "instagram",
    "name": "Acme",
    "username": "acme",
    "brand_id": "br_1",
    "status": "reconnect_required",
    "reconnect_reason": "Token revoked by the user",
    "profile_picture_url": "https://cdn.example/p.jpg",
    "metadata": {"ig_user_id": "178"},
    "bio": "ignored extra field",
}


def sent_json(router: respx.MockRouter) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(router.calls.last.request.content)
    return data


# --- basics --------------------------------------------------------------------------


def test_every_call_sends_auth_user_agent_and_a_fresh_request_id(api, router):
    router.get("/users/me").respond(200, json={"id": "u1"})

    api.users_me()
    api.users_me()

    first, second = (call.request.headers for call in router.calls)
    assert first["Authorization"] == f"Bearer {API_KEY}"
    assert first["User-Agent"] == "socialapi-dashboard/1.0"
    assert re.match(REQUEST_ID, first["X-Request-ID"])
    assert re.fullmatch(r"dash_[0-9a-f]{24}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("base_url", [BASE_URL, BASE_URL + "/"])
def test_the_base_url_works_with_or_without_a_trailing_slash(make_client, router, base_url):
    router.get("/usage").respond(200, json={"posts_used": 3})

    assert make_client(base_url=base_url).usage().posts_used == 3
    assert str(router.calls.last.request.url) == BASE_URL + "/usage"


def test_path_parameters_are_escaped(api, router):
    route = router.delete(url=BASE_URL + "/media/a%3Fb%23c%20d%25").respond(204)

    assert api.media_delete("a?b#c d%") is True
    assert route.call_count == 1


def test_redirects_are_not_followed(api, router):
    router.get("/usage").respond(302, headers={"Location": "https://evil.example/"})

    with pytest.raises(UnknownError) as caught:
        api.usage()

    assert caught.value.status == 302
    assert len(router.calls) == 1


def test_the_repr_shows_the_base_url_and_a_masked_key_only(api):
    text = repr(api) + repr(api.config) + str(api.config)

    assert API_KEY not in text
    assert "sapi_key_…543a" in repr(api)
    assert BASE_URL in repr(api)


def test_a_key_with_a_newline_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as caught:
        ClientConfig(base_url=BASE_URL, api_key=API_KEY + "\n")

    assert API_KEY not in str(caught.value)


def test_the_client_is_a_context_manager(router):
    with SocialAPI(
        ClientConfig(base_url=BASE_URL, api_key=API_KEY),
        transport=httpx.MockTransport(router.handler),
    ) as api:
        router.get("/usage").respond(200, json={})
        api.usage()
    assert api._session._http.is_closed


def test_a_2xx_that_is_not_json_is_an_error_reported_once(api, router, recorder):
    router.get("/media/storage").respond(200, text="<html>captive portal</html>")

    with pytest.raises(UnknownError) as caught:
        api.media_storage()

    assert caught.value.code == "response.invalid"
    assert caught.value.endpoint == "/media/storage"
    assert recorder.errors == [caught.value]


# --- accounts ------------------------------------------------------------------------


def test_accounts_list_reads_every_documented_field(api, router):
    route = router.get("/accounts", params={"brand_id": "br_1"}).respond(
        200, json={"count": 2, "data": [ACCOUNT, {"id": "acc_2", "platform": "telegram"}]}
    )

    first, second = api.accounts_list(brand_id="br_1")

    assert route.called
    assert (first.id, first.platform, first.name, first.username) == (
        "acc_1",
        "instagram",
        "Acme",
        "acme",
    )
    assert (first.brand_id, first.status, first.needs_reconnect) == (
        "br_1",
        "reconnect_required",
        True,
    )
    assert first.reconnect_reason == "Token revoked by the user"
    assert first.profile_picture_url == "https://cdn.example/p.jpg"
    assert (first.page_name, first.login_id) == (None, None)
    assert first.metadata == {"ig_user_id": "178"}
    assert first.raw["bio"] == "ignored extra field"
    assert (second.id, second.name, second.status, second.metadata) == ("acc_2", "", "", {})


def test_accounts_list_without_a_brand_sends_no_brand_parameter(api, router):
    router.get("/accounts").respond(200, json={"count": 0, "data": None})

    assert api.accounts_list() == []
    assert "brand_id" not in str(router.calls.last.request.url)


def test_brands_list_reads_names_and_tolerates_missing_fields(api, router):
    router.get("/brands").respond(
        200,
        json={
            "count": 2,
            "data": [
                {
                    "id": "b_1",
                    "name": "Acme",
                    "accounts_count": 3,
                    "created_at": "2026-03-14T09:00:00Z",
                },
                {"id": "b_2"},
            ],
        },
    )

    first, second = api.brands_list()

    assert (first.id, first.name, first.accounts_count) == ("b_1", "Acme", 3)
    assert first.created_at is not None and first.created_at.year == 2026
    assert (second.id, second.name, second.accounts_count) == ("b_2", "", None)


def test_account_disconnect_deletes_and_raises_not_found_for_unknown_ids(api, router):
    router.delete("/accounts/acc_1").respond(204)
    router.delete("/accounts/acc_9").respond(404, json=error_body("account.not_found"))

    assert api.account_disconnect("acc_1") is None
    with pytest.raises(NotFound) as caught:
        api.account_disconnect("acc_9")

    assert caught.value.code == "account.not_found"
    assert caught.value.path_params == {"id": "acc_9"}
    assert caught.value.endpoint == "/accounts/{id}"
    assert caught.value.path == "/accounts/acc_9"


def test_account_limits_keeps_integer_values_only(api, router):
    router.get("/accounts/acc_1/limits").respond(
        200, json={"posts_remaining": 25, "stories_remaining": "many", "ok": True}
    )

    assert api.account_limits("acc_1") == {"posts_remaining": 25}


def test_account_limits_on_a_dead_token_raises_reconnect_required(api, router):
    router.get("/accounts/acc_1/limits").respond(
        403, json=error_body("account.reconnection_required")
    )

    with pytest.raises(ReconnectRequired):
        api.account_limits("acc_1")


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Token expired", "code": "invalid_token"},
        error_body("account.reconnection_required", "Account requires reconnection"),
    ],
    ids=["legacy", "current"],
)
def test_account_limits_on_an_api_key_platform_is_credentials_invalid_not_reconnect(
    api, router, recorder, body
):
    router.get("/accounts/acc_tg/limits").respond(403, json=body)

    with pytest.raises(CredentialsInvalid) as caught:
        api.account_limits("acc_tg", platform="telegram")

    assert (caught.value.family, caught.value.platform) == ("credentials", "telegram")
    assert recorder.errors == [caught.value]


# Each client method that knows the platform of its call, and how to make one.
PLATFORM_CALLS = {
    "account_limits": lambda api: api.account_limits("acc_1", platform="instagram"),
    "account_disconnect": lambda api: api.account_disconnect("acc_1", platform="instagram"),
    "accounts_connect": lambda api: api.accounts_connect(
        "instagram", redirect_uri="https://dash.example/cb", state="s"
    ),
    "accounts_connect_legacy": lambda api: api.accounts_connect_legacy(
        "instagram", redirect_uri="https://dash.example/cb"
    ),
    "oauth_exchange": lambda api: api.oauth_exchange(
        "instagram", code="c", redirect_uri="https://dash.example/cb", state="s"
    ),
    "pending_get": lambda api: api.pending_get("pc_1", platform="instagram"),
    "pending_select": lambda api: api.pending_select("pc_1", page_ids=["p1"], platform="instagram"),
}


@pytest.mark.parametrize("call", list(PLATFORM_CALLS))
@pytest.mark.parametrize(
    "body",
    [
        {"error": "Instagram is rate limiting", "code": "platform_rate_limit"},
        error_body("platform.instagram.rate_limit", "Instagram is rate limiting"),
    ],
    ids=["legacy", "current"],
)
def test_a_throttle_names_the_platform_of_the_call_in_both_dialects(
    make_client, router, recorder, call, body
):
    router.route().respond(429, json=body)
    api = make_client(max_attempts=1)

    with pytest.raises(PlatformThrottled) as caught:
        PLATFORM_CALLS[call](api)

    assert (caught.value.code, caught.value.platform) == ("platform.rate_limit", "instagram")
    assert recorder.errors == [caught.value]


def test_a_failed_call_without_an_answer_names_the_platform_of_the_call_too(make_client, router):
    router.get("/accounts/acc_1/limits").mock(side_effect=httpx.ConnectError("refused"))
    api = make_client(max_attempts=1)

    with pytest.raises(SocialAPIError) as caught:
        api.account_limits("acc_1", platform="Instagram")

    assert (caught.value.code, caught.value.platform) == ("network.connection_error", "instagram")


def test_the_platform_a_code_names_wins_over_the_one_the_call_was_for(make_client, router):
    router.get("/accounts/acc_1/limits").respond(429, json=error_body("platform.tiktok.rate_limit"))
    api = make_client(max_attempts=1)

    with pytest.raises(PlatformThrottled) as caught:
        api.account_limits("acc_1", platform="instagram")

    assert caught.value.platform == "tiktok"


def test_accounts_connect_sends_the_current_form_and_reads_the_oauth_answer(api, router):
    router.post("/accounts/connect").respond(
        202,
        json={"auth_url": "https://ig.example/oauth?x=1", "state": "ours", "message": "Go"},
    )

    result = api.accounts_connect(
        "instagram", redirect_uri="https://dash.example/cb", state="ours", brand_id="br_1"
    )

    assert sent_json(router) == {
        "platform": "instagram",
        "redirect_uri": "https://dash.example/cb",
        "state": "ours",
        "brand_id": "br_1",
    }
    assert (result.kind, result.form, result.auth_url, result.state, result.message) == (
        "oauth",
        "current",
        "https://ig.example/oauth?x=1",
        "ours",
        "Go",
    )
    assert result.account is None


def test_accounts_connect_reads_a_direct_connection(api, router):
    router.post("/accounts/connect").respond(
        201,
        json={
            "account_id": "acc_7",
            "display_name": "Bot",
            "platform": "telegram",
            "username": "bot",
        },
    )

    result = api.accounts_connect(
        "telegram", redirect_uri="https://d/cb", state="s", metadata={"bot_token": "t"}
    )

    assert sent_json(router)["metadata"] == {"bot_token": "t"}
    assert "brand_id" not in sent_json(router)
    assert result.kind == "direct"
    assert result.account is not None
    assert (result.account.account_id, result.account.display_name) == ("acc_7", "Bot")
    assert (result.account.platform, result.account.username) == ("telegram", "bot")


def test_accounts_connect_refuses_a_state_longer_than_512_characters(api, router):
    with pytest.raises(ValueError):
        api.accounts_connect("instagram", redirect_uri="https://d/cb", state="s" * 513)

    assert len(router.calls) == 0


def test_an_oauth_answer_without_auth_url_is_an_error(api, router, recorder):
    router.post("/accounts/connect").respond(202, json={"message": "?"})

    with pytest.raises(UnknownError):
        api.accounts_connect("instagram", redirect_uri="https://d/cb", state="s")

    assert len(recorder.errors) == 1


def test_accounts_connect_legacy_sends_the_legacy_form_and_returns_upstream_state(api, router):
    router.post("/accounts/connect").respond(
        202, json={"auth_url": "https://fb.example/o", "state": "upstream-state"}
    )

    result = api.accounts_connect_legacy("facebook", redirect_uri="https://d/cb", brand_id="br_2")

    assert sent_json(router) == {
        "platform": "facebook",
        "metadata": {"redirect_uri": "https://d/cb"},
        "brand_id": "br_2",
    }
    assert (result.form, result.state) == ("legacy", "upstream-state")


def test_a_legacy_config_makes_accounts_connect_use_the_legacy_form(make_client, router):
    router.post("/accounts/connect").respond(202, json={"auth_url": "https://a", "state": "u"})

    result = make_client(dialect="legacy").accounts_connect(
        "tiktok", redirect_uri="https://d/cb", state="ours"
    )

    assert sent_json(router) == {"platform": "tiktok", "metadata": {"redirect_uri": "https://d/cb"}}
    assert (result.form, result.state) == ("legacy", "u")


def test_oauth_exchange_returns_the_connected_account(api, router):
    router.post("/oauth/exchange").respond(
        201,
        json={"account_id": "acc_3", "display_name": "A", "platform": "tiktok", "username": "a"},
    )

    result = api.oauth_exchange("tiktok", code="c0de", redirect_uri="https://d/cb", state="st")

    assert sent_json(router) == {
        "platform": "tiktok",
        "code": "c0de",
        "metadata": {"redirect_uri": "https://d/cb", "state": "st"},
    }
    assert result.kind == "connected"
    assert result.account is not None and result.account.account_id == "acc_3"


def test_oauth_exchange_returns_a_pending_google_selection(api, router):
    router.post("/oauth/exchange").respond(
        200,
        json={
            "status": "selection_required",
            "connection_id": "pc_1",
            "platform": "google",
            "profiles": [
                {"platform_account_id": "loc_1", "display_name": "Shop A", "username": "a"},
                {"platform_account_id": "loc_2", "display_name": "Shop B"},
            ],
        },
    )

    result = api.oauth_exchange("google", code="c", redirect_uri="https://d/cb", state="s")

    assert result.kind == "pending"
    assert result.pending is not None
    assert result.pending.connection_id == "pc_1"
    assert [p.platform_account_id for p in result.pending.profiles] == ["loc_1", "loc_2"]


def test_pending_get_reads_facebook_pages_and_lost_access(api, router):
    router.get("/accounts/pending/pc_9").respond(
        200,
        json={
            "connection_id": "pc_9",
            "platform": "facebook",
            "login_id": "login_1",
            "expires_at": "2026-06-01T10:30:00Z",
            "pages": [
                {"platform_page_id": "p1", "name": "Page One", "category": "Shop"},
                {
                    "platform_page_id": "p2",
                    "name": "Page Two",
                    "assignable": False,
                    "assigned_brand_name": "Other brand",
                },
            ],
            "lost_access": [{"platform_page_id": "p3", "name": "Old", "brand_id": "br_1"}],
            "profiles": [],
        },
    )

    pending = api.pending_get("pc_9")

    assert (pending.platform, pending.login_id) == ("facebook", "login_1")
    assert pending.expires_at == datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
    assert [(p.platform_page_id, p.assignable) for p in pending.pages] == [
        ("p1", True),
        ("p2", False),
    ]
    assert pending.pages[1].assigned_brand_name == "Other brand"
    assert [(lost.platform_page_id, lost.brand_id) for lost in pending.lost_access] == [
        ("p3", "br_1")
    ]
    assert pending.profiles == ()


def test_pending_select_sends_page_ids_for_facebook(api, router):
    router.post("/accounts/pending/pc_9/select").respond(
        201, json={"account_id": "acc_5", "platform": "facebook", "display_name": "Page One"}
    )

    account = api.pending_select("pc_9", page_ids=["p1"])

    assert sent_json(router) == {"page_ids": ["p1"]}
    assert (account.account_id, account.display_name) == ("acc_5", "Page One")


def test_pending_select_sends_one_profile_for_google(api, router):
    router.post("/accounts/pending/pc_2/select").respond(
        201, json={"account_id": "acc_6", "platform": "google"}
    )

    assert api.pending_select("pc_2", platform_account_id="loc_2").account_id == "acc_6"
    assert sent_json(router) == {"platform_account_id": "loc_2"}


def test_pending_select_needs_exactly_one_choice(api):
    with pytest.raises(ValueError):
        api.pending_select("pc_2")
    with pytest.raises(ValueError):
        api.pending_select("pc_2", page_ids=["p"], platform_account_id="loc")


# --- media ---------------------------------------------------------------------------


def media(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"m{n}",
        "filename": f"f{n}.jpg",
        "content_type": "image/jpeg",
        "size_bytes": 1000 * n,
        "status": "ready",
        "url": f"https://cdn.example/m{n}",
        "created_at": "2026-05-01T12:00:00.5Z",
        **extra,
    }


def test_media_page_reads_items_and_the_cursor(api, router):
    route = router.get("/media", params={"limit": "100", "cursor": "c1"}).respond(
        200,
        json={"count": 2, "next_cursor": "c2", "data": [media(1), media(2, created_at="junk")]},
    )

    page = api.media_page(cursor="c1", limit=500)

    assert route.called
    assert page.next_cursor == "c2"
    first, second = page.items
    assert (first.id, first.filename, first.content_type, first.size_bytes) == (
        "m1",
        "f1.jpg",
        "image/jpeg",
        1000,
    )
    assert (first.status, first.url) == ("ready", "https://cdn.example/m1")
    assert first.created_at == datetime(2026, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert second.created_at is None


def test_media_iter_follows_three_pages(api, router):
    router.get("/media", params={"cursor": "c2"}).respond(
        200, json={"next_cursor": "c3", "data": [media(3)]}
    )
    router.get("/media", params={"cursor": "c3"}).respond(
        200, json={"next_cursor": "", "data": [media(4)]}
    )
    router.get("/media").respond(200, json={"next_cursor": "c2", "data": [media(1), media(2)]})

    assert [item.id for item in api.media_iter(limit=2)] == ["m1", "m2", "m3", "m4"]
    assert len(router.calls) == 3


def test_media_iter_stops_when_a_cursor_repeats(api, router):
    router.get("/media", params={"cursor": "loop"}).respond(
        200, json={"next_cursor": "loop", "data": [media(2)]}
    )
    router.get("/media").respond(200, json={"next_cursor": "loop", "data": [media(1)]})

    # islice keeps a regression from looping forever.
    assert [item.id for item in islice(api.media_iter(), 10)] == ["m1", "m2"]
    assert len(router.calls) == 2


def test_media_delete_is_true_on_204(api, router):
    router.delete("/media/m1").respond(204)

    assert api.media_delete("m1") is True


@pytest.mark.parametrize("media_id", ["..", ".", "", "a/../b", "../accounts", "a\\..\\b"])
def test_a_path_parameter_that_would_leave_its_path_is_refused_before_sending(
    api, router, recorder, media_id
):
    anything = router.route().respond(204)

    with pytest.raises(ValidationFailed) as caught:
        api.media_delete(media_id)

    assert not anything.called  # DELETE /v1 (or /v1/accounts) was never sent
    assert caught.value.code == "request.invalid_path_param"
    assert caught.value.status is None
    assert caught.value.attempts == 0
    assert recorder.errors == [caught.value]


@pytest.mark.parametrize("call", ["account_disconnect", "account_limits", "pending_get"])
def test_every_endpoint_with_an_id_refuses_a_dot_segment(api, router, call):
    anything = router.route().respond(200, json={})

    with pytest.raises(ValidationFailed):
        getattr(api, call)("..")

    assert not anything.called


@pytest.mark.parametrize(
    ("media_id", "sent_path"),
    [("m.1", "/v1/media/m.1"), ("...", "/v1/media/..."), ("%2e%2e", "/v1/media/%252e%252e")],
)
def test_ids_with_dots_or_escapes_stay_one_segment(api, router, media_id, sent_path):
    anything = router.route().respond(204)

    assert api.media_delete(media_id) is True

    assert anything.calls.last.request.url.raw_path.decode() == sent_path


@pytest.mark.parametrize(
    "body",
    [error_body("media.not_found"), {"error": "Not found", "code": "not_found"}],
    ids=["current", "legacy"],
)
def test_media_delete_is_false_on_404_without_reporting_an_error(api, router, recorder, body):
    router.delete("/media/m1").respond(404, json=body)

    assert api.media_delete("m1") is False
    assert recorder.errors == []


def test_media_delete_does_not_take_an_html_404_for_already_deleted(api, router, recorder):
    router.delete("/media/m1").respond(404, text="<html>Not Found</html>")

    with pytest.raises(NotFound):
        api.media_delete("m1")

    assert len(recorder.errors) == 1


def test_media_delete_raises_conflict_when_the_media_is_in_use(api, router, recorder):
    router.delete("/media/m1").respond(409, json=error_body("media.in_use", "Used by a post"))

    with pytest.raises(Conflict) as caught:
        api.media_delete("m1")

    assert caught.value.code == "media.in_use"
    assert len(router.calls) == 1
    assert recorder.errors == [caught.value]


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Media is attached to a scheduled post", "code": "conflict"},
        {"error": "Media is attached to a scheduled post"},
    ],
    ids=["unknown-code", "no-code"],
)
def test_a_legacy_409_on_a_media_delete_is_media_in_use_with_upstream_words(api, router, body):
    router.delete("/media/m1").respond(409, json=body)

    with pytest.raises(Conflict) as caught:
        api.media_delete("m1")

    assert (caught.value.code, caught.value.dialect) == ("media.in_use", "legacy")
    assert caught.value.message == "Media is attached to a scheduled post"


@pytest.mark.parametrize(
    ("body", "unlimited", "percent"),
    [
        ({"used_bytes": 52428800, "limit_bytes": 104857600, "count": 12}, False, 50.0),
        ({"used_bytes": 52428800, "limit_bytes": -1, "count": 12}, True, None),
    ],
)
def test_media_storage_reads_used_limit_and_count(api, router, body, unlimited, percent):
    router.get("/media/storage").respond(200, json=body)

    storage = api.media_storage()

    assert (storage.used_bytes, storage.count) == (52428800, 12)
    assert (storage.unlimited, storage.percent) == (unlimited, percent)


def test_media_upload_sends_multipart_file_and_returns_the_media_id(api, router):
    router.post("/media/upload").respond(201, json={"media_id": "0b9c-uuid"})

    media_id = api.media_upload("cat.png", b"\x89PNGdata", "image/png")

    request = router.calls.last.request
    assert media_id == "0b9c-uuid"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="cat.png"' in request.content
    assert b"Content-Type: image/png" in request.content
    assert b"\x89PNGdata" in request.content


# --- usage, user, events, posts, webhooks -------------------------------------------


def test_usage_reads_allowances_and_the_reset_moment(api, router):
    router.get("/usage").respond(
        200,
        json={
            "brands_used": 1,
            "brands_limit": 2,
            "posts_used": 10,
            "posts_limit": 10,
            "interactions_used": 7,
            "interactions_limit": -1,
            "profile_units_used": 3,
            "profile_units_limit": 5,
            "page_allowance": 5,
            "page_billing_exempt": False,
            "period_start": "2026-05-01T00:00:00Z",
            "period_end": "2026-06-01T00:00:00+02:00",
        },
    )

    usage = api.usage()

    assert (usage.brands_used, usage.brands_limit) == (1, 2)
    assert (usage.posts_used, usage.posts_limit) == (10, 10)
    assert (usage.interactions_used, usage.interactions_limit) == (7, -1)
    assert (usage.profile_units_used, usage.profile_units_limit) == (3, 5)
    assert usage.page_allowance == 5
    assert usage.period_start == datetime(2026, 5, 1, tzinfo=UTC)
    assert usage.period_end == datetime(2026, 5, 31, 22, tzinfo=UTC)


def test_users_me_reads_plan_and_billing_state(api, router):
    router.get("/users/me").respond(
        200,
        json={
            "id": "u1",
            "email": "ops@acme.example",
            "plan": "free",
            "billing_blocked": True,
            "billing_blocked_at": "2026-05-02T08:00:00Z",
            "allowed_platforms": ["instagram", "facebook", 3],
        },
    )

    me = api.users_me()

    assert (me.id, me.email, me.plan, me.billing_blocked) == (
        "u1",
        "ops@acme.example",
        "free",
        True,
    )
    assert me.billing_blocked_at == datetime(2026, 5, 2, 8, tzinfo=UTC)
    assert me.allowed_platforms == ("instagram", "facebook")


def test_events_page_sends_filters_and_reads_events(api, router):
    route = router.get(
        "/events",
        params={
            "status": "failed",
            "from": "2026-05-01T00:00:00Z",
            "to": "2026-05-02T00:00:00Z",
            "limit": "50",
            "platform": "instagram",
            "account_id": "acc_1",
            "cursor": "e1",
        },
    ).respond(
        200,
        json={
            "events": [
                {
                    "id": "ev_1",
                    "category": "post",
                    "action": "post.publish",
                    "status": "failed",
                    "status_code": 401,
                    "error_category": "auth",
                    "error_message": "Token expired",
                    "summary": "Publish failed",
                    "platform": "instagram",
                    "account_id": "acc_1",
                    "resource_id": "post_1",
                    "duration_ms": 420,
                    "metadata": {"code": "platform.instagram.auth"},
                    "created_at": "2026-05-01T09:00:00Z",
                }
            ],
            "pagination": {"has_more": True, "next_cursor": "e2", "limit": 50},
            "retention_days": 30,
        },
    )

    page = api.events_page(
        from_=datetime(2026, 5, 1, tzinfo=UTC),
        to="2026-05-02T00:00:00Z",
        cursor="e1",
        limit=50,
        platform="instagram",
        account_id="acc_1",
    )

    assert route.called
    assert (page.has_more, page.next_cursor, page.retention_days) == (True, "e2", 30)
    (event,) = page.events
    assert (event.id, event.category, event.action, event.status) == (
        "ev_1",
        "post",
        "post.publish",
        "failed",
    )
    assert (event.status_code, event.error_category, event.error_message) == (
        401,
        "auth",
        "Token expired",
    )
    assert (event.summary, event.platform, event.account_id, event.resource_id) == (
        "Publish failed",
        "instagram",
        "acc_1",
        "post_1",
    )
    assert event.duration_ms == 420
    assert event.metadata == {"code": "platform.instagram.auth"}
    assert event.created_at == datetime(2026, 5, 1, 9, tzinfo=UTC)


POST = {
    "id": "post_1",
    "status": "scheduled",
    "scheduled_at": "2026-06-01T09:00:00Z",
    "media": [
        {"source": "m1", "source_type": "media_id", "type": "image"},
        {"source": "https://x/y.jpg", "source_type": "url", "type": "image"},
    ],
    "media_ids": ["m0"],
    "targets": [
        {"account_id": "acc_1", "platform": "instagram", "status": "pending"},
        {
            "account_id": "acc_2",
            "platform": "facebook",
            "media": [{"source": "m2", "source_type": "media_id"}],
        },
    ],
}


def test_posts_page_reads_accounts_and_media_ids(api, router):
    route = router.get(
        "/posts", params={"account_ids": "acc_1,acc_2", "status": "scheduled", "limit": "100"}
    ).respond(200, json={"data": [POST], "pagination": {"has_more": False, "next_cursor": ""}})

    page = api.posts_page(account_ids=["acc_1", "acc_2"], status="scheduled")

    assert route.called
    (post,) = page.posts
    assert (post.id, post.status) == ("post_1", "scheduled")
    assert post.scheduled_at == datetime(2026, 6, 1, 9, tzinfo=UTC)
    assert post.account_ids == ("acc_1", "acc_2")
    assert post.media_ids == ("m1", "m0", "m2")
    assert len(post.targets) == 2
    assert (page.has_more, page.next_cursor) == (False, None)


def test_posts_iter_follows_the_cursor_until_has_more_is_false(api, router):
    def page(n: int, more: bool) -> dict:
        return {
            "data": [{**POST, "id": f"post_{n}"}],
            "pagination": {"has_more": more, "next_cursor": f"p{n + 1}"},
        }

    router.get("/posts", params={"cursor": "p2"}).respond(200, json=page(2, True))
    router.get("/posts", params={"cursor": "p3"}).respond(200, json=page(3, False))
    router.get("/posts").respond(200, json=page(1, True))

    posts = list(api.posts_iter(account_ids=["acc_1"], status="scheduled"))

    assert [post.id for post in posts] == ["post_1", "post_2", "post_3"]
    assert len(router.calls) == 3


def test_webhooks_create_returns_the_secret_once_and_hides_it_from_repr(api, router):
    router.post("/webhooks").respond(
        201,
        json={
            "id": "wh_1",
            "url": "https://dash.example/hooks/socialapi",
            "events": ["account.disconnected", "post.failed"],
            "secret": "whsec_abc",
            "message": "created",
        },
    )

    created = api.webhooks_create(
        "https://dash.example/hooks/socialapi", ["account.disconnected", "post.failed"]
    )

    assert sent_json(router) == {
        "url": "https://dash.example/hooks/socialapi",
        "events": ["account.disconnected", "post.failed"],
    }
    assert (created.id, created.secret) == ("wh_1", "whsec_abc")
    assert created.events == ("account.disconnected", "post.failed")
    assert "whsec_abc" not in repr(created)


def test_webhooks_list_reads_endpoints(api, router):
    router.get("/webhooks").respond(
        200,
        json={
            "count": 1,
            "data": [
                {
                    "id": "wh_1",
                    "url": "https://d/h",
                    "events": ["post.failed"],
                    "is_active": False,
                    "created_at": "2026-05-01T00:00:00Z",
                }
            ],
        },
    )

    (endpoint,) = api.webhooks_list()

    assert (endpoint.id, endpoint.url, endpoint.events, endpoint.is_active) == (
        "wh_1",
        "https://d/h",
        ("post.failed",),
        False,
    )
    assert endpoint.created_at == datetime(2026, 5, 1, tzinfo=UTC)


def test_webhooks_delete_removes_an_endpoint(api, router):
    route = router.delete("/webhooks/wh_1").respond(200, json={"success": True})

    assert api.webhooks_delete("wh_1") is True
    assert route.call_count == 1


def test_webhooks_delete_is_false_when_upstream_says_it_is_already_gone(api, router, recorder):
    router.delete("/webhooks/wh_9").respond(404, json=error_body("resource.not_found"))

    assert api.webhooks_delete("wh_9") is False
    assert recorder.errors == []


def test_webhooks_delete_does_not_take_a_missing_route_for_already_gone(api, router):
    router.delete("/webhooks/wh_1").respond(404, text="<html>Not Found</html>")

    with pytest.raises(NotFound):
        api.webhooks_delete("wh_1")


def test_webhooks_delete_raises_for_a_rejected_key(api, router):
    router.delete("/webhooks/wh_1").respond(401, json=error_body("auth.invalid_key"))

    with pytest.raises(SocialAPIError) as caught:
        api.webhooks_delete("wh_1")

    assert caught.value.family == "api_key"
