"""A cell's history line is written as soon as the store gets it (not at the next tick), with
what was batched before it: the eval's answer waits for it. Asked (as the kernel bridge asks it),
its answer comes once it is written, or says why it is not (the line is kept and written later).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env, wait_until
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


REFUSED = r"""
import json, resource, sys
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.store import messages as m
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem
from vibeweaver.errors import StoreError
from vibeweaver.logs import configure

configure(json=True)  # to stderr: stdout carries the result
system = ActorSystem(name="eval-line-refused")
system.define(ActorSpec(SUPERVISOR, Supervisor))
handle = system.define(ActorSpec("store", SessionStore, {"db_url": f"sqlite:///{sys.argv[1]}"}))
system.start()
store = StoreClient(handle)
session = store.open_session("jam")
out = {}
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
try:
    handle.ask(m.AppendHistory(session_id=session.id, action="eval", params="1"), timeout=10)
    out["refused"] = "answered as written"
except StoreError as exc:
    out["refused"] = str(exc)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
handle.ask(m.AppendHistory(session_id=session.id, action="eval", params="2"), timeout=10)
out["after"] = [h.params for h in store.recent_history(session.id, 10)]
system.stop()
print(json.dumps(out))
"""


def test_an_eval_line_the_disk_refuses_is_answered_with_the_cause_and_written_later(
    tmp_path: Path,
) -> None:
    """The refusal is real, in a subprocess: RLIMIT_FSIZE 0 makes every sqlite write fail."""
    done = subprocess.run(
        [sys.executable, "-c", REFUSED, str(tmp_path / "vw.db")],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["refused"].startswith("the database refuses writes (disk I/O error);"), out
    assert "batched writes are kept and retried" in out["refused"]
    assert out["after"] == ["1", "2"]  # kept, and written with the next line
