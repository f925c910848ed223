"""Compiling a cell once (trailing expression, top-level await) and registering its source.

A cell that awaits a call of a function marked not awaitable (`mark_not_awaitable`: the DSL's
`play()`, `tempo()`, ...) is refused before any of it runs (`check_awaits`): such a function acts
when called, so `await play()` would move the transport and only then fail on the await.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any, TypeVar

RESULT_NAME = "__vibeweaver_result__"
"""The hidden global the trailing expression's value is assigned to."""

NOT_AWAITABLE_ATTR = "__vibeweaver_not_awaitable__"
"""Set (True) on a function whose call must not be awaited (see `mark_not_awaitable`)."""

F = TypeVar("F", bound=Callable[..., Any])

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


def mark_not_awaitable(fn: F) -> F:
    """Mark `fn`: a cell that writes `await fn(...)` at its top level is refused before it runs."""
    setattr(fn, NOT_AWAITABLE_ATTR, True)
    return fn


@dataclass(frozen=True, slots=True)
class AwaitedCall:
    """`await name(...)` or `await mod.name(...)` at a cell's top level."""

    line: int
    path: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class CompiledCell:
    filename: str
    code: CodeType
    has_expression: bool
    is_async: bool
    """The code uses top-level await: evaluating it returns a coroutine to await."""
    awaited_calls: tuple[AwaitedCall, ...] = ()
    """Top-level awaits of a call of a name the cell itself does not bind (see check_awaits)."""


def check_awaits(cell: CompiledCell, namespace: Mapping[str, object]) -> None:
    """Raise TypeError if the cell awaits a call of a function marked not awaitable (before the
    cell runs, so nothing of it happens)."""
    for awaited in cell.awaited_calls:
        target: object = namespace.get(awaited.path[0])
        for attr in awaited.path[1:]:
            target = getattr(target, attr, None)
        if getattr(target, NOT_AWAITABLE_ATTR, False) is True:
            name = ".".join(awaited.path)
            raise TypeError(
                f"line {awaited.line}: `{awaited.text}`: {name}() is not awaitable (it acts as "
                f"soon as it is called and returns its result); write it without `await`. "
                "Nothing in this cell ran."
            )


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
        # the two new nodes take the expression's position (no walk of the whole tree)
        target = ast.copy_location(ast.Name(id=RESULT_NAME, ctx=ast.Store()), last)
        tree.body[-1] = ast.copy_location(ast.Assign(targets=[target], value=last.value), last)
    # dont_inherit: this module's own __future__ imports must not leak into user code.
    code = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    is_async = bool(code.co_flags & inspect.CO_COROUTINE)
    return CompiledCell(
        filename=filename,
        code=code,
        has_expression=has_expression,
        is_async=is_async,
        awaited_calls=_awaited_calls(tree, source) if is_async else (),
    )


def _top_level(tree: ast.Module) -> Iterator[ast.AST]:
    """The nodes that run when the cell runs (not the bodies of functions, lambdas, classes)."""
    stack: list[ast.AST] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _awaited_calls(tree: ast.Module, source: str) -> tuple[AwaitedCall, ...]:
    nodes = list(_top_level(tree))
    bound: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    found: list[AwaitedCall] = []
    for node in nodes:
        if not isinstance(node, ast.Await) or not isinstance(node.value, ast.Call):
            continue
        path = _dotted(node.value.func)
        if path is None or path[0] in bound:
            continue
        text = ast.get_source_segment(source, node) or f"await {'.'.join(path)}(...)"
        found.append(AwaitedCall(line=node.lineno, path=path, text=text))
    return tuple(found)


def _dotted(node: ast.expr) -> tuple[str, ...] | None:
    """`play` → ("play",), `vibeweaver.play` → ("vibeweaver", "play"); None for anything else."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else (*head, node.attr)
    return None
