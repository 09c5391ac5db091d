"""The platforms SocialAPI connects to: display names, auth kind, OAuth selection step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AuthKind = Literal["oauth", "credentials"]
Selection = Literal["never", "always", "sometimes"]


@dataclass(frozen=True)
class Platform:
    """One platform slug as SocialAPI spells it, with what the dashboard needs to know."""

    slug: str
    name: str
    auth: AuthKind
    # Whether the OAuth callback may come back with status=selection_required.
    selection: Selection = "never"


PLATFORMS: dict[str, Platform] = {
    p.slug: p
    for p in (
        Platform("instagram", "Instagram", "oauth"),
        Platform("facebook", "Facebook", "oauth", "always"),
        Platform("threads", "Threads", "oauth"),
        Platform("tiktok", "TikTok", "oauth"),
        Platform("youtube", "YouTube", "oauth"),
        Platform("twitter", "X (Twitter)", "oauth"),
        Platform("linkedin", "LinkedIn", "oauth"),
        Platform("linkedin_page", "LinkedIn Page", "oauth"),
        Platform("google", "Google Business Profile", "oauth", "sometimes"),
        # Direct-auth platforms: bot token / API credentials, no OAuth consent screen.
        Platform("telegram", "Telegram", "credentials"),
        Platform("whatsapp", "WhatsApp", "credentials"),
        Platform("pinterest", "Pinterest", "oauth"),
    )
}

# Other spellings seen in codes and docs (e.g. `platform.x.auth`) mapped to our slug.
ALIASES: dict[str, str] = {"x": "twitter"}

PLATFORM_CHOICES: list[tuple[str, str]] = [(p.slug, p.name) for p in PLATFORMS.values()]


def canonical_slug(slug: object) -> str:
    """Return the lower-cased slug with known aliases resolved (never raises)."""
    text = str(slug or "").strip().lower()
    return ALIASES.get(text, text)


def platform_get(slug: object) -> Platform | None:
    """Return the known platform for a slug, or None."""
    return PLATFORMS.get(canonical_slug(slug))


def platform_name(slug: object) -> str:
    """Return the display name; an unknown slug comes back title-cased."""
    platform = platform_get(slug)
    if platform is not None:
        return platform.name
    return str(slug or "").strip().replace("_", " ").title()


def auth_kind(slug: object) -> AuthKind | None:
    """Return "oauth" or "credentials" for a known slug, None when unknown."""
    platform = platform_get(slug)
    return platform.auth if platform else None


def is_oauth(slug: object) -> bool:
    """Return True when the platform is known and connects through OAuth."""
    return auth_kind(slug) == "oauth"


def selection_step(slug: object) -> Selection:
    """Return whether OAuth for this platform goes through page/profile selection."""
    platform = platform_get(slug)
    return platform.selection if platform else "never"
