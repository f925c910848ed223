"""Stopping a system calls each actor's `interrupt` hook first, so a long handler (a running cell)
does not hold the stop up."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import local_config, wait_until
from vibeweaver.actors.base import WeaverActor, handles
from vibeweaver.actors.kernel.messages import Evaluate
from vibeweaver.actors.system import ActorSpec, ActorSystem
from vibeweaver.weaver import Weaver


@dataclass(frozen=True, slots=True)
class Work:
    started: threading.Event


class Interruptible(WeaverActor):
    """Works until interrupted; records which thread called the hook."""

    def setup(self) -> None:
        self.cancel = threading.Event()
        self.hook_threads: list[str] = []

    def interrupt(self, reason: str | None = None) -> None:
        self.hook_threads.append(threading.current_thread().name)
        self.cancel.set()

    @handles(Work)
    def work(self, message: Work) -> str:
        message.started.set()
        return "interrupted" if self.cancel.wait(30) else "finished"


class Plain(WeaverActor):
    pass


class FailingHook(WeaverActor):
    def interrupt(self, reason: str | None = None) -> None:
        raise RuntimeError("hook broke")


def test_stop_interrupts_a_running_handler_and_does_not_wait_for_it() -> None:
    system = ActorSystem("interrupt-test")
    handle = system.define(ActorSpec("worker", Interruptible))
    system.start()
    started = threading.Event()
    future = handle.ask_future(Work(started))
    assert started.wait(5)

    began = time.monotonic()
    system.stop(timeout=10)

    assert time.monotonic() - began < 5
    assert future.get(timeout=1) == "interrupted"
    assert handle.stats.state == "stopped"


def test_a_failing_interrupt_hook_is_logged_and_the_stop_goes_on() -> None:
    system = ActorSystem("failing-hook-test")
    handle = system.define(ActorSpec("worker", FailingHook))
    system.start()
    system.stop(timeout=5)
    assert handle.stats.state == "stopped"


def test_the_default_hook_does_nothing() -> None:
    system = ActorSystem("default-hook-test")
    handle = system.define(ActorSpec("plain", Plain))
    system.start()
    system.stop(timeout=5)
    assert handle.stats.state == "stopped"


def test_a_weaver_stops_within_seconds_while_a_cell_spins_with_a_30_s_timeout(
    tmp_path: Path,
) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    weaver = Weaver(local_config(tmp_path / "w"))
    weaver.start()
    kernel = weaver.handle("kernel")
    try:
        assert kernel.ask(Evaluate(code="1 + 1", timeout_s=5), timeout=10).result == "2"
        replies: list[Any] = []
        asking = threading.Thread(
            target=lambda: replies.append(
                kernel.ask(
                    Evaluate(code="spinning = True\nwhile True:\n    pass", timeout_s=30),
                    timeout=40,
                )
            )
        )
        asking.start()
        # the kernel process is in the cell's loop: it burns CPU
        pid = kernel.stats.published["kernel_pid"]
        wait_until(lambda: _burning(pid), timeout=10)
    finally:
        began = time.monotonic()
        weaver.stop()
        elapsed = time.monotonic() - began

    assert elapsed < 10
    asking.join(5)
    (outcome,) = replies
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.type == "Interrupted"
    assert "the service is stopping" in outcome.error.message
    assert weaver.state == "stopped"
    wait_until(lambda: {t.ident for t in threading.enumerate()} <= threads_before, timeout=5)


def _burning(pid: int) -> bool:
    """`pid` used at least half of a CPU over the next 0.2 s."""

    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks

    first = ticks()
    time.sleep(0.2)
    return ticks() - first >= os.sysconf("SC_CLK_TCK") * 0.1
