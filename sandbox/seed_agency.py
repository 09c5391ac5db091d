"""A second demo tenant: a paid agency on the legacy API, healthy, unlimited storage.

It shows what the dashboard looks like when things are fine, gives support staff more
than one workspace to triage, and exercises the legacy error dialect end to end.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sandbox.eventlog import event_build
from sandbox.ids import prefixed
from sandbox.models import SandboxAccount, SandboxBrand, SandboxEvent, SandboxMedia, SandboxTenant
from sandbox.services import sandbox_tenant_create, webhook_configure

# Names with emoji, accents, CJK and HTML; ids in both documented shapes (see seed.py).
ACCOUNTS = (
    ("acc_n0rthw1nd1g", "instagram", "Northwind Coffee ☕", "northwind.coffee"),
    ("", "facebook", "Northwind Coffee & Roastery <HQ>", "northwindcoffee"),
    ("", "linkedin_page", "Northwind Agency — Ünïcødé Ltd.", "northwind-agency"),
    ("", "youtube", "Northwind Studio 🎥 <i>live</i>", "northwind-studio"),
    (
        "acc_h4rb0urst2",
        "google",
        "Northwind Coffee (Harbour St) 北风",
        "Northwind Coffee (Harbour St) 北风",
    ),
)


@transaction.atomic
def sandbox_agency_seed(
    *, name: str = "Northwind Agency", webhook_url: str, webhook_secret: str
) -> SandboxTenant:
    """Create (once, by name) the agency tenant; later calls only refresh its webhook target."""
    existing = SandboxTenant.objects.filter(name=name).first()
    if existing is not None:
        return webhook_configure(tenant=existing, url=webhook_url, secret=webhook_secret)
    tenant = sandbox_tenant_create(
        name=name, plan="pro", dialect="legacy", email="ops@northwind.example"
    )
    webhook_configure(tenant=tenant, url=webhook_url, secret=webhook_secret)
    now = timezone.now()
    rng = random.Random(1999)
    brand = SandboxBrand.objects.create(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        tenant=tenant,
        name=f"{name} 🌬️",
        created_at=now,
    )
    accounts = SandboxAccount.objects.bulk_create(
        SandboxAccount(
            id=account_id or prefixed("acc", now - timedelta(days=90 + index)),
            tenant=tenant,
            brand=brand,
            platform=platform,
            name=account_name,
            username=username,
            connected_at=now - timedelta(days=90 + index),
            platform_account_id=str(rng.randint(10**15, 10**16 - 1)),
        )
        for index, (account_id, platform, account_name, username) in enumerate(ACCOUNTS)
    )
    SandboxMedia.objects.bulk_create(
        SandboxMedia(
            tenant=tenant,
            filename=f"{stem}-{index + 1:03d}.{ext}",
            content_type=ctype,
            size_bytes=rng.randint(low, high),
            created_at=now - timedelta(days=rng.uniform(0.5, 60)),
        )
        for index in range(40)
        for stem, ext, ctype, low, high in [
            rng.choice(
                (
                    ("latte-art «crème»", "jpg", "image/jpeg", 300_000, 2_500_000),
                    ("harbour-reel <final> & v2", "mp4", "video/mp4", 8_000_000, 30_000_000),
                )
            )
        ]
    )
    instagram = accounts[0]
    SandboxEvent.objects.bulk_create(
        event_build(
            tenant=tenant,
            endpoint="POST /v1/posts",
            code="platform_rate_limit",
            status_code=429,
            message="Instagram is rate limiting requests.",
            category="post",
            action="create",
            platform="instagram",
            account_id=instagram.id,
            at=now - timedelta(days=rng.uniform(2, 20)),
        )
        for _ in range(6)
    )
    return tenant
