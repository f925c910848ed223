"""The RuleScheduler's messages."""

from __future__ import annotations

from dataclasses import dataclass

from vibeweaver.persistence.records import RuleRecord
from vibeweaver.types import RuleId, SessionId


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
    pass


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
    """Ask for the current `ClockSnapshot`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSnapshot:
    """The clock's anchor at `anchor_time` (monotonic seconds of this process) plus the position
    computed at `taken_at`; readers compute later positions from the anchor."""

    state: str
    tempo_bpm: float
    anchor_time: float
    anchor_beat: float
    taken_at: float
    position: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkersChanged:
    """The session's markers were created, moved or deleted: re-read them (tell)."""

    session_id: SessionId
