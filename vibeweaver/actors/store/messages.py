"""The SessionStore's messages: commands, queries (`Get…`/`List…`) and their results."""

from __future__ import annotations

from dataclasses import dataclass

from vibeweaver.persistence.records import (
    ArtifactRecord,
    GenerationJobRecord,
    GenerationStatsRecord,
    RuleRecord,
)
from vibeweaver.types import RuleId, SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSession:
    """Return the session called `name`, creating it (with `vibe`) if missing."""

    name: str
    vibe: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSession:
    """The session a start opens, made current: `name`, or without one the session that was
    current when the service last ran (`default` on a new database)."""

    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UseSession:
    """The session became current (a switch): remember it for the next start, stamp its use."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimSession:
    """Make this process the session's owner before working in it (PostgreSQL: StoreError
    naming the owner if another process has it; a no-op on sqlite). Replies the SessionRecord."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSession:
    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class FindSession:
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSessions:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateSession:
    """Change a session's name, vibe or tempo (None leaves a field alone)."""

    session_id: SessionId
    name: str | None = None
    vibe: str | None = None
    tempo_bpm: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearSession:
    """Delete the session's rules, markers, history and snapshot (the session row stays)."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearSessionResult:
    rules: int
    markers: int
    history: int
    snapshots: int
    jobs: int = 0
    artifacts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveRule:
    """Insert or replace a rule; durable before the reply."""

    rule: RuleRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRule:
    rule_id: RuleId


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRules:
    session_id: SessionId | None = None
    enabled_callbacks: bool = False
    """Only the enabled callback rules (what a kernel defines)."""
    after: tuple[int, str] | None = None
    """A page: the rules after the one with this (seq, id), in creation order."""
    limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRuleEnabled:
    rule_id: RuleId
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRule:
    rule_id: RuleId


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordRuleFired:
    """A rule fired (tell; batched, persisted within about 0.2 s)."""

    rule_id: RuleId
    fired_at: str
    delete: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveMarker:
    session_id: SessionId
    name: str
    beat: float
    metadata: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteMarker:
    session_id: SessionId
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMarkers:
    session_id: SessionId


EVAL_ACTION = "eval"
"""The history action of a cell (`DslContext.record("eval", ...)` in the kernel): written at once,
and asked (its answer: written) by the kernel bridge; see `SessionStore.append_history`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendHistory:
    """Something happened in a session (tell; batched, persisted within about 0.2 s)."""

    session_id: SessionId
    action: str
    params: str | None = None
    result: str | None = None
    success: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRecentHistory:
    session_id: SessionId
    limit: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class GetHistory:
    """History rows newest first (see `Repository.history_page`)."""

    session_id: SessionId
    limit: int = 20
    kind: str | None = None
    before_id: int | None = None
    actions_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSummaryData:
    """Everything the session summary reads from the store (a `SummaryData`)."""

    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordMade:
    """Jobs and artifacts a kernel created or changed (tell; batched, persisted within about
    0.2 s, and before any read)."""

    jobs: tuple[GenerationJobRecord, ...] = ()
    artifacts: tuple[ArtifactRecord, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListJobs:
    """The session's newest `limit` jobs, oldest first."""

    session_id: SessionId
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ListArtifacts:
    """The session's newest `limit` artifacts, oldest first."""

    session_id: SessionId
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveSnapshot:
    session_id: SessionId
    state_capnp: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSnapshot:
    session_id: SessionId


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveGenerationStats:
    stats: GenerationStatsRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class ListGenerationStats:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Flush:
    """Write the batched firings and history now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Keepalive:
    """Check the PostgreSQL connection (tell, from the flush ticker): a server restart is noticed,
    and the sessions' locks taken again, within about a second, not at the next write."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetStoreInfo:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreInfo:
    url: str
    schema_version: int
    counts: tuple[tuple[str, int], ...]
    pending_writes: int
