"""Everything the DeadlinePlanner knows, as one object a crashed incarnation hands to the next.

Plain data owned by the planner actor (touched only on its thread): the planning core
(`vibeweaver.scheduling.DeadlinePlanner`, which reads deadlines through the mirrored clock), the
specs of pending and running latents, the attempt tokens of running jobs, the forced (materialized)
jobs, what was reported late, the watchers, and the outcomes remembered for late watchers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vibeweaver.actors.planner import messages as m
from vibeweaver.scheduling import deadlines as planning
from vibeweaver.scheduling.clock import TransportClock
from vibeweaver.types import RuleId, SessionId

__all__ = ["MAX_OUTCOMES", "PlannerState", "Watcher"]

MAX_OUTCOMES = 256
"""Ended latents remembered for late `WatchLatent` calls."""

Watcher = Callable[[m.LatentCompleted], None]


@dataclass(slots=True)
class PlannerState:
    """Everything the planner knows; one object so a crash can hand it over whole."""

    planner: planning.DeadlinePlanner
    mirror: TransportClock
    session_id: SessionId | None = None
    specs: dict[RuleId, m.LatentSpec] = field(default_factory=dict)
    """Pending and running latents (planned and forced)."""
    tokens: dict[RuleId, int] = field(default_factory=dict)
    """The attempt of each running job; a GenerationDone with another token is stale."""
    forced_queue: list[RuleId] = field(default_factory=list)
    forced_running: dict[RuleId, float] = field(default_factory=dict)
    started_late: set[RuleId] = field(default_factory=set)
    reported: set[RuleId] = field(default_factory=set)
    watchers: dict[RuleId, list[Watcher]] = field(default_factory=dict)
    start_watchers: dict[RuleId, list[Callable[[], None]]] = field(default_factory=dict)
    """`WatchLatent.on_started` hooks of latents not started yet (called and dropped at start)."""
    outcomes: OrderedDict[RuleId, m.LatentCompleted] = field(default_factory=OrderedDict)
    next_token: int = 0

    @classmethod
    def new(
        cls,
        *,
        stats: Iterable[planning.GenerationStats],
        now: float,
        capacity: int,
        default_estimate_ms: float,
        idle_lookahead_s: float | None,
    ) -> PlannerState:
        """A fresh state whose planning core reads deadlines through this state's mirror (so a
        new mirror set later is the one it reads)."""
        holder: list[PlannerState] = []

        def time_of(beat: float) -> float | None:
            return holder[0].mirror.try_time_of(beat)

        planner = planning.DeadlinePlanner(
            time_of=time_of,
            capacity=capacity,
            default_estimate_ms=default_estimate_ms,
            idle_lookahead_s=idle_lookahead_s,
            stats=list(stats),
        )
        state = cls(planner=planner, mirror=TransportClock(t=now))
        holder.append(state)
        return state

    def free(self, capacity: int) -> int:
        """Units of capacity not taken by a planned or a forced running job."""
        return capacity - len(self.planner.running()) - len(self.forced_running)

    def next_token_for(self, rule_id: RuleId) -> int:
        """A new attempt token for the job of `rule_id` (now running)."""
        self.next_token += 1
        self.tokens[rule_id] = self.next_token
        return self.next_token

    def remember(self, completed: m.LatentCompleted) -> list[Watcher]:
        """Keep the outcome for late watchers (the newest MAX_OUTCOMES); returns the watchers
        waiting for it, now removed."""
        self.outcomes[completed.rule_id] = completed
        while len(self.outcomes) > MAX_OUTCOMES:
            self.outcomes.popitem(last=False)
        self.start_watchers.pop(completed.rule_id, None)
        return self.watchers.pop(completed.rule_id, [])
