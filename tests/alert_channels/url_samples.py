"""Alert channel URLs for the tenant-isolation matrix (see tests/dashboard/url_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.dashboard.url_matrix import Sample


def channel_id(sample: Sample) -> int:
    from alert_channels.forms import url_hint
    from alert_channels.models import AlertChannel

    # A loopback URL: the matrix's admin POSTs "Send a test alert", and the sender's
    # private-network guard refuses it before connecting (nothing leaves the machine).
    url = "https://127.0.0.1:9/matrix-hook"
    channel: Any = AlertChannel.objects.create(
        workspace=sample.workspace, kind="slack", label="#matrix", url=url, url_hint=url_hint(url)
    )
    return int(channel.pk)


KWARG_FACTORIES = {"channel_id": channel_id}
