"""SessionOwnership: which sessions this process owns, on a database many processes share.

On PostgreSQL (SPEC §4.7) a process owns the sessions it opened through a session-level advisory
lock (`pg_try_advisory_lock`, key: a 64-bit hash of the session id) held by the store's
connection, so PostgreSQL releases it when the process or its connection dies, `kill -9`
included. A row in `session_owners` (host, pid, since) names the holder, so a second process that
fails to take the lock can say who has the session. Reads never need ownership: any process lists
and reads every session.

When the store's connection is lost and comes back, `reclaim()` takes the locks again; a session
another process took in between is no longer owned here (the next write to it tries to claim it
and fails naming the new owner).

On sqlite the whole database file has one owner (`owner_lock.OwnerLock`), so this class does
nothing there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from vibeweaver.errors import StoreError
from vibeweaver.persistence.dialect import Dialect
from vibeweaver.types import SessionId


def lock_key(session_id: str) -> int:
    """The advisory lock key of a session: a signed 64-bit hash of its id."""
    digest = hashlib.blake2b(session_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class SessionOwner:
    """Who holds a session (as its owner row says)."""

    host: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, since {self.since}"


def owned_elsewhere(name: str, owner: SessionOwner | None) -> StoreError:
    """The refusal of a session another process owns, naming it (host, pid, since). A plain
    StoreError, so it crosses any proxy of the store as the type callers already handle."""
    who = (
        f"another vibeweaver process ({owner.describe()})"
        if owner is not None
        else "another vibeweaver process (it has not written its owner row yet)"
    )
    return StoreError(
        f"session {name!r} is owned by {who}; a session is worked in by one process at a "
        "time: stop that process (its lock is released when it exits or dies), then load "
        "the session here"
    )


class SessionOwnership:
    """The sessions this process owns (PostgreSQL); see the module docstring."""

    def __init__(self, database: peewee.Database, *, host: str | None = None) -> None:
        self.database = database
        self.enabled = Dialect.of(database).is_postgres
        self.host = host or socket.gethostname()
        self.pid = os.getpid()
        self._owned: dict[SessionId, str] = {}
        """Owned session id → since (the owner row's timestamp)."""

    @property
    def owned(self) -> tuple[SessionId, ...]:
        return tuple(self._owned)

    def claim(self, session_id: SessionId, name: str) -> None:
        """Own the session, or raise StoreError naming its owner (no-op on sqlite and
        for a session already owned). Called outside any transaction: the lock is the
        connection's, not a transaction's."""
        if not self.enabled or session_id in self._owned:
            return
        if not self._try_lock(session_id):
            raise owned_elsewhere(name, self.owner_of(session_id))
        since = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            self._write_row(session_id, since)
        except BaseException:
            self._unlock(session_id)
            raise
        self._owned[session_id] = since

    def check(self, session_id: SessionId) -> None:
        """Before a write to the session: claim it unless owned (a write to a session another
        process owns raises StoreError naming the owner)."""
        if not self.enabled or session_id in self._owned:
            return
        name = self._name(session_id)
        if name is None:
            return  # no such session: the write itself reports that
        self.claim(session_id, name)

    def owner_of(self, session_id: SessionId) -> SessionOwner | None:
        """The owner row of the session (who holds it, or held it last)."""
        if not self.enabled:
            return None
        row = self.database.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT host, pid, since FROM session_owners WHERE session_id = %s", (session_id,)
        ).fetchone()
        return None if row is None else SessionOwner(str(row[0]), int(row[1]), str(row[2]))

    def reclaim(self) -> list[SessionId]:
        """After a reconnect: take the locks of the owned sessions again; returns the sessions
        lost to another process meanwhile (no longer owned here)."""
        lost: list[SessionId] = []
        for session_id, since in list(self._owned.items()):
            if self._try_lock(session_id):
                self._write_row(session_id, since)
            else:
                del self._owned[session_id]
                lost.append(session_id)
        return lost

    def release_all(self) -> None:
        """Give every owned session up (a clean stop; a dead process releases them anyway)."""
        if not self.enabled or not self._owned:
            return
        ids = list(self._owned)
        self._owned.clear()
        self.database.execute_sql(  # type: ignore[no-untyped-call]
            "DELETE FROM session_owners WHERE session_id = ANY(%s) AND host = %s AND pid = %s",
            (ids, self.host, self.pid),
        )
        self.database.execute_sql("SELECT pg_advisory_unlock_all()")  # type: ignore[no-untyped-call]

    def _try_lock(self, session_id: SessionId) -> bool:
        cursor = self.database.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT pg_try_advisory_lock(%s)", (lock_key(session_id),)
        )
        return bool(cursor.fetchone()[0])

    def _unlock(self, session_id: SessionId) -> None:
        with contextlib.suppress(peewee.DatabaseError):  # a lost connection released it already
            self.database.execute_sql(  # type: ignore[no-untyped-call]
                "SELECT pg_advisory_unlock(%s)", (lock_key(session_id),)
            )

    def _write_row(self, session_id: SessionId, since: str) -> None:
        self.database.execute_sql(  # type: ignore[no-untyped-call]
            "INSERT INTO session_owners (session_id, host, pid, since) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (session_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
            "since = excluded.since",
            (session_id, self.host, self.pid, since),
        )

    def _name(self, session_id: SessionId) -> str | None:
        row = self.database.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT name FROM sessions WHERE id = %s", (session_id,)
        ).fetchone()
        return None if row is None else str(row[0])
