"""limit_self in real children: the address-space limit, dying with the parent, and refusing to
run when the parent is already gone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_until
from tests.kernel_process.conftest import LOAD_LIMITS, SpawnFactory, child_argv, process_gone

GIB = 1024**3

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")


def test_two_gigabytes_under_a_one_gib_limit_is_a_memory_error(spawn: SpawnFactory) -> None:
    """A kernel that limited itself to 1 GiB gets MemoryError for 2 GB, keeps running, and
    cannot raise its own limit back."""
    child = spawn(
        LOAD_LIMITS
        + """
import os, resource
limits_child.limit_self(1024**3, os.getppid())
print(resource.getrlimit(resource.RLIMIT_AS))
try:
    block = bytearray(2 * 1000**3)
except MemoryError:
    print("MemoryError")
small = bytearray(10 * 1024**2)
print("still fine", len(small))
try:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
except (ValueError, OSError) as exc:
    print("cannot raise", type(exc).__name__)
""",
        memory_limit=GIB,
    )
    ended = child.process.wait(timeout=20)
    assert ended is not None and ended.cause == "exit code 0"
    background = child.output.take_background()
    assert background is not None
    assert background.text.splitlines() == [
        f"({GIB}, {GIB})",
        "MemoryError",
        f"still fine {10 * 1024**2}",
        "cannot raise ValueError",
    ]


def test_an_uncaught_memory_error_death_names_the_limit(spawn: SpawnFactory) -> None:
    """The same allocation uncaught kills the kernel: the cause names the memory limit."""
    child = spawn(
        LOAD_LIMITS
        + """
import os
limits_child.limit_self(1024**3, os.getppid())
block = bytearray(2 * 1000**3)
""",
        memory_limit=GIB,
    )
    ended = child.process.wait(timeout=20)
    assert ended is not None
    assert ended.cause == "exit code 1; possibly the memory limit of 1 GiB"
    assert ended.memory_suspected
    assert "MemoryError" in child.output.stderr_tail()


MIDDLE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", *sys.argv[1:]], stdout=sys.stdout)
print(child.pid, flush=True)
time.sleep(60)
"""

GRANDCHILD = (
    LOAD_LIMITS
    + """
import os, sys, time
if sys.argv[1:] == ["limit"]:
    limits_child.limit_self(None, os.getppid())
print("ready", flush=True)
time.sleep(60)
"""
)


def _middle_and_grandchild(limit: bool) -> tuple[subprocess.Popen[bytes], int]:
    """A middle process whose child (the grandchild) does or does not call limit_self."""
    middle = subprocess.Popen(
        [*child_argv(MIDDLE), GRANDCHILD, "limit" if limit else "no-limit"],
        stdout=subprocess.PIPE,
    )
    assert middle.stdout is not None
    lines = sorted([middle.stdout.readline(), middle.stdout.readline()])
    assert lines[1] == b"ready\n", lines
    return middle, int(lines[0])


def test_the_kernel_dies_with_its_parent() -> None:
    """A middle process starts a grandchild that calls limit_self, and is SIGKILLed: the
    grandchild goes away at once (PR_SET_PDEATHSIG)."""
    middle, grandchild = _middle_and_grandchild(limit=True)
    try:
        assert not process_gone(grandchild)
        middle.kill()
        assert middle.wait(timeout=10) == -signal.SIGKILL
        wait_until(lambda: process_gone(grandchild), timeout=10)
    finally:
        _cleanup(middle, grandchild)


def test_control_without_limit_self_the_grandchild_survives() -> None:
    """The control: without limit_self the grandchild outlives the killed middle process (so
    the test above shows limit_self's effect, not a side effect of the set-up)."""
    middle, grandchild = _middle_and_grandchild(limit=False)
    try:
        middle.kill()
        middle.wait(timeout=10)
        # the orphan must still answer; signal 0 checks it exists, the state that it runs
        os.kill(grandchild, 0)
        assert not process_gone(grandchild)
    finally:
        _cleanup(middle, grandchild)


def _cleanup(middle: subprocess.Popen[bytes], grandchild: int) -> None:
    middle.kill()
    middle.wait()
    if middle.stdout is not None:
        middle.stdout.close()
    with contextlib.suppress(ProcessLookupError):
        os.kill(grandchild, signal.SIGKILL)


def test_a_kernel_whose_parent_is_already_gone_exits_at_once() -> None:
    """limit_self with a parent pid that is not the real parent exits with code 70 before
    anything else runs."""
    proc = subprocess.run(
        child_argv(
            LOAD_LIMITS
            + """
import os
limits_child.limit_self(None, os.getppid() + 1_000_000)
print("should not run")
"""
        ),
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 70
    assert proc.stdout == b""


def test_a_non_positive_limit_is_refused() -> None:
    """limit_self(0) is a ValueError, not a kernel that cannot allocate anything."""
    proc = subprocess.run(
        child_argv(LOAD_LIMITS + "limits_child.limit_self(0)\n"),
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 1
    assert b"memory_limit must be a positive number of bytes" in proc.stderr
