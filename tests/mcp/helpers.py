"""Helpers of the MCP front-end tests: the service's flags and reading tool results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, TextContent


def isolated_flags(data_dir: Path, *, http: str = "none") -> list[str]:
    """serve/mcp flags touching nothing outside `data_dir` (no hootenanny, no ZeroMQ)."""
    return [
        "--data-dir",
        str(data_dir),
        "--router",
        "none",
        "--hootenanny",
        "none",
        "--broadcasts",
        "none",
        "--http",
        http,
        "--eval-timeout",
        "10",
    ]


LONG_CELL_TIMEOUT_S = 30.0
"""The timeout of a cell that a stopping service must not wait for."""


def spinning_cell(flag: Path) -> str:
    """A cell that creates `flag` (so the test knows it runs) and then spins forever."""
    return f"open({str(flag)!r}, 'w').close()\nwhile True:\n    pass\n"


def text_of(result: CallToolResult) -> str:
    """The text content of a tool result (one text block)."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    assert len(texts) == 1, result.content
    return texts[0]


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful tool result."""
    assert not result.is_error, text_of(result)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content
