"""Template helpers for the accounts pages: avatars, status badges, action availability."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.models import AccountStatus, SocialAccount
from accounts.selectors import account_is_checking
from socialapi import auth_kind

register = template.Library()

INITIALS = {
    "instagram": "IG",
    "facebook": "f",
    "threads": "@",
    "tiktok": "TT",
    "youtube": "YT",
    "twitter": "X",
    "linkedin": "in",
    "linkedin_page": "in",
    "google": "G",
    "telegram": "TG",
    "whatsapp": "WA",
    "pinterest": "P",
}
BADGES: dict[str, str] = {
    AccountStatus.ACTIVE: "badge-ok",
    AccountStatus.RECONNECT_REQUIRED: "badge-danger",
    AccountStatus.CREDENTIALS_INVALID: "badge-danger",
    AccountStatus.DISCONNECTED: "",
    AccountStatus.UNKNOWN: "badge-info",
}


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@register.filter
def picture_allowed(url: str) -> bool:
    """Whether the CSP lets the browser load this picture (else we show initials)."""
    if not url:
        return False
    scheme, netloc = _origin(url)
    if scheme not in ("http", "https") or not netloc:
        return False
    if (scheme, netloc) == _origin(settings.SITE_URL):
        return True
    sources = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].get("img-src", [])
    for source in sources:
        source = str(source)
        if source == f"{scheme}:":
            return True
        if "://" in source and _origin(source) == (scheme, netloc):
            return True
    return False


@register.filter
def breakable(code: str) -> SafeString:
    """A dotted code that may wrap after its dots and underscores (not mid-word)."""
    escaped = str(escape(code or ""))
    return mark_safe(escaped.replace(".", ".<wbr>").replace("_", "_<wbr>"))  # noqa: S308 (escaped above)


@register.filter
def platform_initials(slug: str) -> str:
    return INITIALS.get(slug, (slug or "?")[:2].title())


@register.filter
def status_badge(status: str) -> str:
    return BADGES.get(status, "")


@register.filter
def checking(account: SocialAccount) -> bool:
    return account_is_checking(account)


@register.filter
def fixed_by_credentials(account: SocialAccount) -> bool:
    """API-key platforms: fixed with a credentials form, never by a sign-in."""
    return auth_kind(account.platform) == "credentials"


@register.filter
def can_reconnect(account: SocialAccount) -> bool:
    return auth_kind(account.platform) == "oauth"


@register.simple_tag(takes_context=True)
def back_url(context: Any) -> str:
    """The page the person is on (for `next`), also when a row was rendered by htmx."""
    request = context["request"]
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.current_url_abs_path:
        return str(htmx.current_url_abs_path)
    return str(request.get_full_path())
