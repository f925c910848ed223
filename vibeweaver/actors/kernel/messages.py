"""The KernelActor's messages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.persistence.records import RuleRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluate:
    """Run a cell in the persistent namespace; the reply is an `EvalOutcome`.

    `take_notifications`: also take the current session's `Notify` messages from the scheduler
    once the kernel answered (after everything the cell told the scheduler), in parallel with
    the store's flush; they come back in the outcome's `notifications` (an agent's eval result)."""

    code: str
    timeout_s: float
    take_notifications: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetKernel:
    """Clear user names, callbacks and pending futures; `clear_session` also deletes the
    session's rules, markers and history."""

    clear_session: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetResult:
    reset: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetKernelStatus:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelStatus:
    execution_count: int
    user_names: int
    last_outcome: EvalOutcome | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DefineCallbacks:
    """Define a batch of the session's stored callbacks (told by the KernelActor to itself, so a
    start or a session switch with many rules does not wait for all of them, and evals run in
    between); one that no longer defines cleanly is disabled with the reason."""

    session_id: str
    rules: tuple[RuleRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCallback:
    """Run a rule's Python callback on the eval thread (told by the RuleScheduler).

    `args` are the plain values the callback receives (the beat number, the marker name, ...).
    The kernel uses the callable defined in this session, re-defining it from `source` if needed
    (after a restart or a `weave_reset`)."""

    rule_id: str
    name: str
    source: str
    args: tuple[object, ...] = ()
    timeout_s: float = 5.0
    sent_at: float = field(default_factory=time.monotonic)
    """When the scheduler sent it (CLOCK_MONOTONIC, the same in every process): the kernel
    records each callback's lateness from it."""
