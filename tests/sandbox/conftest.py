"""Sandbox fixtures: tenants, an API caller with the bearer key, small data builders."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sandbox import faults
from sandbox.ids import account_id_new, brand_id_new, prefixed
from sandbox.models import (
    SandboxAccount,
    SandboxBrand,
    SandboxMedia,
    SandboxPost,
    SandboxPostTarget,
    SandboxTenant,
)
from sandbox.services import sandbox_tenant_create

BASE = "/sandbox/v1"


@dataclass
class Api:
    """Calls /sandbox/v1 as one tenant (or with any Authorization header)."""

    client: Client
    key: str | None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = "default",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        files: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        extra = dict(headers or {})
        token = self.key if key == "default" else key
        if token is not None:
            extra.setdefault("Authorization", f"Bearer {token}")
        kwargs: dict[str, Any] = {"headers": extra}
        if files is not None:
            kwargs["data"] = files
        elif raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        elif query is not None:
            kwargs["data"] = query
        return getattr(self.client, method.lower())(BASE + path, **kwargs)

    @property
    def tenant(self) -> SandboxTenant:
        return SandboxTenant.objects.get(api_key=self.key)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)


@dataclass
class Sleeps:
    """What the fault switches slept (nothing really waits in tests)."""

    seconds: list[float] = field(default_factory=list)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    record = Sleeps()
    monkeypatch.setattr(faults, "sleep", record.seconds.append)
    return record


@pytest.fixture
def tenant(db: Any) -> SandboxTenant:
    return sandbox_tenant_create(name="Acme Sandbox")


@pytest.fixture
def legacy_tenant(db: Any) -> SandboxTenant:
    return sandbox_tenant_create(name="Oldco Sandbox", dialect="legacy")


@pytest.fixture
def api(client: Client, tenant: SandboxTenant) -> Api:
    return Api(client, tenant.api_key)


@pytest.fixture
def legacy_api(client: Client, legacy_tenant: SandboxTenant) -> Api:
    return Api(client, legacy_tenant.api_key)


@pytest.fixture
def dialect_api(request: pytest.FixtureRequest, client: Client, db: Any) -> Api:
    """Parametrise with "current" / "legacy" (indirect) to run a test in both dialects."""
    dialect = getattr(request, "param", "current")
    tenant = sandbox_tenant_create(name=f"{dialect} tenant", dialect=dialect)
    return Api(client, tenant.api_key)


def brand_make(tenant: SandboxTenant, name: str = "Main brand") -> SandboxBrand:
    return SandboxBrand.objects.create(id=brand_id_new(), tenant=tenant, name=name)


def account_make(
    tenant: SandboxTenant,
    platform: str = "instagram",
    *,
    brand: SandboxBrand | None = None,
    **fields: Any,
) -> SandboxAccount:
    brand = brand or SandboxBrand.objects.filter(tenant=tenant).first() or brand_make(tenant)
    values = {"name": f"{platform} account", "username": f"{platform}_user", **fields}
    return SandboxAccount.objects.create(
        id=account_id_new(), tenant=tenant, brand=brand, platform=platform, **values
    )


def media_make(
    tenant: SandboxTenant, count: int = 1, *, size: int = 1000, start: datetime | None = None
) -> list[SandboxMedia]:
    """`count` files, the first one newest."""
    start = start or timezone.now()
    return SandboxMedia.objects.bulk_create(
        SandboxMedia(
            tenant=tenant,
            filename=f"file-{index:03d}.jpg",
            content_type="image/jpeg",
            size_bytes=size,
            created_at=start - timedelta(minutes=index),
        )
        for index in range(count)
    )


def post_make(
    tenant: SandboxTenant,
    accounts: list[SandboxAccount],
    *,
    status: str = "scheduled",
    media: list[SandboxMedia] | None = None,
    when: datetime | None = None,
) -> SandboxPost:
    post = SandboxPost.objects.create(
        id=prefixed("p"),
        tenant=tenant,
        text="Hello",
        status=status,
        scheduled_at=when or timezone.now() + timedelta(days=1),
    )
    post.media.set(media or [])
    for account in accounts:
        SandboxPostTarget.objects.create(post=post, account=account)
    return post


@pytest.fixture
def make_account(tenant: SandboxTenant) -> Callable[..., SandboxAccount]:
    return lambda platform="instagram", **fields: account_make(tenant, platform, **fields)
