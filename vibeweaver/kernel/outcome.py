"""Result types of the kernel: what one evaluation or one callback call produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

Status: TypeAlias = Literal["ok", "error", "timeout"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """A Python error as an agent sees it.

    `traceback` holds user frames only (cells, callbacks, workspace modules), each with its source
    line, no ANSI codes, and ends with `Type: message`.
    """

    type: str
    message: str
    traceback: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalOutcome:
    """What one `Kernel.evaluate` produced; never raised, always returned."""

    status: Status
    execution_count: int
    result: str | None
    """repr of the trailing expression (capped); None without one or when its value is None."""
    has_expression: bool
    """The cell ended with an expression statement."""
    stdout: str
    stderr: str
    error: ErrorInfo | None
    duration_ms: float
    notifications: tuple[str, ...] = ()
    """Set by the service, never by the kernel: see `Evaluate.take_notifications`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOutcome:
    """What one `Kernel.call` (a rule callback run on the eval thread) produced."""

    status: Status
    value_repr: str | None
    """repr of the returned (or awaited) value (capped); None when the value is None."""
    stdout: str
    stderr: str
    error: ErrorInfo | None
    duration_ms: float
