"""The DeadlinePlanner's messages.

Asked by the tool service and tests: `GetPlannerStatus`. Told by the RuleScheduler, which owns the
Deadline rules and the clock: `SyncLatents`, `PlanLatent`, `CancelLatent`, `ClockMoved`; and
`MaterializeLatent`, `WatchLatent`, which the DSL (`vibeweaver.dsl.latent`) sends through the
scheduler so they arrive after the `PlanLatent` of the latent they name. Told by its own parts:
`PlannerTick` (its wake timer), `GenerationDone` (the generation layer's callback).

`LatentCompleted` is not a command but an event: the planner publishes it on the hub, hands it to
`WatchLatent` callbacks and sends it to the scheduler inside `LatentFinished`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vibeweaver.scheduling.clock import ClockSnapshot
from vibeweaver.scheduling.rules import InferenceParams
from vibeweaver.types import Priority, RuleId, SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class LatentSpec:
    """A pending Deadline rule as the planner sees it: `space`/`prompt` done by `deadline_beat`."""

    rule_id: RuleId
    session_id: SessionId
    space: str
    prompt: str | None
    deadline_beat: float
    priority: Priority = Priority.NORMAL
    inference: InferenceParams = ()
    order: int = 0
    """Creation order (the rule's seq): breaks ties between otherwise equal jobs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLatents:
    """The complete set of pending latents of `session_id` and the clock: pending jobs not listed
    are dropped (running ones finish), listed ones not yet known are planned."""

    session_id: SessionId
    latents: tuple[LatentSpec, ...]
    clock: ClockSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanLatent:
    """A new pending Deadline rule (idempotent: an already known rule id is ignored)."""

    latent: LatentSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelLatent:
    """The Deadline rule was deleted or disabled: forget its job (a running generation's result is
    then ignored); watchers get a "cancelled" LatentCompleted."""

    rule_id: RuleId
    reason: str = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockMoved:
    """The session's logical clock has a new anchor (every move and re-anchor)."""

    clock: ClockSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializeLatent:
    """Start this latent now, ahead of its plan and of every planned job, as soon as a unit of
    capacity is free (`LatentRef.materialize()`)."""

    rule_id: RuleId


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchLatent:
    """Call `callback(LatentCompleted)` once when the latent ends (at once if it already ended,
    or if the planner does not know it: then with state "unknown"), and `on_started()` once when
    its generation starts (at once if it runs already; never if it ends without starting). Both
    run on the planner's thread and must not block (hand them to a loop with
    `call_soon_threadsafe`)."""

    rule_id: RuleId
    callback: Callable[[LatentCompleted], None]
    on_started: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannerTick:
    """The planner's wake timer: a planned start may have come."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationDone:
    """The generation layer reported the end of the job started for `rule_id` (attempt `token`)."""

    rule_id: RuleId
    token: int
    outcome: Any
    """A `GenerationOutcome` (see `vibeweaver.actors.scheduler.ports.GenerationOutcomeLike`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LatentCompleted:
    """A latent ended: state "complete", "failed", "cancelled" or "unknown" (see WatchLatent)."""

    rule_id: RuleId
    session_id: SessionId | None
    space: str
    prompt: str | None
    deadline_beat: float
    state: str
    artifact_id: str | None = None
    job_id: str | None = None
    error: str | None = None
    duration_ms: float | None = None
    finished_beat: float | None = None
    """Where the transport was when the job ended."""
    late: bool = False
    """The job ended after its deadline beat had passed."""
    started_late: bool = False
    """The job was started after its latest start (expected to miss; reported at the start)."""

    @property
    def ok(self) -> bool:
        return self.state == "complete"

    @classmethod
    def unknown(cls, rule_id: RuleId, session_id: SessionId | None, error: str) -> LatentCompleted:
        """What a watcher of a latent nobody can account for gets (state "unknown")."""
        return cls(
            rule_id=rule_id,
            session_id=session_id,
            space="?",
            prompt=None,
            deadline_beat=math.nan,
            state="unknown",
            error=error,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPlannerStatus:
    """Ask for a `PlannerStatus`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LatentStatus:
    """One pending or running latent in a PlannerStatus."""

    rule_id: RuleId
    space: str
    deadline_beat: float
    priority: Priority
    state: str
    """"pending" or "running"."""
    planned_start: float | None = None
    """Time-source seconds; None while the transport is not playing, or when running."""
    latest_start: float | None = None
    at_risk: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannerStatus:
    capacity: int
    spaces: tuple[tuple[str, int, float, float], ...]
    """(space, sample count, mean ms, p95 ms) per space with measured generation times."""
    latents: tuple[LatentStatus, ...] = ()
    session_id: SessionId | None = None
    next_wakeup: float | None = None
    """When the planner's timer is armed (time-source seconds)."""
    estimates_ms: tuple[tuple[str, float], ...] = ()
    """(space, the estimate a job of that space is planned with) for every space seen."""
