"""What each kind of channel receives: Slack blocks, a Teams Adaptive Card, signed JSON.

Titles and texts carry names from outside (account names come from the platforms, with
HTML and emoji in them): nothing here lets them become markup. Slack gets them as
`plain_text` (and `&`, `<`, `>` escaped in the notification text, so a name can never be
a `<!channel>` mention or a link); Teams gets `TextRun`s, which are never read as
Markdown; the JSON webhook gets them as JSON strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialapi.webhooks import sign_v2

SIGNATURE = "X-Dashboard-Signature"
TIMESTAMP = "X-Dashboard-Timestamp"
DELIVERY = "X-Dashboard-Delivery"
EVENT = "X-Dashboard-Event"
BUTTON = "Open in the dashboard"
SLACK_HEADER_LIMIT = 150
SLACK_TEXT_LIMIT = 3000
SLACK_URL_LIMIT = 3000


@dataclass(frozen=True)
class ChannelAlert:
    """One alert as channels show it: a title, one paragraph, the page that fixes it."""

    kind: str  # account_broken | account_reminder | storage_80 | quota_posts_100 | test
    title: str
    text: str
    url: str


@dataclass(frozen=True)
class Envelope:
    """Who the alert is for and which delivery this is (stable across retries)."""

    workspace_slug: str
    workspace_name: str
    delivery_id: str
    created_at: datetime
    is_test: bool = False


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _slack_escape(text: str) -> str:
    """Slack's own escaping for mrkdwn text: only these three are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: ChannelAlert, envelope: Envelope) -> dict[str, Any]:
    """An incoming-webhook message: `text` for notifications, blocks for the message."""
    # Reference: https://api.slack.com/messaging/webhooks
    # Reference: https://api.slack.com/reference/block-kit/blocks
    footer = f"{envelope.workspace_name} · SocialAPI Dashboard"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(alert.title, SLACK_HEADER_LIMIT)},
        },
        {
            "type": "section",
            "text": {"type": "plain_text", "text": _cut(alert.text, SLACK_TEXT_LIMIT)},
        },
    ]
    if len(alert.url) <= SLACK_URL_LIMIT:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": BUTTON},
                        "url": alert.url,
                    }
                ],
            }
        )
    blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": footer}]})
    text = f"[{envelope.workspace_name}] {alert.title}\n{alert.text}\n{alert.url}"
    return {"text": _cut(_slack_escape(text), SLACK_TEXT_LIMIT), "blocks": blocks}


def teams_payload(alert: ChannelAlert, envelope: Envelope) -> dict[str, Any]:
    """An Adaptive Card for a Teams Workflows webhook ("Post to a channel when a webhook
    request is received"), which replaced the retired Office 365 connectors."""
    # Reference: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
    # Reference: https://adaptivecards.io/explorer/RichTextBlock.html
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "RichTextBlock",
                "inlines": [
                    {"type": "TextRun", "text": alert.title, "weight": "bolder", "size": "medium"}
                ],
            },
            {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": alert.text}]},
            {
                "type": "RichTextBlock",
                "inlines": [
                    {
                        "type": "TextRun",
                        "text": f"{envelope.workspace_name} · SocialAPI Dashboard",
                        "isSubtle": True,
                        "size": "small",
                    }
                ],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": BUTTON, "url": alert.url}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook_payload(alert: ChannelAlert, envelope: Envelope) -> dict[str, Any]:
    """The generic JSON body (described in the README)."""
    return {
        "id": envelope.delivery_id,
        "type": "test" if envelope.is_test else "alert",
        "kind": alert.kind,
        "title": alert.title,
        "text": alert.text,
        "url": alert.url,
        "workspace": {"slug": envelope.workspace_slug, "name": envelope.workspace_name},
        "created_at": envelope.created_at.isoformat().replace("+00:00", "Z"),
    }


PAYLOADS = {"slack": slack_payload, "teams": teams_payload, "webhook": webhook_payload}


def channel_request(
    *, kind: str, secret: str, alert: ChannelAlert, envelope: Envelope, timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt. A generic webhook is signed like SocialAPI's
    own v2 webhooks: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, the
    timestamp fresh on every attempt so receivers can refuse old ones."""
    body = json.dumps(PAYLOADS[kind](alert, envelope), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if kind == "webhook":
        headers.update(
            {
                DELIVERY: envelope.delivery_id,
                EVENT: "test" if envelope.is_test else "alert",
                TIMESTAMP: str(timestamp),
                SIGNATURE: sign_v2(secret, body, timestamp),
            }
        )
    return body, headers
