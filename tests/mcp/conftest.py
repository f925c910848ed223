"""Fixtures for the MCP front-end tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so module-scoped async fixtures (one service per module) can use it."""
    return "asyncio"
