"""Template helpers for the sign-in pages."""

from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration_words(value: timedelta | None) -> str:
    """timedelta(minutes=15) → "15 minutes"; hours above 90 minutes."""
    if not isinstance(value, timedelta):
        return "a few minutes"
    minutes = max(1, round(value.total_seconds() / 60))
    if minutes > 90:
        hours = round(minutes / 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
