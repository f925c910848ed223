"""Opening the database: URL → peewee Database with the pragmas vibeweaver relies on.

sqlite runs in WAL mode with synchronous=NORMAL: a committed transaction survives a `kill -9` of
the process (only an OS crash or power loss can take the last commits), and a write costs ~10 µs
instead of ~850 µs with the rollback journal (notes/perf-floors.md §4). Write transactions begin
IMMEDIATE so a reader that later writes never fails with "database is locked".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import peewee

from vibeweaver.config import sqlite_path
from vibeweaver.errors import StartupError
from vibeweaver.private_files import private_dir, private_file, tighten_if_present

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "cache_size": -16000,
}


def open_database(url: str) -> peewee.Database:
    """Open (creating if needed) the database at `url` and connect on the calling thread."""
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
