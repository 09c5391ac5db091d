"""Generated images served by the sandbox itself, so nothing loads from the internet."""

from __future__ import annotations

import hashlib
import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import escape
from django.views.decorators.http import require_GET

from sandbox.models import SandboxAccount, SandboxMedia

COLOURS = ("#3b5bdb", "#0c8599", "#2b8a3e", "#e67700", "#c2255c", "#6741d9", "#1864ab")


def _colour(key: str) -> str:
    """A stable colour for a key."""
    return COLOURS[hashlib.sha256(key.encode()).digest()[0] % len(COLOURS)]


def _svg(body: str, width: int, height: int) -> HttpResponse:
    """An SVG answer, cacheable for an hour."""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{body}</svg>'
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def avatar(request: HttpRequest, account_id: str) -> HttpResponse:
    """A round avatar with the account's initials."""
    account = SandboxAccount.objects.filter(pk=account_id[:40]).only("name", "id").first()
    if account is None:
        raise Http404("No such account")
    words = [w for w in account.name.replace("(", " ").split() if w[:1].isalnum()]
    initials = escape("".join(w[0] for w in words[:2]).upper() or "?")
    body = (
        f'<circle cx="32" cy="32" r="32" fill="{_colour(account.id)}"/>'
        f'<text x="32" y="40" font-family="sans-serif" font-size="24" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{initials}</text>'
    )
    return _svg(body, 64, 64)


@require_GET
def media_file(request: HttpRequest, media_id: uuid.UUID) -> HttpResponse:
    """A placeholder standing in for an uploaded file (404 once deleted)."""
    media = SandboxMedia.objects.filter(pk=media_id, deleted_at__isnull=True).first()
    if media is None:
        raise Http404("No such media")
    label = escape(media.filename[:40])
    kind = escape(media.content_type)
    size = f"{media.size_bytes / (1024 * 1024):.1f} MB"
    body = (
        f'<rect width="320" height="200" fill="{_colour(str(media.id))}"/>'
        '<text x="160" y="95" font-family="sans-serif" font-size="16" fill="#fff" '
        f'text-anchor="middle">{label}</text>'
        '<text x="160" y="122" font-family="sans-serif" font-size="12" fill="#fff" '
        f'text-anchor="middle">{kind} · {size}</text>'
    )
    return _svg(body, 320, 200)
