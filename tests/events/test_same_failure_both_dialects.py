"""The same failure reads the same whichever dialect upstream answers in.

Two workspaces, one answered in the legacy dialect and one in the current, make the same
call and get the same failure. Each records it through the client hook (a respx router
plays upstream, in memory); both must end with the same error group (code, family,
platform, endpoint), the same words, the same banners and the same account status. Every
code of the table is walked, for an account of each auth kind and for a call about no
account.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import Workspace
from dashboard.upstream import transport_override, upstream
from events.banners import workspace_banners
from events.fixes import fix_for
from events.models import ErrorGroup
from events.recording import fingerprint
from socialapi import SocialAPIError
from tests.socialapi.test_errors import (
    CREDENTIAL_PLATFORMS,
    CURRENT_CODES,
    SEED_CODES,
    current_body,
    expected_family,
    legacy_body,
)

pytestmark = pytest.mark.django_db

UPSTREAM = "https://api.social-api.ai/v1"
CURRENT_STATUS = {code: status for _, status, code, _, _ in CURRENT_CODES}

# How the call names its account: (mirrored platform, platform the caller passes).
# "mirror": the caller passed none, the recording takes it from the mirrored account.
CALLS = {
    "oauth": ("instagram", "instagram"),
    "credentials": ("telegram", "telegram"),
    "credentials-mirror": ("whatsapp", None),
    "no-account": (None, None),
}


def failures() -> Iterator[Any]:
    """(legacy status, raw, current status, raw, message, normalised code, family, platform
    the code names); the current raw code of a seed code is its current equivalent."""
    for raw, status, message, code, family, _ in SEED_CODES:
        current = "system.internal" if raw == "-" else code
        yield pytest.param(
            status, raw, CURRENT_STATUS.get(code, status), current, message, code, family, None,
            id=f"seed-{raw}-{status}-{message[:12]}",
        )  # fmt: skip
    for raw, status, code, family, platform in CURRENT_CODES:
        yield pytest.param(
            status, raw, status, raw, "", code, family, platform, id=f"current-{raw}-{status}"
        )


@pytest.fixture
def pair(
    workspace: Workspace, other_workspace: Workspace, settings: Any
) -> tuple[Workspace, Workspace]:
    """(legacy, current): two workspaces on the same upstream, one per dialect."""
    settings.SOCIALAPI_MAX_ATTEMPTS = 1  # a retry's jitter would tell the two apart
    Workspace.objects.filter(pk=workspace.pk).update(dialect="legacy")
    Workspace.objects.filter(pk=other_workspace.pk).update(base_url=UPSTREAM)
    return Workspace.objects.get(pk=workspace.pk), Workspace.objects.get(pk=other_workspace.pk)


@pytest.fixture
def answers() -> Iterator[dict[str, tuple[int, bytes]]]:
    """Authorization header -> the answer upstream gives that workspace's calls."""
    given: dict[str, tuple[int, bytes]] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        status, body = given[request.headers["Authorization"]]
        return httpx.Response(status, content=body, headers={"X-Request-ID": "hdr_1"})

    router = respx.MockRouter(base_url=UPSTREAM, assert_all_called=False)
    router.route().mock(side_effect=answer)
    with transport_override(httpx.MockTransport(router.handler)):
        yield given


def account_in(workspace: Workspace, platform: str | None) -> SocialAccount | None:
    if platform is None:
        return None
    an_hour_ago = timezone.now() - timedelta(hours=1)
    return SocialAccount.objects.create(
        workspace=workspace,
        upstream_id="acc_1",
        platform=platform,
        status=AccountStatus.ACTIVE,
        status_changed_at=an_hour_ago,
        last_checked_at=an_hour_ago,
    )


def banner_words(workspace: Workspace) -> list[tuple[str, ...]]:
    return [
        (b.key, b.level, b.title, b.meaning, b.action, b.clears)
        for b in workspace_banners(workspace=workspace)
    ]


@pytest.mark.parametrize(
    ("old_status", "old_raw", "new_status", "new_raw", "message", "code", "family", "named"),
    list(failures()),
)
@pytest.mark.parametrize("call", list(CALLS))
def test_the_same_failure_gives_the_same_group_words_banners_and_status(
    pair, answers, call, old_status, old_raw, new_status, new_raw, message, code, family, named
):
    legacy_ws, current_ws = pair
    mirrored, passed = CALLS[call]
    if new_raw == "platform_rate_limit" or (code == "platform.rate_limit" and named is None):
        # The current dialect names the throttling platform: the account's, or none.
        new_raw = f"platform.{mirrored}.rate_limit" if mirrored else "platform.rate_limit"
    answers[f"Bearer {legacy_ws.api_key}"] = (old_status, legacy_body(old_raw, message))
    answers[f"Bearer {current_ws.api_key}"] = (new_status, current_body(new_raw, message))

    seen = {}
    for ws in (legacy_ws, current_ws):
        account = account_in(ws, mirrored)
        with pytest.raises(SocialAPIError):
            upstream(ws).account_limits("acc_1", platform=passed)
        group = ErrorGroup.objects.get(workspace=ws)
        fix = fix_for(family=group.family, code=group.code)
        status = SocialAccount.objects.get(pk=account.pk).status if account else None
        seen[ws.dialect] = (group, fix, banner_words(ws), status)

    (old_group, old_fix, old_banners, old_state) = seen["legacy"]
    (new_group, new_fix, new_banners, new_state) = seen["current"]
    facts = ("code", "family", "platform", "endpoint", "title")
    assert [getattr(old_group, f) for f in facts] == [getattr(new_group, f) for f in facts]
    assert new_group.fingerprint == fingerprint(
        current_ws.pk, old_group.code, old_group.platform, old_group.endpoint
    )
    assert old_fix == new_fix
    assert old_banners == new_banners
    assert old_state == new_state
    # And it is the right reading, not merely the same one.
    concerned = named or mirrored or ""
    kind = "credentials" if concerned in CREDENTIAL_PLATFORMS else "oauth"
    assert (new_group.code, new_group.family, new_group.platform) == (
        code,
        expected_family(family, kind),
        concerned,
    )
    if mirrored in CREDENTIAL_PLATFORMS:
        assert new_state != AccountStatus.RECONNECT_REQUIRED


# --- one set of words per code and auth kind ------------------------------------------


@pytest.mark.parametrize(("raw", "status", "code", "family", "named"), CURRENT_CODES)
@pytest.mark.parametrize("platform", ["instagram", "telegram", None])
def test_every_code_has_words_that_fit_the_platforms_auth_kind(
    raw, status, code, family, named, platform
):
    from socialapi import classify

    # As upstream spells it, and as stored (a stored code names no platform: the call's
    # platform, or the account's, goes with it).
    for given in (raw, code):
        found = classify(given, status, platform=platform)
        fix = fix_for(family=str(found.family), code=found.code)

        assert fix.title and fix.meaning and fix.action
        assert fix.title != "Unexpected error"  # every code of the table is understood
        if (found.platform or "") in CREDENTIAL_PLATFORMS and code != "auth.state_mismatch":
            # No OAuth login to redo on an API-key platform: never offer a reconnect (the
            # OAuth state of a reconnect flow is about the flow, not the account).
            assert "reconnect" not in f"{fix.title} {fix.action}".lower()
