"""Kernel.interrupt: another thread cuts the running cell or callback short, without waiting for
its timeout (what a stopping service does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from vibeweaver.kernel import EvalOutcome, Kernel

KernelFactory = Callable[..., Kernel]

LONG_TIMEOUT_S = 30.0
PROMPT_S = 5.0
"""Generous bound for an interrupted cell to come back (the escalation needs about 1 s)."""


@pytest.fixture
def started() -> threading.Event:
    return threading.Event()


@pytest.fixture
def kernel(make_kernel: KernelFactory, started: threading.Event) -> Kernel:
    return make_kernel(prelude={"started": started})


def evaluate_in_background(
    kernel: Kernel, code: str, timeout: float = LONG_TIMEOUT_S
) -> tuple[threading.Thread, list[EvalOutcome]]:
    outcomes: list[EvalOutcome] = []
    thread = threading.Thread(
        target=lambda: outcomes.append(kernel.evaluate(code, timeout=timeout)), daemon=True
    )
    thread.start()
    return thread, outcomes


def interrupt_when_started(
    kernel: Kernel, started: threading.Event, code: str, **kwargs: str
) -> tuple[EvalOutcome, float]:
    thread, outcomes = evaluate_in_background(kernel, code)
    assert started.wait(10), "the cell did not start"
    began = time.monotonic()
    assert kernel.interrupt(**kwargs) is True
    thread.join(PROMPT_S + 5)
    elapsed = time.monotonic() - began
    assert not thread.is_alive(), "evaluate did not return after the interrupt"
    return outcomes[0], elapsed


def test_an_idle_kernel_is_not_interrupted(kernel: Kernel) -> None:
    assert kernel.interrupt() is False
    assert kernel.evaluate("1 + 1", timeout=5).result == "2"


def test_a_busy_loop_is_interrupted_at_once_and_the_namespace_survives(
    kernel: Kernel, started: threading.Event
) -> None:
    outcome, elapsed = interrupt_when_started(
        kernel, started, "kept = 'yes'\nstarted.set()\nwhile True:\n    pass"
    )

    assert elapsed < PROMPT_S
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "Interrupted"
    assert "because the service is stopping" in outcome.error.message
    assert "namespace is kept" in outcome.error.message
    assert "while True" in outcome.error.traceback
    assert outcome.error.traceback.splitlines()[-1].startswith("Interrupted: ")
    assert kernel.evaluate("kept", timeout=5).result == "'yes'"


def test_the_reason_is_shown_and_output_before_the_interrupt_is_kept(
    kernel: Kernel, started: threading.Event
) -> None:
    outcome, _ = interrupt_when_started(
        kernel,
        started,
        "print('working')\nstarted.set()\nwhile True:\n    pass",
        reason="the operator said so",
    )
    assert outcome.stdout == "working\n"
    assert outcome.error is not None
    assert "because the operator said so" in outcome.error.message


def test_an_await_that_never_resolves_is_interrupted(
    kernel: Kernel, started: threading.Event
) -> None:
    outcome, elapsed = interrupt_when_started(
        kernel,
        started,
        "import asyncio\nstarted.set()\nawait asyncio.get_running_loop().create_future()",
    )
    assert elapsed < PROMPT_S
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.type == "Interrupted"


def test_code_swallowing_the_interrupt_is_left_behind_and_a_fresh_thread_takes_over(
    kernel: Kernel, started: threading.Event
) -> None:
    outcome, elapsed = interrupt_when_started(
        kernel,
        started,
        "import time\nstarted.set()\n"
        "while True:\n    try:\n        time.sleep(0.01)\n    except BaseException:\n        pass",
    )
    assert elapsed < PROMPT_S
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.type == "Interrupted"
    assert "fresh eval thread took over" in outcome.error.message
    assert kernel.evaluate("2 + 2", timeout=5).result == "4"


def test_a_callback_call_is_interrupted(kernel: Kernel, started: threading.Event) -> None:
    kernel.evaluate("def spin(beat):\n    started.set()\n    while True:\n        pass", timeout=5)
    spin = kernel.namespace["spin"]
    assert callable(spin)
    outcomes = []
    thread = threading.Thread(
        target=lambda: outcomes.append(kernel.call(spin, 4, timeout=LONG_TIMEOUT_S)), daemon=True
    )
    thread.start()
    assert started.wait(10)
    began = time.monotonic()
    assert kernel.interrupt() is True
    thread.join(PROMPT_S + 5)
    assert not thread.is_alive()
    assert time.monotonic() - began < PROMPT_S
    assert outcomes[0].status == "error"
    assert outcomes[0].error is not None and outcomes[0].error.type == "Interrupted"


def test_an_interrupt_only_affects_the_cell_that_was_running(
    kernel: Kernel, started: threading.Event
) -> None:
    interrupt_when_started(kernel, started, "started.set()\nwhile True:\n    pass")
    assert kernel.interrupt() is False
    outcome = kernel.evaluate("import time\ntime.sleep(0.2)\n'done'", timeout=5)
    assert outcome.status == "ok" and outcome.result == "'done'"


def test_a_stop_after_an_interrupt_leaves_no_threads(
    make_kernel: KernelFactory, started: threading.Event
) -> None:
    kernel = make_kernel(prelude={"started": started}, name="tk-interrupt-stop")
    thread, outcomes = evaluate_in_background(kernel, "started.set()\nwhile True:\n    pass")
    assert started.wait(10)
    began = time.monotonic()
    kernel.interrupt()
    thread.join(PROMPT_S + 5)
    kernel.stop()
    assert time.monotonic() - began < PROMPT_S
    assert outcomes[0].status == "error"
    assert not [t for t in threading.enumerate() if t.name.startswith("tk-interrupt-stop")]
