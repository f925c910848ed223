"""Garbage on the ROUTER: every frame set whose request id can be recovered gets an error reply,
the rest is dropped and counted (sheet §1.4, §4.2, §4.4); the server keeps serving, also after
10,000 such messages and with a peer that never reads its replies."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import wait_until
from tests.gateway.peer import Peer, gateway_counters, router_stats
from tests.wire.test_wire_vectors import V1
from vibeweaver.actors.gateway.messages import GetGatewayStatus
from vibeweaver.weaver import Weaver
from vibeweaver.wire import (
    ErrorReply,
    GardenPlay,
    PingRequest,
    PongReply,
    WeaveEvalReply,
    WeaveEvalRequest,
    decode_reply,
)
from vibeweaver.wire.tools import encode_tool_request

HOOT01 = b"HOOT01"
REQUEST = b"\x00\x02"
CAPNP = b"\x00\x01"


@dataclass(frozen=True)
class Garbage:
    """One malformed frame set and what the server must do with it."""

    name: str
    frames: Callable[[bytes], list[bytes]]
    """Builds the frames for a given 16-byte request id."""
    reply_code: str | None = None
    """The error code of the reply, or None when the frame set is dropped (and counted)."""
    counter: str | None = None
    """The gateway counter a drop increments."""


def _request(
    rid: bytes, body: bytes, *, command: bytes = REQUEST, content: bytes = CAPNP
) -> list[bytes]:
    return [HOOT01, command, content, rid, b"hootenanny", b"", body]


GARBAGE: tuple[Garbage, ...] = (
    Garbage("no HOOT01 tag", lambda rid: [b"hello", b"world"], counter="dropped_uncorrelated"),
    Garbage("one empty frame", lambda rid: [b""], counter="dropped_uncorrelated"),
    Garbage(
        "tag and a command only", lambda rid: [HOOT01, REQUEST], counter="dropped_uncorrelated"
    ),
    Garbage(
        "a 5-byte request id", lambda rid: _request(rid[:5], V1), counter="dropped_uncorrelated"
    ),
    Garbage(
        "short frame set with an id", lambda rid: [HOOT01, REQUEST, CAPNP, rid], "invalid_frame"
    ),
    Garbage(
        "unknown command code", lambda rid: _request(rid, V1, command=b"\x00\x09"), "invalid_frame"
    ),
    Garbage(
        "unknown content type", lambda rid: _request(rid, V1, content=b"\x00\x07"), "invalid_frame"
    ),
    Garbage(
        "service name not UTF-8",
        lambda rid: [HOOT01, REQUEST, CAPNP, rid, b"\xff\xfe", b"", V1],
        "invalid_frame",
    ),
    Garbage(
        "JSON content type",
        lambda rid: _request(rid, b"{}", content=b"\x00\x03"),
        "unsupported_content_type",
    ),
    Garbage(
        "corrupt Cap'n Proto body",
        lambda rid: _request(rid, b"\x00\x01\x02garbage" * 3),
        "capnp_parse_error",
    ),
    Garbage("truncated Cap'n Proto body", lambda rid: _request(rid, V1[:40]), "capnp_parse_error"),
    Garbage("empty body", lambda rid: _request(rid, b""), "capnp_parse_error"),
    Garbage(
        "unhandled payload",
        lambda rid: _request(rid, encode_tool_request(rid, GardenPlay())),
        "unhandled_payload",
    ),
    Garbage(
        "a Reply sent to the ROUTER",
        lambda rid: _request(rid, V1, command=b"\x00\x03"),
        counter="ignored_reply",
    ),
)


def answers_normally(peer: Peer) -> bool:
    _, reply = peer.call(WeaveEvalRequest(code="1+1"))
    return reply == WeaveEvalReply(output_type="expression", result="2", stdout="", stderr="")


@pytest.mark.parametrize("garbage", GARBAGE, ids=[g.name for g in GARBAGE])
def test_each_kind_of_garbage_gets_an_error_reply_or_a_counted_drop(
    garbage: Garbage, peer: Peer, served: Weaver
) -> None:
    rid = uuid.uuid4().bytes
    before = gateway_counters(served).get(garbage.counter or "", 0)
    peer.send_frames(garbage.frames(rid))
    if garbage.reply_code is not None:
        frame = peer.receive()
        assert frame.request_id == rid
        reply = decode_reply(frame.body)
        assert isinstance(reply, ErrorReply) and reply.code == garbage.reply_code
        assert reply.message
    else:
        assert garbage.counter is not None
        wait_until(lambda: gateway_counters(served).get(garbage.counter or "", 0) == before + 1)
        assert peer.quiet()
    assert answers_normally(peer)


def test_ten_thousand_garbage_messages_are_all_answered_or_counted_and_the_server_keeps_serving(
    peer: Peer, served: Weaver
) -> None:
    total = 10_000
    expected: dict[bytes, str] = {}
    drops: Counter[str] = Counter()
    before = gateway_counters(served)
    for i in range(total):
        garbage = GARBAGE[i % len(GARBAGE)]
        rid = uuid.uuid4().bytes
        peer.send_frames(garbage.frames(rid))
        if garbage.reply_code is not None:
            expected[rid] = garbage.reply_code
        else:
            drops[garbage.counter or ""] += 1
    answered: dict[bytes, str] = {}
    while len(answered) < len(expected):
        frame = peer.receive(timeout=30.0)
        reply = decode_reply(frame.body)
        assert isinstance(reply, ErrorReply)
        answered[frame.request_id] = reply.code
    assert answered == expected

    def all_drops_counted() -> bool:
        now = gateway_counters(served)
        return all(now.get(name, 0) - before.get(name, 0) == n for name, n in drops.items())

    wait_until(all_drops_counted, timeout=10.0)
    assert router_stats(served)["dropped"] >= drops["dropped_uncorrelated"]
    assert answers_normally(peer)


def test_a_peer_that_never_reads_its_replies_does_not_stall_the_others(
    served: Weaver, make_peer: Callable[..., Peer]
) -> None:
    deaf = make_peer(b"deaf", hwm=10)
    peer = make_peer()
    code = "'x' * 7000"  # ~7 KB replies
    count = 2_000  # ~14 MB of replies: more than the sockets and the kernel's buffers hold
    for _ in range(count):
        deaf.request(WeaveEvalRequest(code=code))
    gateway = served.handle("gateway")

    def all_handled() -> bool:
        status = gateway.ask(GetGatewayStatus(), timeout=5)
        return bool(status.evals_started + status.retries_joined >= count)

    wait_until(all_handled, timeout=60)
    _, pong = peer.call(PingRequest(), timeout=5.0)
    assert isinstance(pong, PongReply)
    assert answers_normally(peer)
    # the replies the deaf peer had no room for were dropped and counted
    wait_until(lambda: router_stats(served).get("dropped", 0) > 0)
