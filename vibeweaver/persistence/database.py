"""Opening the database: URL → peewee Database with the pragmas vibeweaver relies on.

A `postgresql://` URL opens a PostgreSQL database through psycopg 3 (peewee's
`Psycopg3Database`); the rest of this docstring is about sqlite.

sqlite runs in WAL mode with synchronous=NORMAL: a committed transaction survives a `kill -9` of
the process (only an OS crash or power loss can take the last commits), and a write costs ~10 µs
instead of ~850 µs with the rollback journal (notes/perf-floors.md §4). Write transactions begin
IMMEDIATE so a reader that later writes never fails with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee
from playhouse.postgres_ext import Psycopg3Database

from vibeweaver.config import (
    is_postgres_url,
    postgres_url,
    read_secret_file,
    sqlite_path,
)
from vibeweaver.errors import ConfigError, StartupError
from vibeweaver.persistence.dialect import Dialect
from vibeweaver.private_files import private_dir, private_file, tighten_if_present

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "cache_size": -16000,
}


CONNECT_TIMEOUT_S = 3
"""How long one connection attempt to PostgreSQL may take (the store actor waits for it)."""


def open_database(url: str, *, password_file: Path | None = None) -> peewee.Database:
    """Open (creating if needed) the database at `url` and connect on the calling thread.

    A PostgreSQL URL gets its password from `password_file` when given, else libpq's own
    `PGPASSWORD` or `~/.pgpass`."""
    if is_postgres_url(url):
        return open_postgres(url, password_file=password_file)
    path = sqlite_path(url)
    target = ":memory:" if path is None else str(path)
    if path is not None:
        check_writable(path)
        private_file(path)  # sqlite gives the WAL and -shm files the database file's mode
        for companion in ("-wal", "-shm"):
            tighten_if_present(path.with_name(path.name + companion))
    database = peewee.SqliteDatabase(
        target, pragmas=SQLITE_PRAGMAS, timeout=5, lock_type="IMMEDIATE", autoconnect=False
    )
    try:
        database.connect()
    except peewee.DatabaseError as exc:  # OperationalError, or "file is not a database"
        raise StartupError(f"cannot open database {target}: {exc}") from exc
    return database


def open_postgres(url: str, *, password_file: Path | None = None) -> peewee.Database:
    """A connected peewee database on psycopg 3 (`Psycopg3Database`) for the PostgreSQL `url`."""
    params: dict[str, object] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": "vibeweaver",
        # a server that vanished without closing the socket is noticed within ~15 s
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
    if password_file is not None:
        try:
            params["password"] = read_secret_file(password_file, "--db-password-file", "password")
        except ConfigError as exc:
            raise StartupError(str(exc)) from None
    database: peewee.Database = Psycopg3Database(postgres_url(url), autoconnect=False, **params)
    try:
        connect(database)
    except peewee.DatabaseError as exc:
        raise StartupError(f"cannot connect to PostgreSQL at {describe_url(url)}: {exc}") from exc
    return database


def connect(database: peewee.Database) -> None:
    """Open `database`'s connection on this thread and set it up (used again to reconnect)."""
    database.connect()
    try:
        Dialect.of(database).on_connect(database)
    except BaseException:
        database.close()
        raise


def drop_connection(database: peewee.Database) -> None:
    """Forget a connection the server closed. peewee's `close()` refuses while a transaction is
    open, and a transaction interrupted by a lost connection can never be closed normally, so
    this closes the socket and resets peewee's per-thread state itself."""
    state: Any = database._state  # type: ignore[attr-defined] # no public way to drop a dead one
    if state.conn is not None:
        with contextlib.suppress(Exception):  # it is already dead
            state.conn.close()
    state.reset()


def connection_lost(database: peewee.Database) -> bool:
    """True when `database` is PostgreSQL and its connection is closed or broken."""
    if not isinstance(database, peewee.PostgresqlDatabase):
        return False
    conn: Any = database._state.conn  # type: ignore[attr-defined]
    return conn is None or bool(conn.closed) or bool(getattr(conn, "broken", False))


def describe_url(url: str) -> str:
    """`url` without anything secret, for messages and logs (`postgresql://user@host:port/db`)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        return url
    host = parsed.hostname or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    user = f"{parsed.username}@" if parsed.username else ""
    return f"postgresql://{user}{host}{port}{parsed.path}"


@dataclass(frozen=True, slots=True)
class DatabaseIdentity:
    """Which file a database path named when it was opened (device and inode)."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> DatabaseIdentity:
        info = os.stat(path)
        return cls(path=path, device=info.st_dev, inode=info.st_ino)

    def problem(self) -> str | None:
        """None while the path still names that file; else what happened to it (one stat)."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return f"the database file {self.path} was deleted while vibeweaver ran"
        except OSError as exc:
            return f"the database file {self.path} cannot be checked: {exc.strerror}"
        if (info.st_dev, info.st_ino) != (self.device, self.inode):
            return f"the database file {self.path} was replaced while vibeweaver ran"
        return None


def check_writable(path: Path) -> None:
    directory = path.parent
    try:
        private_dir(directory)
    except OSError as exc:
        raise StartupError(
            f"cannot create database directory {directory}: {exc.strerror}"
        ) from None
    if path.exists() and not path.is_file():
        raise StartupError(f"database path {path} exists and is not a file")
    probe = directory / f".vibeweaver-write-test-{id(path)}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"database directory {directory} is not writable: {exc.strerror}"
        ) from None


_SECONDARY = ("cannot rollback - no transaction is active",)


def root_cause(exc: BaseException) -> str:
    """The database error worth reporting for `exc`.

    When sqlite fails a COMMIT with an I/O error it has already rolled the transaction back, so
    peewee's own rollback then fails with "cannot rollback - no transaction is active", which hides
    the cause ("disk I/O error", "database or disk is full"). This walks the implicit chain past
    such follow-up errors.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if not any(secondary in text for secondary in _SECONDARY):
            return text or type(current).__name__
        current = current.__context__
    return str(exc)
