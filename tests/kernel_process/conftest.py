"""Fixtures for KernelProcess and KernelOutput tests: real child processes (`sys.executable -c`),
always stopped and their readers closed at the end of the test."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from vibeweaver.actors.kernel.output import KernelOutput
from vibeweaver.actors.kernel.process import KernelExit, KernelProcess

LIMITS_CHILD = REPO / "vibeweaver" / "kernel" / "limits_child.py"

# Child scripts load limits_child.py by path: it is stdlib-only so the kernel can call it before
# any other import, and so the children here do not depend on the rest of the package.
LOAD_LIMITS = f"""
import importlib.util as _u
_spec = _u.spec_from_file_location("limits_child", {str(LIMITS_CHILD)!r})
limits_child = _u.module_from_spec(_spec)
_spec.loader.exec_module(limits_child)
"""


def child_argv(code: str) -> list[str]:
    """argv that runs `code` (dedented) in a fresh interpreter."""
    return [sys.executable, "-c", textwrap.dedent(code)]


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (gone, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    state = stat.rsplit(")", 1)[1].split()[0]
    return state in ("Z", "X")


@dataclass
class Spawned:
    process: KernelProcess
    output: KernelOutput
    exits: list[KernelExit] = field(default_factory=list)
    exit_threads: list[str] = field(default_factory=list)


SpawnFactory = Callable[..., Spawned]


@pytest.fixture
def spawn() -> Iterator[SpawnFactory]:
    """Start a child running `code` under a KernelProcess; stopped and closed at teardown."""
    made: list[Spawned] = []

    def make(
        code: str,
        *,
        memory_limit: int | None = None,
        start: bool = True,
        output: KernelOutput | None = None,
        **output_options: Any,
    ) -> Spawned:
        out = output if output is not None else KernelOutput(**output_options)
        exits: list[KernelExit] = []
        threads: list[str] = []

        def on_exit(ended: KernelExit) -> None:
            threads.append(threading.current_thread().name)
            exits.append(ended)

        process = KernelProcess(
            child_argv(code),
            env=dict(os.environ),
            cwd=REPO,
            memory_limit=memory_limit,
            on_exit=on_exit,
            output=out,
        )
        spawned = Spawned(process, out, exits, threads)
        made.append(spawned)
        if start:
            process.start()
        return spawned

    yield make
    for spawned in made:
        if spawned.process.pid is not None and spawned.process.exit is None:
            spawned.process.stop(grace_s=0.5)
        spawned.output.close()
