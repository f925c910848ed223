"""The kernel in its own process (issue [7]), through the real service: a `vibeweaver mcp`
subprocess reached by a real MCP client, its stderr in a file, its admin endpoint over HTTP.

Agent code that kills its interpreter (exit, segfault), exhausts its memory limit or patches
builtins is answered with an error naming the cause, and the next eval works with the session's
rules still defined; SIGTERM ends the service within 3 s whatever the kernel does; beat callbacks
keep firing beside a cell that awaits; a thread printing forever neither floods the service's
stderr nor burns its CPU. Inside a cell, `os.getpid()` is the kernel's pid and `os.getppid()` the
service's.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import cli_env, wait_until
from tests.mcp.helpers import isolated_flags, structured
from tests.mcp.service import Service

pytestmark = pytest.mark.anyio

RULE = "@on_beat(4)\ndef kick(beat):\n    return beat * 2\n"
RULE_LISTED = "Beat(divisor=4) → callback kick"
SIGTERM_BOUND_S = 3.0
"""The issue's bound: SIGTERM ends the service within 3 s whatever the kernel does."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Running:
    """A `vibeweaver mcp` subprocess: its MCP client, pid, stderr file and HTTP address."""

    service: Service
    pid: int
    stderr: Path
    http: str | None

    async def kernel_pid(self) -> int:
        return int(await self.service.ok("import os\nos.getpid()") or 0)

    def kernel_admin(self) -> dict[str, Any]:
        assert self.http is not None
        response = httpx.get(f"http://{self.http}/admin/actors/kernel", timeout=10)
        response.raise_for_status()
        published: dict[str, Any] = response.json()["published"]
        return published

    async def history(self) -> str:
        return await self.service.ok("history()") or ""


@asynccontextmanager
async def mcp_service(
    data_dir: Path, *extra: str, tmp_path: Path, http: bool = False
) -> AsyncIterator[Running]:
    """`vibeweaver mcp` on `data_dir` for the block, stderr to a file. A body that ends the
    service (SIGTERM) may leave the client complaining on close: that is ignored then."""
    stderr_path = tmp_path / f"{data_dir.name}-stderr.log"
    flags = isolated_flags(data_dir, http="127.0.0.1:0" if http else "none")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vibeweaver", "mcp", *flags, *extra], env=cli_env()
    )
    ended = False
    body_failed = False
    with stderr_path.open("w", encoding="utf-8") as errlog:
        try:
            async with Client(
                stdio_client(params, errlog=errlog), read_timeout_seconds=90
            ) as client:
                service = Service(client)
                pid = int(await service.ok("import os\nos.getppid()") or 0)
                assert pid > 0 and pid != os.getpid()
                address = None
                if http:
                    ready = wait_until(lambda: _ready_line(stderr_path), timeout=10)
                    match = re.search(r"http=(\S+)", ready)
                    assert match is not None, ready
                    address = match.group(1)
                running = Running(service=service, pid=pid, stderr=stderr_path, http=address)
                try:
                    yield running
                except BaseException:
                    body_failed = True
                    raise
                ended = not process_alive(pid)
        except Exception:
            if body_failed or not ended:
                raise


def _ready_line(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "vibeweaver: ready" in line:
            return line
    return None


def process_alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by its parent has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


async def sigterm_and_time_exit(pid: int) -> float:
    """SIGTERM `pid`; seconds until it has exited (polled every 10 ms, up to 15 s)."""
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    while process_alive(pid):
        if time.monotonic() - started > 15.0:
            break
        await anyio.sleep(0.01)
    return time.monotonic() - started


async def wait_async(predicate: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """Poll an async condition (an eval) until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await anyio.sleep(0.05)


def assert_kernel_died(out: dict[str, Any], cause: str) -> None:
    assert out["status"] == "error", out
    assert out["error"]["type"] == "KernelDied", out["error"]
    assert cause in out["error"]["message"], out["error"]["message"]


# -- 1 and 5: deaths answered with their cause, rules kept, admin view -----------------------


async def test_hostile_cells_are_answered_with_their_cause_and_the_next_eval_keeps_the_rules(
    tmp_path: Path,
) -> None:
    async with mcp_service(
        tmp_path / "data", "--kernel-memory", "1G", tmp_path=tmp_path, http=True
    ) as running:
        service = running.service
        await service.ok(RULE)
        first_kernel = await running.kernel_pid()
        admin = running.kernel_admin()
        assert admin["kernel_pid"] == first_kernel != running.pid
        assert admin["kernel_restarts"] == 0 and admin["kernel_last_death"] is None
        assert admin["kernel_memory_limit"] == "1 GiB"

        async def rules_still_defined(*, callback_named: bool = True) -> None:
            assert RULE_LISTED in (await service.ok("rules()") or "")
            if callback_named:  # a new kernel defines the session's callbacks again
                assert await service.ok("kick(21)") == "42"

        # os._exit(1): the cell is answered at once with the exit code, a new kernel serves
        assert_kernel_died(await service.eval("import os; os._exit(1)"), "exit code 1")
        await rules_still_defined()
        second_kernel = await running.kernel_pid()
        assert second_kernel != first_kernel and not process_alive(first_kernel)
        admin = running.kernel_admin()
        assert admin["kernel_pid"] == second_kernel
        assert admin["kernel_restarts"] == 1
        assert re.fullmatch(r"\d\d:\d\d:\d\d exit code 1", admin["kernel_last_death"]), admin

        # a segfault in C code: the signal is named
        assert_kernel_died(
            await service.eval("import ctypes; ctypes.string_at(0)"), "signal 11 (SIGSEGV)"
        )
        await rules_still_defined()
        admin = running.kernel_admin()
        assert admin["kernel_restarts"] == 2
        assert "signal 11 (SIGSEGV)" in admin["kernel_last_death"]

        # 2 GB under --kernel-memory 1G: the address-space limit makes Python raise MemoryError
        # in the cell; the kernel survives (its names too)
        await service.ok("survivor = 'still here'")
        out = await service.eval("b = bytearray(2 * 1024**3)")
        assert out["status"] == "error", out
        assert out["error"]["type"] == "MemoryError", out["error"]
        assert "memory limit is 1 GiB" in out["error"]["message"], out["error"]
        assert "bytearray(2 * 1024**3)" in out["error"]["traceback"]
        assert await service.ok("survivor") == "'still here'"
        await rules_still_defined()
        assert running.kernel_admin()["kernel_restarts"] == 2

        # builtins.len patched: the kernel is deaf from then on (its own code calls len);
        # weave_reset still works, and the next eval has the real len and the rules
        flag = tmp_path / "patched"
        patched: dict[str, Any] = {}
        patched_kernel = await running.kernel_pid()

        async def patch() -> None:
            patched.update(
                structured(
                    await service.client.call_tool(
                        "weave_eval",
                        {
                            "code": "import builtins\nbuiltins.len = lambda *a, **k: 0\n"
                            f"open({str(flag)!r}, 'w').close()\n",
                            "timeout_s": 60,
                        },
                    )
                )
            )

        async with anyio.create_task_group() as group:
            group.start_soon(patch)
            await wait_async(lambda: _exists(flag), timeout=30)
            assert await service.reset() == "Kernel reset successfully"
        # the cell was still hanging when the reset came, or it had answered on its own
        assert patched["status"] in ("ok", "error"), patched
        if patched["status"] == "error":
            assert "weave_reset" in patched["error"]["message"], patched["error"]
        assert await service.ok("len([1, 2])") == "2"
        assert not process_alive(patched_kernel)  # a fresh process, not a repaired one
        # weave_reset clears the user's names (callbacks included) but keeps the session's rules
        await rules_still_defined(callback_named=False)

        summary = await service.summary()
        assert re.search(r"kernel restarted at \d\d:\d\d: exit code 1", summary), summary
        assert re.search(r"kernel restarted at \d\d:\d\d: segfault", summary), summary
        assert f"Active Rules: 1\n  - {RULE_LISTED}" in summary
        history = await running.history()
        assert "kernel_restarted(exit code 1)" in history, history
        assert "kernel_restarted(signal 11 (SIGSEGV)" in history, history

        final = running.kernel_admin()
        assert final["kernel_pid"] == await running.kernel_pid()
        assert final["kernel_restarts"] == 2  # a reset is not a death


async def _exists(path: Path) -> bool:
    return path.exists()


# -- 2: SIGTERM within 3 s ---------------------------------------------------------------------


async def test_sigterm_ends_the_service_within_3_s_while_a_callback_sleeps_30_s(
    tmp_path: Path,
) -> None:
    flag = tmp_path / "callback-sleeping"
    async with mcp_service(tmp_path / "data", tmp_path=tmp_path) as running:
        kernel = await running.kernel_pid()
        await running.service.ok(
            "@on_beat(1)\n"
            "def sleepy(beat):\n"
            "    import time\n"
            f"    open({str(flag)!r}, 'w').close()\n"
            "    time.sleep(30)\n"
            "tempo(240)\n"
            "play()\n"
        )
        wait_until(flag.exists, timeout=20)
        took = await sigterm_and_time_exit(running.pid)
        assert took < SIGTERM_BOUND_S, f"the service took {took:.2f} s to end after SIGTERM"
        wait_until(lambda: not process_alive(kernel), timeout=2)
    assert "Traceback" not in running.stderr.read_text(encoding="utf-8", errors="replace")


async def test_sigterm_ends_the_service_within_3_s_while_a_cell_spins_with_a_60_s_timeout(
    tmp_path: Path,
) -> None:
    flag = tmp_path / "cell-spinning"
    async with mcp_service(tmp_path / "data", tmp_path=tmp_path) as running:
        kernel = await running.kernel_pid()

        async def spin() -> None:
            code = f"open({str(flag)!r}, 'w').close()\nwhile True:\n    pass\n"
            # the service ends under this call: whatever the client makes of that is fine
            with contextlib.suppress(Exception):
                await running.service.client.call_tool(
                    "weave_eval", {"code": code, "timeout_s": 60}
                )

        async with anyio.create_task_group() as group:
            group.start_soon(spin)
            await wait_async(lambda: _exists(flag), timeout=20)
            took = await sigterm_and_time_exit(running.pid)
            group.cancel_scope.cancel()
        assert took < SIGTERM_BOUND_S, f"the service took {took:.2f} s to end after SIGTERM"
        wait_until(lambda: not process_alive(kernel), timeout=2)


# -- 3: callbacks beside an awaiting cell ------------------------------------------------------


async def test_beat_callbacks_keep_firing_at_240_bpm_while_a_cell_awaits_3_s(
    tmp_path: Path,
) -> None:
    async with mcp_service(tmp_path / "data", tmp_path=tmp_path) as running:
        service = running.service
        await service.ok(
            "hits = []\n@on_beat(1)\ndef count(beat):\n    hits.append(beat)\ntempo(240)\nplay()\n"
        )
        await wait_async(lambda: _ok_int(service, "len(hits)"), timeout=20)
        out = await service.eval(
            "import asyncio\n"
            "before = len(hits)\n"
            "await asyncio.sleep(3)\n"
            "after = len(hits)\n"
            "before, after\n"
        )
        assert out["status"] == "ok", out
        before, after = (int(n) for n in out["result"].strip("()").split(","))
        # 240 BPM is 12 beats in 3 s; the issue asks for at least 8
        assert after - before >= 8, f"{after - before} callbacks ran during a 3 s await"


async def _ok_int(service: Service, code: str) -> int:
    return int(await service.ok(code) or 0)


# -- 4: a thread printing forever ----------------------------------------------------------------


async def test_a_thread_printing_forever_for_5_s_leaves_stderr_small_and_cpu_bounded(
    tmp_path: Path,
) -> None:
    async with mcp_service(tmp_path / "data", tmp_path=tmp_path) as running:
        service = running.service
        cpu_before = cpu_seconds(running.pid)
        stderr_before = running.stderr.stat().st_size
        started = time.monotonic()
        await service.ok(
            "import sys, threading\n"
            "stop_spam = threading.Event()\n"
            "def spam():\n"
            "    n = 0\n"
            "    while not stop_spam.is_set():\n"
            "        n += 1\n"
            "        sys.stdout.write(f'line {n} ' + 'x' * 80 + '\\n')\n"
            "spammer = threading.Thread(target=spam, daemon=True)\n"
            "spammer.start()\n"
        )
        # the must-show's 5 s of printing: time itself is what is measured here
        await anyio.sleep(max(0.0, 5.0 - (time.monotonic() - started)))
        out = await service.eval("stop_spam.set()\nspammer.join(5)\nspammer.is_alive()")
        cpu_used = cpu_seconds(running.pid) - cpu_before
        elapsed = time.monotonic() - started
        assert out["status"] == "ok" and out["result"] == "False", out
        assert "background output" in out["stderr"], out["stderr"]
        stderr_grown = running.stderr.stat().st_size - stderr_before
        assert stderr_grown < 1024 * 1024, f"the service's stderr grew by {stderr_grown} bytes"
        assert cpu_used < 3.0, f"the service used {cpu_used:.2f} s of CPU in {elapsed:.1f} s"
        assert "line 1 " not in running.stderr.read_text(encoding="utf-8", errors="replace")
