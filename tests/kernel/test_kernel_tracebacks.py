"""Tracebacks: user frames only, source lines, short cell names, no ANSI, Type: message."""

from __future__ import annotations

import re
from collections.abc import Callable

from vibeweaver.kernel import Kernel
from vibeweaver.kernel.tracebacks import strip_ansi


def test_a_traceback_shows_cell_frames_with_their_source_lines(kernel: Kernel) -> None:
    kernel.evaluate(
        "def inner(x):\n    return x[3]\n\ndef outer():\n    return inner([])", timeout=5
    )
    outcome = kernel.evaluate("y = 1\nouter()", timeout=5)
    assert outcome.error is not None
    trace = outcome.error.traceback
    assert trace.startswith("Traceback (most recent call last):\n")
    assert 'File "<cell-2>", line 2, in <module>' in trace
    assert 'File "<cell-1>", line 5, in outer' in trace
    assert 'File "<cell-1>", line 2, in inner' in trace
    assert "    return x[3]" in trace
    assert trace.splitlines()[-1] == "IndexError: list index out of range"


def test_no_kernel_or_library_frames_appear(kernel: Kernel) -> None:
    outcome = kernel.evaluate("import json\njson.loads('{not json')", timeout=5)
    assert outcome.error is not None
    trace = outcome.error.traceback
    assert "vibeweaver" not in trace
    assert "json/" not in trace
    assert "asyncio" not in trace
    assert 'File "<cell-1>", line 2, in <module>' in trace
    assert trace.splitlines()[-1].startswith("json.decoder.JSONDecodeError: ")


def test_async_cells_show_no_loop_frames(kernel: Kernel) -> None:
    outcome = kernel.evaluate(
        "import asyncio\nasync def fail():\n    await asyncio.sleep(0)\n    raise KeyError('k')\n"
        "await fail()",
        timeout=5,
    )
    assert outcome.error is not None
    frames = re.findall(r'File "([^"]+)"', outcome.error.traceback)
    assert frames == ["<cell-1>", "<cell-1>"]


def test_chained_exceptions_keep_their_user_frames(kernel: Kernel) -> None:
    outcome = kernel.evaluate(
        "try:\n    {}['missing']\nexcept KeyError as e:\n    raise ValueError('wrapped') from e",
        timeout=5,
    )
    assert outcome.error is not None
    trace = outcome.error.traceback
    assert "KeyError: 'missing'" in trace
    assert "direct cause" in trace
    assert "{}['missing']" in trace
    assert trace.splitlines()[-1] == "ValueError: wrapped"


def test_ansi_codes_are_stripped_from_messages_and_tracebacks(kernel: Kernel) -> None:
    outcome = kernel.evaluate("raise RuntimeError('\\x1b[31mred\\x1b[0m alert')", timeout=5)
    assert outcome.error is not None
    assert outcome.error.message == "red alert"
    assert "\x1b" not in outcome.error.traceback
    assert outcome.error.traceback.splitlines()[-1] == "RuntimeError: red alert"


def test_strip_ansi_removes_colour_and_cursor_sequences() -> None:
    assert strip_ansi("\x1b[1;32mok\x1b[0m \x1b[2K") == "ok "


def test_cell_names_of_two_kernels_do_not_collide(make_kernel: Callable[..., Kernel]) -> None:
    first, second = make_kernel(), make_kernel()
    first.evaluate("def f():\n    raise ValueError('first kernel')", timeout=5)
    second.evaluate("def f():\n    raise ValueError('second kernel')", timeout=5)
    outcome = first.evaluate("f()", timeout=5)
    assert outcome.error is not None
    assert "raise ValueError('first kernel')" in outcome.error.traceback


def test_huge_messages_and_deep_recursion_are_capped(make_kernel: Callable[..., Kernel]) -> None:
    kernel = make_kernel(output_cap=500)
    huge = kernel.evaluate("raise ValueError('v' * 100_000)", timeout=5)
    assert huge.error is not None
    assert "[cut " in huge.error.message
    assert len(huge.error.message) < 600
    assert len(huge.error.traceback) < 600
    deep = kernel.evaluate("def down(n):\n    return down(n + 1)\ndown(0)", timeout=30)
    assert deep.error is not None
    assert deep.error.type == "RecursionError"
    assert len(deep.error.traceback) < 600
    assert deep.error.traceback.endswith("RecursionError: maximum recursion depth exceeded")
    assert kernel.evaluate("'still fine'", timeout=5).result == "'still fine'"


def test_a_misspelt_name_gets_a_did_you_mean(kernel: Kernel) -> None:
    kernel.evaluate("def sample(space, prompt): pass", timeout=5)
    outcome = kernel.evaluate("sampel('orpheus', 'kick')", timeout=5)
    assert outcome.error is not None
    assert outcome.error.message == "name 'sampel' is not defined. Did you mean: 'sample'?"
    assert outcome.error.traceback.splitlines()[-1] == (
        "NameError: name 'sampel' is not defined. Did you mean: 'sample'?"
    )


def test_a_misspelt_attribute_gets_a_did_you_mean(kernel: Kernel) -> None:
    kernel.evaluate("class Transport:\n    state = 'playing'\ntransport = Transport()", timeout=5)
    outcome = kernel.evaluate("transport.stat", timeout=5)
    assert outcome.error is not None
    assert outcome.error.message.endswith(". Did you mean: 'state'?")


def test_a_name_with_nothing_close_gets_no_suggestion(kernel: Kernel) -> None:
    outcome = kernel.evaluate("zzqqxx_unknown", timeout=5)
    assert outcome.error is not None
    assert outcome.error.message == "name 'zzqqxx_unknown' is not defined"
