"""The sandbox's alert inbox: a local stand-in for a Slack channel, a Teams channel or a
webhook receiver, so alert channels work end to end in demos without the internet.

Point a channel at `$SITE_URL/sandbox/inbox/` (the demo workspace has one): every POST is
kept (the last 100) and shown on the sandbox control page. `?status=503` (any 4xx or
5xx) answers with that status instead, to show how failures are recorded and retried.
Alert channels may reach it at its loopback address because the sandbox is enabled
(never in production): `alert_channels.forms.channel_url_operator_trusted`.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.models import SandboxInboxMessage

KEEP = 100
MAX_BODY = 64 * 1024


def sandbox_inbox_url() -> str | None:
    """The inbox's absolute URL, or None where the sandbox is off."""
    if not settings.SANDBOX_ENABLED:
        return None
    return settings.SITE_URL + reverse("sandbox:inbox")


def _summary(payload: Any, signed: bool) -> tuple[str, str, str, str]:
    """(kind, title, text, link) of a message in any of the three channel formats."""
    if not isinstance(payload, dict):
        return "unknown", "", "", ""
    try:
        if "blocks" in payload:
            blocks = payload["blocks"]
            link = next(
                (e.get("url", "") for b in blocks for e in b.get("elements", []) if "url" in e), ""
            )
            return "slack", blocks[0]["text"]["text"], blocks[1]["text"]["text"], link
        if "attachments" in payload:
            card = payload["attachments"][0]["content"]
            runs = [i["text"] for block in card["body"] for i in block.get("inlines", [])]
            link = card.get("actions", [{}])[0].get("url", "")
            return "teams", runs[0], runs[1] if len(runs) > 1 else "", link
        if signed or "title" in payload:
            return "webhook", payload["title"], payload.get("text", ""), payload.get("url", "")
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return "unknown", "", "", ""


@csrf_exempt
@require_POST
def inbox_receive(request: HttpRequest) -> HttpResponse:
    """Keep the message; answer `ok` (what Slack answers), or the status asked for."""
    if len(request.body) > MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    raw = request.body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    signed = "X-Dashboard-Signature" in request.headers
    kind, title, text, link = _summary(payload, signed)
    wanted = request.GET.get("status", "")
    status = int(wanted) if wanted.isdigit() and 400 <= int(wanted) <= 599 else 200
    SandboxInboxMessage.objects.create(
        kind=kind,
        title=str(title)[:200],
        text=str(text),
        link=str(link)[:2000],
        signed=signed,
        answered=status,
        body=raw,
    )
    stale = SandboxInboxMessage.objects.order_by("-received_at", "-id").values_list("pk", flat=True)
    SandboxInboxMessage.objects.filter(pk__in=list(stale[KEEP : KEEP + 500])).delete()
    body = "ok" if status == 200 else f"sandbox inbox answered {status} as asked"
    return HttpResponse(body, status=status, content_type="text/plain")


def inbox_tail(limit: int = 20) -> list[SandboxInboxMessage]:
    return list(SandboxInboxMessage.objects.defer("body")[:limit])
