"""StoreClient: typed asks and tells to the SessionStore, each ask with a timeout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vibeweaver.actors.store import messages as m
from vibeweaver.persistence.records import (
    ArtifactRecord,
    GenerationJobRecord,
    GenerationStatsRecord,
    HistoryRecord,
    MarkerRecord,
    RuleRecord,
    SessionRecord,
    SnapshotRecord,
    SummaryData,
)
from vibeweaver.types import RuleId, SessionId

if TYPE_CHECKING:
    from vibeweaver.actors.system import ActorHandle  # the kernel process holds a RemoteHandle

DEFAULT_TIMEOUT_S = 5.0


class StoreClient:
    """What other actors and frontends call; wraps the store's handle."""

    def __init__(self, handle: ActorHandle, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.handle = handle
        self.timeout = timeout

    def _ask(self, message: object) -> object:
        return self.handle.ask(message, timeout=self.timeout)

    def open_session(self, name: str, vibe: str | None = None) -> SessionRecord:
        result = self._ask(m.OpenSession(name=name, vibe=vibe))
        assert isinstance(result, SessionRecord)
        return result

    def start_session(self, name: str | None) -> SessionRecord:
        """The session a start opens (`name`, else the one current when the service last ran),
        made current."""
        result = self._ask(m.StartSession(name=name))
        assert isinstance(result, SessionRecord)
        return result

    def use_session(self, session_id: SessionId) -> SessionRecord:
        """Remember `session_id` as current (a switch) and stamp its last use."""
        result = self._ask(m.UseSession(session_id=session_id))
        assert isinstance(result, SessionRecord)
        return result

    def claim_session(self, session_id: SessionId) -> SessionRecord:
        """Own the session before working in it: on PostgreSQL, StoreError naming the owner
        (host, pid, since) when another process has it; on sqlite always granted."""
        result = self._ask(m.ClaimSession(session_id=session_id))
        assert isinstance(result, SessionRecord)
        return result

    def get_session(self, session_id: SessionId) -> SessionRecord | None:
        return self._ask(m.GetSession(session_id=session_id))  # type: ignore[return-value]

    def find_session(self, name: str) -> SessionRecord | None:
        return self._ask(m.FindSession(name=name))  # type: ignore[return-value]

    def list_sessions(self) -> tuple[SessionRecord, ...]:
        return self._ask(m.ListSessions())  # type: ignore[return-value]

    def update_session(
        self,
        session_id: SessionId,
        *,
        name: str | None = None,
        vibe: str | None = None,
        tempo_bpm: float | None = None,
    ) -> SessionRecord:
        return self._ask(  # type: ignore[return-value]
            m.UpdateSession(session_id=session_id, name=name, vibe=vibe, tempo_bpm=tempo_bpm)
        )

    def clear_session(self, session_id: SessionId) -> m.ClearSessionResult:
        return self._ask(m.ClearSession(session_id=session_id))  # type: ignore[return-value]

    def save_rule(self, rule: RuleRecord) -> RuleRecord:
        return self._ask(m.SaveRule(rule=rule))  # type: ignore[return-value]

    def get_rule(self, rule_id: RuleId) -> RuleRecord | None:
        return self._ask(m.GetRule(rule_id=rule_id))  # type: ignore[return-value]

    def list_rules(
        self,
        session_id: SessionId | None = None,
        *,
        enabled_callbacks: bool = False,
        after: tuple[int, str] | None = None,
        limit: int | None = None,
    ) -> tuple[RuleRecord, ...]:
        return self._ask(  # type: ignore[return-value]
            m.ListRules(
                session_id=session_id, enabled_callbacks=enabled_callbacks, after=after, limit=limit
            )
        )

    def set_rule_enabled(self, rule_id: RuleId, enabled: bool) -> RuleRecord:
        return self._ask(m.SetRuleEnabled(rule_id=rule_id, enabled=enabled))  # type: ignore[return-value]

    def delete_rule(self, rule_id: RuleId) -> bool:
        return bool(self._ask(m.DeleteRule(rule_id=rule_id)))

    def record_rule_fired(self, rule_id: RuleId, fired_at: str, *, delete: bool = False) -> None:
        self.handle.tell(m.RecordRuleFired(rule_id=rule_id, fired_at=fired_at, delete=delete))

    def save_marker(
        self, session_id: SessionId, name: str, beat: float, metadata: str | None = None
    ) -> MarkerRecord:
        return self._ask(  # type: ignore[return-value]
            m.SaveMarker(session_id=session_id, name=name, beat=beat, metadata=metadata)
        )

    def delete_marker(self, session_id: SessionId, name: str) -> bool:
        return bool(self._ask(m.DeleteMarker(session_id=session_id, name=name)))

    def list_markers(self, session_id: SessionId) -> tuple[MarkerRecord, ...]:
        return self._ask(m.ListMarkers(session_id=session_id))  # type: ignore[return-value]

    def append_history(
        self,
        session_id: SessionId,
        action: str,
        *,
        params: str | None = None,
        result: str | None = None,
        success: bool = True,
    ) -> None:
        self.handle.tell(
            m.AppendHistory(
                session_id=session_id, action=action, params=params, result=result, success=success
            )
        )

    def recent_history(self, session_id: SessionId, limit: int = 10) -> tuple[HistoryRecord, ...]:
        return self._ask(m.GetRecentHistory(session_id=session_id, limit=limit))  # type: ignore[return-value]

    def history(
        self,
        session_id: SessionId,
        *,
        limit: int = 20,
        kind: str | None = None,
        before_id: int | None = None,
        actions_only: bool = False,
    ) -> tuple[HistoryRecord, ...]:
        """History rows newest first."""
        return self._ask(  # type: ignore[return-value]
            m.GetHistory(
                session_id=session_id,
                limit=limit,
                kind=kind,
                before_id=before_id,
                actions_only=actions_only,
            )
        )

    def summary_data(self, session_id: SessionId) -> SummaryData:
        result = self._ask(m.GetSummaryData(session_id=session_id))
        assert isinstance(result, SummaryData)
        return result

    def record_made(
        self,
        jobs: tuple[GenerationJobRecord, ...] = (),
        artifacts: tuple[ArtifactRecord, ...] = (),
    ) -> None:
        """Persist jobs and artifacts (a tell: batched like history)."""
        if jobs or artifacts:
            self.handle.tell(m.RecordMade(jobs=jobs, artifacts=artifacts))

    def list_jobs(self, session_id: SessionId, limit: int = 100) -> tuple[GenerationJobRecord, ...]:
        return self._ask(m.ListJobs(session_id=session_id, limit=limit))  # type: ignore[return-value]

    def list_artifacts(self, session_id: SessionId, limit: int = 100) -> tuple[ArtifactRecord, ...]:
        return self._ask(m.ListArtifacts(session_id=session_id, limit=limit))  # type: ignore[return-value]

    def save_snapshot(self, session_id: SessionId, state_capnp: bytes) -> SnapshotRecord:
        return self._ask(m.SaveSnapshot(session_id=session_id, state_capnp=state_capnp))  # type: ignore[return-value]

    def get_snapshot(self, session_id: SessionId) -> SnapshotRecord | None:
        return self._ask(m.GetSnapshot(session_id=session_id))  # type: ignore[return-value]

    def save_generation_stats(self, stats: GenerationStatsRecord) -> None:
        self._ask(m.SaveGenerationStats(stats=stats))

    def list_generation_stats(self) -> tuple[GenerationStatsRecord, ...]:
        return self._ask(m.ListGenerationStats())  # type: ignore[return-value]

    def flush(self) -> None:
        self._ask(m.Flush())

    def info(self) -> m.StoreInfo:
        return self._ask(m.GetStoreInfo())  # type: ignore[return-value]
