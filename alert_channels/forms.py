"""Adding an alert channel: its kind, a label, the URL (checked against the SSRF guard)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django import forms
from django.conf import settings

from alert_channels.models import AlertChannel
from dashboard.forms import base_url_under_prefix, host_problem
from sandbox.inbox import sandbox_inbox_url

URL_LIMIT = 2000
PRIVATE_HINT = (
    "Alert channels must be reachable over the internet; a service inside your network "
    "works once the operator lists it in ALERT_CHANNEL_TRUSTED_URLS."
)
# Where each kind of URL comes from, shown beside the form.
KIND_HELP = [
    (
        AlertChannel.Kind.SLACK.label,
        "your Slack app's Incoming Webhooks page → Add New Webhook to Workspace, pick the "
        "channel, copy the URL (https://hooks.slack.com/services/…). Mattermost and "
        "Rocket.Chat incoming webhooks take the same messages.",
    ),
    (
        AlertChannel.Kind.TEAMS.label,
        "the channel's ⋯ → Workflows → “Post to a channel "
        "when a webhook request is received”, then copy the URL the workflow shows.",
    ),
    (
        AlertChannel.Kind.WEBHOOK.label,
        "any https endpoint of yours. Each POST is JSON signed with "
        "HMAC-SHA256 (X-Dashboard-Signature); the signing secret is shown once, after adding.",
    ),
]


def channel_url_operator_trusted(url: str) -> bool:
    """A URL under one of ALERT_CHANNEL_TRUSTED_URLS: the operator vouched for it, so it
    may be http and at a private address (an internal chat server). The form and the
    sender follow this one rule, as `base_url_operator_trusted` does for SocialAPI.

    Where the sandbox is enabled (never in production), its alert inbox is trusted too,
    the way workspace clients may reach the sandbox (`dashboard.upstream`).
    """
    url = url.strip()
    if _dot_segments(url):
        return False  # /trusted/../elsewhere leaves the prefix once normalised
    inbox = sandbox_inbox_url()
    if inbox and base_url_under_prefix(urlsplit(url)._replace(query="").geturl(), inbox):
        return True
    return any(base_url_under_prefix(url, prefix) for prefix in settings.ALERT_CHANNEL_TRUSTED_URLS)


def _dot_segments(url: str) -> bool:
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return any(segment in (".", "..") for segment in unquote(path).split("/"))


def channel_url_problem(url: str) -> str | None:
    """Why this URL may not receive alerts (SSRF guard, checked by name), or None.

    The sender checks again at every connection, on the resolved address, so a name
    that points inside (or starts to, later) is refused there too.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return "Paste the full URL, starting with https://."
    if parts.username or parts.password:
        return "Remove the user name and password from the URL."
    if parts.fragment:
        return "Remove the #fragment from the URL."
    if _dot_segments(url):
        return "Remove the /./ or /../ parts from the URL."
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return "The URL has no host name."
    if channel_url_operator_trusted(url):
        return None
    if parts.scheme != "https":
        return "Use an https:// URL: the URL and every alert travel over it."
    problem = host_problem(host, hint=PRIVATE_HINT)
    if problem:
        return problem
    if port is not None and port != 443:
        return "Use the standard https port (443), or ask your operator to trust this URL."
    return None


def url_hint(url: str) -> str:
    """What the page shows instead of the URL: scheme, host and the last four characters."""
    parts = urlsplit(url)
    tail = url[-4:] if len(url) - len(f"{parts.scheme}://{parts.netloc}") > 12 else ""
    return f"{parts.scheme}://{parts.netloc}/…{tail}"


class AlertChannelForm(forms.Form):
    """Field ids start with `channel_`: the settings page holds other alert checkboxes."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=AlertChannel.Kind.choices,
        initial=AlertChannel.Kind.SLACK,
        widget=forms.RadioSelect,
    )
    label = forms.CharField(
        label="Name",
        max_length=80,
        strip=True,
        help_text="How this page names the channel, e.g. “#ops-alerts”.",
    )
    url = forms.CharField(
        label="Webhook URL",
        max_length=URL_LIMIT,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="It works as a password for the channel: it is stored encrypted and "
        "never shown again.",
    )
    alert_accounts = forms.BooleanField(label="An account breaks", required=False, initial=True)
    alert_storage = forms.BooleanField(label="Storage fills up", required=False, initial=True)
    alert_quota = forms.BooleanField(
        label="A monthly allowance runs low or out", required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "channel_%s")
        super().__init__(*args, **kwargs)

    def clean_label(self) -> str:
        label: str = self.cleaned_data["label"]
        if not label.isprintable():
            raise forms.ValidationError("Use letters, digits and punctuation only.")
        return label

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if not url.isascii() or not url.isprintable() or " " in url:
            raise forms.ValidationError(
                "This URL holds spaces or characters a webhook URL never has: copy it again."
            )
        problem = channel_url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(name) for name in ("alert_accounts", "alert_storage", "alert_quota")):
            raise forms.ValidationError("Choose at least one kind of alert for this channel.")
        return data
