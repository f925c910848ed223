"""Output capture: per-eval stdout/stderr, other threads untouched, pass-through, caps."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable

import pytest

from vibeweaver.kernel import Kernel
from vibeweaver.kernel.capture import CappedText, RoutingStream, cap_text, installed_refcount

KernelFactory = Callable[..., Kernel]


class FakeStdout(io.StringIO):
    """A stand-in for the process's stdout with the attributes a stdio transport uses."""

    def __init__(self) -> None:
        super().__init__()
        self.raw_buffer = io.BytesIO()

    @property
    def buffer(self) -> io.BytesIO:
        return self.raw_buffer

    def fileno(self) -> int:
        return 42

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8-fake"

    def isatty(self) -> bool:
        return True


def current_streams() -> tuple[object, object]:
    return sys.stdout, sys.stderr


def test_print_as_the_only_statement_is_captured(kernel: Kernel) -> None:
    outcome = kernel.evaluate('print("hi")', timeout=5)
    assert outcome.status == "ok"
    assert outcome.stdout == "hi\n"
    assert outcome.result is None


def test_stdout_and_stderr_are_captured_separately(kernel: Kernel) -> None:
    outcome = kernel.evaluate(
        "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.stdout.write('more')",
        timeout=5,
    )
    assert outcome.stdout == "out\nmore"
    assert outcome.stderr == "err\n"


def test_each_evaluation_gets_only_its_own_output(kernel: Kernel) -> None:
    first = kernel.evaluate("print('one')", timeout=5)
    second = kernel.evaluate("print('two')", timeout=5)
    assert (first.stdout, second.stdout) == ("one\n", "two\n")


def test_a_print_from_another_thread_during_an_eval_stays_out_of_the_cell_output(
    make_kernel: KernelFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    started, gate = threading.Event(), threading.Event()
    kernel = make_kernel(prelude={"started": started, "gate": gate})
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            kernel.evaluate(
                "print('cell start')\nstarted.set()\ngate.wait(10)\nprint('cell end')", timeout=10
            )
        )
    )
    worker.start()
    assert started.wait(5)
    print("printed by the test thread")
    gate.set()
    worker.join(10)
    assert results[0].stdout == "cell start\ncell end\n"
    assert "printed by the test thread" in capsys.readouterr().out


def test_a_thread_started_by_the_cell_is_not_routed_to_the_cell(
    kernel: Kernel, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = kernel.evaluate(
        "import threading\n"
        "t = threading.Thread(target=lambda: print('from a user thread'))\n"
        "t.start(); t.join()\n"
        "print('from the cell')",
        timeout=5,
    )
    assert outcome.stdout == "from the cell\n"
    assert "from a user thread" in capsys.readouterr().out


def test_the_proxy_passes_attributes_through_to_the_original_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeStdout()
    monkeypatch.setattr(sys, "stdout", fake)
    kernel = Kernel(name="passthrough")
    kernel.start()
    try:
        proxy = sys.stdout
        assert isinstance(proxy, RoutingStream)
        assert proxy.buffer is fake.raw_buffer
        assert proxy.fileno() == 42
        assert proxy.encoding == "utf-8-fake"
        assert proxy.isatty() is True
        proxy.write("direct\n")
        proxy.flush()
        assert fake.getvalue() == "direct\n"
        outcome = kernel.evaluate(
            "import sys\nprint('inside')\n(sys.stdout.isatty(), sys.stdout.encoding)", timeout=5
        )
        assert outcome.stdout == "inside\n"
        assert outcome.result == "(False, 'utf-8-fake')"
        assert fake.getvalue() == "direct\n"
    finally:
        kernel.stop()
    assert sys.stdout is fake


def test_the_proxy_is_reference_counted_and_restored_when_the_last_kernel_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_out, fake_err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake_out)
    monkeypatch.setattr(sys, "stderr", fake_err)
    before = installed_refcount()
    first, second = Kernel(name="refcount-a"), Kernel(name="refcount-b")
    first.start()
    second.start()
    try:
        assert installed_refcount() == before + 2
        assert isinstance(sys.stdout, RoutingStream)
        proxy = sys.stdout
        first.stop()
        assert sys.stdout is proxy
        assert second.evaluate("print('still captured')", timeout=5).stdout == "still captured\n"
    finally:
        first.stop()
        second.stop()
    assert installed_refcount() == before
    assert current_streams() == (fake_out, fake_err)


def test_a_displaced_proxy_is_reinstalled_at_the_next_evaluation(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    replacement = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replacement)
    outcome = kernel.evaluate("print('captured anyway')", timeout=5)
    assert outcome.stdout == "captured anyway\n"
    assert replacement.getvalue() == ""
    assert isinstance(sys.stdout, RoutingStream)
    assert sys.stdout.original is replacement


def test_output_of_background_tasks_between_evals_comes_with_the_next_evaluation(
    make_kernel: KernelFactory, wait_until: Callable[..., None]
) -> None:
    printed = threading.Event()
    kernel = make_kernel(prelude={"printed": printed})
    kernel.evaluate(
        "import asyncio\n"
        "async def later():\n"
        "    await asyncio.sleep(0)\n"
        "    print('from the background')\n"
        "    printed.set()\n"
        "task = asyncio.ensure_future(later())",
        timeout=5,
    )
    wait_until(printed.is_set, what="the background print")
    outcome = kernel.evaluate("print('cell')", timeout=5)
    assert outcome.stdout == "from the background\ncell\n"


def test_a_megabyte_print_is_capped_keeping_head_and_tail(make_kernel: KernelFactory) -> None:
    kernel = make_kernel(output_cap=1000)
    outcome = kernel.evaluate("print('a' + 'x' * 999_998 + 'z')", timeout=30)
    assert outcome.status == "ok"
    assert outcome.stdout.startswith("a" + "x" * 10)
    assert outcome.stdout.endswith("x" * 10 + "z\n")
    assert "... [cut 999,001 characters] ...\n" in outcome.stdout
    assert len(outcome.stdout) < 1100


def test_many_small_writes_are_capped_with_an_exact_count(make_kernel: KernelFactory) -> None:
    kernel = make_kernel(output_cap=100)
    outcome = kernel.evaluate("for i in range(100_000):\n    print(i)", timeout=60)
    total = sum(len(f"{i}\n") for i in range(100_000))
    assert outcome.stdout.startswith("0\n1\n2\n")
    assert outcome.stdout.endswith("99998\n99999\n")
    assert f"[cut {total - 100:,} characters]" in outcome.stdout


def test_stderr_and_the_result_repr_are_capped_too(make_kernel: KernelFactory) -> None:
    kernel = make_kernel(output_cap=200)
    outcome = kernel.evaluate("import sys\nsys.stderr.write('e' * 5000)\n'y' * 100_000", timeout=30)
    assert "[cut 4,800 characters]" in outcome.stderr
    assert outcome.result is not None
    assert outcome.result.startswith("'yyy")
    assert outcome.result.endswith("yyy'")
    assert "[cut 99,802 characters]" in outcome.result


def test_capped_text_keeps_everything_under_the_cap() -> None:
    sink = CappedText(10)
    sink.write("abc")
    sink.write("defghij")
    assert sink.getvalue() == "abcdefghij"


def test_capped_text_keeps_head_and_tail_and_counts_the_cut() -> None:
    sink = CappedText(10)
    for chunk in ("hello", " ", "wide", " world", "!", "end"):
        sink.write(chunk)
    assert sink.total == 20
    assert sink.getvalue() == "hello\n... [cut 10 characters] ...\nd!end"


def test_capped_text_memory_stays_bounded_for_huge_writes() -> None:
    sink = CappedText(8)
    sink.write("a" * 3_000_000)
    for _ in range(1000):
        sink.write("b" * 1000)
    value = sink.getvalue()
    assert value == "aaaa\n... [cut 3,999,992 characters] ...\nbbbb"


def test_cap_text_leaves_short_text_alone() -> None:
    assert cap_text("short", 10) == "short"
    assert cap_text("0123456789ABCDEF", 4) == "01\n... [cut 12 characters] ...\nEF"


def test_the_routing_proxy_rejects_bytes_like_a_text_stream(kernel: Kernel) -> None:
    outcome = kernel.evaluate("import sys\nsys.stdout.write(b'x')", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "TypeError"
