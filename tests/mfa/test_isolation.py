"""Every workspace URL of a workspace that requires two-factor sign-in, for each role: a
session without it is held (sent to set it up) and nothing runs; outsiders still get 404.
The two-factor pages themselves are in the project-wide matrix (tests/dashboard)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from dashboard.models import Workspace
from tests.dashboard.test_tenant_isolation import REGISTRY, ROUTES
from tests.dashboard.url_matrix import Sample, build_url

pytestmark = pytest.mark.django_db

WORKSPACE_ROUTES = [route for route in ROUTES if route.access in ("read", "admin", "triage")]
SETUP = reverse("mfa:setup")


def test_the_matrix_covers_the_two_factor_pages():
    names = {route.name for route in ROUTES}
    assert {
        "settings_mfa",
        "mfa:sign_in_code",
        "mfa:manage",
        "mfa:setup",
        "mfa:setup_confirm",
        "mfa:recovery_codes",
        "mfa:disable",
    } <= names
    assert next(r for r in ROUTES if r.name == "settings_mfa").access == "admin"


def test_a_requiring_workspace_holds_every_url_for_sessions_without_two_factor(
    workspace, other_workspace, admin, member, outsider, support, client
):
    # Held before any view runs: no upstream call is made (the network guard would fail it).
    Workspace.objects.filter(pk=workspace.pk).update(mfa_required=True)
    cast = {
        "workspace": workspace,
        "other_workspace": other_workspace,
        "admin": admin,
        "member": member,
        "outsider": outsider,
        "support": support,
    }
    problems = []
    for person in (admin, member, support, outsider):
        client.force_login(person)
        for route in WORKSPACE_ROUTES:
            for method in ("GET", "POST"):
                savepoint = transaction.savepoint()
                try:
                    url = build_url(route, REGISTRY, Sample(workspace, cast))
                    response = client.get(url) if method == "GET" else client.post(url, {})
                finally:
                    transaction.savepoint_rollback(savepoint)
                status = response.status_code
                if status == 405:
                    continue
                if person is outsider:
                    ok = status == 404
                else:
                    ok = status == 302 and response.url.startswith(SETUP)
                if not ok:
                    problems.append(f"{method} {url} as {person}: {status}")
    assert not problems, "\n".join(problems)
