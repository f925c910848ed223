"""What the service and its kernel process say to each other over the kernel channel.

Service → kernel: `Setup` (first, once), `EvalRequest`, `StatusRequest`, `RunCallback`
(from `vibeweaver.actors.kernel.messages`), `Event` (hub events the kernel's DSL follows),
`Interrupt`, `Shutdown`, `Reply` (to a `Call`), `Invoke` (a callable the kernel sent, called by
the service: a link reply, a latent's end).

Kernel → service: `Hello` (first, once), `EvalReply`, `StatusReply`, `Call` (a DSL port call:
the store, the scheduler, the planner, the hootenanny link), `Reply` (to an `Invoke`-free ask),
`Invoke` (a callable the service sent), `Published` (figures for the admin view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.persistence.records import SessionRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    pid: int
    execution_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    """How the kernel is configured; sent once, right after `Hello`."""

    session: SessionRecord
    hootenanny_endpoint: str | None
    hootenanny_timeout: float
    generation_timeout: float
    generation_request_timeout: float | None
    workspace: str | None
    restored_after: str | None = None
    """Why this kernel replaces an earlier one (a death), or None for the first."""
    define_callbacks: bool = True
    """Define the session's callbacks at start (False after weave_reset: each is defined from
    its stored source when its rule next fires, so the reset namespace starts empty)."""
    snapshot_debounce_s: float = 2.0
    memory_limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalRequest:
    id: int
    code: str
    timeout_s: float
    clock_epoch: Any = None
    """The scheduler's published clock epoch when the cell was sent: the kernel's snapshot keeper
    tells from it whether the transport moved since its last snapshot, without asking."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalReply:
    id: int
    outcome: EvalOutcome
    session: SessionRecord
    """The session current after the cell (a cell may switch sessions)."""
    callbacks: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRequest:
    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReply:
    id: int
    execution_count: int
    user_names: int
    callbacks: int
    last_outcome: EvalOutcome | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    event: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Events:
    """The hub events of one burst (a poll round of the gateway's SUB), in order: one message,
    one signature and one send for all of them."""

    events: tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupt:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    """Save what must survive (the snapshot, the ledger), then exit."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """Call `method` of the service-side port `target` (`id` 0: nobody waits for the reply)."""

    id: int
    target: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    id: int
    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoke:
    """Call the callable the other side sent under `ref` with these arguments."""

    ref: int
    args: tuple[Any, ...] = ()
    once: bool = True
    """Forget the callable after this call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    values: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelLog:
    """A log line of the kernel process's own code, logged by the service (rate-limited)."""

    level: str
    event: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class StackRequest:
    """Where is the eval thread now? Answered by the kernel's channel thread, never queued."""

    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StackReply:
    id: int
    detail: dict[str, Any]
