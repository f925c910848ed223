"""HOOT01 framing: the parse rules of sheet §1.3-§1.4, malformed frame sets, round trips."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.errors import VibeweaverError
from vibeweaver.wire import (
    PROTOCOL_TAG,
    Command,
    ContentType,
    FrameError,
    HootFrame,
    WireError,
    build_multipart,
    heartbeat_frame,
    heartbeat_reply,
    new_request_id,
    parse_multipart,
    reply_frame,
    request_frame,
)

RID = bytes(range(16))


def frames(
    *,
    identity: tuple[bytes, ...] = (b"peer",),
    command: bytes = b"\x00\x02",
    content_type: bytes = b"\x00\x01",
    request_id: bytes = RID,
    service: bytes = b"vibeweaver",
    traceparent: bytes = b"",
    body: bytes = b"body",
) -> list[bytes]:
    return [*identity, PROTOCOL_TAG, command, content_type, request_id, service, traceparent, body]


def test_frames_before_the_tag_are_the_identity_and_the_rest_is_decoded() -> None:
    identity, frame = parse_multipart(frames(identity=(b"a", b"b")))
    assert identity == (b"a", b"b")
    assert frame == HootFrame(
        Command.REQUEST, ContentType.CAPNPROTO, RID, "vibeweaver", "", b"body"
    )


def test_a_dealer_side_frame_set_has_no_identity() -> None:
    identity, frame = parse_multipart(frames(identity=()))
    assert identity == ()
    assert frame.request_id == RID


def test_the_first_hoot01_frame_wins_even_if_a_later_frame_also_equals_the_tag() -> None:
    identity, frame = parse_multipart(frames(service=PROTOCOL_TAG, body=PROTOCOL_TAG))
    assert identity == (b"peer",)
    assert frame.service == "HOOT01"
    assert frame.body == PROTOCOL_TAG


def test_frames_beyond_the_seventh_are_ignored() -> None:
    _, frame = parse_multipart([*frames(), b"extra", b"more"])
    assert frame.body == b"body"


def test_only_the_first_two_and_sixteen_bytes_of_the_code_and_id_frames_are_used() -> None:
    _, frame = parse_multipart(
        frames(command=b"\x00\x04\xff", content_type=b"\x00\x00\xff", request_id=RID + b"xx")
    )
    assert frame.command is Command.HEARTBEAT
    assert frame.content_type is ContentType.EMPTY
    assert frame.request_id == RID


def test_parse_accepts_memoryviews_and_bytearrays() -> None:
    raw = [memoryview(f) for f in frames()]
    raw[-1] = bytearray(b"body")  # type: ignore[call-overload]
    assert parse_multipart(raw)[1].body == b"body"  # type: ignore[arg-type]


def test_codes_are_big_endian_on_the_wire() -> None:
    built = build_multipart((), request_frame(RID, b"x"))
    assert built[1] == b"\x00\x02"
    assert built[2] == b"\x00\x01"


def test_reply_and_heartbeat_helpers_copy_the_request_id() -> None:
    _, request = parse_multipart(frames())
    reply = reply_frame(request, b"payload")
    assert (reply.command, reply.content_type, reply.request_id) == (
        Command.REPLY,
        ContentType.CAPNPROTO,
        RID,
    )
    assert (reply.service, reply.traceparent, reply.body) == ("vibeweaver", "", b"payload")
    beat = heartbeat_reply(request, service="hootenanny")
    assert beat == HootFrame(Command.HEARTBEAT, ContentType.EMPTY, RID, "hootenanny", "", b"")
    assert heartbeat_frame(RID) == HootFrame(
        Command.HEARTBEAT, ContentType.EMPTY, RID, "vibeweaver", "", b""
    )


def test_new_request_ids_are_random_uuid4_bytes() -> None:
    first, second = new_request_id(), new_request_id()
    assert first != second
    assert uuid.UUID(bytes=first).version == 4


def test_a_hoot_frame_refuses_a_request_id_that_is_not_16_bytes() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        HootFrame(Command.REPLY, ContentType.EMPTY, b"short", "", "", b"")


def test_frame_errors_are_wire_errors_and_vibeweaver_errors() -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart([b"nothing"])
    assert isinstance(info.value, WireError)
    assert isinstance(info.value, VibeweaverError)


# -- malformed frame sets -------------------------------------------------------------------------


def test_a_multipart_without_the_tag_cannot_be_correlated() -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart([b"peer", b"HOOT02", b"\x00\x02", b"\x00\x01", RID, b"", b"", b""])
    assert info.value.request_id is None
    assert info.value.identity == ()
    assert "HOOT01" in info.value.reason


def test_an_empty_multipart_is_a_frame_error() -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart([])
    assert info.value.request_id is None


@pytest.mark.parametrize("count", [1, 2, 3])
def test_fewer_than_four_frames_after_the_tag_cannot_be_correlated(count: int) -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart(frames()[: 1 + count])
    assert info.value.request_id is None
    assert info.value.identity == (b"peer",)


@pytest.mark.parametrize("count", [4, 5, 6])
def test_a_short_frame_set_with_a_usable_id_keeps_the_id_for_an_error_reply(count: int) -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart(frames()[: 1 + count])
    assert info.value.request_id == RID
    assert info.value.identity == (b"peer",)
    assert info.value.command is Command.REQUEST


@pytest.mark.parametrize(
    ("position", "value"),
    [(2, b"\x02"), (2, b""), (3, b"\x01"), (3, b"")],
    ids=["command-1-byte", "command-empty", "content-type-1-byte", "content-type-empty"],
)
def test_code_frames_shorter_than_two_bytes_are_uncorrelatable(position: int, value: bytes) -> None:
    raw = frames()
    raw[position] = value
    with pytest.raises(FrameError) as info:
        parse_multipart(raw)
    assert info.value.request_id is None


def test_a_fifteen_byte_request_id_is_rejected_without_an_id() -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart(frames(request_id=RID[:15]))
    assert info.value.request_id is None
    assert "15 bytes" in info.value.reason


@pytest.mark.parametrize("code", [b"\x00\x00", b"\x00\x06", b"\x01\x02", b"\xff\xff"])
def test_an_unknown_command_code_is_rejected_but_keeps_the_id(code: bytes) -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart(frames(command=code))
    assert info.value.request_id == RID
    assert info.value.command is None
    assert "command" in info.value.reason


@pytest.mark.parametrize("code", [b"\x00\x04", b"\x01\x01", b"\xff\xff"])
def test_an_unknown_content_type_is_rejected_but_keeps_the_id_and_command(code: bytes) -> None:
    with pytest.raises(FrameError) as info:
        parse_multipart(frames(content_type=code))
    assert info.value.request_id == RID
    assert info.value.command is Command.REQUEST
    assert "content-type" in info.value.reason


@pytest.mark.parametrize("position", [5, 6], ids=["service", "traceparent"])
def test_invalid_utf8_in_service_or_traceparent_is_rejected_but_keeps_the_id(
    position: int,
) -> None:
    raw = frames()
    raw[position] = b"\xff\xfe"
    with pytest.raises(FrameError) as info:
        parse_multipart(raw)
    assert info.value.request_id == RID
    assert info.value.identity == (b"peer",)
    assert "UTF-8" in info.value.reason


def parse_or_error(
    raw: list[bytes],
) -> tuple[tuple[bytes, ...], HootFrame] | FrameError:
    try:
        return parse_multipart(raw)
    except FrameError as exc:
        return exc


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_random_frame_lists_parse_or_raise_frame_error_and_nothing_else(
    raw: list[bytes],
) -> None:
    outcome = parse_or_error(raw)
    if isinstance(outcome, FrameError):
        assert outcome.request_id is None or len(outcome.request_id) == 16
        return
    identity, frame = outcome
    assert len(frame.request_id) == 16
    assert len(identity) == raw.index(PROTOCOL_TAG)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.lists(st.binary(max_size=20), min_size=7, max_size=9), st.integers(0, 2))
def test_random_frames_after_a_tag_parse_or_raise_frame_error(
    raw: list[bytes], tag_at: int
) -> None:
    raw.insert(tag_at, PROTOCOL_TAG)
    outcome = parse_or_error(raw)
    if isinstance(outcome, FrameError):
        assert outcome.identity == tuple(raw[: raw.index(PROTOCOL_TAG)])
    else:
        assert outcome[0] == tuple(raw[: raw.index(PROTOCOL_TAG)])


# -- round trips ----------------------------------------------------------------------------------

identities = st.lists(
    st.binary(min_size=1, max_size=12).filter(lambda b: b != PROTOCOL_TAG), max_size=3
).map(tuple)
hoot_frames = st.builds(
    HootFrame,
    st.sampled_from(Command),
    st.sampled_from(ContentType),
    st.binary(min_size=16, max_size=16),
    st.text(),
    st.text(),
    st.binary(max_size=256),
)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(identities, hoot_frames)
def test_build_then_parse_gives_back_the_identity_and_the_frame(
    identity: tuple[bytes, ...], frame: HootFrame
) -> None:
    built = build_multipart(identity, frame)
    assert len(built) == len(identity) + 7
    assert parse_multipart(built) == (identity, frame)
