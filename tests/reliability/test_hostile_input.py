"""Property-based hostile input on the three ways in (issue [9], SPEC §4.6): the ZeroMQ ROUTER, the
SUB socket and the MCP tools' arguments.

* ROUTER: every hostile frame set (random frames, HOOT01 headers with garbage, mutated or
  truncated valid requests, valid requests carrying hostile code) is answered with a
  well-formed reply when its request id can be recovered, and otherwise counted as dropped in
  the gateway's published counters (the wire sheet's rule, with the codec as the oracle), never
  both; afterwards `1+1` still evaluates and no actor ever restarted. A message over the
  ROUTER's size limit costs the peer its connection, and the peer is served again after it.
* SUB: every hostile broadcast (garbage, mutated valid broadcasts, valid broadcasts with hostile
  strings and numbers, NaN/infinite tempos and positions) reaches the hub exactly when the codec
  decodes it and is counted as undecodable otherwise; the scheduler keeps answering, its clock
  stays finite, rules keep firing, no hub sink fails, no actor restarts and no log line quotes
  megabytes of a peer's text. A broadcast over the SUB's size limit costs the connection (libzmq
  never retries it by itself), and the gateway connects again.
* MCP: a real MCP client on a `vibeweaver mcp` subprocess gets, for every hostile argument set, a
  result or a clear error, within a bound, on a connection that stays up; the service keeps
  working and no actor restarts.

Each part measures the RSS of the process under attack after a warm-up and after the run and
allows 20 MB between them, and prints one line of figures (`-s` or `-rP` shows it).
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from tests.conftest import cli_env, free_port, wait_until
from tests.doubles.fake_hootenanny import FakeHootenanny
from tests.gateway.peer import HOOTENANNY_IDENTITY, Peer, gateway_counters, router_stats
from tests.mcp.helpers import isolated_flags
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.console.client import AdminClient
from vibeweaver.limits import MAX_CODE_CHARS, ROUTER_MAX_MESSAGE_BYTES, SUB_MAX_MESSAGE_BYTES
from vibeweaver.persistence.storable import storable_text
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver
from vibeweaver.wire import (
    ArtifactCreated,
    AudioUnderrun,
    BeatTick,
    BroadcastEvent,
    Command,
    ConfigUpdate,
    ContentType,
    ErrorReply,
    FrameError,
    HootFrame,
    JobStateChanged,
    Log,
    MarkerReached,
    PingRequest,
    Progress,
    TransportStateChanged,
    UnknownBroadcast,
    WeaveEvalReply,
    WeaveEvalRequest,
    WeaveHelpRequest,
    WeaveSessionRequest,
    WireDecodeError,
    build_multipart,
    decode_broadcast,
    decode_reply,
    encode_broadcast,
    encode_request,
    parse_multipart,
    request_frame,
)
from vibeweaver.wire import broadcasts as wire_broadcasts

MB = 1024 * 1024
RSS_BOUND = 20 * MB
WARM_UP_EXAMPLES = 200
"""Hypothesis examples run before the RSS is taken (caches, malloc arenas, the database grow)."""
ROUTER_EXAMPLES = 300
SUB_EXAMPLES = 300
MCP_EXAMPLES = 300
ANSWER_WAIT_S = 30.0
"""How long the frame sets or broadcasts of one example may take to be answered or handled (a
1,000,000-character cell included)."""

HOOT01 = b"HOOT01"


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def settled_rss(pid: int | str = "self") -> int:
    gc.collect()
    return rss_bytes(pid)


def restarts(weaver: Weaver) -> dict[str, int]:
    return {name: weaver.handle(name).stats.restarts for name in weaver.system.names}


def no_restarts(weaver: Weaver) -> None:
    counts = restarts(weaver)
    assert not any(counts.values()), f"actors restarted: {counts}"


# -- hostile text, shared by the three parts -----------------------------------------------------

any_char = st.characters(exclude_categories=())
"""Every code point, lone surrogates (Cs) included."""

hostile_text = st.one_of(
    st.text(any_char, max_size=40),
    st.text(st.sampled_from("\x00\ud800\udfff\ufffe\uffff\u202e\U0010ffff'\"\\\n"), max_size=20),
    st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["x", "\x00", "é", "\U0001d11e", "\ud800"]),
        st.integers(0, 5_000),
    ),
)

INVALID_UTF8 = (b"\xed\xa0\x80", b"\x80", b"\xc0\xaf", b"\xff", b"\xf4\x90\x80\x80")
"""Byte sequences that are not UTF-8 (a CESU surrogate, a lone continuation, an overlong form, a
never-used byte, a code point past U+10FFFF), spliced into Cap'n Proto Text fields: encoders
never write them, a hostile peer can."""

MARK = "\x01MARK\x01"


def splice_invalid_utf8(body: bytes, bad: bytes) -> bytes:
    """`body` (encoded with MARK in one Text field) with MARK's bytes replaced by `bad` padded
    to the same length, so the message stays well-formed except for the Text's encoding."""
    at = body.index(MARK.encode())
    return body[:at] + bad.ljust(len(MARK), b"a") + body[at + len(MARK) :]


@st.composite
def mutated(draw: st.DrawFn, body: bytes) -> bytes:
    """`body` with bytes flipped, cut, inserted or overwritten."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        how = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite", "delete"]))
        if how == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif how == "truncate":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif how == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(chunk)] = chunk
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


# =================================================================================================
# ROUTER

RID = bytes(range(16))
VALID_REQUESTS = (
    WeaveEvalRequest(code="1+1"),
    WeaveEvalRequest(code="hostile_probe = [n * n for n in range(10)]"),
    WeaveHelpRequest(topic="api"),
    WeaveSessionRequest(),
    PingRequest(),
)
VALID_BODIES = tuple(encode_request(RID, request) for request in VALID_REQUESTS)
TWO_BYTE_CODES = tuple(code.to_bytes(2, "big") for code in (*Command, *ContentType))


def request_frames(rid: bytes, body: bytes) -> list[bytes]:
    return build_multipart((), request_frame(rid, body))


def eval_frames(rid: bytes, code: str) -> list[bytes]:
    return request_frames(rid, encode_request(rid, WeaveEvalRequest(code=code)))


rids = st.binary(min_size=16, max_size=16)

random_frame_sets = st.lists(st.binary(max_size=64), min_size=1, max_size=8)
"""Anything at all (ZeroMQ cannot send an empty multipart)."""


@st.composite
def hoot_headers_with_garbage(draw: st.DrawFn) -> list[bytes]:
    """HOOT01 frame sets with plausible or random header frames and garbage bodies; sometimes
    short, padded with extra frames or led by extra identity-like frames."""
    two_bytes = st.one_of(st.sampled_from(TWO_BYTE_CODES), st.binary(max_size=3))
    body = st.one_of(
        st.binary(max_size=256),
        st.sampled_from(VALID_BODIES),
        st.just(b"{}"),
        st.just(b""),
    )
    frames = [
        HOOT01,
        draw(two_bytes),
        draw(two_bytes),
        draw(st.one_of(rids, st.binary(max_size=20))),
        draw(st.one_of(st.just(b"vibeweaver"), st.binary(max_size=32))),
        draw(st.one_of(st.just(b""), st.binary(max_size=64))),
        draw(body),
    ]
    frames = frames[: draw(st.integers(1, 7))]
    frames += draw(st.lists(st.binary(max_size=16), max_size=2))
    lead = draw(
        st.lists(st.binary(min_size=1, max_size=8).filter(lambda f: f != HOOT01), max_size=2)
    )
    return lead + frames


@st.composite
def mutated_valid_requests(draw: st.DrawFn) -> list[bytes]:
    """A valid Request frame set whose Cap'n Proto body was flipped, cut or padded."""
    body = draw(mutated(draw(st.sampled_from(VALID_BODIES))))
    return request_frames(draw(rids), body)


@st.composite
def hostile_code_requests(draw: st.DrawFn) -> list[bytes]:
    """A well-framed weaveEval whose code is hostile text (lone surrogates are escaped by the
    encoder) or whose Text bytes are not UTF-8 at all."""
    rid = draw(rids)
    if draw(st.booleans()):
        return eval_frames(rid, draw(hostile_text))
    prefix = draw(st.text(st.characters(codec="ascii"), max_size=8))
    body = encode_request(rid, WeaveEvalRequest(code=prefix + MARK))
    return request_frames(rid, splice_invalid_utf8(body, draw(st.sampled_from(INVALID_UTF8))))


router_frame_sets = st.one_of(
    random_frame_sets,
    hoot_headers_with_garbage(),
    mutated_valid_requests(),
    hostile_code_requests(),
)


def big_examples() -> Iterator[list[list[bytes]]]:
    """Requests of 0.1-6 MB, built when used (not held for the whole session)."""
    yield [eval_frames(RID, "#" * MAX_CODE_CHARS)]  # at the cap: runs
    yield [eval_frames(RID, "#" * (MAX_CODE_CHARS + 1))]  # one over: code_too_long
    yield [eval_frames(RID, "\U0001d11e" * (MAX_CODE_CHARS + 1))]  # 4 MB, decoded, refused
    yield [eval_frames(RID, "#" * (6 * MB))]  # over the request bytes: refused from its header
    yield [eval_frames(RID, "\x00" * 100_000)]  # null bytes: a SyntaxError
    yield [eval_frames(RID, "x" * 200_000)]  # a 200,000-character name: a NameError


@dataclass
class RouterTally:
    examples: int = 0
    frame_sets: int = 0
    answered: int = 0
    dropped: int = 0
    codes: Counter[str] = field(default_factory=Counter)


def correlatable(frames: list[bytes]) -> bool:
    """The rule of the wire sheet (§1.4, §4.4): a frame set is answered when its request id can
    be recovered and it is a Request or a Heartbeat; anything else is dropped and counted."""
    try:
        _, frame = parse_multipart([HOOTENANNY_IDENTITY, *frames])
    except FrameError as exc:
        return exc.request_id is not None
    return frame.command in (Command.REQUEST, Command.HEARTBEAT)


def dropped_count(weaver: Weaver) -> int:
    """Frame sets the gateway dropped and counted: uncorrelatable ones and non-requests."""
    counters = gateway_counters(weaver)
    return sum(
        value
        for name, value in counters.items()
        if name == "dropped_uncorrelated" or name.startswith("ignored_")
    )


def receive_frame(peer: Peer, timeout: float) -> HootFrame | None:
    """The next frame set the service sent, parsed; None if nothing came within `timeout`."""
    if not peer.socket.poll(int(timeout * 1000)):
        return None
    raw = peer.socket.recv_multipart()
    try:
        _, frame = parse_multipart(raw)
    except FrameError as exc:
        raise AssertionError(f"the service sent a malformed frame set {raw!r}: {exc}") from None
    return frame


def check_reply(frame: HootFrame, tally: RouterTally) -> None:
    """A reply is well-formed: a heartbeat echo, or a Reply whose body decodes."""
    if frame.command is Command.HEARTBEAT:
        tally.codes["heartbeat"] += 1
        return
    assert frame.command is Command.REPLY, frame
    reply = decode_reply(frame.body)
    if isinstance(reply, ErrorReply):
        assert reply.code and reply.message, reply
        tally.codes[reply.code] += 1
    else:
        tally.codes[type(reply).__name__] += 1


def exchange(peer: Peer, frame_sets: list[list[bytes]], tally: RouterTally) -> None:
    """Send the frame sets; every correlatable one gets its reply (the others' drops are counted
    by the gateway and checked in total at the end, since its counters are published twice a
    second)."""
    expected = sum(correlatable(frames) for frames in frame_sets)
    for frames in frame_sets:
        peer.send_frames(frames)
    for answered in range(expected):
        frame = receive_frame(peer, ANSWER_WAIT_S)
        assert frame is not None, (
            f"{answered} of the {expected} answers to {len(frame_sets)} frame sets came "
            f"within {ANSWER_WAIT_S} s"
        )
        check_reply(frame, tally)
    tally.examples += 1
    tally.frame_sets += len(frame_sets)
    tally.answered += expected
    tally.dropped += len(frame_sets) - expected


def answers_one_plus_one(peer: Peer) -> None:
    """`1+1` over the ROUTER gives 2, and no stray reply arrives before it."""
    rid = uuid.uuid4().bytes
    peer.send_frames(eval_frames(rid, "1+1"))
    frame = receive_frame(peer, ANSWER_WAIT_S)
    assert frame is not None, "no answer to 1+1"
    assert frame.request_id == rid, f"a reply nobody accounts for: {frame}"
    reply = decode_reply(frame.body)
    assert isinstance(reply, WeaveEvalReply), reply
    assert (reply.output_type, reply.result) == ("expression", "2")


def served_again(peer: Peer) -> None:
    """`1+1` is answered once the peer's connection is back (a request sent while libzmq
    replaces the connection may be lost with it, so it is re-sent, as hootenanny would)."""
    deadline = time.monotonic() + ANSWER_WAIT_S
    while time.monotonic() < deadline:
        rid = uuid.uuid4().bytes
        peer.send_frames(eval_frames(rid, "1+1"))
        frame = receive_frame(peer, 1.0)
        if frame is not None:
            assert frame.request_id == rid, f"a reply nobody accounts for: {frame}"
            assert peer.quiet(0.5), "a reply nobody accounts for"
            return
    raise AssertionError(f"1+1 was not answered within {ANSWER_WAIT_S} s")


def router_round(
    weaver: Weaver, peer: Peer, frame_sets: list[list[bytes]], tally: RouterTally
) -> None:
    exchange(peer, frame_sets, tally)
    answers_one_plus_one(peer)
    no_restarts(weaver)


def test_hostile_frame_sets_on_the_router_are_answered_or_counted(
    make_weaver: Callable[..., Weaver],
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    weaver = make_weaver(router=endpoint, eval_timeout=10.0)
    peer = Peer(endpoint)
    tally = RouterTally()
    dropped_before = dropped_count(weaver)
    warm_up = RouterTally()
    try:

        def hostile_rounds(examples: int, tally: RouterTally) -> None:
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(frame_sets=st.lists(router_frame_sets, min_size=1, max_size=12))
            def hostile_round(frame_sets: list[list[bytes]]) -> None:
                router_round(weaver, peer, frame_sets, tally)

            hostile_round()
            # the big requests outside hypothesis (which would keep reprs of them around)
            for frame_sets in big_examples():
                router_round(weaver, peer, frame_sets, tally)

        hostile_rounds(WARM_UP_EXAMPLES, warm_up)  # grows caches, arenas, the database
        before = settled_rss()
        hostile_rounds(ROUTER_EXAMPLES, tally)
        after = settled_rss()
        assert peer.quiet(0.5), "a reply nobody accounts for"
        # over ZMQ_MAXMSGSIZE: libzmq drops the peer's connection (no reply, nothing counted);
        # the DEALER connects again and is served
        peer.send_frames(eval_frames(RID, "#" * (ROUTER_MAX_MESSAGE_BYTES + 1)))
        served_again(peer)
    finally:
        peer.close()
    total_dropped = warm_up.dropped + tally.dropped
    # every uncorrelatable frame set was counted, once
    wait_until(lambda: dropped_count(weaver) - dropped_before >= total_dropped, timeout=5)
    assert dropped_count(weaver) - dropped_before == total_dropped
    assert router_stats(weaver).get("errors", 0) == 0, router_stats(weaver)
    print(
        f"\nROUTER hostile input: {tally.examples} examples, {tally.frame_sets} frame sets, "
        f"{tally.answered} answered, {tally.dropped} dropped and counted, 0 restarts; RSS "
        f"{before / MB:.1f} MB before, {after / MB:.1f} MB after ({(after - before) / MB:+.1f}); "
        f"replies {dict(tally.codes.most_common())}"
    )
    assert after - before < RSS_BOUND


# =================================================================================================
# SUB

any_float = st.floats(allow_nan=True, allow_infinity=True)
u64 = st.integers(0, 2**64 - 1)
transport_states = st.one_of(st.sampled_from(["playing", "paused", "stopped"]), hostile_text)
job_results = st.one_of(
    hostile_text,
    st.builds(lambda artifact_id: json.dumps({"artifact_id": artifact_id}), hostile_text),
)

hostile_events: st.SearchStrategy[BroadcastEvent] = st.one_of(
    st.builds(
        TransportStateChanged,
        state=transport_states,
        position_beats=any_float,
        tempo_bpm=any_float,
    ),
    st.builds(
        BeatTick, timestamp_nanos=u64, beat=u64, position_beats=any_float, tempo_bpm=any_float
    ),
    st.builds(
        MarkerReached,
        position_beats=any_float,
        marker_type=st.one_of(st.just("drop"), hostile_text),
        metadata=hostile_text,
    ),
    st.builds(
        ArtifactCreated,
        artifact_id=hostile_text,
        content_hash=hostile_text,
        tags=st.lists(st.one_of(st.just("hostile"), hostile_text), max_size=20),
        creator=hostile_text,
    ),
    st.builds(
        JobStateChanged,
        job_id=hostile_text,
        state=st.one_of(
            st.sampled_from(["complete", "failed", "cancelled", "running"]), hostile_text
        ),
        result=job_results,
    ),
    st.builds(Progress, job_id=hostile_text, percent=any_float, message=hostile_text),
    st.builds(Log, level=hostile_text, message=hostile_text, source=hostile_text),
    st.builds(ConfigUpdate, key=hostile_text, value=hostile_text),
    st.builds(UnknownBroadcast, tag=st.integers(18, 0xFFFF)),
)

SAMPLE_BROADCASTS = tuple(
    encode_broadcast(event)
    for event in (
        TransportStateChanged(state="playing", position_beats=16.0, tempo_bpm=120.0),
        BeatTick(
            timestamp_nanos=1_700_000_000_000_000_000, beat=17, position_beats=17.0, tempo_bpm=120.0
        ),
        MarkerReached(position_beats=8.0, marker_type="drop", metadata="{}"),
        ArtifactCreated(artifact_id="artifact_0123", content_hash="abc", tags=("hostile",)),
        JobStateChanged(job_id="job_1", state="complete", result='{"artifact_id": "artifact_1"}'),
    )
)


MARKED_BROADCASTS: tuple[BroadcastEvent, ...] = (
    ArtifactCreated(artifact_id=MARK, content_hash="h", tags=("hostile",)),
    ArtifactCreated(artifact_id="a", content_hash="h", tags=("hostile", MARK)),
    MarkerReached(position_beats=8.0, marker_type=MARK),
    JobStateChanged(job_id=MARK, state="complete"),
    TransportStateChanged(state=MARK, position_beats=1.0, tempo_bpm=120.0),
)


@st.composite
def broadcast_with_invalid_utf8(draw: st.DrawFn) -> bytes:
    """A valid broadcast with bytes that are not UTF-8 in one Text field."""
    event = draw(st.sampled_from(MARKED_BROADCASTS))
    return splice_invalid_utf8(encode_broadcast(event), draw(st.sampled_from(INVALID_UTF8)))


hostile_broadcasts = st.one_of(
    st.binary(max_size=512),
    st.sampled_from(SAMPLE_BROADCASTS).flatmap(mutated),
    hostile_events.map(encode_broadcast),
    broadcast_with_invalid_utf8(),
)


def big_broadcasts() -> Iterator[bytes]:
    """Valid broadcasts of 1-4 MB (under the SUB's 4 MiB message limit), built when used."""
    yield encode_broadcast(ArtifactCreated(artifact_id="a" * 1_000_000, content_hash="h"))
    yield encode_broadcast(
        ArtifactCreated(artifact_id="many_tags", content_hash="h", tags=("t" * 100,) * 10_000)
    )
    yield encode_broadcast(MarkerReached(position_beats=8.0, marker_type="\U0001d11e" * 900_000))
    yield encode_broadcast(
        JobStateChanged(job_id="j" * 1_000_000, state="complete", result="x" * 2_000_000)
    )
    yield encode_broadcast(
        TransportStateChanged(state="\x00" * 3_000_000, position_beats=1e300, tempo_bpm=-1.0)
    )


def oversized_broadcast() -> bytes:
    """Over ZMQ_MAXMSGSIZE: libzmq closes the SUB's connection (and never retries by itself)."""
    return encode_broadcast(
        ArtifactCreated(artifact_id="a" * (SUB_MAX_MESSAGE_BYTES + 1), content_hash="h")
    )


MAX_LOGGED_CHARS = 4_096
"""No field of a log line may quote more of a hostile peer's text than this."""

SETUP_CELL = """\
tempo(120)
marker("drop", 8)
hostile_hits = {"beat": 0, "marker": 0, "artifact": 0, "playing": 0}

@on_beat(1)
def count_beat(beat):
    hostile_hits["beat"] += 1

@on_marker("drop")
def count_drop(name):
    hostile_hits["marker"] += 1

@on_artifact("hostile")
def count_artifact(artifact_id, tags):
    hostile_hits["artifact"] += 1

@on_transport("playing")
def count_playing(state):
    hostile_hits["playing"] += 1

play()
"""
CLOCK_CELL = "(beat.current, beat.tempo, transport.state, sum(hostile_hits.values()))"
SENTINEL = AudioUnderrun(count=1)
"""Published after each example's broadcasts: the SUB handles frames in order, so once the hub
has seen it, every hostile broadcast before it was handled."""


@dataclass
class SubTally:
    examples: int = 0
    broadcasts: int = 0
    decoded: int = 0
    unknown: int = 0
    undecodable: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


def sub_counts(weaver: Weaver) -> tuple[int, int, int]:
    """(decoded, undecodable, received) as the gateway last published them."""
    counters = gateway_counters(weaver)
    decoded = sum(v for name, v in counters.items() if name.startswith("broadcast_"))
    sockets = weaver.handle("gateway").stats.published.get("sockets", [])
    sub: dict[str, Any] = next((s for s in sockets if s["name"] == "sub"), {})
    return decoded, counters.get("broadcasts_undecodable", 0), sub.get("received", 0)


WIRE_EVENT_KINDS = frozenset(name for name in wire_broadcasts.__all__ if name[0].isupper())


def wire_events(weaver: Weaver) -> Counter[str]:
    """The hub's count of published hootenanny broadcasts (it also carries internal events)."""
    published = weaver.hub.published
    return Counter({kind: published[kind] for kind in WIRE_EVENT_KINDS if kind in published})


def classify(body: bytes, tally: SubTally) -> str | None:
    """What the service must make of `body` (the codec is the oracle): an event kind the hub
    publishes, or None for one it only counts (unknown tag, undecodable)."""
    tally.broadcasts += 1
    try:
        event = decode_broadcast(body)
    except WireDecodeError:
        tally.undecodable += 1
        return None
    tally.decoded += 1
    kind = type(event).__name__
    tally.kinds[kind] += 1
    if isinstance(event, UnknownBroadcast):
        tally.unknown += 1
        return None
    return kind


def publish_and_settle(
    weaver: Weaver, fake: FakeHootenanny, bodies: list[bytes], tally: SubTally
) -> None:
    """Publish the bodies and a sentinel; wait until the sentinel reached the hub, then check
    that the hub saw exactly the events the codec decodes from the bodies."""
    expected = Counter(kind for body in bodies if (kind := classify(body, tally)) is not None)
    expected[type(SENTINEL).__name__] += 1
    before = wire_events(weaver)
    for body in bodies:
        fake.publish_raw(body)
    fake.publish(SENTINEL)
    sentinel = type(SENTINEL).__name__
    wait_until(
        lambda: weaver.hub.published[sentinel] - before[sentinel] >= expected[sentinel],
        timeout=ANSWER_WAIT_S,
    )
    assert wire_events(weaver) - before == expected
    tally.examples += 1


def artifact_hits(service: ToolService) -> int:
    outcome = service.evaluate("hostile_hits['artifact']", timeout_s=10)
    assert outcome.status == "ok" and outcome.result is not None, outcome
    return int(outcome.result)


def check_clock(weaver: Weaver, service: ToolService) -> None:
    """The scheduler answers with a finite clock, a cell reads it, nothing failed or restarted."""
    status = weaver.handle("scheduler").ask(scheduler_messages.GetSchedulerStatus(), timeout=10)
    assert math.isfinite(status.clock_beat), status
    assert status.tempo_bpm is None or 1.0 <= status.tempo_bpm <= 999.0, status
    outcome = service.evaluate(CLOCK_CELL, timeout_s=10)
    assert outcome.status == "ok" and outcome.result is not None, outcome
    current, tempo, state, _ = eval(outcome.result, {"nan": math.nan, "inf": math.inf})  # noqa: S307
    assert math.isfinite(current) and 1.0 <= tempo <= 999.0, outcome.result
    assert state in ("playing", "paused", "stopped"), outcome.result
    assert not weaver.hub.sink_errors, dict(weaver.hub.sink_errors)
    no_restarts(weaver)


def attack_the_sub(weaver: Weaver, fake: FakeHootenanny) -> tuple[SubTally, int, int, str | None]:
    """The SUB part's run: (tally, RSS before, RSS after, the rules' hit counts)."""
    tally = SubTally()
    warm_up = SubTally()
    service = ToolService(weaver.system, eval_timeout=10.0)
    setup = service.evaluate(SETUP_CELL, timeout_s=10)
    assert setup.status == "ok", setup
    counts_before = sub_counts(weaver)

    def hostile_rounds(examples: int, tally: SubTally) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(bodies=st.lists(hostile_broadcasts, min_size=1, max_size=8))
        def hostile_round(bodies: list[bytes]) -> None:
            publish_and_settle(weaver, fake, bodies, tally)
            check_clock(weaver, service)

        hostile_round()
        for body in big_broadcasts():  # outside hypothesis, which would keep reprs of them
            publish_and_settle(weaver, fake, [body], tally)
            check_clock(weaver, service)

    hostile_rounds(WARM_UP_EXAMPLES, warm_up)
    before = settled_rss()
    hostile_rounds(SUB_EXAMPLES, tally)
    after = settled_rss()

    # an oversized broadcast costs the connection (libzmq), and the gateway connects again
    fake.publish_raw(oversized_broadcast())
    fake.wait_for_subscribers(2, timeout=10)
    publish_and_settle(weaver, fake, [SAMPLE_BROADCASTS[0]], tally)
    check_clock(weaver, service)
    wait_until(lambda: gateway_counters(weaver).get("sub_reconnects", 0) == 1)

    # the rules still work: a new artifact with the watched tag reaches its callback
    fired = artifact_hits(service)
    new = ArtifactCreated(artifact_id="after_the_attack", content_hash="h", tags=("hostile",))
    publish_and_settle(weaver, fake, [encode_broadcast(new)], tally)
    wait_until(lambda: artifact_hits(service) > fired, timeout=10)

    # every broadcast that reached the SUB was counted: decoded (of a kind) or undecodable
    sentinels = warm_up.examples + tally.examples
    sent = warm_up.broadcasts + tally.broadcasts + sentinels
    expected = (
        warm_up.decoded + tally.decoded + sentinels,
        warm_up.undecodable + tally.undecodable,
    )
    wait_until(lambda: sub_counts(weaver)[2] - counts_before[2] >= sent, timeout=5)
    decoded, undecodable, received = (
        now - then for now, then in zip(sub_counts(weaver), counts_before, strict=True)
    )
    assert (decoded, undecodable, received) == (*expected, sent)
    return tally, before, after, service.evaluate("hostile_hits", timeout_s=10).result


def test_hostile_broadcasts_on_the_sub_are_decoded_or_counted_and_the_clock_keeps_going(
    make_weaver: Callable[..., Weaver],
) -> None:
    with FakeHootenanny() as fake:
        weaver = make_weaver(broadcasts=fake.pub_endpoint, eval_timeout=10.0)
        fake.wait_for_subscribers()
        # inside the start, which configures logging: the capture restores what it finds
        with structlog.testing.capture_logs() as logs:
            tally, before, after, hits = attack_the_sub(weaver, fake)
    longest = max(logs, key=lambda entry: max(len(str(value)) for value in entry.values()))
    longest_chars = max(len(str(value)) for value in longest.values())
    print(
        f"\nSUB hostile input: {tally.examples} examples, {tally.broadcasts} broadcasts, "
        f"{tally.decoded} decoded ({tally.unknown} of unknown kinds, skipped), "
        f"{tally.undecodable} undecodable and counted, 1 oversized (connection dropped by "
        f"libzmq, connected again), 0 restarts, 0 sink errors; rules fired {hits}; longest log "
        f"field {longest_chars:,} chars; RSS {before / MB:.1f} MB before, {after / MB:.1f} MB "
        f"after ({(after - before) / MB:+.1f}); kinds {dict(tally.kinds.most_common())}"
    )
    assert longest_chars <= MAX_LOGGED_CHARS, {k: str(v)[:200] for k, v in longest.items()}
    assert after - before < RSS_BOUND


# =================================================================================================
# MCP arguments

CALL_BOUND_S = 60.0
"""Longer than any call can legitimately take (a 1,000,000-character cell included)."""
TOOL_PARAMETERS: dict[str, tuple[str, ...]] = {
    "weave_eval": ("code", "timeout_s"),
    "weave_reset": ("clear_session",),
    "weave_help": ("topic",),
    "weave_session": (),
}

json_text = hostile_text.map(storable_text)
"""Hostile text a JSON client can send: lone surrogates cannot be encoded (the client's writer
fails, and a server's JSON parser refuses `\\ud800` escapes), so they travel as backslash text."""
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    json_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Anything JSON carries (NaN and infinities become null on the client's JSON wire)."""

plausible: dict[str, st.SearchStrategy[Any]] = {
    "code": st.one_of(
        json_text,
        st.sampled_from(
            [
                "1+1",
                "",
                "   ",
                "\x00",
                "import sys; sys.exit(3)",
                "raise SystemExit",
                # output JSON cannot carry: once it ended the whole stdio session
                "print(chr(0xd800))",
                "import sys; sys.stderr.write(chr(0xdfff))",
                "raise ValueError(chr(0xd800))",
                "class R:\n    def __repr__(self): return chr(0xdc80)\nR()",
            ]
        ),
    ),
    "timeout_s": st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**70), 2**70),
        st.sampled_from(["NaN", "inf", "-inf", "1e999", "5", "0", "-0.0", 1e-300, 3600, 3600.001]),
    ),
    "clear_session": st.one_of(
        st.sampled_from([False, "true", "false", 1, 0, "yes"]), json_scalars
    ),
    "topic": st.one_of(
        json_text, st.sampled_from(["", "api", "rules", "session", "examples", "API "])
    ),
}


TOOL_DRAWS = ["weave_eval"] * 4 + ["weave_help"] * 3 + ["weave_session"] * 2 + ["weave_reset"]
"""Which tool an example calls: weave_reset less often than the others, because most of its
hostile arguments are still a valid reset, and each one starts a new kernel process (~0.5 s)."""
assert set(TOOL_DRAWS) == set(TOOL_PARAMETERS)


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any] | None]:
    """A tool name (rarely an unknown one) and hostile arguments: each parameter missing, of a
    plausible type with a hostile value, or any JSON value; sometimes unknown extra arguments;
    sometimes no arguments object at all."""
    unknown_tool = draw(st.integers(0, 19)) == 0
    tool = "weave_nothing" if unknown_tool else draw(st.sampled_from(TOOL_DRAWS))
    if draw(st.integers(0, 9)) == 0:
        return tool, None
    arguments: dict[str, Any] = {}
    for name in TOOL_PARAMETERS.get(tool, ()):
        how = draw(st.sampled_from(["missing", "plausible", "plausible", "any"]))
        if how == "plausible":
            arguments[name] = draw(plausible[name])
        elif how == "any":
            arguments[name] = draw(json_values)
    arguments.update(
        draw(st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=3))
    )
    return tool, arguments


def explicit_calls() -> Iterator[tuple[str, dict[str, Any]]]:
    """Calls every run makes, the big ones built when used."""
    yield "weave_eval", {"code": "print(chr(0xd800))"}  # ended the stdio session before the fix
    yield "weave_eval", {"code": "#" * MAX_CODE_CHARS}  # at the cap: runs
    yield "weave_eval", {"code": "#" * (MAX_CODE_CHARS + 1)}  # one over: refused
    yield "weave_eval", {"code": "\U0001d11e" * (MAX_CODE_CHARS + 1)}
    yield "weave_eval", {"code": "x" * 200_000}  # a NameError naming 200,000 characters
    yield "weave_help", {"topic": "t" * (MAX_CODE_CHARS + 1)}
    yield "weave_eval", {"code": "1", "timeout_s": 1e-300}
    yield "weave_eval", {"code": "1", "unknown": ["x" * 100_000] * 5}


@dataclass
class McpTally:
    examples: int = 0
    calls: int = 0
    results: int = 0
    tool_errors: int = 0
    protocol_errors: int = 0
    by_tool: Counter[str] = field(default_factory=Counter)


class McpRig:
    """A real MCP client on a `vibeweaver mcp` subprocess, driven from synchronous test code
    through a blocking portal (hypothesis runs synchronous functions)."""

    def __init__(self, portal: BlockingPortal, client: Client, admin: AdminClient) -> None:
        self.portal = portal
        self.client = client
        self.admin = admin
        self.pid = 0

    def call(self, tool: str, arguments: dict[str, Any] | None) -> CallToolResult | MCPError:
        answer: CallToolResult | MCPError = self.portal.call(self._call, tool, arguments)
        return answer

    async def _call(self, tool: str, arguments: dict[str, Any] | None) -> CallToolResult | MCPError:
        with anyio.fail_after(CALL_BOUND_S):
            try:
                return await self.client.call_tool(tool, arguments)
            except MCPError as exc:  # a JSON-RPC error answer: still an answer
                return exc

    def one_plus_one(self) -> None:
        result = self.call("weave_eval", {"code": "1+1"})
        assert isinstance(result, CallToolResult) and not result.is_error, result
        assert result.structured_content is not None
        assert result.structured_content["result"] == "2", result.structured_content

    def restarts(self) -> dict[str, int]:
        return {row["name"]: row["restarts"] for row in self.admin.actors()}


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def hostile_call(rig: McpRig, tool: str, arguments: dict[str, Any] | None, tally: McpTally) -> None:
    """One call gets an answer within the bound: a result, a tool error with a message, or a
    JSON-RPC error with one; then the service still evaluates and no actor restarted."""
    answer = rig.call(tool, arguments)
    tally.calls += 1
    tally.by_tool[tool] += 1
    if isinstance(answer, MCPError):
        assert str(answer).strip() and "Connection closed" not in str(answer), answer
        tally.protocol_errors += 1
    elif answer.is_error:
        assert text_of(answer).strip(), answer
        tally.tool_errors += 1
    else:
        assert answer.structured_content is not None, answer
        tally.results += 1
    rig.one_plus_one()
    restarted = {name: n for name, n in rig.restarts().items() if n}
    assert not restarted, f"actors restarted: {restarted}"


@pytest.fixture
def mcp_rig(tmp_path: Path) -> Iterator[McpRig]:
    port = free_port()
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "vibeweaver",
            "mcp",
            *isolated_flags(tmp_path / "mcp", http=f"127.0.0.1:{port}"),
        ],
        env=cli_env(),
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(
            Client(params, read_timeout_seconds=CALL_BOUND_S)
        ) as client,
    ):
        rig = McpRig(portal, client, AdminClient(f"127.0.0.1:{port}", token=""))
        pid = rig.call("weave_eval", {"code": "import os\nos.getppid()"})
        assert isinstance(pid, CallToolResult) and pid.structured_content is not None
        rig.pid = int(pid.structured_content["result"])
        yield rig


def test_hostile_mcp_arguments_get_a_result_or_a_clear_error(mcp_rig: McpRig) -> None:
    tally = McpTally()

    def hostile_rounds(examples: int, tally: McpTally) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(calls=st.lists(tool_calls(), min_size=1, max_size=3))
        def hostile_round(calls: list[tuple[str, dict[str, Any] | None]]) -> None:
            for tool, arguments in calls:
                hostile_call(mcp_rig, tool, arguments, tally)
            tally.examples += 1

        hostile_round()
        for (
            tool,
            arguments,
        ) in explicit_calls():  # outside hypothesis, which would keep reprs of them
            hostile_call(mcp_rig, tool, arguments, tally)

    hostile_rounds(WARM_UP_EXAMPLES, McpTally())
    before = rss_bytes(mcp_rig.pid)
    hostile_rounds(MCP_EXAMPLES, tally)
    after = rss_bytes(mcp_rig.pid)
    print(
        f"\nMCP hostile arguments: {tally.examples} examples, {tally.calls} calls "
        f"({dict(tally.by_tool)}), {tally.results} results, {tally.tool_errors} tool errors, "
        f"{tally.protocol_errors} JSON-RPC errors, 0 hangs, 0 dropped connections, 0 restarts; "
        f"service RSS {before / MB:.1f} MB before, {after / MB:.1f} MB after "
        f"({(after - before) / MB:+.1f})"
    )
    assert after - before < RSS_BOUND
