"""A cell's history line is written as soon as the store gets it (not at the next tick), with
what was batched before it: the eval's answer waits for it. Asked (as the kernel bridge asks it),
its answer comes once it is written (when the disk refuses it: test_store_refused_writes.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.persistence.untick_store import store_without_ticks, stored_actions
from vibeweaver.actors.store import StoreClient
from vibeweaver.actors.store import messages as store_messages


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StoreClient, Path]]:
    path = tmp_path / "store.db"
    with store_without_ticks(path, monkeypatch) as handle:
        yield StoreClient(handle), path


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
