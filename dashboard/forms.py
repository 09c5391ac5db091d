"""Forms for the settings, members, audit log and support pages.

Validation that protects the server (the base URL guard) lives here, so a bad value is
refused with words for a person before any service or upstream call runs.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import BaseUserCreationForm, PasswordResetForm
from django.contrib.auth.models import User
from django.core.cache import cache

from dashboard.crypto import token_hash
from dashboard.models import Membership, Workspace
from dashboard.selectors import username_taken
from socialapi import address_is_public

API_KEY_PATTERN = re.compile(r"sapi_key_[A-Za-z0-9]{16,128}")
# Host names that only make sense inside a private network.
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet")
# Every spelling inet_aton accepts: decimal, octal and hex parts, 1 to 4 of them.
NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")
# What to do about a base URL on a private network (the form and the key test say it).
PRIVATE_HINT = (
    "SocialAPI must be reached over the internet; a proxy inside your network works once "
    "the operator lists it in SOCIALAPI_ALLOWED_BASE_URLS."
)
SYNC_MINUTES_MIN = 5
SYNC_MINUTES_MAX = 24 * 60
WATCH_SECONDS_MIN = 10
WATCH_SECONDS_MAX = 60 * 60


def base_url_normalise(url: str) -> str:
    return url.strip().rstrip("/")


def base_url_under_prefix(url: str, prefix: str) -> bool:
    """`url` is `prefix` or below it at a path boundary (no `api.example.com.evil.net`)."""
    prefix = base_url_normalise(prefix)
    return url == prefix or url.startswith(prefix + "/")


def base_url_operator_trusted(url: str) -> bool:
    """A base URL the operator chose, not a workspace admin: the SOCIALAPI_BASE_URL they
    set (other than SocialAPI's public one) and anything under SOCIALAPI_ALLOWED_BASE_URLS.

    The one rule both sides follow: the settings form accepts these without the public
    address checks, and their clients may connect to private addresses (a proxy inside
    the operator's network). Every other URL must be https at a public address: checked
    by name in the form, and at every connection by the client.
    """
    url = base_url_normalise(url)
    default = base_url_normalise(settings.SOCIALAPI_DEFAULT_BASE_URL)
    if url == default and default != base_url_normalise(settings.SOCIALAPI_PUBLIC_BASE_URL):
        return True
    return any(
        base_url_under_prefix(url, prefix) for prefix in settings.SOCIALAPI_ALLOWED_BASE_URLS
    )


def sandbox_base_url() -> str | None:
    return base_url_normalise(settings.SANDBOX_BASE_URL) if settings.SANDBOX_ENABLED else None


def _numeric_host(host: str) -> tuple[str, bool] | None:
    """The IP address a host names by number and whether it is spelled canonically, or
    None for a host name. Resolvers read `127.1`, `0x7f.0.0.1`, `0177.0.0.1` and
    `2130706433` all as 127.0.0.1 (inet_aton rules), so the guard must too."""
    try:
        return str(ipaddress.ip_address(host)), True
    except ValueError:
        pass
    if NUMERIC_HOST.fullmatch(host):
        try:
            packed = socket.inet_aton(host)
        except OSError:
            return None  # not an address after all (e.g. "1.2.3.4.5"): a host name
        return str(ipaddress.IPv4Address(packed)), False
    return None


def host_problem(host: str, *, hint: str) -> str | None:
    """Why the dashboard may not connect to this host (SSRF guard, by name), or None.

    `host` is lowercased without a trailing dot. Clients check again on the resolved
    address at every connection (`socialapi.PublicNetworkTransport`).
    """
    numeric = _numeric_host(host)
    address = numeric[0] if numeric else None
    if address is not None and not address_is_public(address):
        return f"This address is on a private network. {hint}"
    if numeric is not None and not numeric[1]:
        return f"Write this address as {address} (or use the host name)."
    if (
        host == "localhost"
        or host.endswith(PRIVATE_SUFFIXES)
        or ("." not in host and address is None)
    ):
        return f"This host name only exists on a private network. {hint}"
    return None


def base_url_problem(url: str) -> str | None:
    """Why this base URL may not be used (SSRF guard), or None when it may.

    The production default and (when enabled) the local sandbox are always allowed.
    Anything else must be https to a public host name, and inside one of
    SOCIALAPI_ALLOWED_BASE_URLS when the operator configured that list.
    """
    url = base_url_normalise(url)
    if url in (base_url_normalise(settings.SOCIALAPI_DEFAULT_BASE_URL), sandbox_base_url()):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme != "https":
        return "Use an https:// URL: the API key travels with every call."
    if parts.username or parts.password:
        return "Remove the user name and password from the URL."
    if parts.query or parts.fragment:
        return "Remove the ?query or #fragment: the base URL is a plain address like https://api.social-api.ai/v1."
    # A trailing dot names the same host ("localhost." is localhost).
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return "The URL has no host name."
    if base_url_operator_trusted(url):
        return None  # may name a private proxy on purpose
    allowed = settings.SOCIALAPI_ALLOWED_BASE_URLS
    if allowed:
        listed = ", ".join(allowed)
        return (
            f"This dashboard only talks to SocialAPI at: {listed}. "
            "Ask your operator to add the URL."
        )
    problem = host_problem(host, hint=PRIVATE_HINT)
    if problem:
        return problem
    if port is not None and port != 443:
        return "Use the standard https port (443), or ask your operator to allow this URL."
    return None


class ConnectionForm(forms.Form):
    """API key (write-only), base URL and API dialect: saved together after a live test."""

    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Paste a new key to replace the saved one; leave blank to keep it "
        "(a new base URL needs the key pasted again). It is tested with SocialAPI before "
        "it is saved and never shown again.",
    )
    base_url = forms.CharField(
        label="Base URL",
        max_length=300,
        widget=forms.URLInput(attrs={"list": "base-url-options", "spellcheck": "false"}),
    )
    dialect = forms.ChoiceField(
        label="API version",
        choices=Workspace.Dialect.choices,
        widget=forms.RadioSelect,
    )

    def clean_api_key(self) -> str:
        key: str = self.cleaned_data.get("api_key") or ""
        if key and not API_KEY_PATTERN.fullmatch(key):
            raise forms.ValidationError(
                "This does not look like a SocialAPI key: keys start with sapi_key_ "
                "followed by letters and digits. Copy it again from the SocialAPI dashboard."
            )
        return key

    def clean_base_url(self) -> str:
        url = base_url_normalise(self.cleaned_data.get("base_url") or "")
        problem = base_url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url


class WebhookSecretForm(forms.Form):
    """For endpoints registered by hand in SocialAPI's own dashboard."""

    secret = forms.CharField(
        label="Signing secret",
        min_length=16,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The secret SocialAPI showed when the endpoint was created.",
    )

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        if not secret.isascii() or not secret.isprintable() or " " in secret:
            raise forms.ValidationError(
                "A signing secret is one word of letters, digits and symbols."
            )
        return secret


class SyncIntervalsForm(forms.Form):
    health_sync_minutes = forms.IntegerField(
        label="Check account health every (minutes)",
        min_value=SYNC_MINUTES_MIN,
        max_value=SYNC_MINUTES_MAX,
    )
    watch_seconds = forms.IntegerField(
        label="Watch storage and SocialAPI's error log every (seconds)",
        help_text="Changes upstream show on open pages within about this long.",
        min_value=WATCH_SECONDS_MIN,
        max_value=WATCH_SECONDS_MAX,
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(
        label="Role", choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)


class AlertPreferencesForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Membership
        fields = ["alert_accounts", "alert_storage", "alert_quota"]
        labels = {
            "alert_accounts": "An account needs reconnecting",
            "alert_storage": "Storage reaches 80 % or 100 %",
            "alert_quota": "A monthly allowance reaches 80 % or 100 %",
        }


class InvitationSignupForm(BaseUserCreationForm):  # type: ignore[type-arg]
    """A new account for an invited person; the email is the invited address."""

    USERNAME_TAKEN = "This username is taken. Pick another, or sign in if it is yours."

    class Meta:
        model = User
        fields = ("username",)

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = email
        self.fields["username"].help_text = "Letters, digits and @/./+/-/_ only."

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"])
        if username_taken(username):
            raise forms.ValidationError(self.USERNAME_TAKEN)
        return username

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        # The base form validates the password before the email is known to the
        # similarity validator; run it again with the complete user.
        password = self.cleaned_data.get("password2")
        if password:
            try:
                password_validation.validate_password(password, self.instance)
            except forms.ValidationError as error:
                self.add_error("password2", error)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False)
    actor = forms.ChoiceField(label="Person", required=False)
    date_from = forms.DateField(
        label="From (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self, *args: Any, actions: list[tuple[str, str]], actors: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        action_field = self.fields["action"]
        actor_field = self.fields["actor"]
        assert isinstance(action_field, forms.ChoiceField)
        assert isinstance(actor_field, forms.ChoiceField)
        action_field.choices = [("", "Any action"), *actions]
        actor_field.choices = [("", "Anyone"), *((label, label) for label in actors)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: date | None = data.get("date_from")
        end: date | None = data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class SupportSearchForm(forms.Form):
    SORTS = [
        ("problems", "Problems first"),
        ("name", "Name"),
        ("storage", "Storage used"),
        ("errors", "Open errors"),
    ]
    q = forms.CharField(label="Search", required=False, max_length=100)
    sort = forms.ChoiceField(label="Sort by", choices=SORTS, required=False)
    problems = forms.BooleanField(label="Only workspaces with problems", required=False)


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form (silent about unknown addresses) with an hourly send limit.

    Over the limit the page still says "check your email" — a different answer would
    tell a stranger which addresses have accounts.
    """

    def save(self, *args: Any, **kwargs: Any) -> None:
        from dashboard.audit import client_ip

        request = kwargs.get("request")
        email = self.cleaned_data["email"].lower()
        keys = [f"pwreset:email:{token_hash(email)}"]
        if request is not None:
            keys.append(f"pwreset:ip:{client_ip(request)}")
        if any(_hourly_count(key) > settings.PASSWORD_RESET_HOURLY_LIMIT for key in keys):
            return
        super().save(*args, **kwargs)


def _hourly_count(key: str) -> int:
    """Count one more use of `key` in the current hour-long window."""
    cache.add(key, 0, timeout=3600)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        return 1
