"""Timeouts: runaway code is interrupted, the namespace survives, evaluate returns in bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vibeweaver.kernel import Kernel

KernelFactory = Callable[..., Kernel]

# Liveness bound from the contract: evaluate returns within about timeout + 1 s. The tests allow
# a generous margin on a busy 2-core machine.
SLACK_S = 2.5


def timed_evaluate(kernel: Kernel, code: str, timeout: float) -> tuple[object, float]:
    started = time.monotonic()
    outcome = kernel.evaluate(code, timeout=timeout)
    return outcome, time.monotonic() - started


def test_a_busy_loop_is_interrupted_and_the_namespace_survives(kernel: Kernel) -> None:
    started = time.monotonic()
    outcome = kernel.evaluate("before = 'kept'\nwhile True:\n    pass", timeout=0.5)
    elapsed = time.monotonic() - started
    assert outcome.status == "timeout"
    assert elapsed < 0.5 + SLACK_S
    assert outcome.error is not None
    assert outcome.error.type == "TimeoutError"
    assert "namespace is kept" in outcome.error.message
    assert "while True" in outcome.error.traceback
    assert outcome.error.traceback.splitlines()[-1].startswith("TimeoutError: ")
    assert kernel.namespace["before"] == "kept"
    after = kernel.evaluate("before.upper()", timeout=5)
    assert after.status == "ok"
    assert after.result == "'KEPT'"


def test_output_printed_before_the_timeout_is_returned(kernel: Kernel) -> None:
    outcome = kernel.evaluate("print('working')\nwhile True:\n    pass", timeout=0.3)
    assert outcome.status == "timeout"
    assert outcome.stdout == "working\n"


def test_code_catching_exception_does_not_swallow_the_interrupt(kernel: Kernel) -> None:
    outcome = kernel.evaluate(
        "while True:\n    try:\n        sum(range(1000))\n    except Exception:\n        pass",
        timeout=0.3,
    )
    assert outcome.status == "timeout"
    assert kernel.evaluate("2 + 2", timeout=5).result == "4"


def test_an_await_on_a_future_that_never_resolves_times_out(kernel: Kernel) -> None:
    started = time.monotonic()
    outcome = kernel.evaluate(
        "import asyncio\nx = 1\nawait asyncio.get_running_loop().create_future()", timeout=0.3
    )
    assert outcome.status == "timeout"
    assert time.monotonic() - started < 0.3 + SLACK_S
    assert outcome.error is not None
    assert "create_future()" in outcome.error.traceback
    assert kernel.namespace["x"] == 1
    assert kernel.evaluate("await asyncio.sleep(0)\n'fine'", timeout=5).result == "'fine'"


def test_the_interrupt_never_lands_after_the_cell_finished(kernel: Kernel) -> None:
    # Cells that finish right around their limit: whatever the outcome, the kernel and its loop
    # must stay healthy (a stray async exception would kill the loop or the next cell).
    for _ in range(20):
        kernel.evaluate(
            "import time\nt0 = time.monotonic()\nwhile time.monotonic() - t0 < 0.05:\n    pass",
            timeout=0.05,
        )
    for _ in range(5):
        outcome = kernel.evaluate("import asyncio\nawait asyncio.sleep(0)\n'ok'", timeout=5)
        assert outcome.status == "ok"
        assert outcome.result == "'ok'"


def test_a_task_that_ignores_cancellation_is_left_in_the_background(
    make_kernel: KernelFactory,
) -> None:
    release = threading.Event()
    kernel = make_kernel(prelude={"release": release})
    thread_before = kernel.eval_thread
    outcome, elapsed = timed_evaluate(
        kernel,
        "import asyncio\n"
        "async def stubborn():\n"
        "    while not release.is_set():\n"
        "        try:\n"
        "            await asyncio.sleep(0.01)\n"
        "        except asyncio.CancelledError:\n"
        "            pass\n"
        "await stubborn()",
        0.3,
    )
    assert outcome.status == "timeout"  # type: ignore[attr-defined]
    assert elapsed < 0.3 + SLACK_S
    assert "background" in outcome.error.message  # type: ignore[attr-defined]
    assert kernel.eval_thread is thread_before
    assert kernel.evaluate("1 + 1", timeout=5).result == "2"
    release.set()


def test_a_blocking_call_that_ignores_the_interrupt_gets_a_fresh_thread_and_keeps_the_namespace(
    make_kernel: KernelFactory, wait_until: Callable[..., None]
) -> None:
    gate = threading.Event()
    kernel = make_kernel(prelude={"gate": gate})
    stuck_thread = kernel.eval_thread
    assert stuck_thread is not None
    outcome, elapsed = timed_evaluate(kernel, "x = 'kept'\ngate.wait()", 0.3)
    assert outcome.status == "timeout"  # type: ignore[attr-defined]
    assert elapsed < 0.3 + SLACK_S
    assert "fresh eval thread" in outcome.error.message  # type: ignore[attr-defined]
    assert kernel.eval_thread is not stuck_thread
    after = kernel.evaluate("import asyncio\nawait asyncio.sleep(0)\nx", timeout=5)
    assert after.status == "ok"
    assert after.result == "'kept'"
    gate.set()
    wait_until(lambda: not stuck_thread.is_alive(), what="the abandoned thread to end")


def test_code_that_swallows_every_interrupt_is_abandoned_within_the_bound(
    make_kernel: KernelFactory, wait_until: Callable[..., None]
) -> None:
    release = threading.Event()
    kernel = make_kernel(prelude={"release": release})
    stuck_thread = kernel.eval_thread
    assert stuck_thread is not None
    outcome, elapsed = timed_evaluate(
        kernel,
        "caught = 0\n"
        "while not release.is_set():\n"
        "    try:\n"
        "        release.wait(0.001)\n"
        "    except BaseException:\n"
        "        caught += 1",
        0.3,
    )
    assert outcome.status == "timeout"  # type: ignore[attr-defined]
    assert elapsed < 0.3 + SLACK_S
    assert kernel.evaluate("'alive'", timeout=5).result == "'alive'"
    release.set()
    wait_until(lambda: not stuck_thread.is_alive(), what="the abandoned thread to end")
    assert isinstance(kernel.namespace["caught"], int)
    assert kernel.namespace["caught"] >= 1


def test_a_dead_loop_thread_is_replaced_and_the_namespace_kept(
    kernel: Kernel, wait_until: Callable[..., None]
) -> None:
    dying = kernel.eval_thread
    assert dying is not None
    kernel.evaluate(
        "import asyncio\n"
        "kept = 'yes'\n"
        "async def die():\n"
        "    raise SystemExit('background exit')\n"
        "asyncio.ensure_future(die())",
        timeout=5,
    )
    wait_until(lambda: not dying.is_alive(), what="the eval thread to die")
    outcome = kernel.evaluate("import asyncio\nawait asyncio.sleep(0)\nkept", timeout=5)
    assert outcome.status == "ok"
    assert outcome.result == "'yes'"
    assert kernel.eval_thread is not dying


def test_stop_interrupts_nothing_when_idle_and_twice_is_harmless(kernel: Kernel) -> None:
    kernel.evaluate("1", timeout=5)
    kernel.stop()
    kernel.stop()
