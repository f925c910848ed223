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
    last_used_at: str | None = None
    """When the session was last entered or worked in (None: never, in this schema version)."""


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactRecord:
    """A row of `artifacts`: something hootenanny stored, as a session's kernel saw it."""

    id: str
    session_id: SessionId
    space: str | None = None
    prompt: str | None = None
    tags: tuple[str, ...] = ()
    job_id: str | None = None
    creator: str | None = None
    content_hash: str | None = None
    created_at: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationJobRecord:
    """A row of `jobs`: one generation job of a session's kernel.

    `id` is the kernel's own key for the job (hootenanny names it, `job_id`, only once it
    started); `state` is "pending" (sent, not named yet), "running", "complete" or "failed";
    times are ISO-8601 UTC."""

    id: str
    session_id: SessionId
    state: str
    job_id: str | None = None
    space: str | None = None
    prompt: str | None = None
    tags: tuple[str, ...] = ()
    origin: str = "sample"
    artifact_id: str | None = None
    error: str | None = None
    created_at: str = ""
    finished_at: str | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleGroup:
    """Rules of a session that share trigger and action (the summary's grouped lines)."""

    trigger_type: str
    trigger_params: str
    action_type: str
    callback: str | None
    """The callback's name for callback rules (they group by it)."""
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOverview:
    """What the summary shows of a session's rules without loading all of them: the rules
    themselves when there are few, else counts and the largest groups."""

    active: int
    disabled: int
    active_rules: tuple[RuleRecord, ...]
    """Every active rule when `active` is at most the listing limit, else empty."""
    active_groups: tuple[RuleGroup, ...]
    """The largest groups of active rules (when they are not listed one by one)."""
    active_group_count: int
    active_by_trigger: tuple[tuple[str, int], ...]
    disabled_rules: tuple[RuleRecord, ...]
    """The first disabled rules, in creation order (they carry the reason they were disabled)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryData:
    """Everything the session summary reads from the store, in one ask (SPEC §4.5)."""

    session: SessionRecord
    other_sessions: tuple[SessionRecord, ...]
    """The most recently used other sessions (a few), newest first."""
    other_session_count: int
    rules: RuleOverview
    markers: tuple[MarkerRecord, ...]
    """The first markers by beat (a few)."""
    marker_count: int
    actions: tuple[HistoryRecord, ...]
    """The newest history entries that are actions (not echoes: successful evals and callback
    output), oldest first."""
    last_eval: HistoryRecord | None
    history_count: int
