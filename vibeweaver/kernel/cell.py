"""Compiling a cell once (trailing expression, top-level await) and registering its source."""

from __future__ import annotations

import ast
import inspect
import linecache
import re
from dataclasses import dataclass
from types import CodeType

RESULT_NAME = "__vibeweaver_result__"
"""The hidden global the trailing expression's value is assigned to."""

_PSEUDO = re.compile(r"^<(?P<label>[^<>]*):(?P<token>[0-9a-f]{8})>$")


def pseudo_filename(label: str, token: str) -> str:
    """`<cell-3:1a2b3c4d>`: linecache is process-wide, so each Kernel tags its pseudo-files with
    its own 8-hex-digit token; two kernels' `cell-3` never overwrite each other."""
    return f"<{label}:{token}>"


def pseudo_token(filename: str) -> str | None:
    """The kernel token of a pseudo-filename, or None for anything else."""
    match = _PSEUDO.match(filename)
    return match.group("token") if match else None


def display_filename(filename: str) -> str:
    """What a user sees: `<cell-3>` for `<cell-3:1a2b3c4d>`; other names unchanged."""
    match = _PSEUDO.match(filename)
    return f"<{match.group('label')}>" if match else filename


@dataclass(frozen=True, slots=True)
class CompiledCell:
    filename: str
    code: CodeType
    has_expression: bool
    is_async: bool
    """The code uses top-level await: evaluating it returns a coroutine to await."""


def register_source(filename: str, source: str) -> None:
    """Put `source` in linecache under a pseudo-filename, so tracebacks show its lines and
    inspect.getsource works on what it defines. mtime None keeps checkcache from evicting it."""
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(source), None, lines, filename)


def forget_source(filename: str) -> None:
    linecache.cache.pop(filename, None)


def compile_cell(source: str, filename: str) -> CompiledCell:
    """Compile `source` once; raise SyntaxError (with filename and line) if it does not parse."""
    tree = ast.parse(source, filename=filename, mode="exec")
    has_expression = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    if has_expression:
        last = tree.body[-1]
        assert isinstance(last, ast.Expr)
        assign = ast.Assign(
            targets=[ast.Name(id=RESULT_NAME, ctx=ast.Store())],
            value=last.value,
        )
        tree.body[-1] = ast.copy_location(assign, last)
        ast.fix_missing_locations(tree)
    # dont_inherit: this module's own __future__ imports must not leak into user code.
    code = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    return CompiledCell(
        filename=filename,
        code=code,
        has_expression=has_expression,
        is_async=bool(code.co_flags & inspect.CO_COROUTINE),
    )
