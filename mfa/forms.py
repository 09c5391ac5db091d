"""Forms of the two-factor pages. Codes are checked by the services, passwords here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest

from mfa.models import DIGITS


def _code_field(
    label: str, help_text: str, *, numeric: bool, autofocus: bool = False
) -> forms.CharField:
    attrs: dict[str, Any] = {
        "autocomplete": "one-time-code",
        "spellcheck": "false",
        "autocapitalize": "none",
    }
    if numeric:
        attrs["inputmode"] = "numeric"
    if autofocus:
        attrs["autofocus"] = True
    # The field is named `code` everywhere: AXES_SENSITIVE_PARAMETERS keeps it out of
    # the failed-attempt log.
    return forms.CharField(
        label=label,
        max_length=40,
        strip=True,
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs),
    )


class SignInCodeForm(forms.Form):
    code = _code_field(
        "Code",
        f"The {DIGITS}-digit code your authenticator app shows now, or one of your recovery codes.",
        numeric=False,
        autofocus=True,
    )


class SetupConfirmForm(forms.Form):
    code = _code_field(
        f"{DIGITS}-digit code from the app",
        "The app shows a new code every 30 seconds; type the one showing now.",
        numeric=True,
    )

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data["code"]).split())
        if not (code.isascii() and code.isdigit() and len(code) == DIGITS):
            raise forms.ValidationError(f"Type the {DIGITS} digits the app shows, like 123456.")
        return code


class PasswordCheckForm(forms.Form):
    """Asks for the person's password again before a change to how they sign in.

    Checked through `authenticate`, so wrong guesses count towards the sign-in lock-out.
    """

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    # Two of these forms share a page: distinct ids, the same field names.
    id_format = "regenerate_%s"

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", self.id_format)
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        user = self.request.user
        checked = authenticate(self.request, username=user.get_username(), password=password)
        if checked is None or checked.pk != user.pk:
            raise forms.ValidationError("That is not your password.")
        return password


class DisableForm(PasswordCheckForm):
    id_format = "off_%s"
    code = _code_field(
        "Code",
        f"The {DIGITS}-digit code from your authenticator app, or a recovery code.",
        numeric=False,
    )


class WorkspaceMfaForm(forms.Form):
    mfa_required = forms.BooleanField(
        label="Members must use two-factor sign-in",
        required=False,
        help_text="Everyone who opens this workspace's pages, admins and support staff "
        "included, first signs in with a code from an authenticator app. People without "
        "one are asked to set it up the next time they open the workspace.",
    )
