"""The RuleScheduler's messages.

Asked by the DSL and the tool service: `SwitchSession`, `MoveTransport`, `GetClock`,
`GetSchedulerStatus`. Asked by the kernel: `RestoreTransport` (a kernel snapshot's clock) and
`GetClock`. Told by the DSL and the kernel: `RuleSaved`, `RuleDeleted`, `MarkerPlaced`,
`MarkersChanged`. Told by
the DSL and relayed to the DeadlinePlanner: its `WatchLatent` and `MaterializeLatent` (see there).
Told by its own parts: `Tick` (its wake timer), `HubEvent` (its hub sink), `ActionDone` (a
generation or tool call it started). Told by the DeadlinePlanner: `PlannerStarted`,
`LatentFinished`, `AddNote`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibeweaver.persistence.records import RuleRecord
from vibeweaver.scheduling.clock import (
    ClockSnapshot as ClockSnapshot,
)  # re-exported: GetClock replies it
from vibeweaver.types import RuleId, SessionId

if TYPE_CHECKING:
    from vibeweaver.actors.planner.messages import LatentCompleted


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchSession:
    """Drop the current rules and load the given session's rules from the store."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSaved:
    """A rule was created or changed in the store (tell)."""

    rule: RuleRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleDeleted:
    """A rule was deleted from the store (tell)."""

    rule_id: RuleId


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSchedulerStatus:
    """Ask for a `SchedulerStatus`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeNotifications:
    """Ask for the Notify messages of the current session since the last ask (and forget them):
    the next weave_eval result carries them. Replies a tuple of str."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerStatus:
    session_id: SessionId | None
    rules: int
    enabled_rules: int
    rules_by_trigger: tuple[tuple[str, int], ...]
    clock_state: str | None = None
    clock_beat: float = 0.0
    notes: tuple[str, ...] = ()
    """Recent Notify messages and deadline reports, newest last."""
    lateness: str | None = None
    """A one-line summary of beat-trigger lateness (p50/p99), when measured."""
    tempo_bpm: float | None = None
    lateness_count: int = 0
    lateness_p50_ms: float | None = None
    lateness_p99_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveTransport:
    """Move the session's logical clock (and forward to hootenanny when connected).

    `action` is one of "play", "pause", "stop", "seek" (needs `beat`), "tempo" (needs `bpm`).
    The reply is the new `ClockSnapshot`; a bad value raises a VibeweaverError naming it.
    """

    action: str
    beat: float | None = None
    bpm: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetClock:
    """Ask for the current `ClockSnapshot`: of the current session, or of `session_id` when its
    clock is known (a session left earlier; the kernel snapshots it after a switch)."""

    session_id: SessionId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreTransport:
    """Put a session's clock where a kernel snapshot left it (asked by the kernel at start and
    when a session is entered). `state` is "paused" or "stopped" (a clock captured while playing
    comes back paused, see `vibeweaver.snapshots`). Applied only to a clock nothing has moved in
    this process yet (no MoveTransport, no rule action, no hootenanny broadcast, no earlier
    restore): a live clock knows better than a snapshot. Never forwarded to hootenanny and fires
    no rule (it is a state load, not a transport change). The reply is a `TransportRestored`."""

    session_id: SessionId
    state: str
    beat: float
    tempo_bpm: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportRestored:
    applied: bool
    reason: str | None
    """Why not applied (None when applied)."""
    clock: ClockSnapshot | None
    """The session's clock after the request (None if the session's clock is unknown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkersChanged:
    """The session's markers changed in ways not told one by one: re-read them all (tell)."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkerPlaced:
    """The marker `name` of the session was placed at (or moved to) `beat` (tell, from marker())."""

    session_id: SessionId
    name: str
    beat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadRules:
    """Index the next batch of the session's stored rules (told by the scheduler to itself, so a
    session with many rules does not hold up the start; events wait until the last batch)."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """The scheduler's wake timer: a beat or a marker may be due now (tell, from its own thread)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HubEvent:
    """A hootenanny broadcast the scheduler reacts to, with the moment its sink received it (in
    the scheduler's time source), so a re-anchor uses the arrival time, not the handling time."""

    event: Any
    received_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HubEvents:
    """Several broadcasts that arrived in one poll round of the gateway, in order (one message
    for a burst instead of one per broadcast)."""

    events: tuple[Any, ...]
    received_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionDone:
    """A generation or tool call started by a rule's action ended (tell, from another thread)."""

    rule_id: RuleId
    action: str
    """What was done, as history shows it: `sample(orpheus_loops, "kick")`, `schedule(x, at=0)`."""
    ok: bool
    detail: str | None = None
    """The artifact id or region id on success, the error on failure."""
    artifact_id: str | None = None
    schedule_at: float | None = None
    """For SampleAndSchedule: where to place the artifact once it exists."""
    schedule_duration: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannerStarted:
    """The DeadlinePlanner (re)started: send it the pending latents and the clock (tell)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LatentFinished:
    """A latent job's generation ended (complete, failed) or was abandoned (tell, from the
    planner): count the Deadline rule as fired and report what needs reporting."""

    latent: LatentCompleted


@dataclass(frozen=True, slots=True, kw_only=True)
class AddNote:
    """Show `text` in the session summary's notifications (tell; the planner's reports): of
    `session_id` (default: the current session), replacing the note with the same `key`."""

    text: str
    session_id: SessionId | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockChanged:
    """Published on the hub whenever the current clock's epoch changes (its session, state,
    tempo or phase; see the scheduler's `_epoch`), before the stats that show the new epoch: the
    kernel keeps the latest one and reads `beat`/`transport` from it without asking."""

    session_id: SessionId
    epoch: tuple[int, int]
    clock: ClockSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportMoved:
    """Published on the hub (an event, not a command) after the scheduler moved a session's clock
    (`action`: play/pause/stop/seek/tempo, by the DSL or a rule) or adopted a new state or tempo
    from a hootenanny broadcast ("broadcast"): the kernel snapshots the transport at once."""

    session_id: SessionId
    action: str
