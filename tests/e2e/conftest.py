"""One embedded-default server (SQLite + filesystem broker + demo data) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import embedded_server


@pytest.fixture(scope="session")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_server(tmp_path_factory.mktemp("embedded-var")) as url:
        yield url
