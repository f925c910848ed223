"""A SessionStore actor on a tmp sqlite file whose flush ticker never fires during a test (only
what writes at once is in the database), and the history actions read back from that file with
raw sqlite3. Shared by the tests of the cell's history line (store and kernel bridge)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vibeweaver.actors.store import SessionStore
from vibeweaver.actors.store import actor as store_actor
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorHandle, ActorSpec, ActorSystem


@contextmanager
def store_without_ticks(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ActorHandle]:
    monkeypatch.setattr(store_actor, "FLUSH_INTERVAL_S", 3600.0)  # no tick during the test
    system = ActorSystem(name="untick-store")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    handle = system.define(ActorSpec("store", SessionStore, {"db_url": f"sqlite:///{path}"}))
    system.start()
    try:
        yield handle
    finally:
        system.stop()


def stored_actions(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        return [row[0] for row in raw.execute("SELECT action FROM history ORDER BY id")]
