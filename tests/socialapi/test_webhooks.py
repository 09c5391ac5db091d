"""Webhook signature verification: v1, v2, no downgrade, timestamps, headers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from socialapi import WebhookSignatureError, sign_v1, sign_v2, verify_signature

SECRET = "whsec_test_secret"
BODY = b'{"event":"account.disconnected","data":{"account_id":"acc_1"}}'
NOW = 1_780_000_000


def v2_headers(timestamp: int = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-SocialAPI-Signature-V2": sign_v2(secret, body, timestamp),
        "X-SocialAPI-Timestamp": str(timestamp),
    }


def reason_of(body: bytes, headers: dict[str, str], **kwargs: Any) -> str:
    kwargs.setdefault("now", NOW)
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(SECRET, body, headers, **kwargs)
    return caught.value.reason


def test_signatures_are_hex_hmac_sha256_with_a_prefix():
    # Known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    expected = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"

    assert sign_v1("key", b"The quick brown fox jumps over the lazy dog") == expected
    assert sign_v2(SECRET, b"body", 1700000000) == sign_v1(SECRET, b"1700000000.body")


def test_it_accepts_a_good_v1_signature_only_when_v2_is_not_required():
    headers = {"X-SocialAPI-Signature": sign_v1(SECRET, BODY)}

    assert verify_signature(SECRET, BODY, headers, now=NOW, require_v2=False) == "v1"


def test_it_refuses_a_v1_only_delivery_by_default_so_a_captured_body_cannot_be_replayed():
    # A genuine delivery, captured: replaying it without the V2 header drops the timestamp.
    captured = {"X-SocialAPI-Signature": sign_v1(SECRET, BODY), **v2_headers(timestamp=NOW)}
    replayed = {"X-SocialAPI-Signature": captured["X-SocialAPI-Signature"]}

    assert verify_signature(SECRET, BODY, captured, now=NOW) == "v2"
    assert reason_of(BODY, replayed, now=NOW + 86_400 * 365) == "v2_required"


def test_it_says_v2_required_before_checking_a_v1_signature():
    assert reason_of(BODY, {"X-SocialAPI-Signature": "sha256=00"}) == "v2_required"


def test_a_v2_delivery_is_accepted_when_v1_is_allowed_too():
    assert verify_signature(SECRET, BODY, v2_headers(), now=NOW, require_v2=False) == "v2"


def test_it_accepts_a_good_v2_signature():
    assert verify_signature(SECRET, BODY, v2_headers(), now=NOW) == "v2"


def test_it_rejects_a_bad_v2_even_with_a_good_v1():
    headers = {
        "X-SocialAPI-Signature": sign_v1(SECRET, BODY),
        **v2_headers(secret="another-secret"),
    }

    assert reason_of(BODY, headers) == "bad_signature"


def test_it_rejects_an_empty_v2_header_instead_of_falling_back_to_v1():
    headers = {
        "X-SocialAPI-Signature": sign_v1(SECRET, BODY),
        "X-SocialAPI-Signature-V2": "",
        "X-SocialAPI-Timestamp": str(NOW),
    }

    assert reason_of(BODY, headers) == "bad_signature"


def test_it_rejects_a_tampered_body():
    assert reason_of(BODY + b" ", v2_headers()) == "bad_signature"
    v1_only = {"X-SocialAPI-Signature": sign_v1(SECRET, BODY)}
    assert reason_of(BODY + b" ", v1_only, require_v2=False) == "bad_signature"


def test_it_rejects_a_v2_signature_replayed_with_another_timestamp():
    headers = v2_headers()
    headers["X-SocialAPI-Timestamp"] = str(NOW - 10)

    assert reason_of(BODY, headers) == "bad_signature"


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 10**9])
def test_it_rejects_a_stale_or_future_timestamp(offset):
    assert reason_of(BODY, v2_headers(timestamp=NOW + offset)) == "stale_timestamp"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_it_accepts_a_timestamp_within_tolerance(offset):
    assert verify_signature(SECRET, BODY, v2_headers(timestamp=NOW + offset), now=NOW) == "v2"


def test_the_tolerance_is_configurable():
    headers = v2_headers(timestamp=NOW - 61)

    assert reason_of(BODY, headers, tolerance=60) == "stale_timestamp"


@pytest.mark.parametrize("value", ["soon", "17e8", "-5", "1.5", "١٢٣", "9" * 40])
def test_it_rejects_a_non_numeric_timestamp(value):
    headers = {**v2_headers(), "X-SocialAPI-Timestamp": value}

    assert reason_of(BODY, headers) in ("bad_timestamp", "stale_timestamp")
    if not value.isdigit():
        assert reason_of(BODY, headers) == "bad_timestamp"


def test_it_rejects_a_v2_signature_without_a_timestamp():
    headers = v2_headers()
    del headers["X-SocialAPI-Timestamp"]

    assert reason_of(BODY, headers) == "missing_timestamp"


def test_it_rejects_a_delivery_without_signature_headers():
    assert reason_of(BODY, {"X-SocialAPI-Timestamp": str(NOW)}) == "missing_signature"
    assert reason_of(BODY, {}) == "missing_signature"


def test_header_names_are_case_insensitive():
    lower = {key.lower(): value for key, value in v2_headers().items()}
    upper = {"X-SOCIALAPI-SIGNATURE": sign_v1(SECRET, BODY)}

    assert verify_signature(SECRET, BODY, lower, now=NOW) == "v2"
    assert verify_signature(SECRET, BODY, upper, now=NOW, require_v2=False) == "v1"


def test_upper_case_hex_is_accepted():
    headers = {"X-SocialAPI-Signature": sign_v1(SECRET, BODY).upper().replace("SHA256", "sha256")}

    assert verify_signature(SECRET, BODY, headers, now=NOW, require_v2=False) == "v1"


def test_a_non_ascii_signature_is_rejected_not_crashing():
    headers = {"X-SocialAPI-Signature": "sha256=é"}

    assert reason_of(BODY, headers, require_v2=False) == "bad_signature"


def test_an_empty_secret_verifies_nothing():
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature("", BODY, {"X-SocialAPI-Signature": sign_v1("", BODY)}, now=NOW)

    assert caught.value.reason == "no_secret"


def test_it_uses_the_wall_clock_when_now_is_not_given():
    headers = v2_headers(timestamp=int(time.time()))

    assert verify_signature(SECRET, BODY, headers) == "v2"
