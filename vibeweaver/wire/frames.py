"""HOOT01 multipart framing: parse and build the 7-frame messages of links A and B (sheet §1)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from vibeweaver.wire.errors import FrameError

__all__ = [
    "HOOT_FRAME_COUNT",
    "PROTOCOL_TAG",
    "REQUEST_ID_SIZE",
    "Command",
    "ContentType",
    "HootFrame",
    "build_multipart",
    "heartbeat_frame",
    "heartbeat_reply",
    "new_request_id",
    "parse_multipart",
    "reply_frame",
    "request_frame",
]

PROTOCOL_TAG: Final = b"HOOT01"
HOOT_FRAME_COUNT: Final = 7
REQUEST_ID_SIZE: Final = 16


class Command(IntEnum):
    """Frame 1: what the message is (big-endian UInt16 on the wire)."""

    READY = 1
    REQUEST = 2
    REPLY = 3
    HEARTBEAT = 4
    DISCONNECT = 5


class ContentType(IntEnum):
    """Frame 2: how frame 6 (the body) is encoded (big-endian UInt16 on the wire)."""

    EMPTY = 0
    CAPNPROTO = 1
    RAW_BINARY = 2
    JSON = 3


_COMMANDS: Final = {c.value: c for c in Command}
_CONTENT_TYPES: Final = {c.value: c for c in ContentType}


@dataclass(frozen=True, slots=True)
class HootFrame:
    """The seven HOOT01 frames after the protocol tag, decoded (identity frames excluded)."""

    command: Command
    content_type: ContentType
    request_id: bytes
    service: str
    traceparent: str
    body: bytes

    def __post_init__(self) -> None:
        if len(self.request_id) != REQUEST_ID_SIZE:
            raise ValueError(
                f"request_id must be {REQUEST_ID_SIZE} bytes, got {len(self.request_id)}"
            )


def new_request_id() -> bytes:
    """A fresh random UUIDv4 as the 16 bytes of frame 3 (one per attempt, sheet §1.6)."""
    return uuid.uuid4().bytes


def parse_multipart(frames: Sequence[bytes]) -> tuple[tuple[bytes, ...], HootFrame]:
    """Split a received multipart into (identity frames, HootFrame) by the rules of sheet §1.4.

    Every frame before the first frame equal to HOOT01 is identity. After the tag at least
    7 frames (tag included) must follow; extra frames are ignored. Frames 1 and 2 need 2 bytes,
    frame 3 needs 16 (only the first 2/2/16 bytes are used); frames 4 and 5 must be UTF-8.
    Raises FrameError, whose `request_id` is set whenever frames 0-3 were usable.
    """
    raw = [bytes(f) for f in frames]
    try:
        tag_at = raw.index(PROTOCOL_TAG)
    except ValueError:
        raise FrameError("no HOOT01 protocol tag frame") from None
    identity = tuple(raw[:tag_at])
    rest = raw[tag_at:]
    if len(rest) < 4:
        raise FrameError(
            f"only {len(rest)} frames from the HOOT01 tag on, need {HOOT_FRAME_COUNT}",
            identity=identity,
        )
    cmd_raw, ct_raw, id_raw = rest[1], rest[2], rest[3]
    if len(cmd_raw) < 2:
        raise FrameError(f"command frame has {len(cmd_raw)} bytes, need 2", identity=identity)
    if len(ct_raw) < 2:
        raise FrameError(f"content-type frame has {len(ct_raw)} bytes, need 2", identity=identity)
    if len(id_raw) < REQUEST_ID_SIZE:
        raise FrameError(
            f"request-id frame has {len(id_raw)} bytes, need {REQUEST_ID_SIZE}", identity=identity
        )
    request_id = id_raw[:REQUEST_ID_SIZE]
    cmd_code = int.from_bytes(cmd_raw[:2], "big")
    command = _COMMANDS.get(cmd_code)
    if len(rest) < HOOT_FRAME_COUNT:
        raise FrameError(
            f"only {len(rest)} frames from the HOOT01 tag on, need {HOOT_FRAME_COUNT}",
            identity=identity,
            request_id=request_id,
            command=command,
        )
    if command is None:
        raise FrameError(
            f"unknown command code {cmd_code:#06x}", identity=identity, request_id=request_id
        )
    ct_code = int.from_bytes(ct_raw[:2], "big")
    content_type = _CONTENT_TYPES.get(ct_code)
    if content_type is None:
        raise FrameError(
            f"unknown content-type code {ct_code:#06x}",
            identity=identity,
            request_id=request_id,
            command=command,
        )
    try:
        service = rest[4].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(
            f"service name is not valid UTF-8: {exc}",
            identity=identity,
            request_id=request_id,
            command=command,
        ) from None
    try:
        traceparent = rest[5].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(
            f"traceparent is not valid UTF-8: {exc}",
            identity=identity,
            request_id=request_id,
            command=command,
        ) from None
    frame = HootFrame(command, content_type, request_id, service, traceparent, rest[6])
    return identity, frame


def build_multipart(identity: Sequence[bytes], frame: HootFrame) -> list[bytes]:
    """The frames to send: the identity frames unchanged, then the 7 HOOT01 frames."""
    return [
        *(bytes(i) for i in identity),
        PROTOCOL_TAG,
        int(frame.command).to_bytes(2, "big"),
        int(frame.content_type).to_bytes(2, "big"),
        frame.request_id,
        frame.service.encode("utf-8"),
        frame.traceparent.encode("utf-8"),
        frame.body,
    ]


def request_frame(
    request_id: bytes, body: bytes, service: str = "vibeweaver", traceparent: str = ""
) -> HootFrame:
    """A Request carrying a Cap'n Proto Envelope body."""
    return HootFrame(Command.REQUEST, ContentType.CAPNPROTO, request_id, service, traceparent, body)


def reply_frame(request: HootFrame, body: bytes, service: str = "vibeweaver") -> HootFrame:
    """The Reply to `request`: same id, CapnProto content, empty traceparent."""
    return HootFrame(Command.REPLY, ContentType.CAPNPROTO, request.request_id, service, "", body)


def heartbeat_frame(request_id: bytes, service: str = "vibeweaver") -> HootFrame:
    """An outgoing heartbeat: Empty content, empty traceparent and body."""
    return HootFrame(Command.HEARTBEAT, ContentType.EMPTY, request_id, service, "", b"")


def heartbeat_reply(request: HootFrame, service: str = "vibeweaver") -> HootFrame:
    """The answer to a heartbeat: same command, Empty content, the request's id echoed."""
    return heartbeat_frame(request.request_id, service)
