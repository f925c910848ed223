"""What hootenanny's broadcasts mean to the RuleScheduler, and what rule events mean to callbacks.

Plain code: the hub sink (run on the gateway's IO thread) that stamps and tells the broadcasts the
scheduler reacts to; the transport state a broadcast reports; the rule event (`MarkerHit`,
`ArtifactSeen`, `JobFinished`) a broadcast stands for; and the arguments a callback rule receives
for an event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from structlog.typing import FilteringBoundLogger

from vibeweaver.actors.scheduler import messages as m
from vibeweaver.actors.system import ActorHandle
from vibeweaver.scheduling.rules import (
    ArtifactSeen,
    BeatCrossed,
    Event,
    JobFinished,
    MarkerHit,
    TransportChanged,
)
from vibeweaver.types import ArtifactId, JobId, TransportState
from vibeweaver.wire.broadcasts import (
    ArtifactCreated,
    BeatTick,
    JobStateChanged,
    MarkerReached,
    TransportStateChanged,
)

__all__ = [
    "FINAL_JOB_STATES",
    "HUB_EVENTS",
    "HUB_SUBSCRIBER",
    "callback_args",
    "make_sink",
    "rule_event",
    "transport_state",
]

HUB_SUBSCRIBER = "scheduler"
"""The scheduler's stable hub subscription name (a restarted incarnation replaces the sink)."""
HUB_EVENTS = (TransportStateChanged, BeatTick, MarkerReached, ArtifactCreated, JobStateChanged)
"""The broadcasts the scheduler reacts to."""
FINAL_JOB_STATES = frozenset({"complete", "failed", "cancelled"})
LOGGED_STATE_CHARS = 64
"""How much of an unknown transport state a warning quotes."""


class SchedulerSink:
    """The hub sink (gateway IO thread): stamp the arrival, tell, never block. A burst of
    broadcasts from one poll round becomes one `HubEvents` message (`many`)."""

    __slots__ = ("clock", "me")

    def __init__(self, me: ActorHandle, clock: Callable[[], float]) -> None:
        self.me = me
        self.clock = clock

    def __call__(self, event: Any) -> None:
        if isinstance(event, HUB_EVENTS):
            self.me.tell(m.HubEvent(event=event, received_at=self.clock()))

    def many(self, events: Sequence[Any]) -> None:
        wanted = tuple(event for event in events if isinstance(event, HUB_EVENTS))
        if len(wanted) == 1:
            self.me.tell(m.HubEvent(event=wanted[0], received_at=self.clock()))
        elif wanted:
            self.me.tell(m.HubEvents(events=wanted, received_at=self.clock()))


def make_sink(me: ActorHandle, clock: Callable[[], float]) -> SchedulerSink:
    """The scheduler's hub sink."""
    return SchedulerSink(me, clock)


def transport_state(
    event: TransportStateChanged | BeatTick, log: FilteringBoundLogger
) -> TransportState | None:
    """The transport state a position broadcast reports (None, logged, if unknown)."""
    if isinstance(event, BeatTick):
        return TransportState.PLAYING
    try:
        return TransportState.parse(event.state)
    except ValueError:
        state = event.state
        if len(state) > LOGGED_STATE_CHARS:  # a megabyte of peer text is no log line
            state = state[:LOGGED_STATE_CHARS] + "…"
        log.warning("transport_state_unknown", state=state, state_chars=len(event.state))
        return None


def rule_event(event: Any) -> Event | None:
    """The rule event a marker, artifact or job broadcast stands for (None for the others)."""
    match event:
        case MarkerReached():
            return MarkerHit(name=event.marker_type, beat=event.position_beats)
        case ArtifactCreated():
            return ArtifactSeen(artifact_id=ArtifactId(event.artifact_id), tags=tuple(event.tags))
        case JobStateChanged() if event.state in FINAL_JOB_STATES:
            return JobFinished(job_id=JobId(event.job_id), state=event.state)
    return None


def callback_args(event: Event) -> tuple[object, ...]:
    """What a callback rule receives (see the DSL decorators): fn(beat), fn(name),
    fn(artifact_id, tags), fn(job_id, state), fn(state)."""
    match event:
        case BeatCrossed(beat=beat):
            return (beat,)
        case MarkerHit(name=name):
            return (name,)
        case ArtifactSeen(artifact_id=artifact_id, tags=tags):
            return (artifact_id, list(tags))
        case JobFinished(job_id=job_id, state=state):
            return (job_id, state)
        case TransportChanged(state=state):
            return (state.value,)
    return ()  # pragma: no cover
