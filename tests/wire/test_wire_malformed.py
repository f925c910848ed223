"""Malformed bodies raise the documented errors and nothing else; unknown broadcast tags skip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.errors import VibeweaverError
from vibeweaver.wire import (
    AbcToMidi,
    BeatTick,
    JobPoll,
    JobStateChanged,
    KernelState,
    OtherReply,
    OtherToolCall,
    SessionInfo,
    UnhandledRequest,
    UnknownBroadcast,
    WeaveEvalRequest,
    WireDecodeError,
    WireEncodeError,
    WireError,
    decode_broadcast,
    decode_kernel_state,
    decode_reply,
    decode_request,
    decode_tool_reply,
    decode_tool_request,
    encode_broadcast,
    encode_error,
    encode_kernel_state,
    encode_pong,
    encode_request,
    encode_tool_reply,
    encode_tool_request,
    encode_weave_eval_reply,
    encode_weave_session_reply,
)

RID = bytes(range(16))
DECODERS: list[Callable[[bytes], Any]] = [
    decode_request,
    decode_reply,
    decode_tool_request,
    decode_tool_reply,
    decode_broadcast,
    decode_kernel_state,
]
decoder_ids = [d.__name__ for d in DECODERS]

EVAL_REQUEST = encode_request(RID, WeaveEvalRequest(code="print('hello')"))
EVAL_REPLY = encode_weave_eval_reply(
    RID, output_type="statement", result="", stdout="hello\n", stderr=""
)
SESSION_REPLY = encode_weave_session_reply(
    RID, session=SessionInfo(id="s", name="n", vibe="v"), message="m"
)
JOB_BROADCAST = encode_broadcast(JobStateChanged(job_id="job", state="complete", result=""))
KERNEL = encode_kernel_state(KernelState(session_id="s", session_name="n"))
VALID_BODIES = [EVAL_REQUEST, EVAL_REPLY, SESSION_REPLY, JOB_BROADCAST, KERNEL]


def decode_or_error(decode: Callable[[bytes], Any], body: bytes) -> Any:
    """The decoded value, or the WireDecodeError raised; any other exception propagates."""
    try:
        return decode(body)
    except WireDecodeError as exc:
        return exc


def test_decode_errors_are_wire_errors_with_a_message() -> None:
    error = decode_or_error(decode_request, b"")
    assert isinstance(error, WireDecodeError)
    assert isinstance(error, WireError)
    assert isinstance(error, VibeweaverError)
    assert error.message
    assert "stack:" not in error.message


@pytest.mark.parametrize("decode", DECODERS, ids=decoder_ids)
@pytest.mark.parametrize("body", [b"", b"\x00", b"abc", b"\x00" * 7, b"\xff" * 8, b"\x00" * 8])
def test_empty_short_and_garbage_bodies_raise_wire_decode_error(
    decode: Callable[[bytes], Any], body: bytes
) -> None:
    with pytest.raises(WireDecodeError):
        decode(body)


@pytest.mark.parametrize("decode", DECODERS, ids=decoder_ids)
@pytest.mark.parametrize("body", VALID_BODIES, ids=["req", "rep", "session", "bcast", "kernel"])
def test_every_truncation_of_a_valid_body_raises_wire_decode_error(
    decode: Callable[[bytes], Any], body: bytes
) -> None:
    for cut in range(len(body)):
        with pytest.raises(WireDecodeError):
            decode(body[:cut])


@pytest.mark.parametrize("decode", DECODERS, ids=decoder_ids)
@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(body=st.binary(max_size=300))
def test_random_bytes_decode_or_raise_wire_decode_error_and_nothing_else(
    decode: Callable[[bytes], Any], body: bytes
) -> None:
    decode_or_error(decode, body)


@pytest.mark.parametrize("decode", DECODERS, ids=decoder_ids)
@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(
    base=st.sampled_from(VALID_BODIES),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_corrupted_valid_bodies_decode_or_raise_wire_decode_error(
    decode: Callable[[bytes], Any], base: bytes, flips: list[tuple[int, int]]
) -> None:
    body = bytearray(base)
    for position, value in flips:
        body[position % len(body)] = value
    decode_or_error(decode, bytes(body))


def test_a_broadcast_body_is_not_mistaken_for_a_request_envelope() -> None:
    with pytest.raises(WireDecodeError, match="no payload"):
        decode_request(JOB_BROADCAST)
    with pytest.raises(WireDecodeError, match="no payload"):
        decode_tool_reply(JOB_BROADCAST)


def patched(body: bytes, offset: int, value: bytes) -> bytes:
    out = bytearray(body)
    out[offset : offset + len(value)] = value
    return bytes(out)


def test_an_unknown_payload_tag_raises_wire_decode_error() -> None:
    # The Payload struct's data word is at byte 0x40 in every Envelope built like the vectors.
    body = patched(EVAL_REQUEST, 0x40, (30).to_bytes(2, "little"))
    with pytest.raises(WireDecodeError):
        decode_request(body)
    with pytest.raises(WireDecodeError):
        decode_tool_request(body)


def test_an_unknown_tool_request_tag_raises_wire_decode_error() -> None:
    body = patched(EVAL_REQUEST, 0x50, (103).to_bytes(2, "little"))
    with pytest.raises(WireDecodeError):
        decode_request(body)


def test_an_out_of_range_output_type_fails_like_the_rust_decoder() -> None:
    # WeaveEvalResponse's data word (outputType) follows its struct pointer at 0x58.
    body = patched(EVAL_REPLY, 0x60, (2).to_bytes(2, "little"))
    with pytest.raises(WireDecodeError, match="WeaveOutputType"):
        decode_reply(body)


def test_invalid_utf8_in_a_text_field_raises_wire_decode_error() -> None:
    at = EVAL_REPLY.index(b"hello\n")
    body = patched(EVAL_REPLY, at, b"\xff\xfe")
    with pytest.raises(WireDecodeError, match="UnicodeDecodeError"):
        decode_reply(body)
    at = JOB_BROADCAST.index(b"complete")
    with pytest.raises(WireDecodeError):
        decode_broadcast(patched(JOB_BROADCAST, at, b"\xc3\x28"))


@pytest.mark.parametrize("tag", [18, 19, 99, 1000, 0xFFFF])
def test_an_unknown_broadcast_tag_decodes_to_unknown_broadcast(tag: int) -> None:
    body = encode_broadcast(UnknownBroadcast(tag=tag))
    assert decode_broadcast(body) == UnknownBroadcast(tag=tag)


def test_an_unknown_tag_on_a_message_with_a_payload_pointer_is_still_skipped() -> None:
    # A newer publisher's member: real pointer, tag beyond this schema (tag at byte 16).
    body = patched(JOB_BROADCAST, 16, (42).to_bytes(2, "little"))
    assert decode_broadcast(body) == UnknownBroadcast(tag=42)


def test_broadcast_decoding_accepts_bytearray_and_memoryview() -> None:
    body = encode_broadcast(BeatTick(timestamp_nanos=1, beat=2, position_beats=2.5, tempo_bpm=90))
    expected = decode_broadcast(body)
    assert decode_broadcast(bytearray(body)) == expected  # type: ignore[arg-type]
    assert decode_broadcast(memoryview(body)) == expected  # type: ignore[arg-type]


def test_decoding_a_reply_that_vibeweaver_never_sends_is_an_error_for_decode_reply() -> None:
    body = encode_tool_reply(RID, OtherReply(kind="toolResponse.midiInfo"))
    with pytest.raises(WireDecodeError, match="midiInfo"):
        decode_reply(body)


# -- encoders refuse what they cannot write -------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda: encode_error(b"short", code="c", message="m"),
        lambda: encode_pong(RID, worker_id=b"x" * 15, uptime_secs=1),
        lambda: encode_pong(RID, worker_id=RID, uptime_secs=-1),
        lambda: encode_pong(RID, worker_id=RID, uptime_secs=2**64),
        lambda: encode_weave_eval_reply(
            RID,
            output_type="bogus",  # type: ignore[arg-type]
            result="",
            stdout="",
            stderr="",
        ),
        lambda: encode_tool_request(RID, AbcToMidi(abc="", velocity=256)),
        lambda: encode_tool_request(RID, AbcToMidi(abc="", transpose=-129)),
        lambda: encode_tool_request(RID, JobPoll(job_ids=(), mode="some")),  # type: ignore[arg-type]
        lambda: encode_tool_request(RID, OtherToolCall(kind="toolRequest.noSuchTool")),
        lambda: encode_tool_request(RID, OtherToolCall(kind="no.such.kind")),
        lambda: encode_request(RID, UnhandledRequest(kind="nothing")),
        lambda: encode_tool_reply(RID, OtherReply(kind="toolResponse.nope")),
        lambda: encode_broadcast(UnknownBroadcast(tag=3)),
        lambda: encode_broadcast(UnknownBroadcast(tag=0x10000)),
        lambda: encode_broadcast(
            BeatTick(timestamp_nanos=-1, beat=0, position_beats=0, tempo_bpm=0)
        ),
        lambda: encode_kernel_state(KernelState(session_id="", session_name="", transport="x")),  # type: ignore[arg-type]
        lambda: encode_request(RID, "not a request"),  # type: ignore[arg-type]
    ],
)
def test_encoders_raise_wire_encode_error_for_values_they_cannot_write(
    encode: Callable[[], bytes],
) -> None:
    with pytest.raises(WireEncodeError):
        encode()
