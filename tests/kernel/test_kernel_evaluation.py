"""Evaluation: persistent globals, counts, trailing expressions, exactly-once, syntax errors."""

from __future__ import annotations

import builtins
import io
import sys
from collections.abc import Callable

import pytest

from vibeweaver.kernel import Kernel

KernelFactory = Callable[..., Kernel]


def test_globals_persist_between_evaluations(kernel: Kernel) -> None:
    assert kernel.evaluate("x = 40", timeout=5).status == "ok"
    outcome = kernel.evaluate("x + 2", timeout=5)
    assert outcome.status == "ok"
    assert outcome.result == "42"
    assert kernel.namespace["x"] == 40


def test_every_evaluation_gets_the_next_execution_count_even_errors_and_timeouts(
    kernel: Kernel,
) -> None:
    counts = [
        kernel.evaluate("1", timeout=5).execution_count,
        kernel.evaluate("1/0", timeout=5).execution_count,
        kernel.evaluate("x = (", timeout=5).execution_count,
        kernel.evaluate("while True: pass", timeout=0.2).execution_count,
        kernel.evaluate("2", timeout=5).execution_count,
    ]
    assert counts == [1, 2, 3, 4, 5]
    assert kernel.execution_count == 5


def test_a_trailing_expression_becomes_the_result_repr(kernel: Kernel) -> None:
    outcome = kernel.evaluate("name = 'kick'\nname.upper()", timeout=5)
    assert outcome.result == "'KICK'"
    assert outcome.has_expression is True


def test_a_cell_ending_with_a_statement_has_no_result(kernel: Kernel) -> None:
    outcome = kernel.evaluate("y = 3", timeout=5)
    assert outcome.status == "ok"
    assert outcome.result is None
    assert outcome.has_expression is False


def test_an_expression_evaluating_to_none_has_no_result_but_counts_as_an_expression(
    kernel: Kernel,
) -> None:
    outcome = kernel.evaluate("None", timeout=5)
    assert outcome.result is None
    assert outcome.has_expression is True


def test_the_hidden_result_name_does_not_stay_in_the_namespace(kernel: Kernel) -> None:
    kernel.evaluate("1 + 1", timeout=5)
    assert not any(name.startswith("__vibeweaver") for name in kernel.namespace)


def test_a_cell_whose_last_line_raises_runs_exactly_once_and_keeps_its_output(
    make_kernel: KernelFactory,
) -> None:
    calls: list[int] = []
    kernel = make_kernel(prelude={"calls": calls})
    kernel.evaluate(
        "def f():\n    calls.append(1)\n    print('about to fail')\n    raise ValueError('boom')",
        timeout=5,
    )
    outcome = kernel.evaluate("a = f()", timeout=5)
    assert outcome.status == "error"
    assert outcome.stdout == "about to fail\n"
    assert outcome.error is not None
    assert outcome.error.type == "ValueError"
    assert outcome.error.message == "boom"
    assert calls == [1]
    assert "a" not in kernel.namespace


def test_a_trailing_expression_with_side_effects_runs_exactly_once(
    make_kernel: KernelFactory,
) -> None:
    calls: list[int] = []
    kernel = make_kernel(prelude={"calls": calls})
    outcome = kernel.evaluate("calls.append(1)\ncalls.append(2) or len(calls)", timeout=5)
    assert outcome.result == "2"
    assert calls == [1, 2]


def test_a_syntax_error_is_an_error_outcome_pointing_at_the_line(kernel: Kernel) -> None:
    outcome = kernel.evaluate("x = 1\ny = (2,\n", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "SyntaxError"
    assert "line 2" in outcome.error.message
    assert 'File "<cell-1>", line 2' in outcome.error.traceback
    assert "y = (2," in outcome.error.traceback
    assert outcome.error.traceback.splitlines()[-1].startswith("SyntaxError: ")
    assert "x" not in kernel.namespace


def test_a_null_byte_in_the_source_is_an_error_outcome_not_an_exception(kernel: Kernel) -> None:
    outcome = kernel.evaluate("x = 1\0", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None


def test_future_imports_of_the_kernel_do_not_leak_into_cells(kernel: Kernel) -> None:
    outcome = kernel.evaluate("def f(x: int) -> None: pass\nf.__annotations__['x']", timeout=5)
    assert outcome.result == "<class 'int'>"


def test_input_raises_at_once_with_a_clear_message(kernel: Kernel) -> None:
    outcome = kernel.evaluate("input('name? ')", timeout=30)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert "input() is not available" in outcome.error.message
    assert outcome.duration_ms < 30_000


def test_input_is_replaced_only_in_the_namespace_not_process_wide(kernel: Kernel) -> None:
    kernel.evaluate("1", timeout=5)
    assert builtins.input is builtins.__dict__["input"]
    assert builtins.input.__module__ == "builtins"


@pytest.mark.parametrize(
    "read",
    ["sys.stdin.read()", "sys.stdin.readline()", "sys.stdin.readlines()", "next(iter(sys.stdin))"],
)
def test_reading_sys_stdin_in_a_cell_raises_at_once_and_other_threads_keep_it(
    kernel: Kernel, read: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed\n"))  # the kernel wraps it at the eval
    outcome = kernel.evaluate(f"import sys\n{read}", timeout=30)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "StdinUnavailableError"
    assert "is not available in the vibeweaver kernel" in outcome.error.message
    assert kernel.evaluate("import sys\nsys.stdin.isatty()", timeout=5).result == "False"
    # this (test) thread is not an eval thread: it reads the stream underneath
    assert type(sys.stdin).__name__ == "GuardedStdin"
    assert sys.stdin.readline() == "typed\n"


def test_a_cell_that_sets_sys_stdout_to_none_leaves_the_next_cells_captured(
    kernel: Kernel,
) -> None:
    kernel.evaluate("import sys\nsys.stdout = None", timeout=5)
    outcome = kernel.evaluate("print('still here')", timeout=5)
    assert outcome.stdout == "still here\n"


def test_interactive_help_raises_but_help_on_an_object_prints(kernel: Kernel) -> None:
    interactive = kernel.evaluate("help()", timeout=5)
    assert interactive.status == "error"
    on_object = kernel.evaluate("help(len)", timeout=5)
    assert on_object.status == "ok"
    assert "len(obj" in on_object.stdout


def test_the_namespace_runs_as_main(kernel: Kernel) -> None:
    assert kernel.evaluate("__name__", timeout=5).result == "'__main__'"


def test_importing_vibeweaver_works_inside_the_kernel(kernel: Kernel) -> None:
    outcome = kernel.evaluate(
        "import vibeweaver\nfrom vibeweaver import kernel as k\nk.__name__", timeout=5
    )
    assert outcome.status == "ok"
    assert outcome.result == "'vibeweaver.kernel'"


def test_sys_exit_in_a_cell_is_an_error_and_the_kernel_keeps_working(kernel: Kernel) -> None:
    outcome = kernel.evaluate("import sys\nsys.exit(3)", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "SystemExit"
    assert kernel.evaluate("1 + 1", timeout=5).result == "2"


def test_a_failing_repr_is_reported_as_an_error(kernel: Kernel) -> None:
    kernel.evaluate(
        "class Bad:\n    def __repr__(self):\n        raise RuntimeError('no repr')", timeout=5
    )
    outcome = kernel.evaluate("Bad()", timeout=5)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.message == "no repr"


def test_evaluate_refuses_to_run_before_start() -> None:
    kernel = Kernel(name="never-started")
    with pytest.raises(RuntimeError, match="not started"):
        kernel.evaluate("1", timeout=1)
