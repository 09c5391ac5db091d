"""Media fixtures: the workspace pointed at the sandbox, mirror and snapshot builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from django.core.wsgi import get_wsgi_application
from django.utils import timezone

from dashboard import upstream
from dashboard.models import Workspace
from media import storage
from media.models import MediaItem, StorageSnapshot
from sandbox import faults
from sandbox.models import SandboxCall, SandboxMedia, SandboxTenant
from sandbox.services import sandbox_tenant_create

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _fresh_header_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process header throttle never carries over from another test."""
    monkeypatch.setattr(storage, "_header_writes", {})


@pytest.fixture
def no_sandbox_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Sandbox latency faults are recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(faults, "sleep", slept.append)
    return slept


@pytest.fixture
def in_process_sandbox() -> Iterator[None]:
    """Every upstream call goes to the sandbox of this very process (no sockets)."""
    with upstream.transport_override(httpx.WSGITransport(app=get_wsgi_application())):
        yield


@pytest.fixture
def tenant(transactional_db: Any) -> SandboxTenant:
    return sandbox_tenant_create(name="Acme Sandbox")


@pytest.fixture
def sandbox_ws(workspace: Workspace, tenant: SandboxTenant, in_process_sandbox: None) -> Workspace:
    """The cast's workspace, with its API key on the sandbox tenant (in-process)."""
    workspace.base_url = "http://testserver/sandbox/v1"
    workspace.api_key = tenant.api_key
    workspace.save()
    return workspace


def sandbox_media(
    tenant: SandboxTenant, count: int, *, size: int = 1000, kind: str = "image/jpeg"
) -> list[SandboxMedia]:
    now = timezone.now()
    ext = kind.split("/")[1]
    return SandboxMedia.objects.bulk_create(
        SandboxMedia(
            tenant=tenant,
            filename=f"file-{index:04d}.{ext}",
            content_type=kind,
            size_bytes=size,
            created_at=now - timedelta(minutes=index),
        )
        for index in range(count)
    )


def delete_calls(tenant: SandboxTenant, status: int | None = None) -> dict[str, int]:
    """DELETE /media/{id} calls the sandbox answered, per media id (optionally one status)."""
    calls = SandboxCall.objects.filter(tenant=tenant, method="DELETE").exclude(media_id="")
    if status is not None:
        calls = calls.filter(status=status)
    counts: dict[str, int] = {}
    for media_id in calls.values_list("media_id", flat=True):
        counts[media_id] = counts.get(media_id, 0) + 1
    return counts


@pytest.fixture
def make_media(workspace: Workspace) -> Callable[..., list[MediaItem]]:
    """Mirror rows straight in the database (no upstream)."""

    def make(
        count: int = 1,
        *,
        size: int = 1000,
        content_type: str = "image/jpeg",
        in_use: bool | None = False,
        age_days: float = 1,
        prefix: str = "file",
        ws: Workspace | None = None,
    ) -> list[MediaItem]:
        now = timezone.now()
        target = ws or workspace
        start = MediaItem.objects.filter(workspace=target).count()
        return MediaItem.objects.bulk_create(
            MediaItem(
                workspace=target,
                upstream_id=f"{prefix}-{start + index:05d}",
                filename=f"{prefix}-{start + index:05d}.{content_type.split('/')[1]}",
                content_type=content_type,
                size_bytes=size,
                created_at=now - timedelta(days=age_days, minutes=index),
                in_use=in_use,
            )
            for index in range(count)
        )

    return make


@pytest.fixture
def make_snapshot(workspace: Workspace) -> Callable[..., StorageSnapshot]:
    def make(
        used: int, limit: int = 100 * MB, *, at: datetime | None = None, count: int | None = None
    ) -> StorageSnapshot:
        moment = at or timezone.now()
        return StorageSnapshot.objects.create(
            workspace=workspace,
            used_bytes=used,
            limit_bytes=limit,
            count=count,
            since=moment,
            taken_at=moment,
        )

    return make


def storage_history(
    workspace: Workspace,
    used_mb: list[float],
    *,
    limit_mb: float = 100,
    step: timedelta = timedelta(days=1),
    end: datetime | None = None,
) -> StorageSnapshot:
    """One figure per `step`, the last one at `end` (now), each stored the way the watch
    stores it (`media.storage._record`: runs, growth and forecast included); the latest
    row as stored."""
    end = end or timezone.now()
    row = None
    for index, used in enumerate(used_mb):
        row = storage._record(
            workspace_id=workspace.pk,
            used=int(used * MB),
            limit=int(limit_mb * MB) if limit_mb >= 0 else -1,
            count=None,
            source="api",
            now=end - step * (len(used_mb) - 1 - index),
        )
    assert row is not None
    return StorageSnapshot.objects.get(pk=row.pk)
