"""PostgreSQL (SPEC §4.7), in process: migrations run once under the migration lock whichever
process starts first, and sessions are owned per process (advisory lock + owner row), readable
by all, and free again when the owner's connection dies."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import peewee
import pytest

from tests.pg_server import open_test_database
from vibeweaver.errors import StoreError
from vibeweaver.persistence.database import connect, drop_connection
from vibeweaver.persistence.migrate import known_versions, migrate, schema_version
from vibeweaver.persistence.repository import Repository


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[Repository, Repository]]:
    """Two stores on one database, as two processes have (one connection each)."""
    first = open_test_database(pg_url)
    migrate(first)
    second = open_test_database(pg_url)
    yield Repository(first), Repository(second)
    for database in (first, second):
        if not database.is_closed():
            database.close()


def test_concurrent_starts_migrate_once(pg_url: str) -> None:
    databases = [open_test_database(pg_url) for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(databases))

    def start(database: peewee.Database) -> None:
        try:
            connect(database)
            barrier.wait(10)
            results.append(migrate(database))
            database.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # each thread uses its own database object, hence its own connection (peewee's are
    # per thread and per object): four processes starting together
    threads = []
    for database in databases:
        database.close()
        threads.append(threading.Thread(target=start, args=(database,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(len(applied) for applied in results) == [0, 0, 0, len(known_versions())]
    check = open_test_database(pg_url)
    assert schema_version(check) == known_versions()[-1]
    check.close()


def test_a_session_owned_by_another_process_is_refused_naming_the_owner(
    two: tuple[Repository, Repository],
) -> None:
    a, b = two
    jam, _ = a.open_session("jam", vibe="dub")
    a.save_marker(jam.id, "drop", 64, None)
    with pytest.raises(StoreError) as refused:
        b.open_session("jam")
    message = str(refused.value)
    assert "session 'jam' is owned by another vibeweaver process" in message
    assert f"pid {os.getpid()} on host {socket.gethostname()}, since " in message
    with pytest.raises(StoreError, match="owned by"):
        b.use_session(jam.id)
    # reads need no ownership
    assert [s.name for s in b.list_sessions()] == ["jam"]
    assert [m.name for m in b.list_markers(jam.id)] == ["drop"]
    assert b.summary_data(jam.id).session.vibe == "dub"
    # a start without a name passes over the owned session
    assert b.start_session(None).name == "default"


def test_the_session_of_an_owner_whose_connection_died_can_be_taken(
    two: tuple[Repository, Repository],
) -> None:
    a, b = two
    jam, _ = a.open_session("jam")
    with pytest.raises(StoreError, match="owned by"):
        b.open_session("jam")
    drop_connection(a.database)  # the owner dies: PostgreSQL ends its backend, the lock goes
    taken = b.use_session(jam.id)
    assert taken.id == jam.id
    owner = b.ownership.owner_of(jam.id)
    assert owner is not None and owner.pid == os.getpid()


def test_a_clean_stop_releases_the_sessions_and_their_owner_rows(
    two: tuple[Repository, Repository],
) -> None:
    a, b = two
    jam, _ = a.open_session("jam")
    a.ownership.release_all()
    assert b.ownership.owner_of(jam.id) is None
    b.open_session("jam")
    with pytest.raises(StoreError, match="owned by"):
        a.use_session(jam.id)
