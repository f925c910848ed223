"""Plain immutable records: what the SessionStore reads and writes, free of peewee objects.

Rows cross actor boundaries only as these records. JSON-shaped parameters are kept as JSON text so
a record stays hashable and immutable; the layers that own their meaning parse them.
"""

from __future__ import annotations

from dataclasses import dataclass

from vibeweaver.types import MarkerId, RuleId, SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A row of `sessions`."""

    id: SessionId
    name: str
    vibe: str | None
    tempo_bpm: float
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRecord:
    """A row of `rules`: a trigger + action pair; params are JSON objects as text."""

    id: RuleId
    session_id: SessionId
    trigger_type: str
    trigger_params: str
    action_type: str
    action_params: str
    priority: str = "normal"
    enabled: bool = True
    one_shot: bool = False
    fired_count: int = 0
    last_fired_at: str | None = None
    created_at: str = ""
    seq: int = 0
    """Creation order within the database (ties between equal priorities break on it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkerRecord:
    """A row of `markers`; metadata is JSON text or None."""

    id: MarkerId
    session_id: SessionId
    beat: float
    name: str
    metadata: str | None
    created_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRecord:
    """A row of `history`: one thing that happened in a session, for context restoration."""

    id: int
    session_id: SessionId
    action: str
    params: str | None
    result: str | None
    success: bool
    created_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotRecord:
    """A row of `kernel_snapshots`: the Cap'n Proto KernelState of a session."""

    session_id: SessionId
    state_capnp: bytes
    captured_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationStatsRecord:
    """A row of `generation_stats`: measured generation durations of one space."""

    space: str
    sample_count: int
    avg_duration_ms: float
    p95_duration_ms: float
    recent_durations_ms: tuple[float, ...]
    """The most recent durations (bounded window) from which the percentile is recomputed."""
    last_updated: str
