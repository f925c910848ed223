"""The kernel's outbox (`vibeweaver.actors.kernel.outbox`): posted events leave in batches on the
outbox's thread, and nothing sent after them overtakes them. Two real peers over a Unix socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.kernel_process.test_channel import KEY, Inbox
from vibeweaver.actors.kernel.outbox import MAX_EVENTS_PER_MESSAGE, KernelOutbox
from vibeweaver.actors.scheduler.messages import TransportMoved
from vibeweaver.channel.messages import Event, Events, StatusRequest
from vibeweaver.channel.peer import Peer
from vibeweaver.types import SessionId


@pytest.fixture
def ends(tmp_path: Path) -> Iterator[tuple[Peer, Peer, Inbox]]:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    path = f"{run}/k-test.sock"
    kernel_inbox = Inbox()
    service = Peer(path=path, key=KEY, bind=True, on_message=lambda _: None, name="svc")
    kernel = Peer(path=path, key=KEY, bind=False, on_message=kernel_inbox, name="kernel")
    service.start()
    kernel.start()
    yield service, kernel, kernel_inbox
    kernel.close()
    service.close()


def moved(i: int) -> TransportMoved:
    return TransportMoved(session_id=SessionId("s"), action=f"seek-{i}")


def received_events(inbox: Inbox) -> list[Any]:
    events: list[Any] = []
    for item in inbox.items:
        if isinstance(item, Event):
            events.append(item.event)
        elif isinstance(item, Events):
            events.extend(item.events)
    return events


def test_a_message_sent_after_events_takes_them_along_when_the_outbox_thread_has_not_run(
    ends: tuple[Peer, Peer, Inbox],
) -> None:
    service, _, inbox = ends
    outbox = KernelOutbox(service, name="t")
    outbox.close()  # its thread ends: queued events leave only with the next send
    try:
        outbox.post([moved(1), moved(2)])
        outbox.post([moved(3)])
        outbox.send(StatusRequest(id=1))
        outbox.post([moved(4)])
        future = outbox.request(lambda i: StatusRequest(id=i))
        wait_until(lambda: len(inbox.items) == 4, timeout=10)
        assert inbox.items[0] == Events(events=(moved(1), moved(2), moved(3)))
        assert inbox.items[1] == StatusRequest(id=1)
        assert inbox.items[2] == Event(event=moved(4))
        assert isinstance(inbox.items[3], StatusRequest)
        assert not future.done()  # (nobody answers it here)
    finally:
        outbox.close()


def test_posted_events_leave_on_their_own_in_order_and_in_few_messages(
    ends: tuple[Peer, Peer, Inbox],
) -> None:
    service, _, inbox = ends
    outbox = KernelOutbox(service, name="t")
    count = 2 * MAX_EVENTS_PER_MESSAGE + 10
    try:
        outbox.post([moved(i) for i in range(count)])  # one post: drained in one go
        wait_until(lambda: len(received_events(inbox)) == count, timeout=10)
        assert received_events(inbox) == [moved(i) for i in range(count)]
        assert len(inbox.items) == 3
        assert (outbox.events_sent, outbox.messages_sent) == (count, 3)
        outbox.post([moved(-1)])
        wait_until(lambda: len(inbox.items) == 4, timeout=10)
        assert inbox.items[3] == Event(event=moved(-1))
    finally:
        outbox.close()


def test_events_for_a_closed_channel_are_dropped_and_sends_fail_clearly(
    ends: tuple[Peer, Peer, Inbox],
) -> None:
    from vibeweaver.channel.peer import ChannelClosed

    service, _, _ = ends
    outbox = KernelOutbox(service, name="t")
    outbox.close()
    outbox.post([moved(1)])
    service.close()
    with pytest.raises(ChannelClosed):
        outbox.send(StatusRequest(id=1))
    assert outbox.events_sent == 0
    outbox.close()
