"""Made-up people, pages and profiles the fake platforms hand back on consent."""

from __future__ import annotations

import random
import re
from typing import Any

from sandbox.models import SandboxAccount
from socialapi.platforms import platform_name

# Display names as people really type them: ampersands, accents, emoji, quotes, CJK,
# right-to-left text and HTML (every page must escape them).
BUSINESSES = (
    "Harbor & Pine",
    "Luma <Studio>",
    "Fern Street Bakery 🥐",
    "Atlas “Outdoor” Co.",
    "Nova Fitness 💪🏽",
    "Copper Kettle Café",
    "Bright Lane Books 本屋",
    "Juniper Florals <b>Fleurs</b>",
    "مقهى Oasis Café",
)
LOCATIONS = ("Downtown", "Riverside", "Old Town", "Airport")
PAGE_CATEGORIES = ("Local business", "Bakery", "Shopping & retail", "Brand")


def handle(name: str, platform: str) -> str:
    """A plausible username for a display name on a platform."""
    base = re.sub(r"[^a-z0-9]+", "", name.lower()) or "account"
    if platform in ("linkedin", "linkedin_page", "youtube", "google"):
        return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if platform == "telegram":
        return f"{base}_bot"
    return base


def identity_new(platform: str, rng: random.Random | None = None) -> dict[str, Any]:
    """The fields of an account for "a different account" on the consent page."""
    pick = rng or random.Random()
    name = pick.choice(BUSINESSES)
    suffix = pick.randint(10, 99)
    return {
        "name": name,
        "username": f"{handle(name, platform)}{suffix}",
        "platform_account_id": str(pick.randint(10**15, 10**16 - 1)),
        "metadata": {},
    }


def credentials_identity(platform: str) -> dict[str, Any]:
    """A bot or business number for a direct-auth platform."""
    person = identity_new(platform)
    if platform == "whatsapp":
        person["username"] = f"+44 20 7946 {random.randint(1000, 9999)}"
    else:
        person["username"] = handle(person["name"], "telegram")
    person["name"] = f"{person['name']} ({platform_name(platform)})"
    return person


def facebook_pages(existing: SandboxAccount | None) -> list[dict[str, Any]]:
    """The Pages the login manages; the reconnected account's own page comes first."""
    rng = random.Random()
    pages = []
    if existing is not None:
        page_ids = existing.metadata.get("page_ids") or [existing.platform_account_id]
        for page_id in page_ids:
            pages.append(
                {
                    "platform_page_id": str(page_id),
                    "name": existing.page_name or existing.name,
                    "category": "Local business",
                    "assignable": True,
                    "assigned_account_id": existing.id,
                    "assigned_brand_id": existing.brand_id,
                    "assigned_brand_name": existing.brand.name,
                }
            )
    for name in rng.sample(BUSINESSES, 2):
        pages.append(
            {
                "platform_page_id": str(rng.randint(10**16, 10**17 - 1)),
                "name": name,
                "category": rng.choice(PAGE_CATEGORIES),
                "assignable": True,
            }
        )
    return pages


def google_profiles(person: dict[str, Any]) -> list[dict[str, Any]]:
    """Several Business Profiles of one Google login (one per location)."""
    rng = random.Random()
    account = rng.randint(10**8, 10**9 - 1)
    return [
        {
            "platform_account_id": f"accounts/{account}/locations/{rng.randint(10**8, 10**9 - 1)}",
            "display_name": f"{person['name']} ({location})",
            "username": "",
            "bio": f"{person['name']}, {location}. Open daily.",
            "profile_picture_url": "",
        }
        for location in LOCATIONS[:3]
    ]
