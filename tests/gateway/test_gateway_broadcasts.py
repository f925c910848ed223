"""The gateway IO thread's SUB: a burst of broadcasts reaches the hub in order and complete; what
cannot be used (undecodable bytes, an unknown kind) is skipped and counted; a multipart message
counts by its last frame; the socket's and the per-kind counters add up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from tests.conftest import wait_until
from vibeweaver.actors.gateway.io_thread import GatewayIO
from vibeweaver.wire.broadcasts import (
    ArtifactCreated,
    BeatTick,
    BroadcastEvent,
    MarkerReached,
    UnknownBroadcast,
    encode_broadcast,
)

BURST = 3_000


class Publisher:
    """An XPUB bound on loopback: it knows when the gateway's subscription has arrived."""

    def __init__(self) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"

    def wait_for_subscriber(self) -> None:
        assert self.socket.poll(5000), "the gateway's SUB did not subscribe"
        assert self.socket.recv() == b"\x01"

    def close(self) -> None:
        self.socket.close(0)
        self.context.term()


class Received:
    """What the gateway hands on: each call of `on_broadcast` / `on_broadcasts`, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[list[Any]] = []
        self.stats: dict[str, Any] = {}

    def one(self, event: Any) -> None:
        with self.lock:
            self.calls.append([event])

    def many(self, events: list[Any]) -> None:
        with self.lock:
            self.calls.append(list(events))

    def publish_stats(self, sockets: list[dict[str, Any]], counters: dict[str, Any]) -> None:
        with self.lock:
            self.stats = {"sockets": sockets, "counters": counters}

    def events(self) -> list[Any]:
        with self.lock:
            return [event for call in self.calls for event in call]


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    pub = Publisher()
    yield pub
    pub.close()


def start_gateway(publisher: Publisher, received: Received, *, batches: bool) -> GatewayIO:
    io = GatewayIO(
        router=None,
        hootenanny=None,
        broadcasts=publisher.endpoint,
        on_request=lambda *_: None,
        on_broadcast=received.one,
        on_broadcasts=received.many if batches else None,
        publish_stats=received.publish_stats,
        name="test-sub-io",
    )
    io.start()
    publisher.wait_for_subscriber()
    return io


def burst_events(count: int) -> list[BroadcastEvent]:
    kinds: list[BroadcastEvent] = []
    for i in range(count):
        match i % 3:
            case 0:
                kinds.append(ArtifactCreated(artifact_id=f"a{i}", content_hash="h", tags=("t",)))
            case 1:
                kinds.append(
                    BeatTick(timestamp_nanos=i, beat=i, position_beats=float(i), tempo_bpm=120.0)
                )
            case _:
                kinds.append(MarkerReached(position_beats=float(i), marker_type=f"m{i}"))
    return kinds


def test_a_burst_reaches_the_hub_in_order_and_none_is_lost(
    publisher: Publisher,
) -> None:
    received = Received()
    io = start_gateway(publisher, received, batches=True)
    try:
        sent = burst_events(BURST)
        for event in sent:
            publisher.socket.send(encode_broadcast(event))
        wait_until(lambda: len(received.events()) >= BURST, timeout=30)
    finally:
        io.stop()
    assert received.events() == sent
    sub = next(s for s in received.stats["sockets"] if s["name"] == "sub")
    assert sub["received"] == BURST
    assert sub["errors"] == 0
    counters = received.stats["counters"]
    assert counters["broadcast_ArtifactCreated"] == BURST // 3
    assert counters["broadcast_BeatTick"] == BURST // 3
    assert counters["broadcast_MarkerReached"] == BURST // 3


@pytest.mark.parametrize("batches", [True, False], ids=["batches", "one-by-one"])
def test_undecodable_and_unknown_broadcasts_are_skipped_and_counted_in_between(
    publisher: Publisher, batches: bool
) -> None:
    received = Received()
    io = start_gateway(publisher, received, batches=batches)
    first = ArtifactCreated(artifact_id="first", content_hash="h")
    middle = BeatTick(timestamp_nanos=1, beat=2, position_beats=2.0, tempo_bpm=90.0)
    last = MarkerReached(position_beats=3.0, marker_type="last")
    try:
        publisher.socket.send(encode_broadcast(first))
        publisher.socket.send(b"\x00garbage")  # not a Cap'n Proto message
        publisher.socket.send(encode_broadcast(UnknownBroadcast(tag=999)))
        publisher.socket.send(encode_broadcast(first)[:-8])  # truncated
        publisher.socket.send(encode_broadcast(middle))
        # more than one frame: the last one is the broadcast (sheet §1.9 sends one frame)
        publisher.socket.send_multipart([b"topic", encode_broadcast(last)])
        wait_until(lambda: len(received.events()) >= 3, timeout=10)
    finally:
        io.stop()
    assert received.events() == [first, middle, last]
    if not batches:
        assert all(len(call) == 1 for call in received.calls)
    counters = received.stats["counters"]
    assert counters["broadcasts_undecodable"] == 2
    assert counters["broadcasts_unknown"] == 1
    assert counters["broadcast_UnknownBroadcast"] == 1
    assert counters["broadcast_ArtifactCreated"] == 1
    sub = next(s for s in received.stats["sockets"] if s["name"] == "sub")
    assert sub["received"] == 6
    assert sub["errors"] == 0
