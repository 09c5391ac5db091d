"""What reaches the terminal: no live token in any line, a refused request in one line.

Read from the console handler LOGGING configures (what an operator's log collector gets),
not from caplog, which sees records before the handler's filters.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator

import pytest
from django.urls import reverse

from dashboard.logs import SecretPathFilter
from tests.dashboard.url_matrix import all_routes

# URL kwargs that carry a secret (a reconnect link, an invitation, a password reset).
SECRET_KWARGS = {"token", "uidb64"}
SECRET_ROUTES = [r for r in all_routes() if SECRET_KWARGS & set(r.kwargs)]


@pytest.fixture
def terminal() -> Iterator[io.StringIO]:
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, SecretPathFilter) for f in h.filters)
    ]
    assert handlers, "LOGGING gives the root logger a console handler with the filters"
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(previous)


def secret() -> str:
    return "s3cr3t" + secrets.token_urlsafe(24)


def test_the_walk_finds_the_routes_with_secrets_in_their_url():
    names = {r.name for r in SECRET_ROUTES}
    assert {"reconnect_link", "invitation_accept", "password_reset_confirm"} <= names


@pytest.mark.parametrize("route", SECRET_ROUTES, ids=[r.name for r in SECRET_ROUTES])
@pytest.mark.parametrize(
    ("logger", "line"),
    [
        ("django.request", "Not Found: %s"),
        ("django.security.csrf", "Forbidden (CSRF token missing.): %s"),
        ("django.server", '"GET %s HTTP/1.1" 404 1234'),
    ],
)
def test_no_line_ever_holds_the_secret_part_of_a_url(route, logger, line, terminal):
    values = {name: secret() if name in SECRET_KWARGS else "acme" for name in route.kwargs}
    url = reverse(route.name, kwargs=values)
    logging.getLogger(logger).warning(line, f"{url}?next=/x")
    printed = terminal.getvalue()
    assert "[redacted]" in printed
    for name in SECRET_KWARGS & set(route.kwargs):
        assert values[name] not in printed, printed


@pytest.mark.django_db
def test_a_dead_reconnect_link_or_invitation_is_logged_without_its_token(client, terminal):
    link, invitation = secret(), "inv_" + secret()
    assert client.get(f"/r/{link}/").status_code == 404
    assert client.post(f"/invitations/{invitation}/").status_code in (400, 404)
    printed = terminal.getvalue()
    assert "Not Found: /r/[redacted]" in printed
    assert link not in printed and invitation not in printed


@pytest.mark.django_db
def test_a_refused_action_is_one_line_without_a_traceback(as_member, workspace, terminal):
    response = as_member.post(reverse("settings_syncs", args=[workspace.slug]), {})
    assert response.status_code == 403
    printed = terminal.getvalue()
    assert "Forbidden (Permission denied): /w/acme/settings/checks/" in printed
    assert "Traceback" not in printed
    assert len(printed.strip().splitlines()) == 1


def test_a_server_error_keeps_its_traceback(terminal):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", "/r/abc/", exc_info=True, extra={"status_code": 500}
        )
    printed = terminal.getvalue()
    assert "Traceback" in printed and "RuntimeError: boom" in printed
    assert "/r/abc/" not in printed
