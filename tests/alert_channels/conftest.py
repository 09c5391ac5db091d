"""Alert channel helpers: the local receiver and channels made directly in the database."""

from __future__ import annotations

from typing import Any

import pytest

from alert_channels.forms import url_hint
from alert_channels.models import AlertChannel
from tests.accounts.conftest import make_account  # noqa: F401  (a fixture)
from tests.alert_channels.receiver import receiver  # noqa: F401  (a fixture)

WEBHOOK_SECRET = "whsec_test_" + "s" * 32


def channel_make(workspace: Any, url: str, *, kind: str = "slack", **fields: Any) -> AlertChannel:
    return AlertChannel.objects.create(
        workspace=workspace,
        kind=kind,
        label=fields.pop("label", f"#{kind}-alerts"),
        url=url,
        url_hint=url_hint(url),
        secret=fields.pop("secret", WEBHOOK_SECRET if kind == "webhook" else ""),
        **fields,
    )


@pytest.fixture(autouse=True)
def _site_url(settings: Any) -> None:
    settings.SITE_URL = "https://dash.example.com"
