"""SessionStore: the only writer of the database.

State owned: the database connection (opened on the actor thread in `setup`, closed in `release`),
the batch of pending rule firings, history rows, jobs and artifacts, the current session (whose
last use a batch with its history stamps), and the flush ticker thread.
Messages accepted: everything in `store.messages`. Asks that write (`SaveRule`, `SaveMarker`,
`OpenSession`, ...) commit before replying, so an acknowledged write survives `kill -9`. Rule
firings, history rows and the kernel's jobs and artifacts (`RecordMade`) are tells, batched and
written in one transaction at most ~0.2 s later (or before any read). Database errors become
`StoreError` replies; the actor keeps serving.

When the disk refuses writes (full, read-only, an I/O error), a write ask fails with a StoreError
naming the cause, while the batch is kept in memory (up to `MAX_PENDING_WRITES` rows, the oldest
dropped beyond that, counted and logged) and written by the next flush that succeeds; reads go on
from what is already written. The failing streak is logged once when it starts and once when it
ends, and published for the admin view (`pending_writes`, `write_error`, `dropped_writes`).

Nothing is acknowledged that is not durable: before every write the store checks that the file
at the database's path is still the file it opened (device and inode). A database deleted or
replaced under the running service gets every write refused with a StoreError saying so (logged
once, published as `database_file_error`) instead of acknowledged into a file nobody will read.

On PostgreSQL the connection can be lost (the server restarted, the network cut). The store
notices it on the failing statement, or within about a second through a keepalive; from then on
every ask fails with a StoreError saying so (nothing is acknowledged that was not committed),
batched tells wait in memory as above, and the store reconnects by itself with backoff (0.1 s
doubling to 5 s), takes its sessions' ownership locks again and writes the batch: no restart.
Every write to a session first makes this process its owner (`persistence.ownership`); one that
another process owns is refused naming it.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import peewee

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.store import messages as m
from vibeweaver.config import is_postgres_url, sqlite_path
from vibeweaver.errors import StoreError
from vibeweaver.persistence.database import (
    DatabaseIdentity,
    connect,
    connection_lost,
    describe_url,
    drop_connection,
    open_database,
    root_cause,
)
from vibeweaver.persistence.migrate import migrate, schema_version
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
from vibeweaver.persistence.repository import FiredUpdate, HistoryEntry, Repository, utc_now
from vibeweaver.persistence.storable import storable_optional, storable_record, storable_text
from vibeweaver.types import SessionId

FLUSH_INTERVAL_S = 0.2
KEEPALIVE_S = 1.0
"""How often an idle PostgreSQL connection is checked (one `SELECT 1`)."""
RECONNECT_FIRST_S = 0.1
RECONNECT_MAX_S = 5.0
TOUCH_EVERY_S = 1.0
"""A flush writes the current session's last use at most this often: one row and one page less
to commit per cell. Opening or switching to a session writes it at once (so which session was used
last is never wrong); between cells it lags by at most this long."""
MAX_PENDING_WRITES = 50_000
"""Batched rows kept while the disk refuses writes; beyond it the oldest are dropped (counted)."""
_BATCHED = (m.RecordRuleFired, m.AppendHistory, m.RecordMade, m.Flush)
_READS = (
    m.GetSession,
    m.FindSession,
    m.ListSessions,
    m.GetRule,
    m.ListRules,
    m.ListMarkers,
    m.GetRecentHistory,
    m.GetHistory,
    m.GetSummaryData,
    m.ListJobs,
    m.ListArtifacts,
    m.GetSnapshot,
    m.ListGenerationStats,
    m.GetStoreInfo,
)
"""Asks that only read; every other message may write, and first checks the database's identity."""
_OFFLINE = (m.RecordRuleFired, m.AppendHistory, m.RecordMade)
"""Tells that only add to the in-memory batch: taken while the database connection is down."""


class SessionStore(WeaverActor):
    """Owns the database; see the module docstring."""

    def __init__(
        self, context: ActorContext, *, db_url: str, db_password_file: Path | None = None
    ) -> None:
        super().__init__(context)
        self.db_url = db_url
        self.db_password_file = db_password_file
        self._remote = is_postgres_url(db_url)
        self._lost: str | None = None
        """Why the PostgreSQL connection is down (None while it is up)."""
        self._reconnect_attempts = 0
        self._retry_at = 0.0
        self._lost_since = 0.0
        self._repo: Repository | None = None
        self._fired: list[FiredUpdate] = []
        self._history: list[HistoryEntry] = []
        self._jobs: list[GenerationJobRecord] = []
        self._artifacts: list[ArtifactRecord] = []
        self._current: SessionId | None = None
        self._touched_at = -math.inf
        """When the current session's last use was last written by a flush (monotonic)."""
        """The session made current last (a batch with its history stamps its last use)."""
        self._ticker_stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._write_error: str | None = None
        self._failing_since: float | None = None
        self._dropped = 0
        self._identity: DatabaseIdentity | None = None
        self._identity_error: str | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        database = open_database(self.db_url, password_file=self.db_password_file)
        path = sqlite_path(self.db_url)
        self._identity = DatabaseIdentity.of(path) if path is not None else None
        applied = migrate(database)
        self._repo = Repository(database)
        self._current = self._repo.current_session_id()
        if applied:
            self.log.info("schema_migrated", applied=applied, version=schema_version(database))
        self._publish_writes()
        self._ticker = threading.Thread(
            target=self._tick, name=f"{self.context.name}-flush", daemon=True
        )
        self._ticker.start()

    def release(self) -> None:
        self._ticker_stop.set()
        if self._repo is not None:
            try:
                self._flush()
            except Exception as exc:  # noqa: BLE001 - closing must still happen
                self.log.error("final_flush_failed", error=f"{type(exc).__name__}: {exc}")
            try:
                if self._lost is None:
                    self._repo.ownership.release_all()
            except Exception as exc:  # noqa: BLE001 - the connection's end releases them anyway
                self.log.warning("session_release_failed", error=root_cause(exc))
            if self._lost is None and not connection_lost(self._repo.database):
                self._repo.database.close()
            else:
                drop_connection(self._repo.database)
            self._repo = None
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(1.0)

    def _tick(self) -> None:
        handle = self.system.handle(self.context.name)
        remote = self._remote
        next_keepalive = time.monotonic() + KEEPALIVE_S
        while not self._ticker_stop.wait(FLUSH_INTERVAL_S):
            if self._pending():  # a racy read is fine: worst case one idle Flush
                handle.tell(m.Flush())
            if remote and (self._lost is not None or time.monotonic() >= next_keepalive):
                handle.tell(m.Keepalive())  # while lost: a reconnect attempt (when backoff allows)
                next_keepalive = time.monotonic() + KEEPALIVE_S

    def _pending(self) -> int:
        return len(self._fired) + len(self._history) + len(self._jobs) + len(self._artifacts)

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            raise StoreError("the session store is not open")
        return self._repo

    # -- dispatch with consistent reads and readable errors ---------------------------------------

    def on_receive(self, message: Any) -> Any:
        if self._lost is not None and not isinstance(message, _OFFLINE) and not self._reconnect():
            if self._is_tell():
                return None  # the ticker's flush or keepalive: retried on the next tick
            raise StoreError(self._lost_refusal(message))
        if not isinstance(message, (*_BATCHED, *_READS)):
            self._check_identity()
        if not isinstance(message, _BATCHED) and self._pending():
            # a read sees every batched write; if the disk refuses them, it reads what is written
            self._try_flush()
            if self._lost is not None:
                raise StoreError(self._lost_refusal(message))
        try:
            if not isinstance(message, (*_BATCHED, *_READS)):
                self._check_owner(message)
            return super().on_receive(message)
        except (peewee.IntegrityError, sqlite3.IntegrityError) as exc:
            raise StoreError(f"the store refused {type(message).__name__}: {exc}") from exc
        except (peewee.OperationalError, peewee.InterfaceError, sqlite3.OperationalError) as exc:
            if self._note_lost(exc):
                raise StoreError(self._lost_refusal(message)) from exc
            raise StoreError(
                f"database error during {type(message).__name__}: {root_cause(exc)}"
            ) from exc
        except peewee.DatabaseError as exc:
            if self._note_lost(exc):
                raise StoreError(self._lost_refusal(message)) from exc
            raise
        except UnicodeError as exc:  # a value no check caught: refused, never a crash
            raise StoreError(
                f"the store refused {type(message).__name__}: text that is not valid Unicode "
                f"({exc})"
            ) from exc

    def _flush(self) -> None:
        """Write the batch in one go; on failure keep it for the next attempt and raise."""
        fired, history, jobs, artifacts = self._fired, self._history, self._jobs, self._artifacts
        if not fired and not history and not jobs and not artifacts:
            return
        self._fired, self._history, self._jobs, self._artifacts = [], [], [], []
        touch = None
        now = time.monotonic()
        if self._current is not None and now - self._touched_at >= TOUCH_EVERY_S:
            used = [e.created_at for e in history if e.session_id == self._current]
            if used:
                touch = (self._current, max(used))
        try:
            self._check_identity()
            self.repo.write_batch(fired, history, jobs=jobs, artifacts=artifacts, touch=touch)
            if touch is not None:
                self._touched_at = now
        except Exception as exc:
            # one transaction: nothing of it was written, so all of it waits for the next attempt
            self._fired = fired + self._fired
            self._history = history + self._history
            self._jobs = jobs + self._jobs
            self._artifacts = artifacts + self._artifacts
            self._cap_pending()
            self._note_write_failure(exc)
            raise
        self._note_write_success(len(fired) + len(history) + len(jobs) + len(artifacts))

    def _try_flush(self) -> bool:
        """`_flush` for a caller that goes on either way; False when the batch stays pending."""
        try:
            self._flush()
        except (peewee.DatabaseError, peewee.InterfaceError, sqlite3.DatabaseError, StoreError):
            return False
        return True

    # -- PostgreSQL: a lost connection, ownership -------------------------------------------------

    def _note_lost(self, exc: BaseException) -> bool:
        """If `exc` came with the connection lost: drop it, start reconnecting, return True."""
        if self._repo is None or not connection_lost(self._repo.database):
            return False
        if self._lost is None:
            self._lost = root_cause(exc).strip().splitlines()[0] or type(exc).__name__
            self._lost_since = time.monotonic()
            self._reconnect_attempts = 0
            self._retry_at = time.monotonic() + RECONNECT_FIRST_S
            self.log.error(
                "database_connection_lost",
                database=describe_url(self.db_url),
                error=self._lost,
                pending=self._pending(),
            )
            self._publish_writes()
        drop_connection(self._repo.database)
        return True

    def _reconnect(self) -> bool:
        """One reconnect attempt if the backoff allows it; True once connected again (ownership
        locks taken again, the batch written)."""
        if self._lost is None:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        database = self.repo.database
        try:
            connect(database)
            lost_sessions = self.repo.ownership.reclaim()
        except (peewee.DatabaseError, peewee.InterfaceError) as exc:
            drop_connection(database)
            self._reconnect_attempts += 1
            delay = min(RECONNECT_MAX_S, RECONNECT_FIRST_S * 2**self._reconnect_attempts)
            self._retry_at = time.monotonic() + delay
            if self._reconnect_attempts == 1:
                self.log.warning("database_reconnect_failed", error=root_cause(exc).strip())
            return False
        self.log.warning(
            "database_reconnected",
            database=describe_url(self.db_url),
            attempts=self._reconnect_attempts + 1,
            down_for_s=round(now - self._lost_since, 1),
            sessions_lost_to_other_processes=lost_sessions or None,
        )
        self._lost = None
        self._publish_writes()
        self._try_flush()
        return self._lost is None

    def _lost_refusal(self, message: object) -> str:
        wait = max(0.0, self._retry_at - time.monotonic())
        return (
            f"the connection to the database {describe_url(self.db_url)} is lost ({self._lost}); "
            f"{type(message).__name__} was not done and nothing of it is acknowledged; "
            f"vibeweaver reconnects by itself (next attempt in {wait:.1f} s): retry shortly"
        )

    def _check_owner(self, message: object) -> None:
        """Before a write to a session: own it (StoreError naming the owner if another process
        does). No-op on sqlite."""
        ownership = self.repo.ownership
        if not ownership.enabled:
            return
        session_id = getattr(message, "session_id", None)
        if isinstance(message, m.SaveRule):
            session_id = message.rule.session_id
        if session_id is not None:
            ownership.check(SessionId(session_id))

    def _check_identity(self) -> None:
        """StoreError unless the file at the database's path is still the one this store opened
        (device and inode): writes into a deleted or replaced file would be acknowledged and then
        lost at the next start. Logged once per streak, published for /admin/system."""
        if self._identity is None:
            return
        problem = self._identity.problem()
        if problem is None:
            if self._identity_error is not None:
                self.log.warning("database_file_back", path=str(self._identity.path))
                self._identity_error = None
                self._publish_writes()
            return
        if self._identity_error is None:
            self.log.error("database_file_lost", problem=problem)
            self._identity_error = problem
            self._publish_writes()
        raise StoreError(
            f"{problem}; writes are refused, so that nothing is acknowledged that a restart "
            "would lose: put the file back or restart vibeweaver"
        )

    def _cap_pending(self) -> None:
        over = self._pending() - MAX_PENDING_WRITES
        if over <= 0:
            return
        left = over
        for batch in (self._history, self._fired, self._jobs, self._artifacts):
            dropped = min(left, len(batch))
            del batch[:dropped]
            left -= dropped
        self._dropped += over
        self.log.error("pending_writes_dropped", dropped=over, dropped_total=self._dropped)

    def _note_write_failure(self, exc: BaseException) -> None:
        self._note_lost(exc)
        error = root_cause(exc)
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self.log.error(
                "store_writes_failing",
                error=error,
                pending=self._pending(),
            )
        self._write_error = error
        self._publish_writes()

    def _note_write_success(self, written: int) -> None:
        if self._failing_since is not None:
            self.log.warning(
                "store_writes_recovered",
                written=written,
                failed_for_s=round(time.monotonic() - self._failing_since, 1),
                dropped=self._dropped,
            )
            self._failing_since = None
            self._write_error = None
            self._publish_writes()

    def _publish_writes(self) -> None:
        remote = {"database_connection_error": self._lost} if self._remote else {}
        self.publish(
            **remote,
            pending_writes=self._pending(),
            write_error=self._identity_error or self._lost or self._write_error,
            database_file_error=self._identity_error,
            dropped_writes=self._dropped,
        )

    # -- sessions ---------------------------------------------------------------------------------

    @handles(m.OpenSession)
    def open_session(self, message: m.OpenSession) -> SessionRecord:
        record, created = self.repo.open_session(message.name, message.vibe)
        if created:
            self.log.info("session_created", session=record.name, session_id=record.id)
        return record

    @handles(m.StartSession)
    def start_session(self, message: m.StartSession) -> SessionRecord:
        record = self.repo.start_session(message.name)
        self._current = record.id
        self.log.info("session_started", session=record.name, session_id=record.id)
        return record

    @handles(m.UseSession)
    def use_session(self, message: m.UseSession) -> SessionRecord:
        record = self.repo.use_session(message.session_id)
        self._current = record.id
        return record

    @handles(m.ClaimSession)
    def claim_session(self, message: m.ClaimSession) -> SessionRecord:
        record = self.repo.get_session(message.session_id)
        if record is None:
            raise StoreError(f"no session with id {message.session_id!r}")
        self.repo.ownership.claim(record.id, record.name)
        return record

    @handles(m.GetSession)
    def get_session(self, message: m.GetSession) -> SessionRecord | None:
        return self.repo.get_session(message.session_id)

    @handles(m.FindSession)
    def find_session(self, message: m.FindSession) -> SessionRecord | None:
        return self.repo.find_session(message.name)

    @handles(m.ListSessions)
    def list_sessions(self, message: m.ListSessions) -> tuple[SessionRecord, ...]:
        return tuple(self.repo.list_sessions())

    @handles(m.UpdateSession)
    def update_session(self, message: m.UpdateSession) -> SessionRecord:
        return self.repo.update_session(
            message.session_id, name=message.name, vibe=message.vibe, tempo_bpm=message.tempo_bpm
        )

    @handles(m.ClearSession)
    def clear_session(self, message: m.ClearSession) -> m.ClearSessionResult:
        self._flush()
        counts = self.repo.clear_session(message.session_id)
        return m.ClearSessionResult(**counts)

    # -- rules ------------------------------------------------------------------------------------

    @handles(m.SaveRule)
    def save_rule(self, message: m.SaveRule) -> RuleRecord:
        return self.repo.save_rule(message.rule)

    @handles(m.GetRule)
    def get_rule(self, message: m.GetRule) -> RuleRecord | None:
        return self.repo.get_rule(message.rule_id)

    @handles(m.ListRules)
    def list_rules(self, message: m.ListRules) -> tuple[RuleRecord, ...]:
        return tuple(
            self.repo.list_rules(
                message.session_id,
                enabled_callbacks=message.enabled_callbacks,
                after=None if message.after is None else (int(message.after[0]), message.after[1]),
                limit=message.limit,
            )
        )

    @handles(m.SetRuleEnabled)
    def set_rule_enabled(self, message: m.SetRuleEnabled) -> RuleRecord:
        return self.repo.set_rule_enabled(message.rule_id, message.enabled)

    @handles(m.DeleteRule)
    def delete_rule(self, message: m.DeleteRule) -> bool:
        return self.repo.delete_rule(message.rule_id)

    @handles(m.RecordRuleFired)
    def record_rule_fired(self, message: m.RecordRuleFired) -> None:
        self._fired.append(
            FiredUpdate(rule_id=message.rule_id, fired_at=message.fired_at, delete=message.delete)
        )

    # -- markers and history ----------------------------------------------------------------------

    @handles(m.SaveMarker)
    def save_marker(self, message: m.SaveMarker) -> MarkerRecord:
        return self.repo.save_marker(
            message.session_id, message.name, message.beat, message.metadata
        )

    @handles(m.DeleteMarker)
    def delete_marker(self, message: m.DeleteMarker) -> bool:
        return self.repo.delete_marker(message.session_id, message.name)

    @handles(m.ListMarkers)
    def list_markers(self, message: m.ListMarkers) -> tuple[MarkerRecord, ...]:
        return tuple(self.repo.list_markers(message.session_id))

    @handles(m.AppendHistory)
    def append_history(self, message: m.AppendHistory) -> None:
        self._history.append(
            HistoryEntry(
                session_id=message.session_id,
                action=storable_text(message.action),
                params=storable_optional(message.params),
                result=storable_optional(message.result),
                success=message.success,
                created_at=utc_now(),
            )
        )
        if message.action != m.EVAL_ACTION:
            return
        # A cell's line is the last thing its kernel records before it answers, and the answer
        # waits until it is written: it is written now, while the reply is still on its way,
        # with everything batched before it. Asked (the kernel bridge asks for it), the answer
        # says it is written, or the error says why not; the line stays batched either way.
        if self._lost is None and self._try_flush():
            return
        if not self._is_tell():
            raise StoreError(self._unwritten())

    @handles(m.GetHistory)
    def history(self, message: m.GetHistory) -> tuple[HistoryRecord, ...]:
        return tuple(
            self.repo.history_page(
                message.session_id,
                limit=message.limit,
                kind=message.kind,
                before_id=message.before_id,
                actions_only=message.actions_only,
            )
        )

    @handles(m.GetSummaryData)
    def summary_data(self, message: m.GetSummaryData) -> SummaryData:
        return self.repo.summary_data(message.session_id)

    @handles(m.RecordMade)
    def record_made(self, message: m.RecordMade) -> None:
        self._jobs.extend(storable_record(job) for job in message.jobs)
        self._artifacts.extend(storable_record(artifact) for artifact in message.artifacts)

    @handles(m.ListJobs)
    def list_jobs(self, message: m.ListJobs) -> tuple[GenerationJobRecord, ...]:
        return tuple(self.repo.list_jobs(message.session_id, message.limit))

    @handles(m.ListArtifacts)
    def list_artifacts(self, message: m.ListArtifacts) -> tuple[ArtifactRecord, ...]:
        return tuple(self.repo.list_artifacts(message.session_id, message.limit))

    @handles(m.GetRecentHistory)
    def recent_history(self, message: m.GetRecentHistory) -> tuple[HistoryRecord, ...]:
        return tuple(self.repo.recent_history(message.session_id, message.limit))

    # -- snapshots, statistics, housekeeping ------------------------------------------------------

    @handles(m.SaveSnapshot)
    def save_snapshot(self, message: m.SaveSnapshot) -> SnapshotRecord:
        return self.repo.save_snapshot(message.session_id, message.state_capnp)

    @handles(m.GetSnapshot)
    def get_snapshot(self, message: m.GetSnapshot) -> SnapshotRecord | None:
        return self.repo.load_snapshot(message.session_id)

    @handles(m.SaveGenerationStats)
    def save_generation_stats(self, message: m.SaveGenerationStats) -> None:
        self.repo.save_generation_stats(message.stats)

    @handles(m.ListGenerationStats)
    def list_generation_stats(
        self, message: m.ListGenerationStats
    ) -> tuple[GenerationStatsRecord, ...]:
        return tuple(self.repo.load_generation_stats())

    @handles(m.Flush)
    def flush(self, message: m.Flush) -> None:
        if self._try_flush() or self._is_tell():
            return  # the ticker's flush: the failure is logged once per streak, retried next tick
        raise StoreError(self._unwritten())

    def _unwritten(self) -> str:
        """Why batched writes are not written yet (they are kept and retried)."""
        if self._lost is not None:
            return (
                f"the connection to the database {describe_url(self.db_url)} is lost "
                f"({self._lost}); {self._pending()} batched writes are kept and written once "
                "vibeweaver has reconnected"
            )
        return (
            f"the database refuses writes ({self._write_error}); "
            f"{self._pending()} batched writes are kept and retried"
        )

    @handles(m.Keepalive)
    def keepalive(self, message: m.Keepalive) -> None:
        # reaching here means connected (`on_receive` reconnects first)
        try:
            self.repo.database.execute_sql("SELECT 1")  # type: ignore[no-untyped-call]
        except (peewee.DatabaseError, peewee.InterfaceError) as exc:
            if not self._note_lost(exc):
                raise

    @handles(m.GetStoreInfo)
    def store_info(self, message: m.GetStoreInfo) -> m.StoreInfo:
        return m.StoreInfo(
            url=self.db_url,
            schema_version=schema_version(self.repo.database),
            counts=tuple(sorted(self.repo.counts().items())),
            pending_writes=self._pending(),
        )
