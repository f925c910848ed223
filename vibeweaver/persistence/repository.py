"""Typed reads and writes of the session store; called only from the SessionStore actor's thread.

Cold paths (sessions, markers, rule edits) go through peewee's query builder; the hot paths (rule
firings and history appends, which arrive in bursts) run SQL generated once by peewee through
`execute_sql` inside one transaction per batch, about 15x cheaper per row (notes/perf-floors.md §4).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import peewee

from vibeweaver.errors import StoreError
from vibeweaver.persistence.models import Models, define_models
from vibeweaver.persistence.records import (
    GenerationStatsRecord,
    HistoryRecord,
    MarkerRecord,
    RuleRecord,
    SessionRecord,
    SnapshotRecord,
)
from vibeweaver.types import MarkerId, RuleId, SessionId


def utc_now() -> str:
    """Now as an ISO-8601 UTC timestamp (the format of every *_at column)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class FiredUpdate:
    """One rule firing to persist: count it, stamp it, and delete it if it was one-shot."""

    rule_id: RuleId
    fired_at: str
    delete: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """A history row waiting to be written."""

    session_id: SessionId
    action: str
    params: str | None
    result: str | None
    success: bool
    created_at: str


class Repository:
    """All SQL of the store, over one open database."""

    def __init__(self, database: peewee.Database) -> None:
        self.database = database
        self.models: Models = define_models(database)
        # Hot-path statements: plain SQL over the tables the migrations define, run through the
        # connection directly (the query builder costs ~100 µs per statement here).
        self._sql_fired = (
            "UPDATE rules SET fired_count = fired_count + ?, last_fired_at = ? WHERE id = ?"
        )
        self._sql_delete_rule = "DELETE FROM rules WHERE id = ?"
        self._sql_history = (
            "INSERT INTO history (session_id, action, params, result, success, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )

    # -- sessions ---------------------------------------------------------------------------------

    def open_session(self, name: str, vibe: str | None = None) -> tuple[SessionRecord, bool]:
        """The session called `name`, created if missing; returns (record, created)."""
        m = self.models
        with self.database.atomic():
            row = m.Session.get_or_none(m.Session.name == name)
            if row is not None:
                return _session(row), False
            now = utc_now()
            row = m.Session.create(
                id=f"session_{uuid.uuid4().hex[:12]}",
                name=name,
                vibe=vibe,
                tempo_bpm=120.0,
                created_at=now,
                updated_at=now,
            )
            return _session(row), True

    def get_session(self, session_id: SessionId) -> SessionRecord | None:
        row = self.models.Session.get_or_none(self.models.Session.id == session_id)
        return None if row is None else _session(row)

    def find_session(self, name: str) -> SessionRecord | None:
        row = self.models.Session.get_or_none(self.models.Session.name == name)
        return None if row is None else _session(row)

    def list_sessions(self) -> list[SessionRecord]:
        m = self.models
        return [_session(row) for row in m.Session.select().order_by(m.Session.created_at)]

    def update_session(
        self,
        session_id: SessionId,
        *,
        name: str | None = None,
        vibe: str | None = None,
        tempo_bpm: float | None = None,
    ) -> SessionRecord:
        """Change the given fields; raises LookupError for an unknown id."""
        m = self.models
        changes: dict[Any, Any] = {m.Session.updated_at: utc_now()}
        if name is not None:
            changes[m.Session.name] = name
        if vibe is not None:
            changes[m.Session.vibe] = vibe
        if tempo_bpm is not None:
            changes[m.Session.tempo_bpm] = float(tempo_bpm)
        with self.database.atomic():
            count = m.Session.update(changes).where(m.Session.id == session_id).execute()
            if count == 0:
                raise StoreError(f"no session with id {session_id}")
            return _session(m.Session.get_by_id(session_id))

    def clear_session(self, session_id: SessionId) -> dict[str, int]:
        """Delete the session's rules, markers, history and snapshot; return how many of each."""
        m = self.models
        with self.database.atomic():
            return {
                "rules": m.Rule.delete().where(m.Rule.session == session_id).execute(),
                "markers": m.Marker.delete().where(m.Marker.session == session_id).execute(),
                "history": m.History.delete().where(m.History.session == session_id).execute(),
                "snapshots": m.KernelSnapshot.delete()
                .where(m.KernelSnapshot.session == session_id)
                .execute(),
            }

    # -- rules ------------------------------------------------------------------------------------

    def save_rule(self, rule: RuleRecord) -> RuleRecord:
        """Insert or replace a rule; a new rule gets the next creation sequence number."""
        m = self.models
        with self.database.atomic():
            existing = m.Rule.get_or_none(m.Rule.id == rule.id)
            seq = rule.seq
            if existing is not None:
                seq = existing.seq
            elif seq <= 0:
                seq = (m.Rule.select(peewee.fn.MAX(m.Rule.seq)).scalar() or 0) + 1
            created_at = rule.created_at or (existing.created_at if existing else utc_now())
            values = {
                "id": rule.id,
                "session": rule.session_id,
                "trigger_type": rule.trigger_type,
                "trigger_params": rule.trigger_params,
                "action_type": rule.action_type,
                "action_params": rule.action_params,
                "priority": rule.priority,
                "enabled": rule.enabled,
                "one_shot": rule.one_shot,
                "fired_count": rule.fired_count,
                "last_fired_at": rule.last_fired_at,
                "created_at": created_at,
                "seq": seq,
            }
            m.Rule.insert(values).on_conflict_replace().execute()
            return _rule(m.Rule.get_by_id(rule.id))

    def get_rule(self, rule_id: RuleId) -> RuleRecord | None:
        row = self.models.Rule.get_or_none(self.models.Rule.id == rule_id)
        return None if row is None else _rule(row)

    def list_rules(self, session_id: SessionId | None = None) -> list[RuleRecord]:
        m = self.models
        query = m.Rule.select().order_by(m.Rule.seq)
        if session_id is not None:
            query = query.where(m.Rule.session == session_id)
        return [_rule(row) for row in query]

    def set_rule_enabled(self, rule_id: RuleId, enabled: bool) -> RuleRecord:
        m = self.models
        with self.database.atomic():
            if m.Rule.update(enabled=enabled).where(m.Rule.id == rule_id).execute() == 0:
                raise StoreError(f"no rule with id {rule_id}")
            return _rule(m.Rule.get_by_id(rule_id))

    def delete_rule(self, rule_id: RuleId) -> bool:
        m = self.models
        return bool(m.Rule.delete().where(m.Rule.id == rule_id).execute())

    def write_batch(self, fired: Sequence[FiredUpdate], history: Iterable[HistoryEntry]) -> None:
        """Persist the store's batch (rule firings and history rows) in one transaction: all of
        it or, on an error, none of it (hot path)."""
        with self.database.atomic():
            self._apply_fired(fired)
            self._append_history(history)

    def apply_fired(self, updates: Sequence[FiredUpdate]) -> None:
        """Persist a batch of rule firings in one transaction (hot path)."""
        with self.database.atomic():
            self._apply_fired(updates)

    def _apply_fired(self, updates: Sequence[FiredUpdate]) -> None:
        if not updates:
            return
        counts: dict[RuleId, int] = {}
        last: dict[RuleId, str] = {}
        deletes: set[RuleId] = set()
        for update in updates:
            counts[update.rule_id] = counts.get(update.rule_id, 0) + 1
            last[update.rule_id] = update.fired_at
            if update.delete:
                deletes.add(update.rule_id)
        cursor = self.database.cursor()  # type: ignore[no-untyped-call]
        cursor.executemany(
            self._sql_fired,
            [(count, last[rule_id], rule_id) for rule_id, count in counts.items()],
        )
        if deletes:
            cursor.executemany(self._sql_delete_rule, [(rule_id,) for rule_id in deletes])

    # -- markers ----------------------------------------------------------------------------------

    def save_marker(
        self, session_id: SessionId, name: str, beat: float, metadata: str | None
    ) -> MarkerRecord:
        """Create the marker `name`, or move it (a session has one marker per name)."""
        m = self.models
        with self.database.atomic():
            row = m.Marker.get_or_none((m.Marker.session == session_id) & (m.Marker.name == name))
            if row is None:
                row = m.Marker.create(
                    id=f"marker_{uuid.uuid4().hex[:12]}",
                    session=session_id,
                    beat=float(beat),
                    name=name,
                    metadata=metadata,
                    created_at=utc_now(),
                )
            else:
                row.beat = float(beat)
                row.metadata = metadata
                row.save()
            return _marker(row)

    def delete_marker(self, session_id: SessionId, name: str) -> bool:
        m = self.models
        query = m.Marker.delete().where((m.Marker.session == session_id) & (m.Marker.name == name))
        return bool(query.execute())

    def list_markers(self, session_id: SessionId) -> list[MarkerRecord]:
        m = self.models
        query = m.Marker.select().where(m.Marker.session == session_id).order_by(m.Marker.beat)
        return [_marker(row) for row in query]

    # -- history ----------------------------------------------------------------------------------

    def append_history(self, entries: Iterable[HistoryEntry]) -> None:
        """Write a batch of history rows in one transaction (hot path)."""
        with self.database.atomic():
            self._append_history(entries)

    def _append_history(self, entries: Iterable[HistoryEntry]) -> None:
        rows = [
            (e.session_id, e.action, e.params, e.result, int(e.success), e.created_at)
            for e in entries
        ]
        if rows:
            cursor = self.database.cursor()  # type: ignore[no-untyped-call]
            cursor.executemany(self._sql_history, rows)

    def recent_history(self, session_id: SessionId, limit: int = 10) -> list[HistoryRecord]:
        """The newest `limit` history rows, oldest first."""
        m = self.models
        query = (
            m.History.select()
            .where(m.History.session == session_id)
            .order_by(m.History.id.desc())
            .limit(limit)
        )
        return [_history(row) for row in reversed(list(query))]

    # -- snapshots and generation statistics ------------------------------------------------------

    def save_snapshot(self, session_id: SessionId, state: bytes) -> SnapshotRecord:
        m = self.models
        captured_at = utc_now()
        m.KernelSnapshot.insert(
            session=session_id, state_capnp=state, captured_at=captured_at
        ).on_conflict_replace().execute()
        return SnapshotRecord(session_id=session_id, state_capnp=state, captured_at=captured_at)

    def load_snapshot(self, session_id: SessionId) -> SnapshotRecord | None:
        m = self.models
        row = m.KernelSnapshot.get_or_none(m.KernelSnapshot.session == session_id)
        if row is None:
            return None
        return SnapshotRecord(
            session_id=session_id, state_capnp=bytes(row.state_capnp), captured_at=row.captured_at
        )

    def save_generation_stats(self, stats: GenerationStatsRecord) -> None:
        m = self.models
        m.GenerationStat.insert(
            space=stats.space,
            avg_duration_ms=round(stats.avg_duration_ms),
            sample_count=stats.sample_count,
            last_updated=stats.last_updated or utc_now(),
            p95_duration_ms=stats.p95_duration_ms,
            recent_durations=json.dumps(list(stats.recent_durations_ms)),
        ).on_conflict_replace().execute()

    def load_generation_stats(self) -> list[GenerationStatsRecord]:
        m = self.models
        return [
            GenerationStatsRecord(
                space=row.space,
                sample_count=row.sample_count,
                avg_duration_ms=float(row.avg_duration_ms),
                p95_duration_ms=float(row.p95_duration_ms),
                recent_durations_ms=tuple(
                    float(v) for v in json.loads(row.recent_durations or "[]")
                ),
                last_updated=row.last_updated,
            )
            for row in m.GenerationStat.select().order_by(m.GenerationStat.space)
        ]

    def counts(self) -> dict[str, int]:
        """Row counts per table (for the admin view)."""
        return {model._meta.table_name: model.select().count() for model in self.models.all()}


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        id=SessionId(row.id),
        name=row.name,
        vibe=row.vibe,
        tempo_bpm=float(row.tempo_bpm),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _rule(row: Any) -> RuleRecord:
    return RuleRecord(
        id=RuleId(row.id),
        session_id=SessionId(row.session_id),
        trigger_type=row.trigger_type,
        trigger_params=row.trigger_params,
        action_type=row.action_type,
        action_params=row.action_params,
        priority=row.priority,
        enabled=bool(row.enabled),
        one_shot=bool(row.one_shot),
        fired_count=int(row.fired_count),
        last_fired_at=row.last_fired_at,
        created_at=row.created_at,
        seq=int(row.seq),
    )


def _marker(row: Any) -> MarkerRecord:
    return MarkerRecord(
        id=MarkerId(row.id),
        session_id=SessionId(row.session_id),
        beat=float(row.beat),
        name=row.name,
        metadata=row.metadata,
        created_at=row.created_at,
    )


def _history(row: Any) -> HistoryRecord:
    return HistoryRecord(
        id=int(row.id),
        session_id=SessionId(row.session_id),
        action=row.action,
        params=row.params,
        result=row.result,
        success=bool(row.success),
        created_at=row.created_at,
    )
