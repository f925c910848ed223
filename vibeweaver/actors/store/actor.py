"""SessionStore: the only writer of the database.

State owned: the database connection (opened on the actor thread in `setup`, closed in `release`),
the batch of pending rule firings and history rows, and the flush ticker thread.
Messages accepted: everything in `store.messages`. Asks that write (`SaveRule`, `SaveMarker`,
`OpenSession`, ...) commit before replying, so an acknowledged write survives `kill -9`. Rule
firings and history rows are tells, batched and written in one transaction at most ~0.2 s later
(or before any read). Database errors become `StoreError` replies; the actor keeps serving.

When the disk refuses writes (full, read-only, an I/O error), a write ask fails with a StoreError
naming the cause, while the batch is kept in memory (up to `MAX_PENDING_WRITES` rows, the oldest
dropped beyond that, counted and logged) and written by the next flush that succeeds; reads go on
from what is already written. The failing streak is logged once when it starts and once when it
ends, and published for the admin view (`pending_writes`, `write_error`, `dropped_writes`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import peewee

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.store import messages as m
from vibeweaver.errors import StoreError
from vibeweaver.persistence.database import open_database, root_cause
from vibeweaver.persistence.migrate import migrate, schema_version
from vibeweaver.persistence.records import (
    GenerationStatsRecord,
    HistoryRecord,
    MarkerRecord,
    RuleRecord,
    SessionRecord,
    SnapshotRecord,
)
from vibeweaver.persistence.repository import FiredUpdate, HistoryEntry, Repository, utc_now

FLUSH_INTERVAL_S = 0.2
MAX_PENDING_WRITES = 50_000
"""Batched rows kept while the disk refuses writes; beyond it the oldest are dropped (counted)."""
_BATCHED = (m.RecordRuleFired, m.AppendHistory, m.Flush)


class SessionStore(WeaverActor):
    """Owns the database; see the module docstring."""

    def __init__(self, context: ActorContext, *, db_url: str) -> None:
        super().__init__(context)
        self.db_url = db_url
        self._repo: Repository | None = None
        self._fired: list[FiredUpdate] = []
        self._history: list[HistoryEntry] = []
        self._ticker_stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._write_error: str | None = None
        self._failing_since: float | None = None
        self._dropped = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        database = open_database(self.db_url)
        applied = migrate(database)
        self._repo = Repository(database)
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
            self._repo.database.close()
            self._repo = None
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(1.0)

    def _tick(self) -> None:
        handle = self.system.handle(self.context.name)
        while not self._ticker_stop.wait(FLUSH_INTERVAL_S):
            if self._fired or self._history:  # a racy read is fine: worst case one idle Flush
                handle.tell(m.Flush())

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            raise StoreError("the session store is not open")
        return self._repo

    # -- dispatch with consistent reads and readable errors ---------------------------------------

    def on_receive(self, message: Any) -> Any:
        if not isinstance(message, _BATCHED) and (self._fired or self._history):
            # a read sees every batched write; if the disk refuses them, it reads what is written
            self._try_flush()
        try:
            return super().on_receive(message)
        except (peewee.IntegrityError, sqlite3.IntegrityError) as exc:
            raise StoreError(f"the store refused {type(message).__name__}: {exc}") from exc
        except (peewee.OperationalError, sqlite3.OperationalError) as exc:
            raise StoreError(
                f"database error during {type(message).__name__}: {root_cause(exc)}"
            ) from exc

    def _flush(self) -> None:
        """Write the batch in one go; on failure keep it for the next attempt and raise."""
        fired, history = self._fired, self._history
        if not fired and not history:
            return
        self._fired, self._history = [], []
        try:
            self.repo.write_batch(fired, history)
        except Exception as exc:
            # one transaction: nothing of it was written, so all of it waits for the next attempt
            self._fired = fired + self._fired
            self._history = history + self._history
            self._cap_pending()
            self._note_write_failure(exc)
            raise
        self._note_write_success(len(fired) + len(history))

    def _try_flush(self) -> bool:
        """`_flush` for a caller that goes on either way; False when the batch stays pending."""
        try:
            self._flush()
        except (peewee.DatabaseError, sqlite3.DatabaseError):
            return False
        return True

    def _cap_pending(self) -> None:
        over = len(self._fired) + len(self._history) - MAX_PENDING_WRITES
        if over <= 0:
            return
        dropped_history = min(over, len(self._history))
        del self._history[:dropped_history]
        del self._fired[: over - dropped_history]
        self._dropped += over
        self.log.error("pending_writes_dropped", dropped=over, dropped_total=self._dropped)

    def _note_write_failure(self, exc: BaseException) -> None:
        error = root_cause(exc)
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self.log.error(
                "store_writes_failing",
                error=error,
                pending=len(self._fired) + len(self._history),
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
        self.publish(
            pending_writes=len(self._fired) + len(self._history),
            write_error=self._write_error,
            dropped_writes=self._dropped,
        )

    # -- sessions ---------------------------------------------------------------------------------

    @handles(m.OpenSession)
    def open_session(self, message: m.OpenSession) -> SessionRecord:
        record, created = self.repo.open_session(message.name, message.vibe)
        if created:
            self.log.info("session_created", session=record.name, session_id=record.id)
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
        return tuple(self.repo.list_rules(message.session_id))

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
                action=message.action,
                params=message.params,
                result=message.result,
                success=message.success,
                created_at=utc_now(),
            )
        )

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
        raise StoreError(
            f"the database refuses writes ({self._write_error}); "
            f"{len(self._fired) + len(self._history)} batched writes are kept and retried"
        )

    @handles(m.GetStoreInfo)
    def store_info(self, message: m.GetStoreInfo) -> m.StoreInfo:
        return m.StoreInfo(
            url=self.db_url,
            schema_version=schema_version(self.repo.database),
            counts=tuple(sorted(self.repo.counts().items())),
            pending_writes=len(self._fired) + len(self._history),
        )
