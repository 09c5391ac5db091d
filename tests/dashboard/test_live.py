"""One moment per screen: after each kind of change upstream, the overview's banners and
its cards say the same thing — on a fresh load and through the open page's poll — and
the number a banner gives is the length of the list its button opens."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sandbox import services as weather
from sandbox.models import SandboxMedia

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@dataclass
class Screen:
    """What a person reads on the overview."""

    banners: list[str]
    storage: str  # the storage card's figure line
    storage_status: str
    health: dict[str, int]  # the account health card
    posts: str  # the usage card's posts figure
    version: str  # what the poller says the page shows


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def _region(html: str, element_id: str) -> str:
    found = re.search(rf'<(\w+) id="{element_id}".*?</\1>', html, re.S)
    assert found, f"no #{element_id} in the page"
    return found.group(0)


def read(html: str) -> Screen:
    banners = [_text(t) for t in re.findall(r'class="banner-title">(.*?)</strong>', html)]
    storage = _region(html, "storage-card")
    figure = re.search(r'class="gauge-figure">(.*?)</p>', storage, re.S)
    status = re.search(r'class="small gauge-status[^"]*">(.*?)</p>', storage, re.S)
    health = _region(html, "health-card")
    values = [int(v) for v in re.findall(r'class="stat-value">(\d+)<', health)]
    usage = _region(html, "usage-card")
    posts = re.search(r"<span>Posts</span><span class=\"muted\">(.*?)</span>", usage, re.S)
    version = re.search(r'hx-vals=\'{"v": "([^"]+)"}\'', html)
    return Screen(
        banners=banners,
        storage=_text(figure.group(1)) if figure else "",
        storage_status=_text(status.group(1)) if status else "",
        health=dict(zip(["reconnect", "credentials", "other", "active"], values, strict=True)),
        posts=_text(posts.group(1)) if posts else "",
        version=version.group(1) if version else "",
    )


@pytest.fixture
def page(up, admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def overview(client: Client, workspace) -> Screen:
    return read(client.get(reverse("overview", args=[workspace.slug])).content.decode())


def poll(client: Client, workspace, version: str):
    return client.get(
        reverse("live", args=[workspace.slug]),
        {"v": version},
        headers={
            **HTMX,
            "HX-Current-URL": "http://testserver" + reverse("overview", args=[workspace.slug]),
        },
    )


def assert_agree(screen: Screen) -> None:
    """The banners and the cards tell one story."""
    storage_banner = next((b for b in screen.banners if b.startswith("Storage ")), None)
    percent = re.search(r"\((\d+)%\)", screen.storage)
    if storage_banner and "nearly" not in storage_banner and "% full" in storage_banner:
        assert percent and f"Storage {percent.group(1)}% full" in storage_banner
    if storage_banner == "Storage full — uploads fail":
        assert screen.storage_status.startswith("Storage full")
    if percent and int(percent.group(1)) >= 80:
        assert storage_banner, f"a {percent.group(1)} % card without a storage banner"
    broken = screen.health["reconnect"] + screen.health["credentials"]
    accounts_banner = next((b for b in screen.banners if " need" in b), None)
    if broken:
        assert accounts_banner and accounts_banner.startswith(
            f"{broken} account{'s' if broken != 1 else ''} need"
        )
    else:
        assert accounts_banner is None
    monthly = next((b for b in screen.banners if b.startswith("Monthly post limit")), None)
    used, _, limit = screen.posts.partition(" / ")
    if monthly:
        assert used == limit, f"{monthly!r} beside posts {screen.posts!r}"


def test_after_each_change_the_banners_and_the_cards_on_the_overview_agree(up, page):
    ws = up.workspace
    before = overview(page, ws)
    assert before.banners == [] and before.storage.endswith("(0%)")
    assert_agree(before)
    changes = [
        ("storage 85 %", lambda: weather.storage_fill(tenant=up.tenant, percent=85)),
        ("storage full", lambda: weather.storage_fill(tenant=up.tenant, percent=100)),
        (
            "broken accounts",
            lambda: (
                weather.account_token_expire(
                    tenant=up.tenant, account_id=up.accounts["instagram"].id
                ),
                weather.account_credentials_invalidate(
                    tenant=up.tenant, account_id=up.accounts["telegram"].id
                ),
            ),
        ),
        ("monthly limit", lambda: weather.allowance_exhaust(tenant=up.tenant)),
        ("5xx", lambda: weather.faults_set(tenant=up.tenant, rate_5xx=1.0)),
        ("5xx over", lambda: weather.faults_clear(tenant=up.tenant)),
        ("new period", lambda: weather.usage_reset(tenant=up.tenant)),
    ]
    shown = before.version
    for label, change in changes:
        change()
        up.later()
        up.watch()
        # The open page: one poll brings every changed region from one new moment.
        answer = poll(page, ws, shown)
        assert answer.status_code == 200, label
        html = answer.content.decode()
        assert 'id="live"' in html and 'hx-swap-oob="true"' in html
        fresh = overview(page, ws)
        assert_agree(fresh)
        # What the poll sent is what a fresh load shows.
        live = read(_merge(page, ws, html))
        assert live.banners == fresh.banners, label
        assert (live.storage, live.health, live.posts) == (
            fresh.storage,
            fresh.health,
            fresh.posts,
        ), label
        shown = live.version
        assert poll(page, ws, shown).status_code == 204, f"{label}: nothing changed since"

    final = overview(page, ws)
    assert "Storage full — uploads fail" in final.banners
    assert final.storage_status.startswith("Storage full")
    assert final.health["reconnect"] == 1 and final.health["credentials"] == 1
    assert "2 accounts need reconnecting or new credentials" in final.banners
    assert not any(b.startswith("SocialAPI errors") for b in final.banners)
    assert not any(b.startswith("Monthly post limit") for b in final.banners)
    assert final.posts == "0 / 10"


def _merge(client: Client, workspace, oob: str) -> str:
    """The overview as the browser shows it after the out-of-band swaps of a poll."""
    html = client.get(reverse("overview", args=[workspace.slug])).content.decode()
    for element_id in re.findall(r'<\w+ id="([\w-]+)"[^>]*hx-swap-oob="true"', oob):
        html = html.replace(_region(html, element_id), _region(oob, element_id))
    return html


def test_the_number_on_the_accounts_banner_is_the_length_of_the_list_it_opens(up, page):
    weather.account_token_expire(tenant=up.tenant, account_id=up.accounts["instagram"].id)
    weather.account_credentials_invalidate(tenant=up.tenant, account_id=up.accounts["telegram"].id)
    up.later()
    up.watch()
    html = page.get(reverse("overview", args=[up.workspace.slug])).content.decode()
    link = re.search(r'<a class="button button-small" href="([^"]+)">Show accounts</a>', html)
    assert link
    listed = page.get(link.group(1).replace("&amp;", "&")).content.decode()
    rows = re.findall(r'<tr id="account-\d+"', listed)
    assert "2 accounts need reconnecting or new credentials" in read(html).banners
    assert len(rows) == 2
    assert "@instagram_user" in listed and "@telegram_user" in listed


def _forecast_words(html: str) -> dict[str, str]:
    """What the banner, the overview's storage card and the storage page say about when
    storage fills, each as "about N days" (empty when it says nothing of the kind)."""

    def days(pattern: str, text: str) -> str:
        found = re.search(pattern, text)
        return found.group(1) if found else ""

    return {
        "banner": days(r"Storage full in (about \d+ days|about a day) at this rate", html),
        "card": days(r"Full in (about \d+ days|about a day)</strong> at this rate", html),
        "page": days(r"Full in (about \d+ days|about a day)</strong> at the last 7 days", html),
    }


def test_the_forecast_on_the_banner_the_card_and_the_storage_page_agree(up, page):
    ws = up.workspace
    storage_url = reverse("media:storage", args=[ws.slug])
    weather.storage_growth_set(tenant=up.tenant, mb_per_day=8)
    shown = overview(page, ws).version
    for _ in range(8):  # eight days of the tenant's backend uploading 8 MB a day
        up.later(86_400)
        up.watch()
    html = page.get(reverse("overview", args=[ws.slug])).content.decode()
    said = _forecast_words(html)
    words = _forecast_words(page.get(storage_url).content.decode())
    assert said["banner"] and said["banner"] == said["card"] == words["page"], (said, words)
    assert words["banner"] == said["banner"]  # the storage page's banners
    pace = re.search(r"\((\S+ \S+) a day, deletions left out\)", html)
    assert pace and f"at this rate ({pace.group(1)} a day)" in html
    # The open overview got the forecast through its poll, like a fresh load.
    answer = poll(page, ws, shown)
    assert answer.status_code == 200
    assert _forecast_words(_merge(page, ws, answer.content.decode())) == said

    # Most of it deleted (by the tenant's backend): the forecast moves at once, the
    # banner goes, the card and the page say the same new figure.
    live = SandboxMedia.objects.filter(tenant=up.tenant, deleted_at__isnull=True)
    newest = list(live.order_by("-created_at").values_list("pk", flat=True)[:3])
    live.exclude(pk__in=newest).update(deleted_at=timezone.now())
    up.later()
    up.watch()
    html = page.get(reverse("overview", args=[ws.slug])).content.decode()
    after = _forecast_words(html)
    assert after["banner"] == "" and after["card"] and after["card"] != said["card"]
    assert _forecast_words(page.get(storage_url).content.decode())["page"] == after["card"]
