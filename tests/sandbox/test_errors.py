"""One error description, two dialects: both must mean the same to the dashboard."""

from __future__ import annotations

import json

import pytest

from sandbox.errors import DIALECTS, api_error, error_response
from socialapi.codes import classify, parse_error_body


def platform_for(code: str) -> list[str | None]:
    return ["instagram", "telegram"] if code.startswith("platform.") else [None]


@pytest.mark.parametrize(
    ("code", "platform"),
    [(code, platform) for code in DIALECTS for platform in platform_for(code)],
)
def test_both_dialects_of_an_error_classify_alike(code, platform):
    error = api_error(code, "Something happened", platform=platform, field="x")
    current = error_response(error, dialect="current", request_id="r1")
    legacy = error_response(error, dialect="legacy", request_id="r1")
    read_current = parse_error_body(current.status_code, current.content)
    read_legacy = parse_error_body(legacy.status_code, legacy.content)
    assert (read_current.dialect, read_legacy.dialect) == ("current", "legacy")
    family_current = classify(read_current.raw_code, current.status_code, platform=platform).family
    family_legacy = classify(
        read_legacy.raw_code, legacy.status_code, platform=platform, dialect="legacy"
    ).family
    assert family_current == family_legacy


def test_a_current_error_body_is_nested_with_the_request_id():
    error = api_error("media.not_found", "Media not found", resource="media", id="m1")
    body = json.loads(error_response(error, dialect="current", request_id="r9").content)
    assert body == {
        "error": {
            "code": "media.not_found",
            "message": "Media not found",
            "meta": {"resource": "media", "id": "m1"},
        },
        "request_id": "r9",
    }


def test_a_legacy_error_body_is_flat_with_the_seed_code():
    error = api_error("account.reconnection_required", "Token expired", platform="instagram")
    response = error_response(error, dialect="legacy", request_id="r9")
    assert response.status_code == 401
    assert json.loads(response.content) == {"error": "Token expired", "code": "invalid_token"}


def test_platform_codes_carry_the_platform_name():
    error = api_error("platform.rate_limit", "slow", platform="tiktok")
    assert error.code == "platform.tiktok.rate_limit" and error.status == 429
