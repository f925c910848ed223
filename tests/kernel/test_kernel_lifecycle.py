"""Lifecycle: no thread left after stop, independent kernels, reset semantics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import pytest
from structlog.testing import capture_logs

from vibeweaver.kernel import Kernel
from vibeweaver.kernel.runner import EvalThread

KernelFactory = Callable[..., Kernel]


def live_threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def test_stop_leaves_no_thread_of_the_kernel_alive() -> None:
    before = set(threading.enumerate())
    kernel = Kernel(name="lifecycle-stop")
    kernel.start()
    kernel.evaluate("import asyncio\nawait asyncio.to_thread(sum, [1, 2])", timeout=5)
    kernel.evaluate(
        "async def forever():\n    await asyncio.get_running_loop().create_future()\n"
        "task = asyncio.ensure_future(forever())",
        timeout=5,
    )
    assert live_threads("lifecycle-stop")
    kernel.stop()
    assert live_threads("lifecycle-stop") == []
    assert set(threading.enumerate()) <= before


SLOW_CLEANUP = (
    "import asyncio\n"
    "await asyncio.to_thread(sum, [1, 2])\n"
    "async def slow_cleanup():\n"
    "    try:\n"
    "        await asyncio.sleep(3600)\n"
    "    finally:\n"
    "        closing.set()\n"
    "        await asyncio.sleep(0.3)\n"
    "        cleaned.set()\n"
    "task = asyncio.ensure_future(slow_cleanup())"
)
"""A cell leaving a task whose cancellation takes a while, and a default-executor thread."""


def assert_closed_cleanly(
    logs: Sequence[Mapping[str, object]], cleaned: threading.Event, before: set[threading.Thread]
) -> None:
    assert [e for e in logs if e["event"] == "eval_loop_close_failed"] == []
    assert cleaned.is_set(), "the leftover task's cleanup was cut short"
    assert [t.name for t in set(threading.enumerate()) - before] == []  # executor threads too


def test_a_second_stop_request_during_the_close_does_not_cut_it_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Kernel.stop asks every eval thread to stop, then stops (and joins) each one, which asks
    # again. Under load the eval thread can act on the first request and start closing its loop
    # before the second one arrives; the second must not stop the close half way (this was a
    # flake of the test above). Made deterministic: the second request waits for the close.
    closing, cleaned = threading.Event(), threading.Event()
    original_stop = EvalThread.stop

    def stop_late(self: EvalThread, timeout: float) -> bool:
        assert closing.wait(5)
        return original_stop(self, timeout)

    monkeypatch.setattr(EvalThread, "stop", stop_late)
    before = set(threading.enumerate())
    kernel = Kernel(name="lifecycle-late", prelude={"closing": closing, "cleaned": cleaned})
    kernel.start()
    kernel.evaluate(SLOW_CLEANUP, timeout=5)
    with capture_logs() as logs:
        kernel.stop(timeout=5)
    assert live_threads("lifecycle-late") == []
    assert_closed_cleanly(logs, cleaned, before)


def test_a_stop_request_reaching_a_dead_loop_while_it_closes_is_ignored() -> None:
    closing, cleaned = threading.Event(), threading.Event()
    before = set(threading.enumerate())
    kernel = Kernel(name="lifecycle-dead", prelude={"closing": closing, "cleaned": cleaned})
    kernel.start()
    kernel.evaluate(SLOW_CLEANUP, timeout=5)
    with capture_logs() as logs:
        # SystemExit from a background task ends run_forever: the thread dies and closes its loop.
        kernel.evaluate(
            "async def die():\n    raise SystemExit(3)\nasyncio.ensure_future(die())", timeout=5
        )
        assert closing.wait(5)
        kernel.stop(timeout=5)
    assert live_threads("lifecycle-dead") == []
    assert [e["event"] for e in logs if e["event"] == "eval_thread_died"] == ["eval_thread_died"]
    assert_closed_cleanly(logs, cleaned, before)


def test_stop_ends_an_abandoned_thread_once_its_call_returns(
    wait_until: Callable[..., None],
) -> None:
    gate = threading.Event()
    kernel = Kernel(name="lifecycle-abandoned", prelude={"gate": gate})
    kernel.start()
    try:
        outcome = kernel.evaluate("gate.wait()", timeout=0.2)
        assert outcome.status == "timeout"
        assert len(live_threads("lifecycle-abandoned")) == 2
    finally:
        gate.set()
        kernel.stop()
    assert live_threads("lifecycle-abandoned") == []


def test_the_kernel_can_be_started_again_after_stop_keeping_its_namespace() -> None:
    kernel = Kernel(name="lifecycle-restart")
    kernel.start()
    kernel.evaluate("x = 3", timeout=5)
    kernel.stop()
    kernel.start()
    try:
        outcome = kernel.evaluate("x", timeout=5)
        assert outcome.result == "3"
        assert outcome.execution_count == 2
    finally:
        kernel.stop()


def test_a_failing_on_thread_start_makes_start_fail_cleanly() -> None:
    def broken() -> None:
        raise RuntimeError("no context for you")

    kernel = Kernel(name="lifecycle-broken", on_thread_start=broken)
    with pytest.raises(RuntimeError, match="no context for you"):
        kernel.start()
    assert live_threads("lifecycle-broken") == []


def test_two_kernels_are_fully_independent(make_kernel: KernelFactory) -> None:
    started, gate = threading.Event(), threading.Event()
    first = make_kernel(prelude={"started": started, "gate": gate})
    second = make_kernel()
    first.evaluate("x = 'first'", timeout=5)
    second.evaluate("x = 'second'", timeout=5)
    assert first.loop is not second.loop
    assert first.eval_thread is not second.eval_thread

    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            first.evaluate("print('A1')\nstarted.set()\ngate.wait(10)\nprint('A2')\nx", timeout=10)
        )
    )
    worker.start()
    assert started.wait(5)
    during = second.evaluate("print('B')\nx", timeout=5)
    gate.set()
    worker.join(10)
    assert during.stdout == "B\n"
    assert during.result == "'second'"
    assert results[0].stdout == "A1\nA2\n"
    assert results[0].result == "'first'"
    assert first.execution_count == 2
    assert second.execution_count == 2


def test_reset_clears_user_names_but_keeps_prelude_builtins_and_the_count(
    make_kernel: KernelFactory,
) -> None:
    kernel = make_kernel(prelude={"tempo": 120})
    kernel.evaluate("x = 1\ntempo = 99\ndef f():\n    pass", timeout=5)
    kernel.reset()
    assert "x" not in kernel.namespace
    assert "f" not in kernel.namespace
    assert kernel.namespace["tempo"] == 120
    assert "__builtins__" in kernel.namespace
    outcome = kernel.evaluate("tempo", timeout=5)
    assert outcome.result == "120"
    assert outcome.execution_count == 2
    assert kernel.evaluate("input()", timeout=5).status == "error"


def test_reset_cancels_leftover_tasks_and_pending_futures(kernel: Kernel) -> None:
    kernel.evaluate(
        "import asyncio\n"
        "loop = asyncio.get_running_loop()\n"
        "fut = loop.create_future()\n"
        "async def forever():\n"
        "    await asyncio.sleep(3600)\n"
        "task = asyncio.ensure_future(forever())",
        timeout=5,
    )
    fut, task = kernel.namespace["fut"], kernel.namespace["task"]
    kernel.reset()
    assert fut.cancelled()  # type: ignore[attr-defined]
    assert task.cancelled()  # type: ignore[attr-defined]
    assert kernel.evaluate("import asyncio\nawait asyncio.sleep(0)\n1", timeout=5).result == "1"


def test_the_kernel_refuses_to_be_driven_from_its_own_eval_thread(kernel: Kernel) -> None:
    kernel.namespace["kernel"] = kernel
    outcome = kernel.evaluate("kernel.evaluate('1', timeout=1)", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert "own eval thread" in outcome.error.message
