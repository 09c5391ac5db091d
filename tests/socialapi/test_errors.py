"""The error table, the classifier, the body parser and the exception factory."""

from __future__ import annotations

import json
import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialapi import (
    ApiKeyInvalid,
    BillingBlocked,
    Conflict,
    CredentialsInvalid,
    Family,
    MonthlyLimitReached,
    NotFound,
    NotSupported,
    PlatformThrottled,
    ReconnectRequired,
    ServerError,
    SocialAPIError,
    StorageQuotaExceeded,
    UnknownError,
    ValidationFailed,
    classify,
    error_from_response,
    parse_error_body,
)
from socialapi.errors import CODE_TABLE, FAMILY_CLASSES, parse_retry_after
from tests.socialapi.helpers import API_KEY

F = Family

# (raw code, HTTP status, message, expected normalised code, family, platform)
SEED_CODES = [
    ("missing_metadata", 400, "", "validation.field_required", F.VALIDATION, None),
    ("unsupported_platform", 400, "", "account.unsupported_platform", F.VALIDATION, None),
    ("unauthorized", 401, "", "auth.invalid_key", F.API_KEY, None),
    ("invalid_token", 401, "", "account.reconnection_required", F.RECONNECT, None),
    ("invalid_credentials", 401, "", "byok.credentials_invalid", F.CREDENTIALS, None),
    ("unauthorized", 403, "", "auth.state_mismatch", F.VALIDATION, None),
    ("account_not_found", 404, "", "account.not_found", F.NOT_FOUND, None),
    ("not_found", 404, "", "resource.not_found", F.NOT_FOUND, None),
    ("account_already_linked", 409, "", "account.already_linked", F.CONFLICT, None),
    ("storage_quota_exceeded", 413, "", "billing.storage_quota", F.STORAGE_QUOTA, None),
    (
        "rate_limit_exceeded",
        429,
        "Monthly post limit reached",
        "validation.post_limit_exhausted",
        F.MONTHLY_LIMIT,
        None,
    ),
    (
        "rate_limit_exceeded",
        429,
        "Monthly Interaction limit reached",
        "validation.interaction_limit_exhausted",
        F.MONTHLY_LIMIT,
        None,
    ),
    ("platform_rate_limit", 429, "", "platform.rate_limit", F.PLATFORM_THROTTLE, None),
    ("-", 500, "", "system.internal", F.SERVER, None),
    ("not_supported", 501, "", "resource.not_supported", F.NOT_SUPPORTED, None),
]

CURRENT_CODES = [
    ("validation.field_required", 400, "validation.field_required", F.VALIDATION, None),
    ("validation.field_invalid", 400, "validation.field_invalid", F.VALIDATION, None),
    ("validation.body_invalid", 400, "validation.body_invalid", F.VALIDATION, None),
    ("account.unsupported_platform", 400, "account.unsupported_platform", F.VALIDATION, None),
    ("auth.missing_header", 401, "auth.missing_header", F.API_KEY, None),
    ("auth.empty_token", 401, "auth.empty_token", F.API_KEY, None),
    ("auth.invalid_key", 401, "auth.invalid_key", F.API_KEY, None),
    ("auth.invalid_token", 401, "auth.invalid_token", F.API_KEY, None),
    ("account.reconnection_required", 403, "account.reconnection_required", F.RECONNECT, None),
    ("platform.instagram.auth", 401, "platform.auth", F.RECONNECT, "instagram"),
    ("platform.linkedin_page.auth", 401, "platform.auth", F.RECONNECT, "linkedin_page"),
    ("platform.x.auth", 401, "platform.auth", F.RECONNECT, "twitter"),
    ("platform.telegram.auth", 401, "platform.auth", F.CREDENTIALS, "telegram"),
    ("platform.whatsapp.auth", 401, "platform.auth", F.CREDENTIALS, "whatsapp"),
    ("platform.myspace.auth", 401, "platform.auth", F.RECONNECT, "myspace"),
    ("byok.credentials_invalid", 401, "byok.credentials_invalid", F.CREDENTIALS, None),
    ("auth.state_mismatch", 403, "auth.state_mismatch", F.VALIDATION, None),
    ("account.not_found", 404, "account.not_found", F.NOT_FOUND, None),
    ("resource.not_found", 404, "resource.not_found", F.NOT_FOUND, None),
    ("media.not_found", 404, "media.not_found", F.NOT_FOUND, None),
    ("account.already_linked", 409, "account.already_linked", F.CONFLICT, None),
    ("media.in_use", 409, "media.in_use", F.CONFLICT, None),
    ("billing.storage_quota", 413, "billing.storage_quota", F.STORAGE_QUOTA, None),
    (
        "validation.post_limit_exhausted",
        429,
        "validation.post_limit_exhausted",
        F.MONTHLY_LIMIT,
        None,
    ),
    (
        "validation.interaction_limit_exhausted",
        429,
        "validation.interaction_limit_exhausted",
        F.MONTHLY_LIMIT,
        None,
    ),
    ("billing.post_limit", 429, "billing.post_limit", F.MONTHLY_LIMIT, None),
    ("platform.instagram.rate_limit", 429, "platform.rate_limit", F.PLATFORM_THROTTLE, "instagram"),
    ("platform.tiktok.rate_limit", 429, "platform.rate_limit", F.PLATFORM_THROTTLE, "tiktok"),
    ("billing.past_due", 402, "billing.past_due", F.BILLING, None),
    ("billing.platform_not_available", 403, "billing.platform_not_available", F.VALIDATION, None),
    ("billing.brands_limit", 403, "billing.brands_limit", F.VALIDATION, None),
    ("system.internal", 500, "system.internal", F.SERVER, None),
    ("webhook_verification_failed", 400, "webhook_verification_failed", F.VALIDATION, None),
    ("resource.not_supported", 501, "resource.not_supported", F.NOT_SUPPORTED, None),
    ("account.platform_unsupported", 422, "account.platform_unsupported", F.NOT_SUPPORTED, None),
    (
        "platform.instagram.insights_scope_missing",
        403,
        "platform.insights_scope_missing",
        F.RECONNECT,
        "instagram",
    ),
    # socialapi.md: the reachability ping of POST /v1/webhooks failed.
    ("webhook_verification_failed", 400, "webhook_verification_failed", F.VALIDATION, None),
    # The OpenAPI file: refusals of one request by the platform (the account is fine).
    (
        "platform.instagram.private_reply_ineligible",
        400,
        "platform.private_reply_ineligible",
        F.VALIDATION,
        "instagram",
    ),
    (
        "platform.facebook.private_reply_ineligible",
        400,
        "platform.private_reply_ineligible",
        F.VALIDATION,
        "facebook",
    ),
    ("platform.instagram.window_closed", 400, "platform.window_closed", F.VALIDATION, "instagram"),
    (
        "platform.instagram.permission_denied",
        403,
        "platform.permission_denied",
        F.VALIDATION,
        "instagram",
    ),
    ("platform.facebook.page_cap", 403, "platform.page_cap", F.VALIDATION, "facebook"),
    ("platform.instagram.230", 403, "platform.230", F.VALIDATION, "instagram"),
    ("platform.tiktok.media_required", 400, "platform.media_required", F.VALIDATION, "tiktok"),
    (
        "publishing.delivery.all_failed",
        422,
        "publishing.delivery.all_failed",
        F.VALIDATION,
        None,
    ),
    # POST /v1/posts/{pid}/retry: the codes upstream's official SDK names for its answers.
    ("post.not_found", 404, "post.not_found", F.NOT_FOUND, None),
    ("post.state_invalid", 409, "post.state_invalid", F.CONFLICT, None),
    (
        "post.no_retryable_deliveries",
        400,
        "post.no_retryable_deliveries",
        F.VALIDATION,
        None,
    ),
]

# Platforms of each auth kind, and none at all (a call not about one account).
AUTH_KINDS = {"oauth": "linkedin", "credentials": "telegram", "none": None}
CREDENTIAL_PLATFORMS = {"telegram", "whatsapp"}  # bot token / API credentials, no OAuth

ALL_CODES = [row[:2] + row[3:] for row in SEED_CODES] + CURRENT_CODES
MESSAGES = {(row[0], row[2]): row[2] for row in SEED_CODES}


def legacy_body(code: str, message: str) -> bytes:
    return json.dumps({"error": message or "Something failed", "code": code}).encode()


def current_body(code: str, message: str) -> bytes:
    body = {"error": {"code": code, "message": message or "Something failed", "meta": {}}}
    return json.dumps({**body, "request_id": "a1b2c3d4"}).encode()


@pytest.mark.parametrize(("raw", "status", "message", "code", "family", "platform"), SEED_CODES)
@pytest.mark.parametrize("build", [legacy_body, current_body], ids=["legacy", "current"])
def test_it_normalises_every_seed_code_in_both_dialects(
    build, raw, status, message, code, family, platform
):
    error = error_from_response(status, build(raw, message), {})

    assert (error.code, error.family, error.platform) == (code, family, platform)
    assert error.raw_code == raw
    assert isinstance(error, FAMILY_CLASSES[family])


@pytest.mark.parametrize(("raw", "status", "code", "family", "platform"), CURRENT_CODES)
@pytest.mark.parametrize("build", [legacy_body, current_body], ids=["legacy", "current"])
def test_it_normalises_every_current_code_in_both_dialects(
    build, raw, status, code, family, platform
):
    error = error_from_response(status, build(raw, ""), {})

    assert (error.code, error.family, error.platform) == (code, family, platform)
    assert isinstance(error, FAMILY_CLASSES[family])


def test_every_row_of_the_table_is_covered_by_these_tests():
    tested = {row[0] for row in SEED_CODES} | {
        re.sub(r"^platform\.[a-z_]+\.", "platform.", raw) for raw, *_ in CURRENT_CODES
    }

    assert {row[0] for row in CODE_TABLE} <= tested


def expected_family(family: Family, kind: str) -> Family:
    """An API-key platform has no OAuth login to lose: "reconnect" is "credentials" there."""
    return F.CREDENTIALS if (family, kind) == (F.RECONNECT, "credentials") else family


@pytest.mark.parametrize(("raw", "status", "code", "family", "platform"), ALL_CODES)
@pytest.mark.parametrize("kind", list(AUTH_KINDS))
def test_every_code_has_one_family_per_auth_kind_of_the_platform_called(
    kind, raw, status, code, family, platform
):
    hint = AUTH_KINDS[kind]
    message = next((row[2] for row in SEED_CODES if (row[0], row[3]) == (raw, code)), "")
    found = classify(raw, status, message=message, platform=hint)

    # A platform named in the code wins over the one the call was for.
    named = platform or hint
    assert (found.code, found.platform) == (code, named)
    assert found.family is expected_family(
        family, "credentials" if named in CREDENTIAL_PLATFORMS else "oauth"
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("account.reconnection_required", 403),
        ("invalid_token", 401),
        ("platform.auth", 401),
        ("platform.insights_scope_missing", 403),
    ],
)
@pytest.mark.parametrize("platform", ["telegram", "whatsapp"])
def test_a_reconnect_code_on_an_api_key_platform_is_a_credentials_error(raw, status, platform):
    error = error_from_response(status, legacy_body(raw, "dead"), {}, platform=platform)

    assert error.family is F.CREDENTIALS
    assert isinstance(error, CredentialsInvalid)
    assert classify(raw, status, platform="instagram").family is F.RECONNECT


@pytest.mark.parametrize("build", [legacy_body, current_body], ids=["legacy", "current"])
@pytest.mark.parametrize("raw", [None, "conflict", "media_in_use"])
def test_a_409_on_a_media_delete_is_media_in_use_whatever_code_names_it(build, raw):
    body = build(raw, "Media is attached to a scheduled post") if raw else b'{"error": "In use"}'

    error = error_from_response(409, body, {}, method="DELETE", endpoint="/media/{id}")
    elsewhere = error_from_response(409, body, {}, method="DELETE", endpoint="/webhooks/{id}")

    assert (error.code, error.family) == ("media.in_use", F.CONFLICT)
    assert (elsewhere.code, elsewhere.family) == (raw or "unknown", F.CONFLICT)


def test_a_known_code_is_kept_on_an_endpoint_with_an_implied_code():
    error = error_from_response(
        409, legacy_body("account_already_linked", "x"), {}, method="DELETE", endpoint="/media/{id}"
    )

    assert error.code == "account.already_linked"


def test_a_legacy_platform_throttle_names_the_platform_of_the_call_like_the_current_code():
    legacy = error_from_response(
        429, legacy_body("platform_rate_limit", "slow down"), {}, platform="instagram"
    )
    current = error_from_response(429, current_body("platform.instagram.rate_limit", "x"), {})

    assert (legacy.code, legacy.family, legacy.platform) == (
        current.code,
        current.family,
        current.platform,
    )
    assert legacy.platform == "instagram"


def test_auth_invalid_token_is_the_api_key_not_a_reconnect():
    found = classify("auth.invalid_token", 401)

    assert found.family is Family.API_KEY
    assert found.family is not Family.RECONNECT
    assert classify("invalid_token", 401).family is Family.RECONNECT


@pytest.mark.parametrize(
    ("raw", "status", "code", "family"),
    [
        ("something.weird", 418, "something.weird", F.UNKNOWN),
        ("Weird.CODE", 503, "weird.code", F.SERVER),
        ("brand.gone", 404, "brand.gone", F.NOT_FOUND),
        ("brand.clash", 409, "brand.clash", F.CONFLICT),
        ("brand.bad", 400, "brand.bad", F.VALIDATION),
        ("brand.bad", 422, "brand.bad", F.VALIDATION),
        ("brand.nope", 501, "brand.nope", F.NOT_SUPPORTED),
        ("brand.slow", 429, "brand.slow", F.UNKNOWN),
        ("rate_limited", 429, "rate_limited", F.UNKNOWN),
        (None, 429, "unknown", F.UNKNOWN),
        ("", 429, "unknown", F.UNKNOWN),
        ("brand.pay", 402, "brand.pay", F.BILLING),
        ("brand.forbidden", 403, "brand.forbidden", F.UNKNOWN),
        ("inbox.reply_limit_exhausted", 429, "inbox.reply_limit_exhausted", F.MONTHLY_LIMIT),
        ("webhook.not_found", 400, "webhook.not_found", F.NOT_FOUND),
        ("review.not_supported", 400, "review.not_supported", F.NOT_SUPPORTED),
        ("system.overloaded", 503, "system.overloaded", F.SERVER),
        ("validation.something_new", 400, "validation.something_new", F.VALIDATION),
        ("auth.key_revoked", 401, "auth.key_revoked", F.API_KEY),
        ("auth.insufficient_scope", 403, "auth.insufficient_scope", F.UNKNOWN),
        ("platform.instagram.something_new", 403, "platform.something_new", F.UNKNOWN),
        ("platform.instagram.odd_field", 400, "platform.odd_field", F.VALIDATION),
        ("platform.telegram.auth_new", 401, "platform.auth_new", F.UNKNOWN),
        (None, 403, "unknown", F.UNKNOWN),
        ("", 502, "unknown", F.SERVER),
        (None, None, "unknown", F.UNKNOWN),
    ],
)
def test_it_falls_back_on_the_http_status_for_unknown_codes(raw, status, code, family):
    found = classify(raw, status)

    assert (found.code, found.family) == (code, family)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>Too Many Requests</html>", b'{"error": {"code": "quota.mystery"}}'],
    ids=["empty", "html", "unknown-code"],
)
def test_a_429_without_a_known_code_is_unknown_not_a_platform_throttle(body):
    error = error_from_response(429, body, {"Retry-After": "5"})

    assert error.family is F.UNKNOWN
    assert isinstance(error, UnknownError)
    assert error.platform is None


def test_a_legacy_500_without_a_code_is_system_internal():
    error = error_from_response(500, b'{"error": "Internal server error"}', {})

    assert (error.code, error.family, error.dialect) == ("system.internal", F.SERVER, "legacy")


def test_a_current_500_without_a_code_is_unknown_but_a_server_error():
    error = error_from_response(500, b'{"error": {"message": "boom"}}', {})

    assert (error.code, error.family) == ("unknown", F.SERVER)


def test_the_platform_hint_is_used_when_the_code_names_none():
    found = classify("platform_rate_limit", 429, platform="Pinterest")

    assert (found.code, found.platform) == ("platform.rate_limit", "pinterest")


def test_the_platform_in_the_code_wins_over_the_hint():
    assert classify("platform.telegram.auth", 401, platform="instagram") == classify(
        "platform.auth", 401, platform="telegram"
    )


@given(
    raw=st.sampled_from([row[0] for row in ALL_CODES] + ["x.y", "", "platform.x.auth"]),
    status=st.sampled_from([None, 400, 401, 403, 404, 409, 413, 422, 429, 500, 501, 503]),
    message=st.sampled_from(["", "interaction limit", "post limit"]),
)
def test_classifying_a_normalised_code_again_changes_nothing(raw, status, message):
    first = classify(raw, status, message=message)

    assert classify(first.code, status, message=message, platform=first.platform) == first


# --- parsing -------------------------------------------------------------------------


def test_it_parses_the_legacy_dialect():
    parsed = parse_error_body(401, b'{"error": "Token expired", "code": "invalid_token"}', {})

    assert parsed.dialect == "legacy"
    assert (parsed.raw_code, parsed.message, parsed.meta) == ("invalid_token", "Token expired", {})


def test_it_parses_the_current_dialect_with_meta_and_request_id():
    body = {
        "error": {"code": "validation.field_required", "message": "m", "meta": {"field": "url"}},
        "request_id": "a1b2c3d4",
    }
    parsed = parse_error_body(400, json.dumps(body), {"X-Request-ID": "from-header"})

    assert parsed.dialect == "current"
    assert parsed.raw_code == "validation.field_required"
    assert parsed.meta == {"field": "url"}
    assert parsed.request_id == "a1b2c3d4"


def test_the_request_id_falls_back_to_the_response_header_case_insensitively():
    parsed = parse_error_body(
        401, b'{"error": "x", "code": "unauthorized"}', {"x-request-id": "h1"}
    )

    assert parsed.request_id == "h1"


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"",
        b"   ",
        b'{"error": {"code": "system.inter',
        b"[1, 2, 3]",
        b"42",
        b'"just a string"',
        b"null",
        b'{"error": 5}',
        b'{"error": ["a"]}',
        b'{"unrelated": true}',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
    ],
    ids=[
        "html",
        "empty",
        "blank",
        "truncated",
        "list",
        "number",
        "string",
        "null",
        "error-number",
        "error-list",
        "no-error-key",
        "bad-utf8",
        "deep-nesting",
    ],
)
def test_an_unparseable_body_is_an_error_of_its_status_with_code_unknown(body):
    error = error_from_response(502, body, {"X-Request-ID": "rid-7"})

    assert error.dialect == "unparseable"
    assert (error.code, error.family, error.status) == ("unknown", F.SERVER, 502)
    assert error.request_id == "rid-7"
    assert isinstance(error, ServerError)


def test_a_non_dict_meta_becomes_an_empty_dict():
    parsed = parse_error_body(400, b'{"error": {"code": "a.b", "meta": [1]}}', None)

    assert (parsed.raw_code, parsed.meta) == ("a.b", {})


@settings(max_examples=300)
@given(status=st.one_of(st.none(), st.integers(min_value=-1000, max_value=1000)), body=st.binary())
def test_parsing_never_raises_on_arbitrary_bytes(status, body):
    parsed = parse_error_body(status, body, {})
    error = error_from_response(status, body, {})

    assert parsed.dialect in ("legacy", "current", "unparseable")
    assert isinstance(error, SocialAPIError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["error", "code", "message", "meta", "request_id"]) | st.text(),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(status=st.integers(min_value=100, max_value=599), value=json_values)
def test_parsing_never_raises_on_arbitrary_json(status, value):
    error = error_from_response(status, json.dumps(value), {})

    assert isinstance(error, FAMILY_CLASSES[error.family])


# --- exceptions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("auth.invalid_key", 401, ApiKeyInvalid),
        ("account.reconnection_required", 403, ReconnectRequired),
        ("byok.credentials_invalid", 401, CredentialsInvalid),
        ("billing.storage_quota", 413, StorageQuotaExceeded),
        ("billing.post_limit", 429, MonthlyLimitReached),
        ("platform.facebook.rate_limit", 429, PlatformThrottled),
        ("billing.past_due", 402, BillingBlocked),
        ("media.not_found", 404, NotFound),
        ("media.in_use", 409, Conflict),
        ("resource.not_supported", 501, NotSupported),
        ("validation.field_invalid", 400, ValidationFailed),
        ("system.internal", 500, ServerError),
        ("teapot.brewing", 418, UnknownError),
    ],
)
def test_the_factory_picks_the_class_of_the_family(code, status, cls):
    error = error_from_response(status, current_body(code, "m"), {})

    assert type(error) is cls


def test_str_is_a_one_liner_with_status_code_message_and_request_id():
    error = error_from_response(
        404,
        current_body("media.not_found", "Media not found"),
        {},
        method="DELETE",
        endpoint="/media/{id}",
        path="/media/m1",
        path_params={"id": "m1"},
    )

    assert str(error) == (
        "404 media.not_found: Media not found (request id a1b2c3d4) [DELETE /media/{id}]"
    )
    assert (error.endpoint, error.path, error.path_params) == (
        "/media/{id}",
        "/media/m1",
        {"id": "m1"},
    )


def test_str_stays_on_one_line_when_the_message_has_newlines():
    error = error_from_response(400, current_body("validation.body_invalid", "bad\nbody\r\n"), {})

    assert str(error) == "400 validation.body_invalid: bad body (request id a1b2c3d4)"


def test_the_raw_body_is_kept_but_capped_at_8_kb():
    body = b'{"error": "' + b"x" * 20_000 + b'", "code": "not_found"}'
    error = error_from_response(404, body, {})

    assert len(error.body.encode()) == 8 * 1024
    assert error.code == "resource.not_found"


def test_the_api_key_echoed_by_upstream_is_redacted_everywhere():
    body = json.dumps({"error": f"Bad key {API_KEY}", "code": "unauthorized"})
    error = error_from_response(401, body, {}, secrets=(API_KEY,))

    for text in (str(error), repr(error), error.message, error.body, *map(str, error.args)):
        assert API_KEY not in text
    assert "sapi_key_" + "0123" not in error.message


def test_anything_shaped_like_an_api_key_is_redacted_even_when_unknown():
    other_key = "sapi_key_" + "9" * 62
    body = json.dumps({"error": {"code": "auth.invalid_key", "message": f"{other_key} revoked"}})

    error = error_from_response(401, body, {})

    assert other_key not in error.message + error.body
    assert error.message == "sapi_key_[redacted] revoked"


def test_a_deeply_nested_meta_is_cut_short_instead_of_overflowing_the_stack():
    deep: object = "bottom"
    for _ in range(600):  # json.loads takes it; walking it one frame per level would not
        deep = {"next": deep}
    body = json.dumps({"error": {"code": "system.internal", "message": "x", "meta": deep}})

    error = error_from_response(500, body, {})

    assert error.code == "system.internal"
    assert "[too deep]" in json.dumps(error.meta)


def test_an_error_survives_pickling_with_its_attributes():
    error = error_from_response(
        429, current_body("platform.x.rate_limit", "slow"), {"Retry-After": "12"}
    )

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object

    assert type(copy) is PlatformThrottled
    assert copy.as_dict() == error.as_dict()
    assert copy.retry_after == 12.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds_are_parsed(value, expected):
    assert parse_retry_after(value, now=0.0) == expected


def test_retry_after_as_an_http_date_is_seconds_from_now():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412540.0) == 0.0
