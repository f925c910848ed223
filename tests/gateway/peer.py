"""A raw zmq DEALER speaking HOOT01 to a Weaver's ROUTER, as hootenanny does (identity
`vibeweaver`), readers of the gateway's published counters, and cell helpers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import zmq

from vibeweaver.weaver import Weaver
from vibeweaver.wire import (
    HootFrame,
    InboundRequest,
    LinkAReply,
    build_multipart,
    decode_reply,
    encode_request,
    parse_multipart,
    request_frame,
)

HOOTENANNY_IDENTITY = b"vibeweaver"
"""The routing id hootenanny's DEALER uses towards vibeweaver (sheet §1.1)."""


class Peer:
    """One DEALER; unlimited high-water marks so a burst never blocks either side of the test.

    A send that cannot be queued within `send_timeout` seconds (a DEALER has nowhere to queue
    while no connection is up, e.g. after the ROUTER refused it) raises `zmq.Again` instead of
    blocking the test forever."""

    def __init__(
        self,
        endpoint: str,
        identity: bytes = HOOTENANNY_IDENTITY,
        *,
        hwm: int = 0,
        send_timeout: float = 10.0,
    ) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTING_ID, identity)
        self.socket.setsockopt(zmq.SNDHWM, hwm)
        self.socket.setsockopt(zmq.RCVHWM, hwm)
        self.socket.setsockopt(zmq.SNDTIMEO, int(send_timeout * 1000))
        self.socket.connect(endpoint)

    def send_frames(self, frames: list[bytes]) -> None:
        self.socket.send_multipart(frames)

    def request(self, request: InboundRequest, request_id: bytes | None = None) -> bytes:
        """Send a Request carrying `request`; returns its id."""
        rid = request_id or uuid.uuid4().bytes
        self.send_frames(build_multipart((), request_frame(rid, encode_request(rid, request))))
        return rid

    def receive(self, timeout: float = 10.0) -> HootFrame:
        """The next frame set (a reply or a heartbeat), within `timeout` seconds."""
        if not self.socket.poll(int(timeout * 1000)):
            raise AssertionError(f"no answer within {timeout} s")
        identity, frame = parse_multipart(self.socket.recv_multipart())
        assert identity == ()
        return frame

    def receive_raw(self, timeout: float = 10.0) -> list[bytes]:
        if not self.socket.poll(int(timeout * 1000)):
            raise AssertionError(f"no answer within {timeout} s")
        return self.socket.recv_multipart()

    def call(self, request: InboundRequest, timeout: float = 20.0) -> tuple[HootFrame, LinkAReply]:
        """Send and wait for the reply with the same id (other frame sets are skipped)."""
        rid = self.request(request)
        while True:
            frame = self.receive(timeout)
            if frame.request_id == rid:
                return frame, decode_reply(frame.body)

    def quiet(self, timeout: float = 0.2) -> bool:
        """Nothing (more) arrives within `timeout` seconds."""
        return not self.socket.poll(int(timeout * 1000))

    def close(self) -> None:
        self.socket.close(0)
        self.context.term()


def gateway_counters(weaver: Weaver) -> dict[str, Any]:
    """The gateway IO thread's counters as last published (every 0.5 s)."""
    return dict(weaver.handle("gateway").stats.published.get("counters", {}))


def router_stats(weaver: Weaver) -> dict[str, Any]:
    sockets = weaver.handle("gateway").stats.published.get("sockets", [])
    return next((s for s in sockets if s["name"] == "router"), {})


def wait_for_file(path: Path) -> str:
    """Cell code that waits (asynchronously) until `path` exists."""
    return (
        "import asyncio, os\n"
        f"while not os.path.exists({str(path)!r}):\n"
        "    await asyncio.sleep(0.01)\n"
    )


def kernel_busy(weaver: Weaver) -> bool:
    """The kernel actor is in the middle of an Evaluate."""
    row = next(r for r in weaver.system.actor_snapshots() if r["name"] == "kernel")
    return bool(row["current_message"] == "Evaluate")
