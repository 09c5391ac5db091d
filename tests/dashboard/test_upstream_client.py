"""`dashboard.upstream`: the per-workspace client, its error hook and its network guard."""

from __future__ import annotations

import socket

import pytest
from django.db import transaction

from dashboard import upstream
from dashboard.models import Workspace
from dashboard.upstream import blocks_private_networks
from events.models import ErrorEvent
from socialapi import ApiKeyInvalid, ServerError, UpstreamUnavailable
from tests.conftest import error_body
from tests.dashboard.conftest import users_me

pytestmark = pytest.mark.django_db

NEW_KEY = "sapi_key_" + "34" * 31


def fresh(workspace: Workspace) -> Workspace:
    return Workspace.objects.get(pk=workspace.pk)


def test_a_401_from_a_client_built_with_a_replaced_key_neither_pauses_nor_records(
    workspace, fake_upstream
):
    fake_upstream.on("GET", "/usage", 401, error_body("auth.invalid_key"))
    old_client = upstream.upstream(workspace)  # a sync started with the old key...
    workspace.api_key = NEW_KEY  # ...then an admin saved a working one
    workspace.save(update_fields=["api_key"])

    with pytest.raises(ApiKeyInvalid):
        old_client.usage()

    assert fresh(workspace).paused_family == ""
    assert not ErrorEvent.objects.filter(workspace=workspace).exists()


def test_a_401_with_the_current_key_pauses_and_is_recorded(workspace, fake_upstream):
    fake_upstream.on("GET", "/usage", 401, error_body("auth.invalid_key"))

    with pytest.raises(ApiKeyInvalid):
        upstream.upstream(workspace).usage()

    assert fresh(workspace).paused_family == "api_key"
    assert ErrorEvent.objects.filter(workspace=workspace, family="api_key").count() == 1


def test_an_error_recorded_inside_a_rolled_back_transaction_goes_with_it(workspace, fake_upstream):
    # The hook's atomic block is a savepoint inside the caller's transaction.
    fake_upstream.on("GET", "/usage", 500, error_body("system.internal"))

    with pytest.raises(RuntimeError), transaction.atomic():
        with pytest.raises(ServerError):
            upstream.upstream(workspace).usage()
        assert ErrorEvent.objects.filter(workspace=workspace).count() == 1
        raise RuntimeError("the caller fails afterwards")

    assert not ErrorEvent.objects.filter(workspace=workspace).exists()


def test_an_evicted_client_keeps_working_for_a_thread_still_using_it(
    workspace, other_workspace, fake_upstream, monkeypatch
):
    monkeypatch.setattr(upstream, "_MAX_CLIENTS", 1)
    fake_upstream.on("GET", "/users/me", 200, users_me(plan="pro"))
    in_use = upstream.upstream(workspace)

    upstream.upstream(other_workspace)  # evicts the first from the cache

    assert upstream.upstream(workspace) is not in_use
    assert in_use.users_me().plan == "pro"  # not closed under its user


def test_resetting_the_clients_closes_them(workspace, fake_upstream):
    client = upstream.upstream(workspace)

    upstream.clients_reset()

    with pytest.raises(RuntimeError, match="closed"):
        client.users_me()


def test_every_workspace_client_refuses_private_addresses(workspace, monkeypatch):
    # The real transport (no scripted one): api.social-api.ai now resolves inside.
    opened = []
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", port))
        ],
    )
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *a, **k: opened.append(address)
    )

    with pytest.raises(UpstreamUnavailable) as caught:
        upstream.upstream(workspace).users_me()

    assert caught.value.code == "network.blocked_address"
    assert opened == []
    assert ErrorEvent.objects.filter(workspace=workspace, code="network.blocked_address").exists()


@pytest.mark.parametrize(
    ("url", "enabled", "blocked"),
    [
        ("https://api.social-api.ai/v1", True, True),
        ("https://eu.social-api.example/v1", False, True),
        ("SANDBOX", True, False),
        ("SANDBOX", False, True),
        ("http://localhost:8123/sandbox/v1", True, False),  # a test server on its own port
        ("http://127.0.0.1:8123/sandbox/v1", True, False),
        ("http://localhost:8123/sandbox/v1", False, True),
        ("https://proxy.acme.test/socialapi/v1", False, False),  # the operator allowed it
    ],
)
def test_only_the_sandbox_loopback_and_operator_allowed_urls_skip_the_guard(
    settings, url, enabled, blocked
):
    settings.SANDBOX_ENABLED = enabled
    settings.SOCIALAPI_ALLOWED_BASE_URLS = ["https://proxy.acme.test/socialapi"]
    url = settings.SANDBOX_BASE_URL if url == "SANDBOX" else url

    assert blocks_private_networks(url) is blocked


def test_the_client_carries_the_guard_setting(workspace, fake_upstream):
    assert upstream.upstream(workspace).config.block_private_networks is True


PROXY = "https://socialapi.internal/v1"  # an operator's proxy inside their network


@pytest.mark.parametrize(
    ("config", "url", "usable"),
    [
        ({"SOCIALAPI_DEFAULT_BASE_URL": PROXY}, PROXY, True),
        ({"SOCIALAPI_DEFAULT_BASE_URL": PROXY}, PROXY + "/", True),
        ({"SOCIALAPI_DEFAULT_BASE_URL": PROXY}, "https://other.internal/v1", False),
        (
            {"SOCIALAPI_DEFAULT_BASE_URL": PROXY, "SOCIALAPI_ALLOWED_BASE_URLS": ["https://x.io"]},
            PROXY,
            True,
        ),
        (
            {"SOCIALAPI_ALLOWED_BASE_URLS": ["https://10.1.2.3/socialapi"]},
            "https://10.1.2.3/socialapi/v1",
            True,
        ),
        (
            {"SOCIALAPI_ALLOWED_BASE_URLS": ["https://10.1.2.3/socialapi"]},
            "https://10.1.2.3/v1",
            False,
        ),
        ({}, PROXY, False),
        ({}, "https://10.1.2.3/v1", False),
        ({"SANDBOX_ENABLED": False}, "http://127.0.0.1:8123/sandbox/v1", False),
    ],
)
def test_the_settings_form_and_the_client_agree_on_private_addresses(settings, config, url, usable):
    from dashboard.forms import base_url_problem

    for name, value in config.items():
        setattr(settings, name, value)
    assert (base_url_problem(url) is None) is usable, base_url_problem(url)
    assert blocks_private_networks(url) is not usable


def test_a_workspace_on_the_operators_private_proxy_reaches_it(workspace, settings, monkeypatch):
    # The operator set SOCIALAPI_BASE_URL to a proxy inside their network; the form took
    # it, so the client must not refuse every call with network.blocked_address.
    settings.SOCIALAPI_DEFAULT_BASE_URL = PROXY
    settings.SOCIALAPI_MAX_ATTEMPTS = 1
    Workspace.objects.filter(pk=workspace.pk).update(base_url=PROXY)
    opened = []
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", port))
        ],
    )

    def connect(address, *args, **kwargs):
        opened.append(address)
        raise ConnectionRefusedError("the test has no proxy")

    monkeypatch.setattr(socket, "create_connection", connect)

    with pytest.raises(UpstreamUnavailable) as caught:
        upstream.upstream(fresh(workspace)).users_me()

    assert caught.value.code != "network.blocked_address"
    assert [host for host, _ in opened] == ["socialapi.internal"]  # the call went out
