"""Storage that grows by itself: files arrive at the pace set, as time passes, and stop
at the limit the way upstream refuses uploads."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from sandbox import services as s
from sandbox.models import SandboxEvent, SandboxMedia, SandboxTenant
from sandbox.services import MIB, SandboxError, storage_growth_apply, storage_growth_set
from tests.sandbox.conftest import media_make

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta(0)
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() + self.offset)

    def later(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def storage(api) -> dict[str, int]:
    answer = api.get("/media/storage")
    assert answer.status_code == 200
    figure: dict[str, int] = answer.json()
    return figure


def test_storage_grows_at_the_pace_set_as_calls_come_in(api, tenant, clock):
    storage_growth_set(tenant=tenant, mb_per_day=10)
    assert storage(api)["used_bytes"] == 0
    clock.later(days=1)
    assert storage(api)["used_bytes"] == pytest.approx(10 * MIB, abs=200)
    clock.later(days=2)
    figure = storage(api)
    assert figure["used_bytes"] == pytest.approx(30 * MIB, abs=400)
    assert figure["count"] == SandboxMedia.objects.filter(tenant=tenant).count() > 3
    # The files were "uploaded" as the days went by, not all at the last call.
    oldest = SandboxMedia.objects.filter(tenant=tenant).order_by("created_at").first()
    assert oldest is not None and oldest.created_at < timezone.now() - timedelta(days=2)


def test_it_adds_files_of_a_megabyte_or_so_not_one_per_call(api, tenant, clock):
    storage_growth_set(tenant=tenant, mb_per_day=10)
    for _ in range(30):
        clock.later(seconds=20)  # the watch
        storage(api)
    assert SandboxMedia.objects.filter(tenant=tenant).count() == 0  # 70 KB owed so far
    clock.later(hours=3)
    storage(api)
    sizes = list(SandboxMedia.objects.filter(tenant=tenant).values_list("size_bytes", flat=True))
    assert 1 <= len(sizes) <= 5 and sum(sizes) == pytest.approx(1.3 * MIB, rel=0.05)


def test_growth_stops_at_the_limit_and_the_refused_upload_is_logged(api, tenant, clock):
    media_make(tenant, 1, size=95 * MIB)
    storage_growth_set(tenant=tenant, mb_per_day=10)
    clock.later(days=1)
    figure = storage(api)
    assert figure["used_bytes"] == figure["limit_bytes"] == tenant.storage_limit_bytes
    refused = SandboxEvent.objects.filter(tenant=tenant, status_code=413)
    assert refused.count() == 1
    clock.later(days=1)
    assert storage(api)["used_bytes"] == tenant.storage_limit_bytes
    assert refused.count() == 2


def test_two_calls_at_once_add_the_files_once(tenant, clock):
    storage_growth_set(tenant=tenant, mb_per_day=10)
    clock.later(days=1)
    stale = SandboxTenant.objects.get(pk=tenant.pk)
    assert storage_growth_apply(tenant=SandboxTenant.objects.get(pk=tenant.pk)) > 0
    assert storage_growth_apply(tenant=stale) == 0
    total = sum(SandboxMedia.objects.filter(tenant=tenant).values_list("size_bytes", flat=True))
    assert total == pytest.approx(10 * MIB, abs=200)


def test_zero_and_reset_stop_it(api, tenant, clock):
    storage_growth_set(tenant=tenant, mb_per_day=10)
    clock.later(hours=12)
    storage_growth_set(tenant=tenant, mb_per_day=0)  # what was owed until now arrives
    owed = SandboxMedia.objects.filter(tenant=tenant).count()
    assert owed > 0
    clock.later(days=3)
    storage(api)
    assert SandboxMedia.objects.filter(tenant=tenant).count() == owed
    storage_growth_set(tenant=tenant, mb_per_day=5)
    s.tenant_reset(tenant=tenant)
    clock.later(days=3)
    storage(api)
    assert SandboxMedia.objects.filter(tenant=tenant).count() == owed


def test_a_pace_out_of_range_changes_nothing(tenant):
    with pytest.raises(SandboxError, match="0 to 10,000 MB a day"):
        storage_growth_set(tenant=tenant, mb_per_day=-1)
    assert SandboxTenant.objects.get(pk=tenant.pk).storage_growth_bytes_per_day == 0


def test_the_command_sets_and_shows_the_pace(tenant):
    out = StringIO()
    call_command("sandbox", "grow-storage", "4", stdout=out)
    assert "grows by 4 MB a day" in out.getvalue()
    out = StringIO()
    call_command("sandbox", "status", stdout=out)
    assert "storage grows 4 MB a day" in out.getvalue()
