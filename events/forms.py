"""Forms of the errors pages: the filter bar, triage actions, notes, banner dismissal."""

from __future__ import annotations

from django import forms

from events.banners import SNOOZE_CHOICES
from events.models import ErrorGroup, EventSource
from events.selectors import PERIODS, GroupFilters
from events.triage import NOTE_MAX_CHARS
from socialapi import PLATFORM_CHOICES, Family
from socialapi.codes import CODE_TABLE

FAMILY_LABELS = {
    "api_key": "API key",
    "reconnect": "Reconnect required",
    "credentials": "Credentials invalid",
    "storage_quota": "Storage full",
    "monthly_limit": "Monthly limit",
    "platform_throttle": "Platform throttling",
    "billing": "Billing",
    "not_found": "Not found",
    "conflict": "Conflict",
    "not_supported": "Not supported",
    "validation": "Request rejected",
    "server": "SocialAPI error (5xx)",
    "unknown": "Unknown",
}
PERIOD_LABELS = {
    "1h": "Last hour",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "14d": "Last 14 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
KNOWN_CODES = sorted({code for _, _, code, _, _ in CODE_TABLE} | {"unknown", "network.timeout"})


class ErrorFilterForm(forms.Form):
    """The errors page's filters; anything invalid is dropped, never an error page."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    family = forms.ChoiceField(
        required=False,
        label="Kind",
        choices=[("", "All kinds")] + [(f.value, FAMILY_LABELS[f.value]) for f in Family],
    )
    code = forms.CharField(required=False, max_length=100, label="Code")
    platform = forms.ChoiceField(
        required=False, label="Platform", choices=[("", "All platforms"), *PLATFORM_CHOICES]
    )
    account = forms.CharField(required=False, max_length=100, label="Account id")
    source = forms.ChoiceField(
        required=False, label="Source", choices=[("", "All sources"), *EventSource.choices]
    )
    state = forms.ChoiceField(
        required=False, label="State", choices=[*ErrorGroup.State.choices, ("all", "Any state")]
    )
    period = forms.ChoiceField(
        required=False, label="Seen", choices=[("", "Any time"), *PERIOD_LABELS.items()]
    )
    workspace = forms.SlugField(required=False, max_length=50, label="Workspace")

    def filters(self) -> GroupFilters:
        """The valid part of what was asked (state defaults to open)."""
        self.is_valid()
        data = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}
        values = {
            name: str(data.get(name, "")).strip()
            for name in ("q", "family", "code", "platform", "account")
        }
        return GroupFilters(
            family=values["family"],
            code=values["code"].lower(),
            platform=values["platform"],
            account=values["account"],
            source=str(data.get("source", "")),
            state=str(data.get("state") or ErrorGroup.State.OPEN),
            period=str(data.get("period", "")) if data.get("period") in PERIODS else "",
            q=values["q"],
            workspace=str(data.get("workspace", "")),
        )


class GroupStateForm(forms.Form):
    state = forms.ChoiceField(choices=ErrorGroup.State.choices)


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Add a note",
        max_length=NOTE_MAX_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Visible to the workspace's team and to support. Quote request ids freely.",
    )


class BannerRestoreForm(forms.Form):
    banner = forms.CharField(max_length=60)


class BannerDismissForm(forms.Form):
    banner = forms.CharField(max_length=60)
    snooze = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(str(m), str(m)) for m in SNOOZE_CHOICES],
    )
