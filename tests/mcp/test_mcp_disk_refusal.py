"""A disk that refuses writes, through a real MCP client against `vibeweaver mcp` (SPEC §4.1: an
eval runs once and its reply says what happened; bad conditions give clear errors and lose
nothing already accepted).

The refusal is real: the test lowers the service process's RLIMIT_FSIZE to 0 (`prlimit`; agent
code runs in the kernel process and cannot reach the service's limits), so every write sqlite
makes to the database or its WAL fails with EFBIG (Python ignores SIGXFSZ) and sqlite reports
"disk I/O error", as it would on a failing or full disk. Then the limit is raised again, the way
freeing space would.
"""

from __future__ import annotations

import resource
import sqlite3
from pathlib import Path

import pytest

from tests.mcp.service import service

pytestmark = pytest.mark.anyio


def _file_size_limit(pid: int, limit: int) -> None:
    _soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))


async def test_a_disk_refusing_writes_gives_clear_errors_and_loses_no_eval_history(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    async with service(data_dir) as svc:
        await svc.ok('session(name="jam")\nmarker("a", 4)')
        service_pid = int(await svc.ok("import os\nos.getppid()") or 0)
        _file_size_limit(service_pid, 0)

        # a cell that only computes still answers with its result; the reply says that its
        # history waits to be written
        out = await svc.eval("x = 41\nx + 1")
        assert (out["status"], out["result"]) == ("ok", "42"), out
        assert "history is not saved yet" in out["stderr"]
        assert "disk I/O error" in out["stderr"]

        # a DSL call that must write fails in the cell with the cause, not with sqlite internals
        out = await svc.eval('marker("b", 8)')
        assert out["status"] == "error", out
        assert out["error"]["type"] == "StoreError"
        assert "SaveMarker" in out["error"]["message"]
        assert "disk I/O error" in out["error"]["message"]
        traceback = out["error"]["traceback"]
        assert "sqlite3" not in traceback and "peewee" not in traceback, traceback

        # reads go on from what is written
        summary = await svc.summary()
        assert "Markers: a@4\n" in summary
        assert await svc.ok("x") == "41"

        _file_size_limit(service_pid, resource.RLIM_INFINITY)
        await svc.ok('marker("c", 12)')
        summary = await svc.summary()
        assert "Markers: a@4, c@12\n" in summary
        await svc.kill()

    # everything batched while the disk refused was written once it accepted again
    with sqlite3.connect(data_dir / "vibeweaver.db") as db:
        history = [row[0] for row in db.execute("SELECT params FROM history ORDER BY id")]
    for cell in ("x = 41", 'marker("b", 8)', 'marker("c", 12)'):
        assert any(cell in (params or "") for params in history), (cell, history)
    async with service(data_dir, "--session", "jam") as again:
        summary = await again.summary()
        assert "Markers: a@4, c@12\n" in summary
        assert 'eval(marker("b", 8)) → StoreError: database error during SaveMarker' in summary
