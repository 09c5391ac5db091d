"""Fixtures for the SocialAPI client tests: a respx router as the only transport.

The client fixture is `api`, so pytest-django's `client` (the Django test client) is never
shadowed for other test folders.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from socialapi import ClientConfig, SocialAPI
from tests.socialapi.helpers import API_KEY, BASE_URL, Recorder


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    # Unmatched requests raise: no test can reach the network.
    with respx.MockRouter(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(router: respx.MockRouter, recorder: Recorder) -> Iterator[Callable[..., SocialAPI]]:
    clients: list[SocialAPI] = []

    def make(**overrides: Any) -> SocialAPI:
        config = ClientConfig(**{"base_url": BASE_URL, "api_key": API_KEY, **overrides})
        client = SocialAPI(
            config,
            transport=httpx.MockTransport(router.handler),
            sleep=recorder.sleep,
            clock=recorder.clock,
            rng=random.Random(1234),
            on_error=recorder.errors.append,
            on_figures=recorder.figures.append,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(make_client: Callable[..., SocialAPI]) -> SocialAPI:
    return make_client()
