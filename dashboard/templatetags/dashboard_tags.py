"""Template helpers shared by every page: sizes, percentages, platform names, fixes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from events.fixes import Fix, fix_for
from socialapi import platform_name

register = template.Library()

_UNITS = ("bytes", "KB", "MB", "GB", "TB")


@register.filter
def bytes_human(value: Any) -> str:
    """1536000 → "1.5 MB" (powers of 1024, like the upstream's 100 MB Free plan)."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "—"
    if size < 0:
        return "unlimited"
    unit = 0
    while size >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    if unit == 0:
        return f"{int(size)} bytes"
    return f"{size:.1f} {_UNITS[unit]}".replace(".0 ", " ")


@register.filter
def platform_label(slug: str) -> str:
    return platform_name(slug or "")


@register.simple_tag
def fix(family: str, code: str = "") -> Fix:
    return fix_for(family=family or "unknown", code=code or "")


@register.filter
def when(value: datetime | None) -> SafeString | str:
    """Relative time with the exact UTC time on hover: "5 minutes ago"."""
    if value is None:
        return "never"
    now = timezone.now()
    exact = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if abs((now - value).total_seconds()) < 60:
        text = "just now"
    elif value > now:
        text = f"in {timesince(now, value).split(',')[0]}"
    else:
        text = f"{timesince(value, now).split(',')[0]} ago"  # "10 hours ago", not "10 hours"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, text)


@register.filter
def percent_level(percent: float | None) -> str:
    """Colour band for a usage percentage: ok < 80 ≤ warn < 95 ≤ high < 100 ≤ full."""
    if percent is None:
        return "ok"
    if percent >= 100:
        return "full"
    if percent >= 95:
        return "high"
    if percent >= 80:
        return "warn"
    return "ok"


@register.simple_tag
def query_replace(request: Any, **kwargs: Any) -> str:
    """The current query string with some parameters replaced (for sort and page links)."""
    params = request.GET.copy()
    for key, value in kwargs.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def clamp_percent(value: Any) -> str:
    """A percentage usable as an SVG width (0 to 100, one decimal)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "0"
    return f"{max(0.0, min(100.0, number)):.1f}"


@register.simple_tag
def usage_percent(used: int | None, limit: int | None) -> float | None:
    """Percent of a limit used; None when unlimited (-1) or unknown."""
    if used is None or limit is None or limit < 0:
        return None
    if limit == 0:
        return 100.0
    return 100.0 * used / limit
