"""The kernel bridge asks for a cell's history line (`PortBridge.take_eval_line`): its answer says
the cell's history is written, so the eval's answer needs no flush; any store call the kernel
makes after the line leaves the flush to say it. A real store on a tmp sqlite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.kernel.bridge import PortBridge
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.store import actor as store_actor
from vibeweaver.actors.store import messages as m
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem
from vibeweaver.channel.messages import Call
from vibeweaver.types import SessionId


class Sent:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def send(self, message: Any) -> None:
        self.items.append(message)


@pytest.fixture
def bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PortBridge, SessionId, Path]]:
    monkeypatch.setattr(store_actor, "FLUSH_INTERVAL_S", 3600.0)  # no tick during the test
    path = tmp_path / "store.db"
    system = ActorSystem(name="bridge-eval-line")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    handle = system.define(ActorSpec("store", SessionStore, {"db_url": f"sqlite:///{path}"}))
    system.start()
    made = PortBridge(handles={"store": handle}, link=HootenannyLink(None), name="t")
    try:
        yield made, StoreClient(handle).open_session("jam").id, path
    finally:
        system.stop()


def told(session: SessionId, action: str) -> Call:
    line = m.AppendHistory(session_id=session, action=action, params="x")
    return Call(id=0, target="store", method="tell", args=(line,), kwargs={})


def stored_actions(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        return [row[0] for row in raw.execute("SELECT action FROM history ORDER BY id")]


def test_the_cells_line_is_asked_and_its_answer_says_written(
    bridge: tuple[PortBridge, SessionId, Path],
) -> None:
    made, session, path = bridge
    sent = Sent()
    assert made.make_now(sent, told(session, "marker"))
    assert made.make_now(sent, told(session, "eval"))
    line = made.take_eval_line()
    assert line is not None
    line.result(10)
    assert stored_actions(path) == ["marker", "eval"]
    assert made.take_eval_line() is None  # taken once
    assert sent.items == []  # one-way calls: nothing goes back to the kernel


def test_a_store_call_after_the_line_leaves_it_to_the_flush(
    bridge: tuple[PortBridge, SessionId, Path],
) -> None:
    made, session, _ = bridge
    sent = Sent()
    made.make_now(sent, told(session, "eval"))
    made.make_now(sent, told(session, "snapshot"))
    assert made.take_eval_line() is None
    made.make_now(sent, told(session, "marker"))
    assert made.take_eval_line() is None  # no line at all
