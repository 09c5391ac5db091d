"""The platform table: names, auth kinds and the selection step."""

from __future__ import annotations

import pytest

from socialapi import PLATFORM_CHOICES, auth_kind, is_oauth, platform_name
from socialapi.platforms import canonical_slug, selection_step


@pytest.mark.parametrize(
    ("slug", "name"),
    [
        ("instagram", "Instagram"),
        ("twitter", "X (Twitter)"),
        ("linkedin_page", "LinkedIn Page"),
        ("google", "Google Business Profile"),
        ("tiktok", "TikTok"),
        ("youtube", "YouTube"),
        ("whatsapp", "WhatsApp"),
        ("x", "X (Twitter)"),
        ("INSTAGRAM", "Instagram"),
    ],
)
def test_it_names_known_platforms(slug, name):
    assert platform_name(slug) == name


@pytest.mark.parametrize(
    ("slug", "name"),
    [("bluesky", "Bluesky"), ("google_reviews", "Google Reviews"), ("", ""), (None, "")],
)
def test_it_title_cases_unknown_slugs_without_raising(slug, name):
    assert platform_name(slug) == name


def test_only_telegram_and_whatsapp_use_credentials():
    credentials = {slug for slug, _ in PLATFORM_CHOICES if auth_kind(slug) == "credentials"}

    assert credentials == {"telegram", "whatsapp"}
    assert is_oauth("facebook") is True
    assert is_oauth("telegram") is False
    assert is_oauth("bluesky") is False
    assert auth_kind("bluesky") is None


def test_the_choices_list_all_twelve_slugs_in_order():
    assert [slug for slug, _ in PLATFORM_CHOICES] == [
        "instagram",
        "facebook",
        "threads",
        "tiktok",
        "youtube",
        "twitter",
        "linkedin",
        "linkedin_page",
        "google",
        "telegram",
        "whatsapp",
        "pinterest",
    ]


def test_facebook_always_and_google_sometimes_go_through_selection():
    assert selection_step("facebook") == "always"
    assert selection_step("google") == "sometimes"
    assert selection_step("instagram") == "never"
    assert selection_step("bluesky") == "never"


def test_aliases_resolve_to_our_slug():
    assert canonical_slug(" X ") == "twitter"
    assert canonical_slug("Threads") == "threads"
