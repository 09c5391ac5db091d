"""Template helpers of the errors pages: sparklines, family badges, raw bodies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from events.forms import FAMILY_LABELS
from events.models import SOURCE_BITS, EventSource

register = template.Library()

_BADGES = {
    "api_key": "badge-danger",
    "billing": "badge-danger",
    "reconnect": "badge-danger",
    "credentials": "badge-danger",
    "storage_quota": "badge-danger",
    "monthly_limit": "badge-danger",
    "platform_throttle": "badge-warn",
    "server": "badge-warn",
    "validation": "badge-info",
    "not_found": "badge-info",
    "conflict": "badge-info",
    "not_supported": "badge-info",
}
_SOURCE_LABELS = dict(EventSource.choices)
_BAR, _GAP, _HEIGHT = 4, 1, 20


@register.simple_tag
def sparkline(counts: Sequence[int], label: str = "") -> SafeString:
    """Bars of daily counts as inline SVG (the CSP allows no inline styles or scripts).

    Built as a plain string: every value in it is an integer we computed, and the one
    text (the label) is escaped. Fifty of these per page made format_html measurable.
    """
    values = [max(int(c or 0), 0) for c in counts] or [0]
    top = max(values) or 1
    width = len(values) * (_BAR + _GAP) - _GAP
    summary = conditional_escape(
        label or f"Events per day over the last {len(values)} days: {', '.join(map(str, values))}"
    )
    bars = []
    for index, value in enumerate(values):
        height = max(2, round(_HEIGHT * value / top)) if value else 1
        kind = "spark-bar" if value else "spark-zero"
        bars.append(
            f'<rect x="{index * (_BAR + _GAP)}" y="{_HEIGHT - height}" width="{_BAR}" '
            f'height="{height}" class="{kind}"><title>{value}</title></rect>'
        )
    return mark_safe(  # noqa: S308 - integers and an escaped label only
        f'<svg class="spark" viewBox="0 0 {width} {_HEIGHT}" width="{width}" height="{_HEIGHT}" '
        f'role="img" aria-label="{summary}"><title>{summary}</title>{"".join(bars)}</svg>'
    )


@register.filter
def family_badge(family: str) -> str:
    return _BADGES.get(family or "", "")


@register.filter
def family_label(family: str) -> str:
    return FAMILY_LABELS.get(family or "", family or "Unknown")


@register.filter
def source_labels(bits: int) -> list[str]:
    """The sources a group's events came from, as words."""
    return [_SOURCE_LABELS[name] for name, bit in SOURCE_BITS.items() if (bits or 0) & bit]


@register.filter
def source_label(source: str) -> str:
    return _SOURCE_LABELS.get(source, source)


@register.filter
def pretty_body(raw: str) -> str:
    """A raw body indented when it is JSON, else as received."""
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return raw


@register.filter
def pretty_json(value: Any) -> str:
    if not value:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`mapping[key]` in a template (None when missing)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def banners_signature(banners: Any) -> str:
    """A short digest of what the banners say: the poll answers 204 while it is unchanged."""
    from events.banners import banners_signature as signature

    return signature(list(banners or []))
