"""Wire-layer exceptions and the error codes written into `Error.code` (sheet §3.5, §4.2)."""

from __future__ import annotations

from typing import Final

from vibeweaver.errors import VibeweaverError

__all__ = [
    "ABC_PARSE_ERROR",
    "CAPNP_PARSE_ERROR",
    "ENCODE_ERROR",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "NOT_CONNECTED",
    "NOT_FOUND",
    "PYTHON_ERROR",
    "REPR_ERROR",
    "REQUEST_FAILED",
    "RESET_ERROR",
    "STATUS_FAILED",
    "UNHANDLED_PAYLOAD",
    "UNSUPPORTED_CONTENT_TYPE",
    "FrameError",
    "WireDecodeError",
    "WireEncodeError",
    "WireError",
]

# Codes vibeweaver writes when serving hootenanny (link A, sheet §4.2).
CAPNP_PARSE_ERROR: Final = "capnp_parse_error"
UNHANDLED_PAYLOAD: Final = "unhandled_payload"
PYTHON_ERROR: Final = "python_error"
REPR_ERROR: Final = "repr_error"
RESET_ERROR: Final = "reset_error"
ENCODE_ERROR: Final = "encode_error"
UNSUPPORTED_CONTENT_TYPE: Final = "unsupported_content_type"

# Codes hootenanny answers with on link B (sheet §3.5).
NOT_FOUND: Final = "not_found"
INTERNAL_ERROR: Final = "internal_error"
NOT_CONNECTED: Final = "not_connected"
INVALID_PARAMS: Final = "invalid_params"
ABC_PARSE_ERROR: Final = "abc_parse_error"
STATUS_FAILED: Final = "status_failed"
REQUEST_FAILED: Final = "request_failed"


class WireError(VibeweaverError):
    """Base of every error raised by the wire codec."""


class FrameError(WireError):
    """A multipart message does not follow the HOOT01 framing rules (sheet §1.3, §1.4).

    `identity` holds the frames before the HOOT01 tag (empty when no tag was found).
    `request_id` is the 16-byte id whenever frames 0-3 were usable, so a server can still answer
    with an error payload; it is None when the frame set cannot be correlated.
    `command` is the decoded command code when it was known, else None.
    """

    def __init__(
        self,
        reason: str,
        *,
        identity: tuple[bytes, ...] = (),
        request_id: bytes | None = None,
        command: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.identity = identity
        self.request_id = request_id
        self.command = command


class WireDecodeError(WireError):
    """A Cap'n Proto body could not be decoded (corrupt, truncated, wrong root, unknown tag)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WireEncodeError(WireError):
    """A value could not be encoded (out-of-range number, bad id length, unknown member)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
