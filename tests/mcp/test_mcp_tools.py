"""The pure part of the tools: argument checks, result shapes and their compact text."""

from __future__ import annotations

import math

import pytest

from vibeweaver.frontends import tools
from vibeweaver.kernel.outcome import ErrorInfo, EvalOutcome


def outcome(**overrides: object) -> EvalOutcome:
    values: dict[str, object] = {
        "status": "ok",
        "execution_count": 3,
        "result": None,
        "has_expression": False,
        "stdout": "",
        "stderr": "",
        "error": None,
        "duration_ms": 1.25,
    }
    values.update(overrides)
    return EvalOutcome(**values)  # type: ignore[arg-type]


def test_an_ok_cell_renders_its_status_line_then_the_result() -> None:
    result = tools.eval_result(outcome(result="42", has_expression=True))

    assert tools.render_eval(result) == "[3] ok (1.2 ms)\nresult: 42"
    assert result.model_dump() == {
        "status": "ok",
        "execution_count": 3,
        "result": "42",
        "stdout": "",
        "stderr": "",
        "error": None,
        "duration_ms": 1.25,
        "notifications": [],
    }


def test_notifications_of_notify_rules_come_with_the_result() -> None:
    result = tools.eval_result(outcome(), ("drop reached", "we are live"))

    assert result.notifications == ["drop reached", "we are live"]
    assert tools.render_eval(result) == (
        "[3] ok (1.2 ms)\nnotifications:\ndrop reached\nwe are live"
    )


def test_the_text_puts_the_result_then_stdout_then_stderr_then_the_traceback() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "<cell-3>", line 2, in <module>\n'
        "    f()\n"
        "ValueError: nope"
    )
    result = tools.eval_result(
        outcome(
            status="error",
            result="[1,\n 2]",
            stdout="out\n",
            stderr="warn",
            error=ErrorInfo(type="ValueError", message="nope", traceback=trace),
        )
    )

    text = tools.render_eval(result)

    assert text == (
        "[3] error (1.2 ms): ValueError: nope\n"
        "result:\n[1,\n 2]\n"
        "stdout:\nout\n"
        "stderr:\nwarn\n" + trace
    )


def test_a_bare_timeout_is_not_repeated_as_a_traceback() -> None:
    message = "the code exceeded its 1 s timeout and was interrupted; the namespace is kept"
    result = tools.eval_result(
        outcome(
            status="timeout",
            duration_ms=1003.4,
            error=ErrorInfo(
                type="TimeoutError", message=message, traceback=f"TimeoutError: {message}"
            ),
        )
    )

    assert tools.render_eval(result) == f"[3] timeout (1003 ms): TimeoutError: {message}"
    assert result.error is not None and result.error.type == "TimeoutError"


@pytest.mark.parametrize("bad", [0.0, -1.0, 3600.5, math.inf, math.nan])
def test_timeouts_outside_the_range_are_refused(bad: float) -> None:
    with pytest.raises(tools.ArgumentError, match="timeout_s must be more than 0"):
        tools.check_timeout(bad)


def test_reasonable_timeouts_pass() -> None:
    assert tools.check_timeout(0.5) == 0.5
    assert tools.check_timeout(3600) == 3600.0


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\n"])
def test_blank_code_is_refused(blank: str) -> None:
    with pytest.raises(tools.ArgumentError, match="code is empty"):
        tools.check_code(blank)


def test_the_eval_description_names_its_default_timeout_and_the_dsl() -> None:
    text = tools.eval_description(12.5)

    assert "default 12.5 s" in text
    assert "@on_beat" in text and "weave_help" in text


@pytest.mark.anyio
async def test_an_unexpected_exception_in_a_tool_call_is_a_readable_tool_error() -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from vibeweaver.frontends.mcp import _call

    def broken() -> None:
        raise OSError(27, "File too large")

    with pytest.raises(ToolError, match=r"internal error in vibeweaver: OSError: .*File too large"):
        await _call(broken)
    assert await _call(lambda: 42) == 42  # and the next call works
