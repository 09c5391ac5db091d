"""An outside check: the official Python SDK (`socialapi` 0.4.0, a client we did not write)
against a live sandbox, in both dialects.

The SDK is installed in its own virtualenv under `var/` (its import name is ours too) and
driven by `sdk_probe.py` over real HTTP. Each read the dashboard relies on, media deletes
(ok, gone, in use) and connect start must parse and raise the right exception. What goes
wrong is either a sandbox defect (fixed in the sandbox) or one of `KNOWN_SDK_BUGS`, each
asserted to still be there so the list stays true. Every answer the SDK received is also
validated against SocialAPI's OpenAPI file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from sandbox.eventlog import events_append
from sandbox.ids import prefixed
from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxEvent,
    SandboxMedia,
    SandboxPost,
    SandboxTenant,
    SandboxWebhookEndpoint,
)
from sandbox.services import faults_set, sandbox_tenant_create, world_dialect_set
from tests.sandbox.conftest import account_make, brand_make, media_make, post_make
from tests.sandbox.spec import check_answer, template_for

pytestmark = [pytest.mark.sdk, pytest.mark.django_db(transaction=True)]

SDK_SPEC = "socialapi==0.4.0"
SDK_VERSION = "0.4.0"
PROBE = Path(__file__).with_name("sdk_probe.py")
PAGE_SIZE = 2
MEDIA_COUNT = 5  # 3 pages of 2: enough to see paging work, or loop
MAX_PAGES = 8
PROBE_TIMEOUT = 240
NETWORK_SIGNS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
    "(from versions: none)",
)

# What the SDK gets wrong, with the reason; each is checked to still happen below, so a
# failure anywhere else is a sandbox defect (or a new SDK bug to add here, with its reason).
KNOWN_SDK_BUGS = {
    "pages_forever_on_empty_cursor": (
        'CursorPage.has_next_page() is true for next_cursor "" (only None ends a list): '
        "on a tenant whose lists end that way, media pages restart from the first page "
        f"forever; we stop at {MAX_PAGES} pages"
    ),
    "retries_posts": (
        "a POST is re-sent after a 500: POST /accounts/connect (not idempotent) went out "
        "twice for one call"
    ),
    "retries_409": (
        "409 is in its retryable statuses: DELETE /media/{id} answered media.in_use is "
        "re-sent max_retries (2) times before ConflictError"
    ),
    "timeout_not_applied": (
        "requests go out with no timeout (build_request(timeout=None) overrides the "
        "constructor's): the probe's transport applies one"
    ),
    "request_id_only_from_body": (
        "exceptions take request_id from the body only: legacy errors carry none there, "
        "so it is None though X-Request-ID came back"
    ),
    "models_drop_fields": (
        "its Account model has no page_name / login_id (pydantic drops them): the "
        "dashboard labels Facebook pages and groups logins with them"
    ),
    "no_pending_selection": "no method for GET /accounts/pending/{id} or its /select",
    "no_v2_signatures": "webhooks.verify_signature checks v1 only (no timestamp, no v2)",
}


# --- the SDK's virtualenv --------------------------------------------------------------


def _venv_dir() -> Path:
    """Cached between runs, keyed by the pinned SDK and this Python."""
    key = f"{SDK_SPEC} {sys.version_info[0]}.{sys.version_info[1]} {sys.platform}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(settings.VAR_DIR) / "sdk-venvs" / f"socialapi-{SDK_VERSION}-{digest}"


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _venv_ok(venv: Path) -> bool:
    """The venv exists, is complete and imports the pinned SDK (not our package)."""
    python = _venv_python(venv)
    if not (venv / ".complete").exists() or not python.exists():
        return False
    found = subprocess.run(
        [str(python), "-I", "-c", "import socialapi; print(socialapi.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return found.returncode == 0 and found.stdout.strip() == SDK_VERSION


def _unavailable(message: str) -> None:
    """No network to install from: skip here, but never in CI (CI has PyPI access)."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: the SDK check must run there)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    """The Python of a virtualenv holding only the official SDK and its dependencies."""
    venv = _venv_dir()
    if _venv_ok(venv):
        return _venv_python(venv)
    scratch = venv.with_name(venv.name + f".tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(scratch)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pip = subprocess.run(
            [
                str(_venv_python(scratch)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SDK_SPEC,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if pip.returncode != 0:
            why = (pip.stderr or pip.stdout).strip()
            if any(sign in why for sign in NETWORK_SIGNS):
                _unavailable(f"could not install {SDK_SPEC} for lack of network: {why[-300:]}")
            pytest.fail(f"pip install {SDK_SPEC} failed: {why[-2000:]}")
        (scratch / ".complete").write_text(SDK_SPEC + "\n")
        shutil.rmtree(venv, ignore_errors=True)
        scratch.rename(venv)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert _venv_ok(venv), f"{venv} does not import {SDK_SPEC}"
    return _venv_python(venv)


# --- a sandbox world for the SDK --------------------------------------------------------


@dataclass
class Setup:
    """One tenant prepared for the probe, and what the SDK should find there."""

    tenant: SandboxTenant
    plan: dict[str, Any]
    accounts: dict[str, SandboxAccount]
    media_ids: list[str]
    post_ids: list[str]
    event_ids: list[str]
    webhook_id: str


def tenant_for_probe(dialect: str, list_end: str, redirect_uri: str) -> Setup:
    """A tenant with a bit of everything the dashboard reads, as awkward as real data."""
    tenant = sandbox_tenant_create(
        name=f"SDK {dialect} {list_end}", dialect=dialect, list_end=list_end
    )
    brand = brand_make(tenant, "Acme «Café» <b>&</b> Co")
    accounts = {
        "instagram": account_make(tenant, "instagram", brand=brand, name="Acme ☕ <i>Insta</i>"),
        "facebook": account_make(
            tenant,
            "facebook",
            brand=brand,
            name="Dana Núñez",
            page_name="Acme <Page> & Friends",
            login_id=prefixed("cred"),
        ),
        "youtube": account_make(tenant, "youtube", brand=brand, name="Acme 🎬 Studio"),
        "linkedin": account_make(
            tenant,
            "linkedin",
            brand=brand,
            status="reconnect_required",
            reconnect_reason="The user removed SocialAPI's access.",
        ),
    }
    media = media_make(tenant, MEDIA_COUNT)
    SandboxMedia.objects.filter(pk=media[0].pk).update(filename="menu «été» <v2>.jpg")
    in_use, free = media[0], media[-1]
    post_make(tenant, [accounts["instagram"], accounts["youtube"]], media=[in_use])
    post_make(tenant, [accounts["youtube"]])
    post_make(tenant, [accounts["facebook"], accounts["linkedin"]])
    events_append(
        tenant=tenant,
        count=3,
        endpoint="POST /v1/posts",
        code="platform.instagram.rate_limit",
        status_code=429,
        message="Instagram is rate limiting requests — “slow down” <b>now</b>.",
        category="post",
        action="create",
        platform="instagram",
        account_id=accounts["instagram"].id,
    )
    webhook = SandboxWebhookEndpoint.objects.create(
        id=prefixed("wh"),
        tenant=tenant,
        url="https://hooks.example.com/socialapi",
        events=["post.failed", "account.disconnected"],
        secret="whsec_probe",
    )
    # Exactly one injected 500, on this tenant's first connect.
    faults_set(tenant=tenant, next_5xx=1, scope="POST /accounts/connect")
    plan = {
        "label": f"{dialect}-{list_end}",
        "key": tenant.api_key,
        "dialect": dialect,
        "page_size": PAGE_SIZE,
        "brand_id": brand.id,
        "healthy_account": accounts["instagram"].id,
        "broken_account": accounts["linkedin"].id,
        "media_free": str(free.id),
        "media_in_use": str(in_use.id),
        "redirect_uri": redirect_uri,
    }
    return Setup(
        tenant=tenant,
        plan=plan,
        accounts=accounts,
        media_ids=[str(m.id) for m in media],
        post_ids=[p.id for p in SandboxPost.objects.filter(tenant=tenant).order_by("scheduled_at")],
        event_ids=list(
            SandboxEvent.objects.filter(tenant=tenant)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)
        ),
        webhook_id=webhook.id,
    )


@dataclass
class Probe:
    """What the SDK did, per tenant and call."""

    raw: dict[str, Any]

    def result(self, tenant: str, call: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = self.raw["results"]
        for entry in entries:
            if (entry["tenant"], entry["call"]) == (tenant, call):
                return entry
        raise AssertionError(f"the probe did not run {call} for {tenant}")

    def value(self, tenant: str, call: str) -> Any:
        entry = self.result(tenant, call)
        assert entry["ok"], f"{tenant} {call}: the SDK raised {entry.get('error')}"
        return entry["value"]

    def error(self, tenant: str, call: str) -> dict[str, Any]:
        entry = self.result(tenant, call)
        assert not entry["ok"], f"{tenant} {call}: expected an exception, got {entry['value']}"
        error: dict[str, Any] = entry["error"]
        return error


def probe_run(python: Path, plan: dict[str, Any]) -> Probe:
    """Run the probe in the SDK's virtualenv (isolated: never sees our `socialapi`)."""
    done = subprocess.run(
        [str(python), "-I", str(PROBE)],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
    )
    assert done.returncode == 0, f"the probe crashed:\n{done.stderr[-3000:]}"
    return Probe(json.loads(done.stdout))


@dataclass
class Probed:
    """One dialect's probe: its tenants (one per end-of-list form) and what the SDK did."""

    dialect: str
    setups: list[Setup]
    probe: Probe
    live_url: str

    def code(self, current: str, legacy: str) -> str:
        return current if self.dialect == "current" else legacy


# --- the checks ---------------------------------------------------------------------------


def check_the_pinned_sdk_runs_from_its_own_virtualenv(probed: Probed) -> None:
    probe = probed.probe
    surface = probe.raw["surface"]
    assert surface["version"] == SDK_VERSION
    assert Path(surface["location"]).is_relative_to(surface["prefix"])
    assert not Path(surface["location"]).is_relative_to(settings.BASE_DIR / "socialapi")


def check_every_read_the_dashboard_relies_on_parses(probed: Probed) -> None:
    probe = probed.probe
    for setup in probed.setups:
        label, tenant = setup.plan["label"], setup.tenant
        me = probe.value(label, "users_me")
        assert (me["id"], me["email"], me["plan"]) == (str(tenant.user_id), tenant.email, "free")
        accounts = {a["id"]: a for a in probe.value(label, "accounts")}
        assert set(accounts) == {a.id for a in setup.accounts.values()}
        instagram = accounts[setup.accounts["instagram"].id]
        assert instagram["name"] == "Acme ☕ <i>Insta</i>"
        assert accounts[setup.accounts["linkedin"].id]["status"] == "reconnect_required"
        (brand,) = probe.value(label, "brands")
        assert (brand["name"], brand["accounts_count"]) == ("Acme «Café» <b>&</b> Co", 4)
        assert probe.value(label, "limits_ok") == {"posts_remaining": 25}
        storage = probe.value(label, "storage")
        assert storage == {"used_bytes": 1000 * MEDIA_COUNT, "limit_bytes": 104857600, "count": 5}
        usage = probe.value(label, "usage")
        assert usage["posts_limit"] == 10 and usage["period_end"]
        events = probe.value(label, "events_pages")
        assert events["ids"] == setup.event_ids and events["still_has_next"] is False
        posts = probe.value(label, "posts_pages")
        assert posts["ids"] == setup.post_ids and posts["still_has_next"] is False
        (webhook,) = probe.value(label, "webhooks")
        assert (webhook["id"], webhook["url"]) == (
            setup.webhook_id,
            "https://hooks.example.com/socialapi",
        )
        media = probe.value(label, "media_pages")
        if setup.tenant.list_end == "missing":
            assert media["ids"] == setup.media_ids and media["pages"] == 3
            assert media["still_has_next"] is False
        else:
            assert media["ids"][:MEDIA_COUNT] == setup.media_ids  # then: a known bug


def check_errors_raise_the_right_exception_with_the_right_code(probed: Probed) -> None:
    probe, dialect = probed.probe, probed.dialect
    for setup in probed.setups:
        label = setup.plan["label"]
        broken = probe.error(label, "limits_broken")
        if dialect == "current":
            assert (broken["type"], broken["status"]) == ("ForbiddenError", 403)
            assert broken["code"] == "account.reconnection_required"
        else:
            assert (broken["type"], broken["status"]) == ("InvalidTokenError", 401)
            assert broken["code"] == "invalid_token"
        assert probe.result(label, "media_delete_ok") == {
            "tenant": label,
            "call": "media_delete_ok",
            "ok": True,
            "value": None,
        }
        gone = probe.error(label, "media_delete_gone")
        assert "NotFoundError" in gone["mro"] and gone["status"] == 404
        assert gone["code"] == probed.code("media.not_found", "not_found")
        in_use = probe.error(label, "media_delete_in_use")
        assert (in_use["type"], in_use["status"], in_use["code"]) == (
            "ConflictError",
            409,
            "media.in_use",
        )
        for call in ("limits_broken", "media_delete_gone", "media_delete_in_use"):
            if dialect == "current":
                error = probe.error(label, call)
                assert error["request_id"] == error["request_id_header"], call
    stranger = probe.error("none", "unknown_key")
    assert (stranger["type"], stranger["status"]) == ("AuthenticationError", 401)
    assert stranger["code"] == probed.code("auth.invalid_key", "unauthorized")


def check_connect_start_answers_what_the_sdk_expects(probed: Probed) -> None:
    probe = probed.probe
    for setup in probed.setups:
        label = setup.plan["label"]
        started = probe.value(label, "connect_start")
        assert started["auth_url"].startswith(probed.live_url + "/sandbox/oauth/authorize/")
        if probed.dialect == "current":
            assert started["state"] == "dashboard-state-1"
        else:
            assert len(started["state"]) == 32  # upstream's own state, legacy flow
        assert probe.value(label, "connect_after_a_500")["auth_url"]
        direct = probe.value(label, "connect_direct")
        assert direct["platform"] == "telegram" and direct["account_id"].startswith("acc_")
        assert SandboxAccount.objects.filter(pk=direct["account_id"], tenant=setup.tenant).exists()


def check_every_answer_the_sdk_got_follows_the_openapi_file(probed: Probed) -> None:
    exchanges = probed.probe.raw["exchanges"]
    assert len(exchanges) > 40
    for exchange in exchanges:
        method, path = exchange["method"], exchange["path"].removeprefix("/sandbox")
        check_answer(
            exchange["status"],
            exchange["body"].encode(),
            method,
            template_for(path),
            dialect=probed.dialect,
        )


def bug_pages_forever(probe: Probe, setups: list[Setup]) -> bool:
    empty = next(s for s in setups if s.tenant.list_end == "empty")
    media = probe.value(empty.plan["label"], "media_pages")
    repeated = len(media["ids"]) > len(set(media["ids"]))
    return media["pages"] == MAX_PAGES and media["still_has_next"] and repeated


def bug_retries_posts(probe: Probe, setups: list[Setup]) -> bool:
    statuses = [
        list(
            SandboxCall.objects.filter(tenant=s.tenant, method="POST", path="/v1/accounts/connect")
            .order_by("pk")
            .values_list("status", flat=True)
        )
        for s in setups
    ]
    return all(s[:3] == [500, 202, 202] for s in statuses)


def bug_retries_409(probe: Probe, setups: list[Setup]) -> bool:
    return all(
        SandboxCall.objects.filter(
            tenant=s.tenant, method="DELETE", media_id=s.plan["media_in_use"], status=409
        ).count()
        == 3
        for s in setups
    )


def bug_timeout_not_applied(probe: Probe, setups: list[Setup]) -> bool:
    sent = probe.raw["timeouts_sent"]
    return bool(sent) and all(set(t.values()) == {None} for t in sent)


def bug_request_id_only_from_body(probe: Probe, setups: list[Setup]) -> bool:
    error = probe.error(setups[0].plan["label"], "media_delete_gone")
    if setups[0].tenant.dialect == "current":
        return bool(error["request_id"] == error["request_id_header"])  # shows in legacy only
    return error["request_id"] is None and bool(error["request_id_header"])


def bug_models_drop_fields(probe: Probe, setups: list[Setup]) -> bool:
    (account,) = [
        a
        for a in probe.value(setups[0].plan["label"], "accounts")
        if a["id"] == setups[0].accounts["facebook"].id
    ]
    return "page_name" not in account["fields"] and "login_id" not in account["fields"]


def bug_no_pending_selection(probe: Probe, setups: list[Setup]) -> bool:
    return bool(probe.raw["surface"]["pending_methods"] == [])


def bug_no_v2_signatures(probe: Probe, setups: list[Setup]) -> bool:
    verifiers = probe.raw["surface"]["webhook_verifiers"]
    return bool(verifiers == {"verify_signature": ["secret", "payload", "signature"]})


BUG_CHECKS: dict[str, Callable[[Probe, list[Setup]], bool]] = {
    "pages_forever_on_empty_cursor": bug_pages_forever,
    "retries_posts": bug_retries_posts,
    "retries_409": bug_retries_409,
    "timeout_not_applied": bug_timeout_not_applied,
    "request_id_only_from_body": bug_request_id_only_from_body,
    "models_drop_fields": bug_models_drop_fields,
    "no_pending_selection": bug_no_pending_selection,
    "no_v2_signatures": bug_no_v2_signatures,
}


def check_each_known_sdk_bug_is_still_there(probed: Probed) -> None:
    """If one stops happening, the SDK changed: update KNOWN_SDK_BUGS (and the docs)."""
    assert set(BUG_CHECKS) == set(KNOWN_SDK_BUGS)
    gone = [name for name, seen in BUG_CHECKS.items() if not seen(probed.probe, probed.setups)]
    assert gone == [], {name: KNOWN_SDK_BUGS[name] for name in gone}


CHECKS = (
    check_the_pinned_sdk_runs_from_its_own_virtualenv,
    check_every_read_the_dashboard_relies_on_parses,
    check_errors_raise_the_right_exception_with_the_right_code,
    check_connect_start_answers_what_the_sdk_expects,
    check_every_answer_the_sdk_got_follows_the_openapi_file,
    check_each_known_sdk_bug_is_still_there,
)


@pytest.mark.parametrize("dialect", ["current", "legacy"])
def test_the_official_sdk_reads_and_writes_the_sandbox(dialect, sdk_python, live_server):
    """One probe per dialect (both end-of-list forms); every check reports, then we fail."""
    world_dialect_set(dialect=dialect)
    redirect_uri = live_server.url + "/oauth/callback/"
    setups = [tenant_for_probe(dialect, end, redirect_uri) for end in ("empty", "missing")]
    plan = {
        "base_url": live_server.url + "/sandbox",
        "timeout": 20,
        "max_pages": MAX_PAGES,
        "tenants": [s.plan for s in setups],
        "unknown_key": "sapi_key_" + "0" * 62,
    }
    probed = Probed(dialect, setups, probe_run(sdk_python, plan), live_server.url)
    failures = []
    for check in CHECKS:
        try:
            check(probed)
        except AssertionError as exc:
            failures.append(f"{check.__name__}: {exc}")
    assert not failures, "\n\n".join(failures)
