"""A cell's history line is written as soon as the store gets it (not at the next tick), with
what was batched before it: the eval's answer waits for it. Asked (as the kernel bridge asks it),
its answer comes once it is written (when the disk refuses it: test_store_refused_writes.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.store import actor as store_actor
from vibeweaver.actors.store import messages as store_messages
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StoreClient, Path]]:
    monkeypatch.setattr(store_actor, "FLUSH_INTERVAL_S", 3600.0)  # no tick during the test
    path = tmp_path / "store.db"
    system = ActorSystem(name="eval-line")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    handle = system.define(ActorSpec("store", SessionStore, {"db_url": f"sqlite:///{path}"}))
    system.start()
    try:
        yield StoreClient(handle), path
    finally:
        system.stop()


def stored_actions(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        return [row[0] for row in raw.execute("SELECT action FROM history ORDER BY id")]


def test_the_eval_line_and_what_was_batched_before_it_are_written_at_once(
    store: tuple[StoreClient, Path],
) -> None:
    client, path = store
    session = client.open_session("jam")
    client.append_history(session.id, "marker", params="intro")  # batched: no tick will come
    client.append_history(session.id, "eval", params="marker('intro', 0)", result="ok")
    wait_until(lambda: stored_actions(path), timeout=10)  # no tick comes: only the eval line
    assert stored_actions(path) == ["marker", "eval"]  # ... writes the batch, in order


def test_asked_the_eval_line_is_answered_once_written(store: tuple[StoreClient, Path]) -> None:
    client, path = store
    session = client.open_session("jam")
    client.append_history(session.id, "marker", params="intro")
    line = store_messages.AppendHistory(session_id=session.id, action="eval", params="1+1")
    client.handle.ask(line, timeout=10)
    assert stored_actions(path) == ["marker", "eval"]  # no waiting: the answer means written
