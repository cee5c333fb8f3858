"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.redis import drop_prefix, unique_prefix


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own, removed afterwards."""
    name = unique_prefix()
    yield name
    await drop_prefix(name)
