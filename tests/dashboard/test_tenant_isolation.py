"""Every URL, for {anonymous, member, admin of another workspace, support, admin}, by GET and POST.

The URLs come from the resolver (tests/dashboard/url_matrix.py), so a new page is in
this matrix the moment it is routed. What each role may do comes from how the view is
decorated (`workspace_view(admin=/triage=)`, `staff_required`); deliberately public URLs
are listed with their reason in tests/<app>/url_samples.py.

- anonymous → sign-in redirect (public URLs: their own expectation)
- another workspace's admin → 404 on our URLs, and 404 for our objects under their own
  workspace's URLs
- member and support → 403 on state changes (support may triage)
- admin → neither 403 nor 404
- nobody, ever → 500
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client

from tests.dashboard.url_matrix import (
    MissingFactory,
    Route,
    Sample,
    all_routes,
    build_url,
    public_entry,
    registry,
)

REGISTRY = registry()
ROUTES = [route for route in all_routes() if route.namespace not in REGISTRY.excluded_namespaces]
ROLES = ("anonymous", "member", "outsider", "support", "admin")
METHODS = ("GET", "POST")
LOGIN_PATH = "/login/"


@pytest.fixture
def cast(
    workspace: Any, other_workspace: Any, admin: Any, member: Any, outsider: Any, support: Any
) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "other_workspace": other_workspace,
        "admin": admin,
        "member": member,
        "outsider": outsider,
        "support": support,
    }


@pytest.fixture
def clients(cast: dict[str, Any]) -> dict[str, Client]:
    made = {"anonymous": Client()}
    for role in ("member", "outsider", "support", "admin"):
        client = Client()
        client.force_login(cast[role])
        made[role] = client
    return made


def _request(client: Client, method: str, url_for: Callable[[], str]) -> tuple[str, Any]:
    """One request whose effects (and sample objects) are rolled back afterwards."""
    savepoint = transaction.savepoint()
    try:
        url = url_for()
        response = client.get(url) if method == "GET" else client.post(url, {})
        return url, response
    finally:
        transaction.savepoint_rollback(savepoint)


def _is_login_redirect(response: Any) -> bool:
    return bool(response.status_code == 302 and response.url.startswith(LOGIN_PATH))


def _expected_problem(
    route: Route, role: str, method: str, response: Any, *, foreign: bool
) -> str | None:
    """None when the answer is right for this role, else what is wrong."""
    status = response.status_code
    if status >= 500:
        return f"answered {status}"
    if status == 405:
        return None  # the view does not take this method: nothing happens, nothing leaks
    public = public_entry(route, REGISTRY)
    if public is not None:
        return public.expect(role, method, response) if public.expect else None
    access = route.access
    if role == "anonymous":
        return (
            None
            if _is_login_redirect(response)
            else (
                f"answered {status} to an anonymous person instead of the sign-in redirect. "
                "If this URL is public on purpose, add it to PUBLIC_URLS in "
                "tests/<app>/url_samples.py with the reason and "
                "what it must answer; otherwise protect it (@workspace_view / @login_required)."
            )
        )
    if access is None:
        return None  # signed-in pages outside any workspace (home, password change, logout)
    if access == "staff":
        if role == "support":
            return None if status not in (403, 404) else f"refused support staff with {status}"
        return None if status == 403 else f"answered {status} to a non-staff person (expected 403)"
    if role == "outsider" or foreign:
        return (
            None
            if status == 404
            else f"answered {status} to another workspace's admin (expected 404)"
        )
    if role == "admin":
        return None if status not in (403, 404) else f"refused the workspace admin with {status}"
    # member and support: read-only people
    may_act = access == "triage" and role == "support"
    if access in ("admin", "triage") and not may_act:
        return None if status == 403 else f"answered {status} to a read-only {role} (expected 403)"
    if method == "POST" and access == "read":
        if status == 403:
            return None
        if route.name not in REGISTRY.personal_posts:
            return (
                f"accepted a POST from a read-only {role} ({status}). State changes need "
                "@workspace_view(admin=True) or (triage=True); if this POST only changes the "
                "person's own preferences, list it in PERSONAL_POSTS with the reason."
            )
        return None if status != 404 else f"answered 404 to a {role}"
    return (
        None
        if status not in (403, 404)
        else f"refused a {role} reading the workspace with {status}"
    )


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_every_url_answers_each_role_as_its_access_rule_says(
    route, cast, clients, fake_upstream, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # This matrix is about access, not upstream: any call a view makes finds it down.
    fake_upstream.otherwise = (503, {"error": {"code": "system.internal", "message": "down"}})
    problems: list[str] = []

    def check(role: str, method: str, *, foreign: bool = False) -> None:
        owner = cast["workspace"]
        slug = cast["other_workspace"].slug if foreign else None

        def url_for() -> str:
            return build_url(route, REGISTRY, Sample(owner, cast), slug=slug)

        try:
            url, response = _request(clients[role], method, url_for)
        except MissingFactory as missing:
            pytest.fail(str(missing))
        except Exception as error:  # a 500 in the test client: say where it happened
            label = f"{role}{' (own workspace URL, our objects)' if foreign else ''}"
            problems.append(
                f"{method} {route.pattern} as {label}: raised {type(error).__name__}: {error}"
            )
            return
        problem = _expected_problem(route, role, method, response, foreign=foreign)
        if problem:
            label = f"{role}{' with their own workspace in the URL' if foreign else ''}"
            problems.append(f"{method} {url} as {label}: {problem}")

    for role in ROLES:
        for method in METHODS:
            check(role, method)
    if route.access in ("read", "admin", "triage") and route.object_kwargs:
        for method in METHODS:
            check("outsider", method, foreign=True)
    assert not problems, f"{route.name} ({route.pattern}):\n  " + "\n  ".join(problems)


def test_the_matrix_covers_the_workspace_core_routes():
    names = {route.name for route in ROUTES}
    assert {
        "overview",
        "settings",
        "settings_connection",
        "member_remove",
        "audit",
        "support",
        "invitation_accept",
    } <= names
    assert all(route.namespace != "admin" for route in ROUTES)
    assert django_settings.LOGIN_URL == "login"


def test_an_unknown_url_kwarg_fails_with_instructions(cast):
    route = Route(
        name="overview",
        pattern="/w/<slug>/x/<int:gizmo_id>/",
        kwargs=("workspace_slug", "gizmo_id"),
        callback=lambda r: r,
        namespace="",
    )
    with pytest.raises(MissingFactory, match=r"Add a factory for 'gizmo_id'.*KWARG_FACTORIES"):
        build_url(route, REGISTRY, Sample(cast["workspace"], cast))


def test_the_expectations_catch_a_state_change_open_to_members():
    class Response:
        status_code = 302
        url = "/w/acme/"

    def view(request):
        return None

    view.workspace_access = "read"
    route = Route(
        name="oops",
        pattern="/w/<slug>/oops/",
        kwargs=("workspace_slug",),
        callback=view,
        namespace="",
    )
    assert "accepted a POST" in _expected_problem(
        route, "member", "POST", Response(), foreign=False
    )
    view.workspace_access = "admin"
    assert _expected_problem(route, "member", "POST", Response(), foreign=False)
    assert _expected_problem(route, "outsider", "GET", Response(), foreign=False)
    Response.status_code = 403
    assert _expected_problem(route, "member", "POST", Response(), foreign=False) is None
