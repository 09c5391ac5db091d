"""One embedded-default server (SQLite + filesystem broker + demo data) per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import embedded_server


@pytest.fixture(scope="session")
def embedded_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-var")


@pytest.fixture(scope="session")
def dashboard_url(embedded_var_dir: Path) -> Iterator[str]:
    with embedded_server(embedded_var_dir) as url:
        yield url
