"""Top-level await, futures resolved from other threads, owner context in tasks, and call()."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable

from vibeweaver.kernel import Kernel

KernelFactory = Callable[..., Kernel]

OWNER: contextvars.ContextVar[str] = contextvars.ContextVar("test_kernel_owner")


async def read_owner() -> str:
    await asyncio.sleep(0)
    return OWNER.get("unset")


def test_top_level_await_works(kernel: Kernel) -> None:
    outcome = kernel.evaluate("import asyncio\nawait asyncio.sleep(0)\nx = 5\nx", timeout=5)
    assert outcome.status == "ok"
    assert outcome.result == "5"
    assert kernel.namespace["x"] == 5


def test_the_trailing_expression_can_be_an_await(kernel: Kernel) -> None:
    kernel.evaluate("import asyncio\nasync def seven():\n    return 7", timeout=5)
    assert kernel.evaluate("await seven()", timeout=5).result == "7"


def test_the_loop_persists_between_cells(kernel: Kernel) -> None:
    kernel.evaluate("import asyncio\nloop1 = asyncio.get_running_loop()", timeout=5)
    outcome = kernel.evaluate(
        "await asyncio.sleep(0)\nasyncio.get_running_loop() is loop1", timeout=5
    )
    assert outcome.result == "True"
    assert kernel.namespace["loop1"] is kernel.loop


def test_a_future_resolved_from_another_thread_after_the_cell_awaits_it(
    make_kernel: KernelFactory,
) -> None:
    awaiting = threading.Event()
    kernel = make_kernel(prelude={"awaiting": awaiting})
    kernel.evaluate("import asyncio\nfut = asyncio.get_running_loop().create_future()", timeout=5)
    fut = kernel.namespace["fut"]
    assert isinstance(fut, asyncio.Future)

    def resolve_when_awaited() -> None:
        if awaiting.wait(5):
            kernel.loop.call_soon_threadsafe(fut.set_result, "kick.wav")

    resolver = threading.Thread(target=resolve_when_awaited)
    resolver.start()
    outcome = kernel.evaluate("awaiting.set()\nsample = await fut\nsample", timeout=10)
    resolver.join(5)
    assert outcome.status == "ok"
    assert outcome.result == "'kick.wav'"


def test_a_future_resolved_before_the_cell_awaits_it(
    kernel: Kernel, wait_until: Callable[..., None]
) -> None:
    kernel.evaluate("import asyncio\nfut = asyncio.get_running_loop().create_future()", timeout=5)
    fut = kernel.namespace["fut"]
    assert isinstance(fut, asyncio.Future)
    kernel.loop.call_soon_threadsafe(fut.set_result, 99)
    wait_until(fut.done, what="the future to be resolved")
    outcome = kernel.evaluate("x = await fut\nx", timeout=5)
    assert outcome.result == "99"


def test_a_failed_future_raises_in_the_cell_with_a_user_traceback(kernel: Kernel) -> None:
    kernel.evaluate("import asyncio\nfut = asyncio.get_running_loop().create_future()", timeout=5)
    fut = kernel.namespace["fut"]
    assert isinstance(fut, asyncio.Future)
    kernel.loop.call_soon_threadsafe(fut.set_exception, RuntimeError("job failed"))
    outcome = kernel.evaluate("await fut", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.message == "job failed"
    assert "await fut" in outcome.error.traceback


def test_on_thread_start_runs_on_the_eval_thread_and_its_context_reaches_cells_and_tasks(
    make_kernel: KernelFactory,
) -> None:
    seen: list[str] = []

    def on_start() -> None:
        seen.append(threading.current_thread().name)
        OWNER.set("kernel-owner")

    kernel = make_kernel(on_thread_start=on_start, prelude={"OWNER": OWNER})
    eval_thread = kernel.eval_thread
    assert eval_thread is not None
    assert seen == [eval_thread.name]
    assert kernel.evaluate("OWNER.get()", timeout=5).result == "'kernel-owner'"
    outcome = kernel.evaluate(
        "import asyncio\nasync def probe():\n    return OWNER.get()\n"
        "await asyncio.create_task(probe())",
        timeout=5,
    )
    assert outcome.result == "'kernel-owner'"


def test_a_task_submitted_from_another_thread_runs_in_the_owner_context(
    make_kernel: KernelFactory,
) -> None:
    kernel = make_kernel(on_thread_start=lambda: OWNER.set("kernel-owner"))
    token = OWNER.set("test-thread")
    try:
        future = asyncio.run_coroutine_threadsafe(read_owner(), kernel.loop)
        assert future.result(timeout=5) == "kernel-owner"
    finally:
        OWNER.reset(token)


def test_call_runs_a_function_on_the_eval_thread_with_capture(kernel: Kernel) -> None:
    kernel.evaluate(
        "import threading\n"
        "def fire(beat):\n"
        "    print('beat', beat)\n"
        "    return threading.current_thread().name",
        timeout=5,
    )
    fire = kernel.namespace["fire"]
    assert callable(fire)
    outcome = kernel.call(fire, 4, timeout=5)
    assert outcome.status == "ok"
    assert outcome.stdout == "beat 4\n"
    eval_thread = kernel.eval_thread
    assert eval_thread is not None
    assert outcome.value_repr == repr(eval_thread.name)


def test_call_awaits_a_coroutine_function(kernel: Kernel) -> None:
    kernel.evaluate(
        "import asyncio\nasync def fire(x):\n    await asyncio.sleep(0)\n    return x * 2",
        timeout=5,
    )
    fire = kernel.namespace["fire"]
    assert callable(fire)
    outcome = kernel.call(fire, 21, timeout=5)
    assert outcome.value_repr == "42"


def test_call_reports_errors_with_user_frames_and_none_values_as_none(kernel: Kernel) -> None:
    kernel.evaluate("def bad():\n    return 1 / 0\ndef quiet():\n    pass", timeout=5)
    bad, quiet = kernel.namespace["bad"], kernel.namespace["quiet"]
    assert callable(bad)
    assert callable(quiet)
    failed = kernel.call(bad, timeout=5)
    assert failed.status == "error"
    assert failed.error is not None
    assert failed.error.type == "ZeroDivisionError"
    assert "return 1 / 0" in failed.error.traceback
    assert kernel.call(quiet, timeout=5).value_repr is None


def test_call_times_out_like_evaluate(kernel: Kernel) -> None:
    kernel.evaluate("def spin():\n    while True:\n        pass", timeout=5)
    spin = kernel.namespace["spin"]
    assert callable(spin)
    outcome = kernel.call(spin, timeout=0.3)
    assert outcome.status == "timeout"
    assert outcome.duration_ms < 0.3 * 1000 + 1500
    assert kernel.evaluate("1", timeout=5).status == "ok"


def test_an_unhandled_background_task_error_is_shown_in_the_next_output(
    kernel: Kernel, wait_until: Callable[..., None]
) -> None:
    kernel.evaluate(
        "import asyncio, gc\n"
        "async def broken():\n"
        "    raise KeyError('lost')\n"
        "t = asyncio.ensure_future(broken())",
        timeout=5,
    )
    wait_until(lambda: kernel.namespace["t"].done(), what="the task to fail")  # type: ignore[attr-defined]
    outcome = kernel.evaluate("del t\ngc.collect()\n'collected'", timeout=5)
    later = kernel.evaluate("1", timeout=5)
    shown = outcome.stderr + later.stderr
    assert "Task exception was never retrieved" in shown
    assert "KeyError: 'lost'" in shown
