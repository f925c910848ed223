"""Mailbox instrumentation: asks vs tells, mailbox waits, the message being handled, and reading
without ever touching the actor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import wait_until
from vibeweaver.actors.base import WeaverActor, handles
from vibeweaver.actors.mailbox import ActorStats, InstrumentedInbox
from vibeweaver.actors.messages import Ping
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorHandle, ActorSpec, ActorSystem


@dataclass(frozen=True, slots=True)
class Hold:
    release: threading.Event
    started: threading.Event


@dataclass(frozen=True, slots=True)
class Note:
    text: str = ""


class Worker(WeaverActor):
    @handles(Hold)
    def hold(self, message: Hold) -> None:
        message.started.set()
        message.release.wait(10)

    @handles(Note)
    def note(self, message: Note) -> str:
        return message.text


@pytest.fixture
def worker() -> Iterator[ActorHandle]:
    system = ActorSystem("instrumentation")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    handle = system.define(ActorSpec("worker", Worker))
    system.start()
    try:
        yield handle
    finally:
        system.stop()


def test_queued_asks_and_tells_are_told_apart_and_the_current_message_says_which_it_is(
    worker: ActorHandle,
) -> None:
    release, started = threading.Event(), threading.Event()
    worker.tell(Hold(release, started))
    assert started.wait(5)
    try:
        future = worker.ask_future(Note(text="asked"))
        worker.tell(Note(text="told"))
        snapshot = worker.stats.snapshot()
        assert snapshot["current_message"] == "Hold"
        assert snapshot["current_message_kind"] == "tell"
        assert snapshot["mailbox_depth"] == 2
        assert snapshot["queued_asks"] == 1
        queued = worker.stats.detail()["queued_messages"]
        kinds = [(item["type"], item["kind"]) for item in queued]
        assert kinds == [("Note", "ask"), ("Note", "tell")]
        assert all(item["age_ms"] >= 0 for item in queued)
    finally:
        release.set()
    assert future.get(timeout=5) == "asked"
    wait_until(lambda: worker.stats.snapshot()["mailbox_depth"] == 0)
    detail = worker.stats.detail()
    assert detail["queued_asks"] == 0
    assert detail["handled_asks"] == 2  # the start-up Ping and the Note
    assert detail["handled_tells"] == 2


def test_mailbox_waits_are_recorded_and_summarised_as_percentiles(worker: ActorHandle) -> None:
    release, started = threading.Event(), threading.Event()
    worker.tell(Hold(release, started))
    assert started.wait(5)
    worker.tell(Note())
    wait_until(lambda: (worker.stats.snapshot()["oldest_message_age_ms"] or 0) > 20)
    release.set()
    wait_until(lambda: worker.stats.snapshot()["handled"] == 3)
    wait = worker.stats.detail()["mailbox_wait"]
    assert wait["samples"] == 3
    assert wait["max_ms"] > 20  # the Note waited behind Hold
    assert wait["p50_ms"] <= wait["p95_ms"] <= wait["max_ms"]


def test_per_type_counts_and_processing_percentiles_accumulate(worker: ActorHandle) -> None:
    for index in range(20):
        worker.tell(Note(text=str(index)))
    wait_until(lambda: worker.stats.snapshot()["handled"] == 21)
    types = worker.stats.detail()["message_types"]
    assert types["Note"]["count"] == 20
    assert types["Note"]["failed"] == 0
    assert 0 <= types["Note"]["p50_ms"] <= types["Note"]["p95_ms"] <= types["Note"]["max_ms"]
    recent = worker.stats.detail()["recent_messages"]
    assert recent[0]["type"] == "Note"
    assert recent[0]["ok"] is True
    assert recent[0]["ago_s"] >= 0


def test_reading_the_statistics_never_puts_anything_in_the_mailbox(worker: ActorHandle) -> None:
    release, started = threading.Event(), threading.Event()
    worker.tell(Hold(release, started))
    assert started.wait(5)
    try:
        before = worker.stats.snapshot()
        for _ in range(100):
            worker.stats.snapshot()
            worker.stats.detail()
        after = worker.stats.snapshot()
        assert after["enqueued"] == before["enqueued"]
        assert after["handled"] == before["handled"]
        assert after["mailbox_depth"] == 0
        stack = "\n".join(worker.stats.detail()["stack"])
        assert "in hold" in stack  # the actor thread's live stack, read from outside
    finally:
        release.set()


def test_the_current_message_is_cleared_by_the_code_that_stops_an_actor() -> None:
    inbox = InstrumentedInbox()
    stats = ActorStats("x", inbox)
    stats.begin(Ping())
    assert stats.current_label == "Ping"
    assert stats.current_started is not None
    stats.current_label = None  # what ActorSystem/WeaverActor do on stop
    assert stats.snapshot()["current_message"] is None
    assert stats.snapshot()["current_message_ms"] is None


def test_queued_labels_are_capped_and_oldest_first() -> None:
    inbox = InstrumentedInbox()
    for index in range(120):
        inbox.put(Note(text=str(index)) if index % 2 else Ping())
    assert inbox.queued_labels(50) == ["Ping", "Note"] * 25
    assert len(inbox.queued_items(50)) == 50
    assert inbox.high_water == 120
