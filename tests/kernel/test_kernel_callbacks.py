"""Callbacks as data: source extraction from cells, rejections, and redefinition from source."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from vibeweaver.kernel import (
    CallbackDefinitionError,
    CallbackSourceError,
    Kernel,
    extract_source,
)

KernelFactory = Callable[..., Kernel]


def function_from(kernel: Kernel, name: str) -> Callable[..., object]:
    fn = kernel.namespace[name]
    assert callable(fn)
    return fn


def test_the_source_of_a_decorated_cell_function_comes_without_its_decorators(
    kernel: Kernel,
) -> None:
    kernel.evaluate(
        "def on_beat(n):\n"
        "    return lambda fn: fn\n"
        "x = 1\n"
        "@on_beat(4)\n"
        "@on_beat(8)\n"
        "def kick(beat):\n"
        "    # a comment\n"
        "    return beat * 2\n"
        "y = 2\n",
        timeout=5,
    )
    assert extract_source(function_from(kernel, "kick")) == (
        "def kick(beat):\n    # a comment\n    return beat * 2\n"
    )


def test_async_functions_and_methods_are_dedented(kernel: Kernel) -> None:
    kernel.evaluate(
        "class Rig:\n"
        "    async def hit(self, beat):\n"
        "        return beat\n"
        "hit = Rig.hit\n"
        "async def fill(beat):\n"
        "    return beat\n",
        timeout=5,
    )
    assert extract_source(function_from(kernel, "hit")) == (
        "async def hit(self, beat):\n    return beat\n"
    )
    assert extract_source(function_from(kernel, "fill")).startswith("async def fill(beat):\n")


def test_the_right_definition_is_found_when_a_name_is_redefined(kernel: Kernel) -> None:
    kernel.evaluate("def f():\n    return 'old'\n", timeout=5)
    old = function_from(kernel, "f")
    kernel.evaluate("def f():\n    return 'new'\n", timeout=5)
    assert "'old'" in extract_source(old)
    assert "'new'" in extract_source(function_from(kernel, "f"))


def test_functions_from_real_files_work_too() -> None:
    assert extract_source(function_from_module()).startswith("def function_from_module")


def function_from_module() -> Callable[..., object]:
    return function_from_module


def test_lambdas_are_rejected_with_a_clear_message(kernel: Kernel) -> None:
    kernel.evaluate("f = lambda beat: beat", timeout=5)
    with pytest.raises(CallbackSourceError, match="lambda"):
        extract_source(function_from(kernel, "f"))


def test_builtins_are_rejected() -> None:
    with pytest.raises(CallbackSourceError, match="not a Python function"):
        extract_source(len)


def test_closures_over_local_variables_are_rejected(kernel: Kernel) -> None:
    kernel.evaluate(
        "def make():\n    step = 4\n    def inner(beat):\n        return beat % step\n"
        "    return inner\nf = make()",
        timeout=5,
    )
    with pytest.raises(CallbackSourceError, match="step"):
        extract_source(function_from(kernel, "f"))


def test_define_callback_defines_the_function_in_the_namespace(kernel: Kernel) -> None:
    kernel.evaluate("hits = []", timeout=5)
    source = "def on_kick(beat):\n    hits.append(beat)\n    print('kick', beat)\n"
    fn = kernel.define_callback("on_kick", source)
    assert kernel.namespace["on_kick"] is fn
    outcome = kernel.call(fn, 16, timeout=5)
    assert outcome.status == "ok"
    assert outcome.stdout == "kick 16\n"
    assert kernel.namespace["hits"] == [16]


def test_a_redefined_callback_round_trips_through_extract_source(kernel: Kernel) -> None:
    source = "async def on_drop(marker):\n    return marker.upper()\n"
    fn = kernel.define_callback("on_drop", source)
    assert extract_source(fn) == source
    assert kernel.call(fn, "drop", timeout=5).value_repr == "'DROP'"


def test_a_callback_error_traceback_shows_the_callback_source(kernel: Kernel) -> None:
    fn = kernel.define_callback("bad", "def bad():\n    return missing_name\n")
    outcome = kernel.call(fn, timeout=5)
    assert outcome.error is not None
    assert "<callback-1-bad>" in outcome.error.traceback
    assert "return missing_name" in outcome.error.traceback


def test_stored_decorators_are_dropped_when_redefining(kernel: Kernel) -> None:
    kernel.evaluate(
        "registered = []\ndef rule(fn):\n    registered.append(fn)\n    return fn", timeout=5
    )
    kernel.define_callback("f", "@rule\ndef f():\n    return 1\n")
    assert kernel.namespace["registered"] == []


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("def on_kick(beat):\n    return (\n", "does not parse"),
        ("def other(beat):\n    return beat\n", "defines 'other' instead"),
        ("x = 1\ndef on_kick(beat):\n    return beat\n", "exactly one function definition"),
        ("", "exactly one function definition"),
        ("def on_kick(beat=undefined_default):\n    return beat\n", "NameError"),
        ("def on_kick(beat):\n    return await beat\n", "does not compile"),
    ],
)
def test_source_that_does_not_define_the_name_cleanly_raises(
    kernel: Kernel, source: str, match: str
) -> None:
    with pytest.raises(CallbackDefinitionError, match=match):
        kernel.define_callback("on_kick", source)


def test_source_extracted_from_a_cell_can_define_the_callback_in_a_fresh_kernel(
    make_kernel: KernelFactory,
) -> None:
    first = make_kernel()
    first.evaluate(
        textwrap.dedent(
            """
            def every(n):
                return lambda fn: fn

            @every(4)
            def pulse(beat):
                return f"pulse {beat}"
            """
        ),
        timeout=5,
    )
    stored = extract_source(function_from(first, "pulse"))
    second = make_kernel()
    fn = second.define_callback("pulse", stored)
    assert second.call(fn, 8, timeout=5).value_repr == "'pulse 8'"
