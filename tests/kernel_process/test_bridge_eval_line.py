"""The kernel bridge asks for a cell's history line (`PortBridge.take_eval_line`): its answer says
the cell's history is written, so the eval's answer needs no flush; any store call the kernel
makes after the line leaves the flush to say it. A real store on a tmp sqlite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.persistence.untick_store import store_without_ticks, stored_actions
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.kernel.bridge import PortBridge
from vibeweaver.actors.store import StoreClient
from vibeweaver.actors.store import messages as m
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
    path = tmp_path / "store.db"
    with store_without_ticks(path, monkeypatch) as handle:
        made = PortBridge(handles={"store": handle}, link=HootenannyLink(None), name="t")
        yield made, StoreClient(handle).open_session("jam").id, path


def told(session: SessionId, action: str) -> Call:
    line = m.AppendHistory(session_id=session, action=action, params="x")
    return Call(id=0, target="store", method="tell", args=(line,), kwargs={})


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
