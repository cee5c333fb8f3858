"""Shared fixtures: database backends (SQLite and PostgreSQL) and a running gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import Gateway, start_gateway
from tests.support.postgres import create_database, drop_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated-nothing-yet database URL, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'pixelgate.db'}"
        return
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="module", params=BACKENDS)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A real `pixelgate serve` process on the embedded default, per backend."""
    data_dir = tmp_path_factory.mktemp("gw")
    url = None if request.param == "sqlite" else create_database()
    gw = start_gateway(data_dir, url)
    try:
        yield gw
    finally:
        gw.stop()
        if url:
            drop_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def billed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A real gateway with PIXELGATE_ADMIN_KEY and the billing test deployments, per backend,
    shared by the billing tests (each test makes its own keys)."""
    from tests.support.admin import billed_fixture

    yield from billed_fixture(request, tmp_path_factory.mktemp("billed"))
