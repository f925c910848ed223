"""Typed reads and writes of the session store; called only from the SessionStore actor's thread.

Cold paths (sessions, markers, rule edits) go through peewee's query builder; the hot paths (rule
firings and history appends, which arrive in bursts) run SQL generated once by peewee through
`execute_sql` inside one transaction per batch, about 15x cheaper per row (notes/perf-floors.md §4).
The same code runs on sqlite and PostgreSQL: hand-written SQL is spelled for sqlite and passed
through `Dialect.sql`, and the hot-path batches use each database's own bulk writes
(`dialect`). On PostgreSQL, opening, starting or switching to a session, and every write to one,
first makes this process its owner (`ownership`); reads never do.
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
from vibeweaver.persistence.dialect import Dialect
from vibeweaver.persistence.models import Models, define_models
from vibeweaver.persistence.ownership import SessionOwnership
from vibeweaver.persistence.records import (
    ArtifactRecord,
    GenerationJobRecord,
    GenerationStatsRecord,
    HistoryRecord,
    MarkerRecord,
    RuleGroup,
    RuleOverview,
    RuleRecord,
    SessionRecord,
    SnapshotRecord,
    SummaryData,
)
from vibeweaver.types import MarkerId, RuleId, SessionId

CURRENT_SESSION_KEY = "current_session"
"""The `meta` row naming the session the service was in last (SPEC §3.1)."""
DEFAULT_SESSION = "default"
ECHO_SQL = "((action = 'eval' OR action LIKE 'callback %') AND success = 1)"
"""History rows that only echo code or output: successful evals and callback output. The summary
prefers the others (actions, and evals or callbacks that failed)."""

_HISTORY_COLUMNS = "SELECT id, session_id, action, params, result, success, created_at FROM history"
RULES_LISTED = 8
"""Up to this many active rules, the summary lists them one by one; beyond, it groups them."""
RULE_GROUPS_SHOWN = 8
DISABLED_SHOWN = 5
MARKERS_SHOWN = 16
OTHER_SESSIONS_SHOWN = 5
START_CANDIDATES = 20
"""Recently used sessions a start without a name tries (on PostgreSQL, others' are passed over)."""
ACTIONS_SHOWN = 10


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
        self.dialect = Dialect.of(database)
        self.ownership = SessionOwnership(database)
        q = self.dialect.sql
        # Hot-path statements: plain SQL over the tables the migrations define, run through the
        # connection directly (the query builder costs ~100 µs per statement here).
        self._sql_fired = q(
            "UPDATE rules SET fired_count = fired_count + ?, last_fired_at = ? WHERE id = ?"
        )
        self._sql_history = q(
            "INSERT INTO history (session_id, action, params, result, success, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._sql_job = q(
            "INSERT INTO jobs (id, session_id, job_id, space, prompt, tags, origin, state, "
            "artifact_id, error, created_at, finished_at, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET "
            "job_id = COALESCE(excluded.job_id, jobs.job_id), "
            "space = COALESCE(excluded.space, jobs.space), "
            "prompt = COALESCE(excluded.prompt, jobs.prompt), "
            "tags = CASE WHEN excluded.tags = '[]' THEN jobs.tags ELSE excluded.tags END, "
            "state = excluded.state, "
            "artifact_id = COALESCE(excluded.artifact_id, jobs.artifact_id), "
            "error = COALESCE(excluded.error, jobs.error), "
            "finished_at = COALESCE(excluded.finished_at, jobs.finished_at), "
            "duration_ms = COALESCE(excluded.duration_ms, jobs.duration_ms)"
        )
        self._sql_artifact = q(
            "INSERT INTO artifacts (id, session_id, space, prompt, tags, job_id, creator, "
            "content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET "
            "space = COALESCE(excluded.space, artifacts.space), "
            "prompt = COALESCE(excluded.prompt, artifacts.prompt), "
            "tags = CASE WHEN excluded.tags = '[]' THEN artifacts.tags ELSE excluded.tags END, "
            "job_id = COALESCE(excluded.job_id, artifacts.job_id), "
            "creator = COALESCE(excluded.creator, artifacts.creator), "
            "content_hash = COALESCE(excluded.content_hash, artifacts.content_hash)"
        )
        self._sql_touch = q("UPDATE sessions SET last_used_at = ? WHERE id = ?")

    # -- sessions ---------------------------------------------------------------------------------

    def open_session(self, name: str, vibe: str | None = None) -> tuple[SessionRecord, bool]:
        """The session called `name`, created if missing, and owned by this process; returns
        (record, created). StoreError naming the owner if another process owns it."""
        m = self.models
        with self.database.atomic():
            row = m.Session.get_or_none(m.Session.name == name)
            created = row is None
            if row is None:
                now = utc_now()
                row = m.Session.create(
                    id=f"session_{uuid.uuid4().hex[:12]}",
                    name=name,
                    vibe=vibe,
                    tempo_bpm=120.0,
                    created_at=now,
                    updated_at=now,
                )
        record = _session(row)
        self.ownership.claim(record.id, record.name)  # after the commit: the lock outlives it
        return record, created

    def start_session(self, name: str | None) -> SessionRecord:
        """The session a start opens, made current: `name` (created if missing), or without a
        name the one that was current when the service last ran, else the most recently used,
        else `default` (SPEC §3.1). On PostgreSQL a session another process owns is passed
        over when no name is given, and refused (naming its owner) when named."""
        record: SessionRecord | None = None
        if name is None:
            for candidate in self._start_candidates():
                try:
                    self.ownership.claim(candidate.id, candidate.name)
                except StoreError:
                    continue  # another process works in it
                record = candidate
                break
        if record is None:
            record, _ = self.open_session(name or DEFAULT_SESSION)
        return self.use_session(record.id)

    def _start_candidates(self) -> list[SessionRecord]:
        """What a start without a name may open, best first: the current session, then the most
        recently used ones (only the first counts on sqlite, whose file has a single owner)."""
        m = self.models
        found: list[SessionRecord] = []
        current = self.current_session_id()
        record = None if current is None else self.get_session(current)
        if record is not None:
            found.append(record)
        recent = (
            m.Session.select()
            .where(m.Session.last_used_at.is_null(False))
            .order_by(m.Session.last_used_at.desc())
            .limit(START_CANDIDATES)
        )
        found.extend(_session(row) for row in recent if row.id != current)
        return found if self.ownership.enabled else found[:1]

    def use_session(self, session_id: SessionId) -> SessionRecord:
        """Make the session current (the next start without --session opens it) and stamp its
        last use; raises StoreError for an unknown id, or one naming the owner of a session
        another process owns."""
        m = self.models
        self.ownership.check(session_id)
        now = utc_now()
        with self.database.atomic():
            if m.Session.update(last_used_at=now).where(m.Session.id == session_id).execute() == 0:
                raise StoreError(f"no session with id {session_id}")
            m.MetaEntry.insert(key=CURRENT_SESSION_KEY, value=session_id).on_conflict(
                conflict_target=[m.MetaEntry.key], update={m.MetaEntry.value: session_id}
            ).execute()
            return _session(m.Session.get_by_id(session_id))

    def current_session_id(self) -> SessionId | None:
        """The session made current last (None on a database no start has used yet)."""
        m = self.models
        row = m.MetaEntry.get_or_none(m.MetaEntry.key == CURRENT_SESSION_KEY)
        return None if row is None else SessionId(row.value)

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
                "jobs": m.GenerationJob.delete()
                .where(m.GenerationJob.session == session_id)
                .execute(),
                "artifacts": m.Artifact.delete().where(m.Artifact.session == session_id).execute(),
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
            m.Rule.insert(values).on_conflict(
                conflict_target=[m.Rule.id],
                preserve=[field for field in m.Rule._meta.sorted_fields if field is not m.Rule.id],
            ).execute()
            return _rule(m.Rule.get_by_id(rule.id))

    def get_rule(self, rule_id: RuleId) -> RuleRecord | None:
        row = self.models.Rule.get_or_none(self.models.Rule.id == rule_id)
        return None if row is None else _rule(row)

    def list_rules(
        self,
        session_id: SessionId | None = None,
        *,
        enabled_callbacks: bool = False,
        after: tuple[int, str] | None = None,
        limit: int | None = None,
    ) -> list[RuleRecord]:
        """Rules in creation order (of one session; with `enabled_callbacks`, only its enabled
        callback rules); a page of `limit` after the rule with (seq, id) `after`. Read with plain
        SQL into tuples: peewee's row objects cost ~20-40 µs a row, which made a start with
        100,000 rules take seconds in this one read."""
        sql = f"SELECT {_RULE_COLUMNS} FROM rules"  # noqa: S608 - constant column list
        where: list[str] = []
        args: list[object] = []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if enabled_callbacks:
            where.append("action_type = 'callback' AND enabled = 1")
        if after is not None:
            where.append("(seq, id) > (?, ?)")
            args += [after[0], after[1]]
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq, id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        cursor = self.database.execute_sql(self.dialect.sql(sql), args)  # type: ignore[no-untyped-call]
        return [_rule_of_tuple(row) for row in cursor.fetchall()]

    def set_rule_enabled(self, rule_id: RuleId, enabled: bool) -> RuleRecord:
        m = self.models
        with self.database.atomic():
            if m.Rule.update(enabled=enabled).where(m.Rule.id == rule_id).execute() == 0:
                raise StoreError(f"no rule with id {rule_id}")
            return _rule(m.Rule.get_by_id(rule_id))

    def delete_rule(self, rule_id: RuleId) -> bool:
        m = self.models
        return bool(m.Rule.delete().where(m.Rule.id == rule_id).execute())

    def write_batch(
        self,
        fired: Sequence[FiredUpdate],
        history: Iterable[HistoryEntry],
        *,
        jobs: Sequence[GenerationJobRecord] = (),
        artifacts: Sequence[ArtifactRecord] = (),
        touch: tuple[SessionId, str] | None = None,
    ) -> None:
        """Persist the store's batch (rule firings, history rows, jobs and artifacts, and the
        current session's last use) in one transaction: all of it or, on an error, none of it
        (hot path)."""
        with self.database.atomic():
            self._apply_fired(fired)
            self._append_history(history)
            self._upsert_made(jobs, artifacts)
            if touch is not None:
                self.database.execute_sql(self._sql_touch, (touch[1], touch[0]))  # type: ignore[no-untyped-call]

    def _upsert_made(
        self, jobs: Sequence[GenerationJobRecord], artifacts: Sequence[ArtifactRecord]
    ) -> None:
        if not jobs and not artifacts:
            return
        cursor = self.database.cursor()  # type: ignore[no-untyped-call]
        if artifacts:
            cursor.executemany(
                self._sql_artifact,
                [
                    (
                        a.id,
                        a.session_id,
                        a.space,
                        a.prompt,
                        json.dumps(list(a.tags)),
                        a.job_id,
                        a.creator,
                        a.content_hash,
                        a.created_at or utc_now(),
                    )
                    for a in artifacts
                ],
            )
        if jobs:
            cursor.executemany(
                self._sql_job,
                [
                    (
                        j.id,
                        j.session_id,
                        j.job_id,
                        j.space,
                        j.prompt,
                        json.dumps(list(j.tags)),
                        j.origin,
                        j.state,
                        j.artifact_id,
                        j.error,
                        j.created_at or utc_now(),
                        j.finished_at,
                        j.duration_ms,
                    )
                    for j in jobs
                ],
            )

    # -- jobs and artifacts -----------------------------------------------------------------------

    def list_jobs(self, session_id: SessionId, limit: int = 100) -> list[GenerationJobRecord]:
        """The session's newest `limit` jobs, oldest first."""
        m = self.models
        query = (
            m.GenerationJob.select()
            .where(m.GenerationJob.session == session_id)
            .order_by(peewee.SQL("rowid").desc())
            .limit(limit)
        )
        return [_job(row) for row in reversed(list(query))]

    def list_artifacts(self, session_id: SessionId, limit: int = 100) -> list[ArtifactRecord]:
        """The session's newest `limit` artifacts, oldest first."""
        m = self.models
        query = (
            m.Artifact.select()
            .where(m.Artifact.session == session_id)
            .order_by(peewee.SQL("rowid").desc())
            .limit(limit)
        )
        return [_artifact(row) for row in reversed(list(query))]

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
        self.dialect.update_fired(
            cursor,
            self._sql_fired,
            [(count, last[rule_id], rule_id) for rule_id, count in counts.items()],
            sorted(deletes),
        )

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
        query = (
            m.Marker.select()
            .where(m.Marker.session == session_id)
            .order_by(m.Marker.beat, m.Marker.name)
        )
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
            self.dialect.insert_history(cursor, self._sql_history, rows)

    def recent_history(self, session_id: SessionId, limit: int = 10) -> list[HistoryRecord]:
        """The newest `limit` history rows, oldest first (`history_page`, turned around)."""
        return list(reversed(self.history_page(session_id, limit=limit)))

    def history_page(
        self,
        session_id: SessionId,
        *,
        limit: int = 20,
        kind: str | None = None,
        before_id: int | None = None,
        actions_only: bool = False,
    ) -> list[HistoryRecord]:
        """History rows newest first: at most `limit`, of `kind` when given (the action's name:
        `sample` matches `sample(...)`, `callback` matches `callback kick`), older than
        `before_id` when given, and without echoes of eval text and callback output when
        `actions_only`."""
        where = ["session_id = ?"]
        args: list[object] = [session_id]
        if kind is not None:
            where.append("(action = ? OR substr(action, 1, ?) = ? OR substr(action, 1, ?) = ?)")
            size = len(kind) + 1
            args.extend([kind, size, kind + "(", size, kind + " "])
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        if actions_only:
            where.append(f"NOT {ECHO_SQL}")
        condition = " AND ".join(where)  # fixed fragments only; values are parameters
        sql = f"{_HISTORY_COLUMNS} WHERE {condition} ORDER BY id DESC LIMIT ?"
        args.append(limit)
        cursor = self.database.execute_sql(self.dialect.sql(sql), args)  # type: ignore[no-untyped-call]
        return [_history_row(row) for row in cursor.fetchall()]

    def count_history(self, session_id: SessionId) -> int:
        cursor = self.database.execute_sql(  # type: ignore[no-untyped-call]
            self.dialect.sql("SELECT COUNT(*) FROM history WHERE session_id = ?"), (session_id,)
        )
        return int(cursor.fetchone()[0])

    # -- the session summary ----------------------------------------------------------------------

    def rule_overview(self, session_id: SessionId) -> RuleOverview:
        """Counts, the rules themselves when few, else the largest groups (a handful of grouped
        queries: a summary never loads every rule of a session)."""
        m = self.models
        q = self.dialect.sql
        counts = dict(
            self.database.execute_sql(  # type: ignore[no-untyped-call]
                q("SELECT enabled, COUNT(*) FROM rules WHERE session_id = ? GROUP BY enabled"),
                (session_id,),
            ).fetchall()
        )
        active, disabled = int(counts.get(1, 0)), int(counts.get(0, 0))
        listed: tuple[RuleRecord, ...] = ()
        groups: tuple[RuleGroup, ...] = ()
        group_count = 0
        by_trigger: tuple[tuple[str, int], ...] = ()
        if 0 < active <= RULES_LISTED:
            query = (
                m.Rule.select()
                .where((m.Rule.session == session_id) & (m.Rule.enabled == True))  # noqa: E712
                .order_by(m.Rule.seq)
            )
            listed = tuple(_rule(row) for row in query)
        elif active:
            callback = self.dialect.callback_name
            grouped = (
                f"FROM rules WHERE session_id = ? AND enabled = 1 "
                f"GROUP BY trigger_type, trigger_params, action_type, {callback}"
            )
            rows = self.database.execute_sql(  # type: ignore[no-untyped-call]
                q(
                    f"SELECT trigger_type, trigger_params, action_type, {callback}, COUNT(*), "
                    f"MIN(seq) {grouped} ORDER BY COUNT(*) DESC, MIN(seq) LIMIT ?"
                ),
                (session_id, RULE_GROUPS_SHOWN),
            ).fetchall()
            groups = tuple(
                RuleGroup(
                    trigger_type=row[0],
                    trigger_params=row[1],
                    action_type=row[2],
                    callback=None if row[3] is None else str(row[3]),
                    count=int(row[4]),
                )
                for row in rows
            )
            group_count = int(
                self.database.execute_sql(  # type: ignore[no-untyped-call]
                    q(f"SELECT COUNT(*) FROM (SELECT 1 {grouped}) AS grouped"),  # noqa: S608
                    (session_id,),
                ).fetchone()[0]
            )
            by_trigger = tuple(
                (str(kind), int(count))
                for kind, count in self.database.execute_sql(  # type: ignore[no-untyped-call]
                    q(
                        "SELECT trigger_type, COUNT(*) FROM rules WHERE session_id = ? AND "
                        "enabled = 1 GROUP BY trigger_type ORDER BY COUNT(*) DESC"
                    ),
                    (session_id,),
                ).fetchall()
            )
        disabled_rules: tuple[RuleRecord, ...] = ()
        if disabled:
            query = (
                m.Rule.select()
                .where((m.Rule.session == session_id) & (m.Rule.enabled == False))  # noqa: E712
                .order_by(m.Rule.seq)
                .limit(DISABLED_SHOWN)
            )
            disabled_rules = tuple(_rule(row) for row in query)
        return RuleOverview(
            active=active,
            disabled=disabled,
            active_rules=listed,
            active_groups=groups,
            active_group_count=group_count,
            active_by_trigger=by_trigger,
            disabled_rules=disabled_rules,
        )

    def summary_data(self, session_id: SessionId) -> SummaryData:
        """What the session summary shows, bounded whatever the session holds."""
        m = self.models
        session = self.get_session(session_id)
        if session is None:
            raise StoreError(f"no session with id {session_id}")
        used = peewee.fn.COALESCE(m.Session.last_used_at, m.Session.updated_at)
        others = m.Session.select().where(m.Session.id != session_id)
        markers = m.Marker.select().where(m.Marker.session == session_id)
        evals = self.history_page(session_id, limit=1, kind="eval")
        return SummaryData(
            session=session,
            other_sessions=tuple(
                _session(row) for row in others.order_by(used.desc()).limit(OTHER_SESSIONS_SHOWN)
            ),
            other_session_count=others.count(),
            rules=self.rule_overview(session_id),
            markers=tuple(
                _marker(row)
                for row in markers.order_by(m.Marker.beat, m.Marker.name).limit(MARKERS_SHOWN)
            ),
            marker_count=markers.count(),
            actions=tuple(
                reversed(self.history_page(session_id, limit=ACTIONS_SHOWN, actions_only=True))
            ),
            last_eval=evals[0] if evals else None,
            history_count=self.count_history(session_id),
        )

    # -- snapshots and generation statistics ------------------------------------------------------

    def save_snapshot(self, session_id: SessionId, state: bytes) -> SnapshotRecord:
        m = self.models
        captured_at = utc_now()
        m.KernelSnapshot.insert(
            session=session_id, state_capnp=state, captured_at=captured_at
        ).on_conflict(
            conflict_target=[m.KernelSnapshot.session],
            preserve=[m.KernelSnapshot.state_capnp, m.KernelSnapshot.captured_at],
        ).execute()
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
        ).on_conflict(
            conflict_target=[m.GenerationStat.space],
            preserve=[
                m.GenerationStat.avg_duration_ms,
                m.GenerationStat.sample_count,
                m.GenerationStat.last_updated,
                m.GenerationStat.p95_duration_ms,
                m.GenerationStat.recent_durations,
            ],
        ).execute()

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
        last_used_at=row.last_used_at,
    )


_RULE_FIELDS = (
    "id",
    "session_id",
    "trigger_type",
    "trigger_params",
    "action_type",
    "action_params",
    "priority",
    "enabled",
    "one_shot",
    "fired_count",
    "last_fired_at",
    "created_at",
    "seq",
)
_RULE_COLUMNS = ", ".join(_RULE_FIELDS)


def _rule_of_tuple(row: tuple[Any, ...]) -> RuleRecord:
    (rule_id, session, trigger_type, trigger_params, action_type, action_params, priority,
     enabled, one_shot, fired_count, last_fired_at, created_at, seq) = row  # fmt: skip
    return RuleRecord(
        id=RuleId(rule_id),
        session_id=SessionId(session),
        trigger_type=trigger_type,
        trigger_params=trigger_params,
        action_type=action_type,
        action_params=action_params,
        priority=priority,
        enabled=bool(enabled),
        one_shot=bool(one_shot),
        fired_count=int(fired_count),
        last_fired_at=last_fired_at,
        created_at=created_at,
        seq=int(seq),
    )


def _rule(row: Any) -> RuleRecord:
    """A RuleRecord from a peewee Rule row (the cold paths; `list_rules` reads tuples)."""
    return _rule_of_tuple(tuple(getattr(row, column) for column in _RULE_FIELDS))


def _marker(row: Any) -> MarkerRecord:
    return MarkerRecord(
        id=MarkerId(row.id),
        session_id=SessionId(row.session_id),
        beat=float(row.beat),
        name=row.name,
        metadata=row.metadata,
        created_at=row.created_at,
    )


def _history_row(row: Sequence[Any]) -> HistoryRecord:
    return HistoryRecord(
        id=int(row[0]),
        session_id=SessionId(row[1]),
        action=row[2],
        params=row[3],
        result=row[4],
        success=bool(row[5]),
        created_at=row[6],
    )


def _tags(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(tag) for tag in value) if isinstance(value, list) else ()


def _job(row: Any) -> GenerationJobRecord:
    return GenerationJobRecord(
        id=row.id,
        session_id=SessionId(row.session_id),
        state=row.state,
        job_id=row.job_id,
        space=row.space,
        prompt=row.prompt,
        tags=_tags(row.tags),
        origin=row.origin,
        artifact_id=row.artifact_id,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
        duration_ms=None if row.duration_ms is None else float(row.duration_ms),
    )


def _artifact(row: Any) -> ArtifactRecord:
    return ArtifactRecord(
        id=row.id,
        session_id=SessionId(row.session_id),
        space=row.space,
        prompt=row.prompt,
        tags=_tags(row.tags),
        job_id=row.job_id,
        creator=row.creator,
        content_hash=row.content_hash,
        created_at=row.created_at,
    )
