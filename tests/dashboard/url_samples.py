"""The base registry for the tenant-isolation matrix (see tests/dashboard/url_matrix.py).

Apps may add their own in tests/<app>/url_samples.py; entries there win over these.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone

from dashboard.crypto import token_hash
from tests.dashboard.url_matrix import Public, Sample

# --- how to make each URL kwarg -------------------------------------------------------


def _account(sample: Sample) -> Any:
    from accounts.models import AccountStatus, SocialAccount

    return SocialAccount.objects.create(
        workspace=sample.workspace,
        upstream_id=f"acc_matrix_{secrets.token_hex(4)}",
        platform="instagram",
        name="Matrix account",
        brand_id="brand_1",
        status=AccountStatus.RECONNECT_REQUIRED,
    )


def account_id(sample: Sample) -> int:
    return int(_account(sample).pk)


def link_id(sample: Sample) -> int:
    return int(_reconnect_link(sample)[0].pk)


def _reconnect_link(sample: Sample) -> tuple[Any, str]:
    from accounts.models import ReconnectLink

    token = secrets.token_urlsafe(32)
    link = ReconnectLink.objects.create(
        workspace=sample.workspace,
        account=_account(sample),
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(days=1),
    )
    return link, token


def reconnect_link_token(sample: Sample) -> str:
    return _reconnect_link(sample)[1]


def job_id(sample: Sample) -> int:
    from media.models import BulkDeletion

    return BulkDeletion.objects.create(workspace=sample.workspace, description="matrix job").pk


def group_id(sample: Sample) -> int:
    from events.models import ErrorGroup

    now = timezone.now()
    return ErrorGroup.objects.create(
        workspace=sample.workspace,
        fingerprint=secrets.token_hex(8),
        code="system.internal",
        family="server",
        first_seen=now,
        last_seen=now,
        event_count=1,
    ).pk


def event_id(sample: Sample) -> int:
    from events.models import ErrorEvent, ErrorGroup

    group = ErrorGroup.objects.get(pk=group_id(sample))
    return ErrorEvent.objects.create(
        workspace=sample.workspace,
        group=group,
        occurred_at=timezone.now(),
        source="dashboard",
        code="system.internal",
        family="server",
    ).pk


def membership_id(sample: Sample) -> int:
    """Somebody else's membership (the member), so removing it is allowed."""
    from dashboard.models import Membership

    person = sample.cast["member"] if sample.workspace.slug == "acme" else sample.cast["outsider"]
    return int(Membership.objects.get(workspace=sample.workspace, user=person).pk)


def invitation_id(sample: Sample) -> int:
    return int(_invitation(sample)[0].pk)


def _invitation(sample: Sample) -> tuple[Any, str]:
    from dashboard.models import Invitation

    token = "inv_" + secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=sample.workspace,
        email="invited@example.com",
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(days=1),
    )
    return invitation, token


def invitation_token(sample: Sample) -> str:
    return _invitation(sample)[1]


def sandbox_tenant_id(sample: Sample) -> int:
    from sandbox.models import SandboxTenant

    return SandboxTenant.objects.create(
        name=f"Matrix {secrets.token_hex(3)}", api_key="sapi_key_" + secrets.token_hex(31)
    ).pk


def sandbox_action(sample: Sample) -> str:
    from sandbox.views import ACTIONS

    return next(iter(ACTIONS))


KWARG_FACTORIES = {
    "account_id": account_id,
    "link_id": link_id,
    "job_id": job_id,
    "group_id": group_id,
    "event_id": event_id,
    "membership_id": membership_id,
    "invitation_id": invitation_id,
    ("invitation_accept", "token"): invitation_token,
    ("reconnect_link", "token"): reconnect_link_token,
    ("sandbox:control_action", "tenant_id"): sandbox_tenant_id,
    ("sandbox:control_action", "action"): sandbox_action,
}


# --- deliberately public URLs, each with why and what it must answer ------------------


def _status_in(allowed: set[int], *, role: str = "anonymous", method: str | None = None) -> Any:
    def expect(who: str, how: str, response: Any) -> str | None:
        if who != role or (method is not None and how != method):
            return None
        if response.status_code not in allowed:
            named = sorted(code for code in allowed if code not in CLIENT_ERRORS)
            wanted = [
                *(str(code) for code in named),
                *(["4xx"] if allowed >= CLIENT_ERRORS else []),
            ]
            return f"expected {' or '.join(wanted)}, got {response.status_code}"
        return None

    return expect


def _all(*checks: Any) -> Any:
    def expect(who: str, how: str, response: Any) -> str | None:
        for check in checks:
            problem: str | None = check(who, how, response)
            if problem:
                return problem
        return None

    return expect


def _stays_on_site(who: str, how: str, response: Any) -> str | None:
    location = response.get("Location", "") if response.status_code in (301, 302, 303) else ""
    if location and not (location.startswith("/") and not location.startswith("//")):
        return f"redirected off-site to {location!r} (open redirect)"
    return None


def _refused_without_signature(who: str, how: str, response: Any) -> str | None:
    if how == "POST" and not 400 <= response.status_code < 500:
        return f"an unsigned delivery must be refused with a 4xx, got {response.status_code}"
    return None


def _off_for_everyone(who: str, how: str, response: Any) -> str | None:
    """Tests run with the defaults, where the endpoint is off: a 404 whoever asks."""
    if response.status_code != 404:
        return f"the metrics endpoint is off by default: expected 404, got {response.status_code}"
    return None


CLIENT_ERRORS = set(range(400, 500))

PUBLIC_URLS = {
    "login": Public("the sign-in page", expect=_status_in({200}, method="GET")),
    "password_reset": Public(
        "asks for an email address; says the same for unknown addresses",
        expect=_status_in({200}, method="GET"),
    ),
    "password_reset_done": Public(
        "'check your email' page", expect=_status_in({200}, method="GET")
    ),
    "password_reset_confirm": Public(
        "the emailed link: uid + signed token guard it; a bad token says the link is dead",
        expect=_status_in({200, 302}, method="GET"),
        kwargs={"uidb64": "MQ", "token": "bad-token"},
    ),
    "password_reset_complete": Public(
        "'password changed' page", expect=_status_in({200}, method="GET")
    ),
    "invitation_accept": Public(
        "an invited person may not have an account yet; the hashed single-use token guards it",
        expect=_status_in({200}, method="GET"),
    ),
    "healthz": Public(
        "load balancer liveness probe; reveals nothing",
        expect=_all(_status_in({200}, method="GET"), _status_in({405}, method="POST")),
    ),
    "metrics": Public(
        "the Prometheus endpoint, for the operator's scraper: off unless METRICS_TOKEN or "
        "METRICS_ALLOWED_NETWORKS is set, then opened by that bearer token or network only, "
        "never by a session (tests/dashboard/test_metrics.py)",
        expect=_off_for_everyone,
    ),
    "oauth_callback": Public(
        "the platform sends the browser back here cross-site; the session-bound state guards it",
        # No state: refused (directly, or via the on-site problem page); never off-site.
        expect=_all(_status_in(CLIENT_ERRORS | {302}, method="GET"), _stays_on_site),
    ),
    "reconnect_problem": Public(
        "explains a refused OAuth return (also to link owners without a login); holds no data",
        expect=_status_in(CLIENT_ERRORS | {200}, method="GET"),
    ),
    "reconnect_select": Public(
        "the page picker after an OAuth return; guarded by the session-bound reconnect state",
        expect=_status_in(CLIENT_ERRORS | {200, 302}),
    ),
    "reconnect_done": Public(
        "the 'account reconnected' page, also shown to account owners without a login",
        expect=_status_in(CLIENT_ERRORS | {200, 302}),
    ),
    "reconnect_link": Public(
        "an account owner without a login reconnects with this hashed, expiring, one-time link",
        expect=_status_in({200, 302}, method="GET"),
    ),
    "webhook_receive": Public(
        "SocialAPI delivers here; the HMAC signature (checked in constant time) guards it",
        expect=_refused_without_signature,
    ),
    "events_ingest": Public(
        "the workspace's own backend posts errors here with `Authorization: Bearer <ingest token>`",
        expect=_status_in({401, 403}, method="POST"),  # no token: refused
    ),
    "events_openapi": Public(
        "the ingest API's description for the developers who call it; holds no data",
        expect=_status_in({200}, method="GET"),
    ),
}

PUBLIC_NAMESPACES = {
    "sandbox": Public(
        "a local SocialAPI for demos and tests (never enabled in production): its API "
        "authenticates with bearer keys and its consent page plays the platform",
        kwargs={
            "connection_id": "pc_nope",
            "id": "nope",
            "request_id": "nope",
            "account_id": "acc_nope",
            "media_id": "00000000-0000-0000-0000-000000000000",
            "pid": "p_nope",
            "rest": "nope",
        },
    ),
}

EXCLUDED_NAMESPACES = {
    "admin": "Django's admin has its own sign-in and permissions (tests/dashboard/test_admin.py)",
}

# Workspace POST views (decorated `@workspace_view()`, not admin/triage) that read-only
# people may use, because they change only that person's own view or preferences.
PERSONAL_POSTS = {
    "settings_alerts": "each person's own alert emails (support staff, who have none, get 403)",
    "events:banner_dismiss": "hiding or snoozing a banner for yourself: a view preference",
    "events:banner_restore": "showing again a banner you hid yourself: a view preference",
}
