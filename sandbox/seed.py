"""The demo tenant: a realistic Free-plan workspace with every problem the dashboard shows."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sandbox.eventlog import event_build
from sandbox.ids import login_id_new, prefixed, ulid
from sandbox.models import (
    SandboxAccount,
    SandboxBrand,
    SandboxEvent,
    SandboxMedia,
    SandboxPost,
    SandboxPostTarget,
    SandboxTenant,
)
from sandbox.posts import account_can_publish, target_error
from sandbox.services import sandbox_tenant_create, webhook_configure
from socialapi.platforms import platform_name

STORAGE_SHARE = 0.90
MEDIA_COUNT = 300
IG_REASON = "The Instagram access token expired: the account owner changed their password."
LI_REASON = "The user removed SocialAPI's access in their LinkedIn settings."
# (brand index, platform, name, username, extra fields). Names are as awkward as real
# ones: emoji, accents, right-to-left text, quotes, ampersands and HTML people type into
# display names (pages must escape them). Account ids come in both documented shapes.
ACCOUNTS: tuple[tuple[int, str, str, str, dict[str, object]], ...] = (
    (0, "instagram", "Demo Co ☕ Café", "democo", {"reconnect_reason": IG_REASON}),
    (
        0,
        "facebook",
        "Dana Whitfield-Núñez",
        "dana.whitfield",
        {"page_name": "Demo Co <Official> & Friends"},
    ),
    (0, "threads", "Demo Co 🧵", "democo", {}),
    (0, "tiktok", "Demo Co <b>TikTok</b> 🎵", "democo.official", {"id": "acc_7k2m9qx4tz"}),
    (0, "youtube", "Demo Co — “Behind the Scenes” 🎬", "democo-channel", {}),
    (0, "linkedin_page", "Demo Co GmbH & Co. KG", "demo-co", {}),
    (0, "twitter", "Demo Co <script>alert(1)</script>", "DemoCoHQ", {}),
    (0, "pinterest", "Demo Co 家居 · Home", "democo", {"id": "acc_p1n73r35t0"}),
    (1, "instagram", "Demo Co Kitchen 🍜", "democo.kitchen", {}),
    (1, "linkedin", "Dana Whitfield ✔︎", "dana-whitfield", {"reconnect_reason": LI_REASON}),
    (
        1,
        "google",
        "Demo Co Kitchen (Downtown) — Café & Bar",
        "Demo Co Kitchen (Downtown) — Café & Bar",
        {"platform_account_id": "accounts/1084457781/locations/5521993870"},
    ),
    (1, "telegram", "Demo Co Kitchen bot 🤖", "democo_kitchen_bot", {"credentials_valid": False}),
    (1, "whatsapp", "مطبخ Demo Co Kitchen", "+44 20 7946 0321", {}),
)
MEDIA_KINDS = (  # content type, extension, weight, min bytes, max bytes, name stems
    ("image/jpeg", "jpg", 55, 90_000, 900_000, ("IMG_", "product-shot-", "team-", "menu-été-")),
    ("image/png", "png", 20, 60_000, 1_200_000, ("story-bg-", "banner <v2>-", "logo-v")),
    ("image/gif", "gif", 15, 150_000, 1_800_000, ("promo-loop-", "reaction 😂 ")),
    ("video/mp4", "mp4", 10, 1_500_000, 4_500_000, ("reel-", "teaser & trailer-", "縮圖-")),
)


def _accounts(
    tenant: SandboxTenant, brands: list[SandboxBrand], now: datetime, rng: random.Random
) -> list[SandboxAccount]:
    """The connected accounts: two need reconnecting, one has dead credentials."""
    accounts = []
    for brand_index, platform, name, username, extra in ACCOUNTS:
        connected = now - timedelta(days=rng.randint(40, 220))
        account = SandboxAccount(
            id=prefixed("acc", connected),
            tenant=tenant,
            brand=brands[brand_index],
            platform=platform,
            name=name,
            username=username,
            connected_at=connected,
            platform_account_id=str(rng.randint(10**15, 10**16 - 1)),
        )
        for field, value in extra.items():
            setattr(account, field, value)
        if account.reconnect_reason:
            account.status = SandboxAccount.Status.RECONNECT_REQUIRED
        if platform == "facebook":
            account.login_id = login_id_new(connected)
            account.metadata = {"page_ids": [account.platform_account_id]}
        accounts.append(account)
    return SandboxAccount.objects.bulk_create(accounts)


def _media(tenant: SandboxTenant, now: datetime, rng: random.Random) -> list[SandboxMedia]:
    """About 300 files over 120 days, together ~90 % of the Free plan's 100 MB."""
    weights = [kind[2] for kind in MEDIA_KINDS]
    drafts = []
    for index in range(MEDIA_COUNT):
        content_type, ext, _, low, high, stems = rng.choices(MEDIA_KINDS, weights)[0]
        stem = rng.choice(stems)
        number = rng.randint(1000, 9999) if stem == "IMG_" else index + 1
        created = now - timedelta(days=rng.uniform(0.2, 120), seconds=index)
        drafts.append((f"{stem}{number}.{ext}", content_type, rng.randint(low, high), created))
    target = int(tenant.storage_limit_bytes * STORAGE_SHARE)
    scale = target / sum(size for _, _, size, _ in drafts)
    media = [
        SandboxMedia(
            tenant=tenant,
            filename=name,
            content_type=ctype,
            size_bytes=max(1, int(size * scale)),
            created_at=created,
        )
        for name, ctype, size, created in drafts
    ]
    media[0].size_bytes += target - sum(m.size_bytes for m in media)
    return SandboxMedia.objects.bulk_create(media)


def _posts(
    tenant: SandboxTenant,
    accounts: list[SandboxAccount],
    media: list[SandboxMedia],
    now: datetime,
    rng: random.Random,
) -> None:
    """25 scheduled posts; some use media (now in use), some target the broken accounts."""
    healthy = [a for a in accounts if a.status == "active" and a.credentials_valid]
    broken = [a for a in accounts if a not in healthy]
    posts, targets, links = [], [], []
    attachable = sorted(media, key=lambda m: m.created_at, reverse=True)[:60]
    for index in range(25):
        when = now + timedelta(days=rng.uniform(0.5, 21), minutes=index)
        post = SandboxPost(
            # Post ids: `p_01HZ…`, and the bare ULID the OpenAPI examples also show.
            id=prefixed("p") if index % 3 else ulid(),
            tenant=tenant,
            status="scheduled",
            scheduled_at=when,
            text=f"Scheduled update #{index + 1} from Demo Co",
            created_at=now - timedelta(days=rng.uniform(0, 10)),
        )
        posts.append(post)
        chosen = rng.sample(healthy, rng.randint(1, 3))
        if index % 4 == 0:
            chosen.append(broken[(index // 4) % len(broken)])
        targets += [SandboxPostTarget(post=post, account=account) for account in chosen]
        if index % 2 == 0:
            for item in rng.sample(attachable, rng.randint(1, 2)):
                links.append(SandboxPost.media.through(sandboxpost=post, sandboxmedia=item))
    SandboxPost.objects.bulk_create(posts)
    SandboxPostTarget.objects.bulk_create(targets)
    SandboxPost.media.through.objects.bulk_create(links, ignore_conflicts=True)


# Posts that came due while an account was broken and failed on it, per broken platform:
# what the dashboard offers to retry once the account is fixed. (text, days ago)
FAILED_POSTS: dict[str, tuple[tuple[str, float], ...]] = {
    "instagram": (
        ("Our autumn menu is here 🍂 Come taste it this weekend!", 4.6),
        ("Behind the scenes: baking at 5 am ☕", 2.3),
        ("Giveaway! Tag a friend who needs a coffee break", 0.8),
    ),
    "linkedin": (
        ("We are hiring a head barista in Berlin — apply by Friday", 5.2),
        ("Dana on what a year of Demo Co Kitchen taught us", 1.4),
    ),
    "telegram": (("Today's special: ramen & matcha 🍜", 0.4),),
}


def _failed_posts(
    tenant: SandboxTenant, accounts: list[SandboxAccount], now: datetime, rng: random.Random
) -> None:
    """Posts that failed on the broken accounts when they came due, each logged once in the
    events log (as upstream logs its own deliveries); some also went to a healthy account
    (published there: the post is `partial`)."""
    healthy = [a for a in accounts if account_can_publish(a)]
    by_platform = {a.platform: a for a in accounts if not account_can_publish(a)}
    posts, targets, events = [], [], []
    for platform, drafts in FAILED_POSTS.items():
        broken = by_platform[platform]
        for index, (text, days_ago) in enumerate(drafts):
            due = now - timedelta(days=days_ago, minutes=rng.randint(0, 50))
            partial = index % 2 == 1
            post = SandboxPost(
                id=prefixed("p", due - timedelta(days=3)),
                tenant=tenant,
                text=text,
                status="partial" if partial else "failed",
                scheduled_at=due,
                published_at=due if partial else None,
                created_at=due - timedelta(days=3),
                updated_at=due,
            )
            posts.append(post)
            error = target_error(broken)
            targets.append(
                SandboxPostTarget(post=post, account=broken, status="failed", error=error)
            )
            if partial:
                other = rng.choice(healthy)
                targets.append(SandboxPostTarget(post=post, account=other, status="published"))
            events.append(
                event_build(
                    tenant=tenant,
                    endpoint=f"POST /v1/posts/{post.id}/publish",
                    code=error["code"],
                    status_code=403 if broken.status == "reconnect_required" else 401,
                    message=error["message"],
                    category="post",
                    action="publish",
                    platform=broken.platform,
                    account_id=broken.id,
                    resource_id=post.id,
                    request_id=f"{rng.getrandbits(64):016x}",
                    duration_ms=rng.randint(300, 2400),
                    at=due + timedelta(seconds=rng.randint(2, 40)),
                )
            )
    SandboxPost.objects.bulk_create(posts)
    SandboxPostTarget.objects.bulk_create(targets)
    SandboxEvent.objects.bulk_create(events)


def _events(
    tenant: SandboxTenant, accounts: list[SandboxAccount], now: datetime, rng: random.Random
) -> None:
    """A month of failures, as the customer's own traffic produced them."""
    by_platform = {a.platform: a for a in accounts}
    broken = [a for a in accounts if a.status != "active"]
    telegram = next(a for a in accounts if not a.credentials_valid)
    events: list[SandboxEvent] = []

    def add(
        days_ago: float,
        endpoint: str,
        code: str,
        status: int,
        message: str,
        account: SandboxAccount | None = None,
    ) -> None:
        """Append one failed event."""
        category = endpoint.split("/")[2].rstrip("s")
        action = {"POST": "create", "GET": "list", "DELETE": "delete"}[endpoint.split()[0]]
        if endpoint.endswith("upload"):
            action = "upload"
        events.append(
            event_build(
                tenant=tenant,
                endpoint=endpoint,
                code=code,
                status_code=status,
                message=message,
                category=category,
                action=action,
                platform=account.platform if account else "",
                account_id=account.id if account else "",
                request_id=f"{rng.getrandbits(64):016x}",
                duration_ms=rng.randint(80, 2400),
                at=now - timedelta(days=days_ago),
            )
        )

    for _ in range(70):
        account = by_platform[rng.choice(("instagram", "tiktok", "instagram", "threads"))]
        add(
            rng.uniform(0.1, 29.5),
            "POST /v1/posts",
            f"platform.{account.platform}.rate_limit",
            429,
            f"{platform_name(account.platform)} is rate limiting requests.",
            account,
        )
    for days in (13.2, 13.05):
        add(
            days,
            "POST /v1/posts",
            "billing.post_limit",
            429,
            "Monthly post limit reached (10 on the free plan).",
        )
    for _ in range(6):
        add(
            rng.uniform(0.2, 7),
            "POST /v1/media/upload",
            "billing.storage_quota",
            413,
            "Upload would exceed your plan's storage limit (100 MB).",
        )
    for account, since in zip(broken, (6, 12), strict=True):
        for _ in range(9):
            add(
                rng.uniform(0.05, since),
                "POST /v1/posts",
                "account.reconnection_required",
                403,
                account.reconnect_reason,
                account,
            )
    for _ in range(5):
        add(
            rng.uniform(0.1, 4),
            "POST /v1/posts",
            "platform.telegram.auth",
            401,
            "Telegram rejected the stored credentials.",
            telegram,
        )
    for endpoint in ("GET /v1/media", "POST /v1/posts", "POST /v1/posts", "GET /v1/accounts"):
        add(
            rng.uniform(1, 28),
            endpoint,
            "system.internal",
            500,
            "Internal server error. Please contact support.",
        )
    for code, message in (
        ("validation.field_required", "text is required"),
        ("validation.field_invalid", "scheduled_at must be in the future"),
    ) * 3:
        add(rng.uniform(0.5, 29), "POST /v1/posts", code, 400, message)
    SandboxEvent.objects.bulk_create(events)


@transaction.atomic
def sandbox_demo_seed(
    *, name: str = "Demo Co", webhook_url: str, webhook_secret: str
) -> SandboxTenant:
    """Create (once, by name) the demo tenant; later calls only refresh its webhook target."""
    existing = SandboxTenant.objects.filter(name=name).first()
    if existing is not None:
        return webhook_configure(tenant=existing, url=webhook_url, secret=webhook_secret)
    tenant = sandbox_tenant_create(name=name, plan="free", email="ops@democo.example")
    webhook_configure(tenant=tenant, url=webhook_url, secret=webhook_secret)
    now = timezone.now()
    rng = random.Random(2026)
    tenant.period_start, tenant.period_end = now - timedelta(days=12), now + timedelta(days=18)
    tenant.posts_used, tenant.interactions_used = 8, 31
    tenant.save()
    brands = SandboxBrand.objects.bulk_create(
        [
            SandboxBrand(
                id=brand_id,
                tenant=tenant,
                name=brand_name,
                created_at=now - timedelta(days=300 - 60 * index),
            )
            # Brand ids in both shapes: `b_01HZ…` and a bare UUID.
            for index, (brand_id, brand_name) in enumerate(
                (
                    (prefixed("b"), f"{name} «Main»"),
                    (str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{name} Kitchen & Bar"),
                )
            )
        ]
    )
    accounts = _accounts(tenant, brands, now, rng)
    media = _media(tenant, now, rng)
    _posts(tenant, accounts, media, now, rng)
    _failed_posts(tenant, accounts, now, random.Random(2027))
    _events(tenant, accounts, now, rng)
    return tenant
