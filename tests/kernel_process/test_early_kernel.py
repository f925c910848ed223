"""EarlyKernel: the first kernel process starts while the other actors start, and is used once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.conftest import local_config, wait_until
from vibeweaver.actors.base import WeaverActor
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.kernel.early import EarlyKernel
from vibeweaver.actors.system import ActorSpec, ActorSystem
from vibeweaver.weaver import Weaver


class Idle(WeaverActor):
    """Stands in for the actors whose handles the kernel's bridge holds."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_weavers_first_kernel_is_the_one_started_early(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    assert weaver.early_kernel.pid is not None
    assert weaver.handle("kernel").stats.published["kernel_pid"] == weaver.early_kernel.pid


def _early_kernel(tmp_path: Path) -> EarlyKernel:
    """An EarlyKernel of a system whose actors are defined but not started."""
    system = ActorSystem(f"early-{tmp_path.name}")
    for name in ("store", "scheduler", "planner", "kernel"):
        system.define(ActorSpec(name, Idle))
    return EarlyKernel(
        config=local_config(tmp_path / "data"),
        system=system,
        name="kernel",
        ports=("store", "scheduler", "planner"),
        link=HootenannyLink(None),
    )


def test_it_is_handed_over_once_and_an_untaken_one_is_closed(tmp_path: Path) -> None:
    early = _early_kernel(tmp_path)
    assert early.take(1.0) is None  # not started: nothing to hand over
    early.start()
    wait_until(lambda: early.pid is not None, timeout=30)
    pid = early.pid
    assert pid is not None and _alive(pid)
    early.discard()  # nobody took it
    wait_until(lambda: not _alive(pid), timeout=10)
    assert early.take(1.0) is None


def test_a_taken_kernel_is_not_closed_by_discard(tmp_path: Path) -> None:
    early = _early_kernel(tmp_path)
    early.start()
    connection = early.take(30.0)
    assert connection is not None and connection.process.alive
    try:
        early.discard()
        assert connection.process.alive
        assert early.take(1.0) is None  # once
    finally:
        connection.close(reason="test over", wait=1.0)
        connection.bridge.close()
