"""`vibeweaver mcp` as a subprocess reached through a real MCP client (shared by the tests that
restart or kill a service on its data dir)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from tests.conftest import cli_env, wait_until
from tests.mcp.helpers import isolated_flags, structured


class Service:
    """One `vibeweaver mcp` process reached through a real MCP client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.pid = 0

    async def eval(self, code: str) -> dict[str, Any]:
        return structured(await self.client.call_tool("weave_eval", {"code": code}))

    async def ok(self, code: str) -> str | None:
        """Run a cell that must succeed; its result."""
        out = await self.eval(code)
        assert out["status"] == "ok", out["error"]
        result: str | None = out["result"]
        return result

    async def error_type(self, code: str) -> str:
        out = await self.eval(code)
        assert out["status"] == "error", out
        error_type: str = out["error"]["type"]
        return error_type

    async def summary(self) -> str:
        out = structured(await self.client.call_tool("weave_session", {}))
        summary: str = out["summary"]
        return summary

    async def session(self) -> dict[str, Any]:
        session: dict[str, Any] = structured(await self.client.call_tool("weave_session", {}))[
            "session"
        ]
        return session

    async def reset(self, **arguments: bool) -> str:
        message: str = structured(await self.client.call_tool("weave_reset", arguments))["message"]
        return message

    async def kill(self) -> None:
        """SIGKILL the service process (its kernel knows its pid)."""
        self.pid = int(await self.ok("import os\nos.getppid()") or 0)  # the kernel's parent
        assert self.pid > 0 and self.pid != os.getpid()
        os.kill(self.pid, signal.SIGKILL)


@asynccontextmanager
async def service(data_dir: Path, *extra: str) -> AsyncIterator[Service]:
    """Run `vibeweaver mcp` on `data_dir` for the block; after a `kill()` it checks the process
    is gone (closing a client whose server died may complain: that is ignored)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vibeweaver", "mcp", *isolated_flags(data_dir), *extra],
        env=cli_env(),
    )
    handle: Service | None = None
    body_failed = False
    try:
        async with Client(params, read_timeout_seconds=30) as client:
            handle = Service(client)
            try:
                yield handle
            except BaseException:
                body_failed = True
                raise
    except Exception:
        if body_failed or handle is None or not handle.pid:
            raise
    if handle is not None and handle.pid:
        pid = handle.pid
        wait_until(lambda: not _alive(pid), timeout=10)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
