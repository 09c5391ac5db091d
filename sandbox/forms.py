"""Forms of the control page: each validates one switch before a service applies it."""

from __future__ import annotations

from django import forms

from sandbox.models import SandboxTenant
from sandbox.services import PLANS
from socialapi.platforms import PLATFORM_CHOICES


class TenantForm(forms.Form):
    """A new bare tenant."""

    name = forms.CharField(max_length=100)
    plan = forms.ChoiceField(choices=[(p, p.title()) for p in PLANS], initial="free")
    dialect = forms.ChoiceField(choices=SandboxTenant.Dialect.choices, initial="current")


class FaultsForm(forms.Form):
    """Fault switches; empty fields keep their value."""

    rate_5xx = forms.FloatField(min_value=0, max_value=1, required=False, label="5xx rate")
    rate_html = forms.FloatField(min_value=0, max_value=1, required=False, label="HTML 502 rate")
    timeout_rate = forms.FloatField(min_value=0, max_value=1, required=False)
    timeout_seconds = forms.IntegerField(min_value=1, max_value=600, required=False)
    latency_ms = forms.IntegerField(min_value=0, max_value=60_000, required=False)
    next_5xx = forms.IntegerField(min_value=0, max_value=100_000, required=False)
    next_html = forms.IntegerField(min_value=0, max_value=100_000, required=False)
    scope = forms.CharField(max_length=120, required=False)
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class DialectForm(forms.Form):
    """Current or legacy errors."""

    dialect = forms.ChoiceField(choices=SandboxTenant.Dialect.choices)


class ListEndForm(forms.Form):
    """How the last page of a list ends: `next_cursor: ""` or no cursor."""

    list_end = forms.ChoiceField(choices=SandboxTenant.ListEnd.choices)


class SwitchForm(forms.Form):
    """On/off switches (billing past due, key revoked)."""

    on = forms.TypedChoiceField(choices=[("1", "on"), ("0", "off")], coerce=lambda v: v == "1")


class ThrottleForm(forms.Form):
    """Which platform throttles, for how long."""

    platform = forms.ChoiceField(choices=PLATFORM_CHOICES)
    minutes = forms.IntegerField(min_value=1, max_value=1440, initial=15)


class FillStorageForm(forms.Form):
    """Fill storage up to a percentage."""

    percent = forms.FloatField(min_value=1, max_value=100, initial=95)


class GrowStorageForm(forms.Form):
    """Storage that grows by itself, in MB a day (0 stops it)."""

    mb_per_day = forms.FloatField(min_value=0, max_value=10_000, initial=5)


class AccountForm(forms.Form):
    """One account (and a reason, for expiring a token)."""

    account_id = forms.CharField(max_length=40)
    reason = forms.CharField(max_length=300, required=False)


class PostFailForm(forms.Form):
    """Which scheduled post fails, and whether partly."""

    post_id = forms.CharField(max_length=40, required=False)
    partial = forms.BooleanField(required=False)


class WebhookForm(forms.Form):
    """Where webhooks go and their signing secret."""

    url = forms.CharField(max_length=500, required=False)
    secret = forms.CharField(max_length=200, required=False)


class EmptyForm(forms.Form):
    """Actions without fields (exhaust allowance, reset…)."""
