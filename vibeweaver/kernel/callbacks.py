"""Callbacks as data: recover a function's own source, and define it again from stored source."""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from types import CodeType
from typing import TYPE_CHECKING

from vibeweaver.errors import VibeweaverError
from vibeweaver.kernel.cell import display_filename

if TYPE_CHECKING:
    from collections.abc import Callable


class CallbackSourceError(VibeweaverError):
    """The source of a function cannot be recovered, so it cannot become a stored callback."""


class CallbackDefinitionError(VibeweaverError):
    """Stored callback source does not (or no longer) define the named function cleanly."""


_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _first_line(node: _FunctionNode) -> int:
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def extract_source(fn: Callable[..., object]) -> str:
    """The source of `fn` itself: its `def` through the end of its body, decorators removed,
    dedented, ending with a newline.

    Works for functions defined in a cell (their source is registered in linecache under the cell's
    pseudo-filename) and in files. Raises CallbackSourceError for lambdas, builtins, closures over
    local variables and functions whose source is gone.
    """
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    if not isinstance(code, CodeType):
        raise CallbackSourceError(
            f"{fn!r} is not a Python function (builtins and C functions have no source to store)"
        )
    name: str = getattr(target, "__name__", "?")
    if name == "<lambda>":
        raise CallbackSourceError(
            "a lambda cannot be a stored callback: its source is not a statement of its own; "
            "use a def at the top level of a cell"
        )
    if code.co_freevars:
        names = ", ".join(code.co_freevars)
        raise CallbackSourceError(
            f"{name}() uses variables of an enclosing function ({names}); those are lost on "
            "restart. Define it at the top level of a cell and use globals instead"
        )
    where = display_filename(code.co_filename)
    module_globals = getattr(target, "__globals__", None)
    lines = linecache.getlines(code.co_filename, module_globals)
    if not lines:
        raise CallbackSourceError(f"the source of {name}() is not available (from {where})")
    source = "".join(lines)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise CallbackSourceError(f"the source file of {name}() ({where}) does not parse") from exc
    for node in ast.walk(tree):
        if (
            isinstance(node, _FunctionNode)
            and node.name == name
            and _first_line(node) == code.co_firstlineno
        ):
            segment = ast.get_source_segment(source, node, padded=True)
            if segment is None:
                break
            return textwrap.dedent(segment).rstrip() + "\n"
    raise CallbackSourceError(
        f"the definition of {name}() was not found in {where} (was the source changed?)"
    )


def compile_callback(name: str, source: str, filename: str) -> CodeType:
    """Compile stored callback source after checking it is exactly one `def name(...)`.

    Decorators, if any were stored, are dropped: running them again would register the rule twice.
    """
    try:
        tree = ast.parse(source, filename=filename, mode="exec")
    except SyntaxError as exc:
        raise CallbackDefinitionError(
            f"callback {name!r}: its stored source does not parse: {exc.msg} (line {exc.lineno})"
        ) from exc
    defs = [node for node in tree.body if isinstance(node, _FunctionNode)]
    if len(tree.body) != 1 or len(defs) != 1:
        found = ", ".join(type(node).__name__ for node in tree.body) or "nothing"
        raise CallbackDefinitionError(
            f"callback {name!r}: its stored source must be exactly one function definition "
            f"(found: {found})"
        )
    node = defs[0]
    if node.name != name:
        raise CallbackDefinitionError(
            f"callback {name!r}: its stored source defines {node.name!r} instead"
        )
    node.decorator_list = []
    try:
        return compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CallbackDefinitionError(
            f"callback {name!r}: its stored source does not compile: {exc.msg} (line {exc.lineno})"
        ) from exc
