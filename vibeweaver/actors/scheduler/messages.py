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
