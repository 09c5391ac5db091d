"""Forms for the accounts pages (credential updates)."""

from __future__ import annotations

from typing import Any

from django import forms

# What each API-key platform needs; secrets render as password fields and are never echoed.
CREDENTIAL_FIELDS: dict[str, tuple[tuple[str, str, str, bool], ...]] = {
    # (metadata key, label, help text, secret)
    "telegram": (
        ("bot_token", "Bot token", "From @BotFather: /mybots → your bot → API Token.", True),
    ),
    "whatsapp": (
        (
            "phone_number_id",
            "Phone number ID",
            "In Meta Business Manager → WhatsApp → API setup.",
            False,
        ),
        (
            "access_token",
            "Access token",
            "A permanent system-user token with whatsapp_business_messaging.",
            True,
        ),
    ),
}
GENERIC_FIELDS = (
    ("access_token", "Access token", "The credential the platform issued for this account.", True),
)


class CredentialsForm(forms.Form):
    """The credential fields for one platform, built from CREDENTIAL_FIELDS."""

    def __init__(self, *args: Any, platform: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label, help_text, secret in CREDENTIAL_FIELDS.get(platform, GENERIC_FIELDS):
            widget = (
                forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
                if secret
                else forms.TextInput(attrs={"autocomplete": "off"})
            )
            self.fields[key] = forms.CharField(
                label=label, help_text=help_text, max_length=1000, strip=True, widget=widget
            )

    def credentials(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.cleaned_data.items()}
