"""Sheet §5 test vectors: every body decodes to the stated values and re-encodes byte for byte."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vibeweaver.wire import (
    ArtifactCreated,
    BeatTick,
    Command,
    ContentType,
    ErrorReply,
    GardenCreateRegion,
    GardenPlay,
    GardenRegionCreated,
    GardenSeek,
    HootFrame,
    JobPoll,
    JobStarted,
    JobStateChanged,
    JobStatus,
    JobStatusReply,
    MarkerReached,
    PingRequest,
    PongReply,
    SessionInfo,
    TransportStateChanged,
    UnhandledRequest,
    WeaveEvalReply,
    WeaveEvalRequest,
    WeaveHelpReply,
    WeaveHelpRequest,
    WeaveResetReply,
    WeaveResetRequest,
    WeaveSessionReply,
    WeaveSessionRequest,
    build_multipart,
    decode_broadcast,
    decode_reply,
    decode_request,
    decode_tool_reply,
    decode_tool_request,
    encode_broadcast,
    encode_error,
    encode_pong,
    encode_request,
    encode_tool_reply,
    encode_tool_request,
    encode_weave_eval_reply,
    encode_weave_help_reply,
    encode_weave_reset_reply,
    encode_weave_session_reply,
    heartbeat_reply,
    parse_multipart,
    reply_frame,
)


def _hex(dump: str) -> bytes:
    return bytes.fromhex("".join(dump.split()))


# Request id of every vector: 00112233-4455-6677-8899-aabbccddeeff.
RID = _hex("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff")
JOB_ID = "3d5e7f90-1a2b-4c3d-8e9f-a0b1c2d3e4f5"
VIBEWEAVER = _hex("76 69 62 65 77 65 61 76 65 72")
HOOTENANNY = _hex("68 6f 6f 74 65 6e 61 6e 6e 79")
HOOT01 = _hex("48 4f 4f 54 30 31")

# V1 `req_weaveEval` (112 bytes)
V1 = _hex(
    """
    00 00 00 00 0d 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    2e 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00
    01 00 00 00 32 00 00 00 31 20 2b 20 31 00 00 00
    """
)
# V2 `rep_weaveEval_expression` (152 bytes)
V2 = _hex(
    """
    00 00 00 00 12 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    23 00 00 00 00 00 00 00 00 00 00 00 01 00 03 00
    00 00 00 00 00 00 00 00 09 00 00 00 12 00 00 00
    09 00 00 00 0a 00 00 00 09 00 00 00 0a 00 00 00
    32 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00
    """
)
# V3 `rep_weaveEval_statement` (152 bytes)
V3 = _hex(
    """
    00 00 00 00 12 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    23 00 00 00 00 00 00 00 00 00 00 00 01 00 03 00
    01 00 00 00 00 00 00 00 09 00 00 00 0a 00 00 00
    09 00 00 00 22 00 00 00 09 00 00 00 0a 00 00 00
    00 00 00 00 00 00 00 00 34 32 0a 00 00 00 00 00
    00 00 00 00 00 00 00 00
    """
)
# V4 `rep_weaveSession_present` (216 bytes)
V4 = _hex(
    """
    00 00 00 00 1a 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    24 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00
    04 00 00 00 00 00 03 00 31 00 00 00 0a 00 00 00
    09 00 00 00 2a 01 00 00 19 00 00 00 5a 00 00 00
    1d 00 00 00 62 00 00 00 36 66 31 63 32 62 39 65
    2d 30 64 34 61 2d 34 63 33 62 2d 39 61 38 65 2d
    35 64 37 66 31 65 32 63 33 62 34 61 00 00 00 00
    67 72 6f 6f 76 65 2d 6c 61 62 00 00 00 00 00 00
    64 75 73 74 79 20 6c 6f 2d 66 69 00 00 00 00 00
    00 00 00 00 00 00 00 00
    """
)
# V5 `rep_weaveSession_none` (136 bytes)
V5 = _hex(
    """
    00 00 00 00 10 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    24 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00
    00 00 00 00 00 00 00 00 01 00 00 00 92 00 00 00
    4e 6f 20 61 63 74 69 76 65 20 73 65 73 73 69 6f
    6e 00 00 00 00 00 00 00
    """
)
# V6 `rep_error` (184 bytes)
V6 = _hex(
    """
    00 00 00 00 16 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    19 00 00 00 00 00 00 00 00 00 00 00 00 00 03 00
    09 00 00 00 6a 00 00 00 0d 00 00 00 92 01 00 00
    25 00 00 00 0a 00 00 00 70 79 74 68 6f 6e 5f 65
    72 72 6f 72 00 00 00 00 50 79 74 68 6f 6e 20 65
    72 72 6f 72 3a 20 4e 61 6d 65 45 72 72 6f 72 3a
    20 6e 61 6d 65 20 27 79 27 20 69 73 20 6e 6f 74
    20 64 65 66 69 6e 65 64 0a 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00
    """
)
# V7 `req_weaveSession` (96 bytes)
V7 = _hex(
    """
    00 00 00 00 0b 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    2f 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    """
)
# V8 `req_weaveReset` (104 bytes)
V8 = _hex(
    """
    00 00 00 00 0c 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    30 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00
    01 00 00 00 00 00 00 00
    """
)
# V9 `rep_weaveReset` (144 bytes)
V9 = _hex(
    """
    00 00 00 00 11 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    25 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    01 00 00 00 00 00 00 00 01 00 00 00 d2 00 00 00
    4b 65 72 6e 65 6c 20 72 65 73 65 74 20 73 75 63
    63 65 73 73 66 75 6c 6c 79 00 00 00 00 00 00 00
    """
)
# V10 `req_weaveHelp_noTopic` (112 bytes)
V10 = _hex(
    """
    00 00 00 00 0d 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    31 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00
    01 00 00 00 0a 00 00 00 00 00 00 00 00 00 00 00
    """
)
# V11 `rep_weaveHelp` (152 bytes)
V11 = _hex(
    """
    00 00 00 00 12 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    26 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00
    05 00 00 00 fa 00 00 00 11 00 00 00 22 00 00 00
    54 6f 70 69 63 73 3a 20 61 70 69 2c 20 73 65 73
    73 69 6f 6e 2c 20 65 78 61 6d 70 6c 65 73 00 00
    61 70 69 00 00 00 00 00
    """
)
# V12 `req_ping` (80 bytes)
V12 = _hex(
    """
    00 00 00 00 09 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    """
)
# V13 `rep_pong` (112 bytes)
V13 = _hex(
    """
    00 00 00 00 0d 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    02 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    10 0e 00 00 00 00 00 00 00 00 00 00 02 00 00 00
    0f 1e 2d 3c 4b 5a 69 78 87 96 a5 b4 c3 d2 e1 f0
    """
)
# V14 `req_gardenPlay` (96 bytes)
V14 = _hex(
    """
    00 00 00 00 0b 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    33 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    """
)
# V15 `req_gardenSeek` (104 bytes)
V15 = _hex(
    """
    00 00 00 00 0c 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    36 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00
    00 00 00 00 00 00 30 40
    """
)
# V16 `req_gardenCreateRegion` (168 bytes)
V16 = _hex(
    """
    00 00 00 00 14 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    3a 00 00 00 00 00 00 00 00 00 00 00 02 00 02 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 30 40
    05 00 00 00 6a 00 00 00 09 00 00 00 b2 00 00 00
    70 6c 61 79 5f 63 6f 6e 74 65 6e 74 00 00 00 00
    61 72 74 69 66 61 63 74 5f 30 31 32 33 34 35 36
    37 38 39 61 62 00 00 00
    """
)
# V17 `req_jobStatus` (144 bytes)
V17 = _hex(
    """
    00 00 00 00 11 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    26 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00
    01 00 00 00 2a 01 00 00 33 64 35 65 37 66 39 30
    2d 31 61 32 62 2d 34 63 33 64 2d 38 65 39 66 2d
    61 30 62 31 63 32 64 33 65 34 66 35 00 00 00 00
    """
)
# V18 `req_jobPoll` (168 bytes)
V18 = _hex(
    """
    00 00 00 00 14 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    04 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    27 00 00 00 00 00 00 00 00 00 00 00 02 00 01 00
    10 27 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    01 00 00 00 0e 00 00 00 01 00 00 00 2a 01 00 00
    33 64 35 65 37 66 39 30 2d 31 61 32 62 2d 34 63
    33 64 2d 38 65 39 66 2d 61 30 62 31 63 32 64 33
    65 34 66 35 00 00 00 00
    """
)
# V19 `rep_jobStarted` (168 bytes)
V19 = _hex(
    """
    00 00 00 00 14 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    06 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00
    05 00 00 00 2a 01 00 00 15 00 00 00 62 00 00 00
    33 64 35 65 37 66 39 30 2d 31 61 32 62 2d 34 63
    33 64 2d 38 65 39 66 2d 61 30 62 31 63 32 64 33
    65 34 66 35 00 00 00 00 67 61 72 64 65 6e 5f 70
    6c 61 79 00 00 00 00 00
    """
)
# V20 `rep_jobStatus_regionCreated` (312 bytes)
V20 = _hex(
    """
    00 00 00 00 26 00 00 00 00 00 00 00 00 00 03 00
    08 00 00 00 02 00 00 00 0d 00 00 00 0a 00 00 00
    0c 00 00 00 01 00 01 00 00 11 22 33 44 55 66 77
    88 99 aa bb cc dd ee ff 00 00 00 00 00 00 00 00
    18 00 00 00 00 00 00 00 00 00 00 00 01 00 01 00
    07 00 00 00 00 00 00 00 00 00 00 00 04 00 04 00
    02 00 00 00 00 00 00 00 00 b9 55 69 00 00 00 00
    00 b9 55 69 00 00 00 00 01 b9 55 69 00 00 00 00
    0d 00 00 00 2a 01 00 00 1d 00 00 00 aa 00 00 00
    24 00 00 00 01 00 01 00 49 00 00 00 0a 00 00 00
    33 64 35 65 37 66 39 30 2d 31 61 32 62 2d 34 63
    33 64 2d 38 65 39 66 2d 61 30 62 31 63 32 64 33
    65 34 66 35 00 00 00 00 67 61 72 64 65 6e 5f 63
    72 65 61 74 65 5f 72 65 67 69 6f 6e 00 00 00 00
    17 00 00 00 00 00 00 00 00 00 00 00 02 00 01 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 30 40
    01 00 00 00 2a 01 00 00 61 31 62 32 63 33 64 34
    2d 65 35 66 36 2d 34 37 38 39 2d 39 61 62 63 2d
    64 65 66 30 31 32 33 34 35 36 37 38 00 00 00 00
    00 00 00 00 00 00 00 00
    """
)
# B1 `bc_beatTick` (72 bytes)
B1 = _hex(
    """
    00 00 00 00 08 00 00 00 00 00 00 00 01 00 01 00
    08 00 00 00 00 00 00 00 00 00 00 00 03 00 01 00
    10 00 00 00 00 00 00 00 00 00 00 00 00 40 30 40
    00 00 00 00 00 00 5e 40 00 00 00 00 01 00 00 00
    15 cd 55 f5 51 72 86 18
    """
)
# B2 `bc_jobStateChanged_complete` (152 bytes)
B2 = _hex(
    """
    00 00 00 00 12 00 00 00 00 00 00 00 01 00 01 00
    03 00 00 00 00 00 00 00 00 00 00 00 00 00 03 00
    09 00 00 00 2a 01 00 00 19 00 00 00 4a 00 00 00
    1d 00 00 00 42 01 00 00 33 64 35 65 37 66 39 30
    2d 31 61 32 62 2d 34 63 33 64 2d 38 65 39 66 2d
    61 30 62 31 63 32 64 33 65 34 66 35 00 00 00 00
    63 6f 6d 70 6c 65 74 65 00 00 00 00 00 00 00 00
    7b 22 61 72 74 69 66 61 63 74 5f 69 64 22 3a 22
    61 72 74 69 66 61 63 74 5f 30 31 32 33 34 35 36
    37 38 39 61 62 22 7d 00
    """
)
# B3 `bc_jobStateChanged_failed` (128 bytes)
B3 = _hex(
    """
    00 00 00 00 0f 00 00 00 00 00 00 00 01 00 01 00
    03 00 00 00 00 00 00 00 00 00 00 00 00 00 03 00
    09 00 00 00 2a 01 00 00 19 00 00 00 3a 00 00 00
    19 00 00 00 8a 00 00 00 33 64 35 65 37 66 39 30
    2d 31 61 32 62 2d 34 63 33 64 2d 38 65 39 66 2d
    61 30 62 31 63 32 64 33 65 34 66 35 00 00 00 00
    66 61 69 6c 65 64 00 00 7b 22 65 72 72 6f 72 22
    3a 22 62 6f 6f 6d 22 7d 00 00 00 00 00 00 00 00
    """
)
# B4 `bc_artifactCreated` (184 bytes)
B4 = _hex(
    """
    00 00 00 00 16 00 00 00 00 00 00 00 01 00 01 00
    05 00 00 00 00 00 00 00 00 00 00 00 00 00 04 00
    0d 00 00 00 b2 00 00 00 15 00 00 00 0a 01 00 00
    25 00 00 00 16 00 00 00 39 00 00 00 42 00 00 00
    61 72 74 69 66 61 63 74 5f 30 31 32 33 34 35 36
    37 38 39 61 62 00 00 00 30 31 32 33 34 35 36 37
    38 39 61 62 63 64 65 66 30 31 32 33 34 35 36 37
    38 39 61 62 63 64 65 66 00 00 00 00 00 00 00 00
    05 00 00 00 52 00 00 00 09 00 00 00 7a 00 00 00
    74 79 70 65 3a 6d 69 64 69 00 00 00 00 00 00 00
    73 6f 75 72 63 65 3a 6f 72 70 68 65 75 73 00 00
    6f 72 70 68 65 75 73 00
    """
)
# B5 `bc_transportStateChanged` (64 bytes)
B5 = _hex(
    """
    00 00 00 00 07 00 00 00 00 00 00 00 01 00 01 00
    06 00 00 00 00 00 00 00 00 00 00 00 02 00 01 00
    00 00 00 00 00 00 20 40 00 00 00 00 00 00 5e 40
    01 00 00 00 42 00 00 00 70 6c 61 79 69 6e 67 00
    """
)
# B6 `bc_markerReached` (80 bytes)
B6 = _hex(
    """
    00 00 00 00 09 00 00 00 00 00 00 00 01 00 01 00
    07 00 00 00 00 00 00 00 00 00 00 00 01 00 02 00
    00 00 00 00 00 00 40 40 05 00 00 00 3a 00 00 00
    05 00 00 00 5a 00 00 00 63 68 6f 72 75 73 00 00
    7b 22 62 61 72 73 22 3a 38 7d 00 00 00 00 00 00
    """
)


# -- link A requests (hootenanny -> vibeweaver) ---------------------------------------------------

LINK_A_REQUESTS: list[tuple[str, bytes, Any]] = [
    ("V1", V1, WeaveEvalRequest(code="1 + 1")),
    ("V7", V7, WeaveSessionRequest()),
    ("V8", V8, WeaveResetRequest(clear_session=True)),
    ("V10", V10, WeaveHelpRequest(topic="")),
    ("V12", V12, PingRequest()),
    ("V14", V14, UnhandledRequest(kind="toolRequest.gardenPlay")),
]


@pytest.mark.parametrize(("name", "body", "expected"), LINK_A_REQUESTS, ids=lambda v: v)
def test_link_a_request_vectors_decode_to_the_stated_values(
    name: str, body: bytes, expected: Any
) -> None:
    assert decode_request(body) == expected


@pytest.mark.parametrize(("name", "body", "inbound"), LINK_A_REQUESTS, ids=lambda v: v)
def test_link_a_request_vectors_reencode_byte_for_byte(
    name: str, body: bytes, inbound: Any
) -> None:
    assert encode_request(RID, inbound) == body


# -- link A replies (vibeweaver -> hootenanny) ----------------------------------------------------

SESSION = SessionInfo(
    id="6f1c2b9e-0d4a-4c3b-9a8e-5d7f1e2c3b4a", name="groove-lab", vibe="dusty lo-fi"
)
PYTHON_ERROR_MESSAGE = "Python error: NameError: name 'y' is not defined\n"
WORKER_ID = _hex("0f 1e 2d 3c 4b 5a 69 78 87 96 a5 b4 c3 d2 e1 f0")

LINK_A_REPLIES: list[tuple[str, bytes, Any, Callable[[], bytes]]] = [
    (
        "V2",
        V2,
        WeaveEvalReply(output_type="expression", result="2", stdout="", stderr=""),
        lambda: encode_weave_eval_reply(
            RID, output_type="expression", result="2", stdout="", stderr=""
        ),
    ),
    (
        "V3",
        V3,
        WeaveEvalReply(output_type="statement", result="", stdout="42\n", stderr=""),
        lambda: encode_weave_eval_reply(
            RID, output_type="statement", result="", stdout="42\n", stderr=""
        ),
    ),
    (
        "V4",
        V4,
        WeaveSessionReply(session=SESSION, message=""),
        lambda: encode_weave_session_reply(RID, session=SESSION, message=""),
    ),
    (
        "V5",
        V5,
        WeaveSessionReply(session=None, message="No active session"),
        lambda: encode_weave_session_reply(RID, session=None, message="No active session"),
    ),
    (
        "V6",
        V6,
        ErrorReply(code="python_error", message=PYTHON_ERROR_MESSAGE, details=""),
        lambda: encode_error(RID, code="python_error", message=PYTHON_ERROR_MESSAGE),
    ),
    (
        "V9",
        V9,
        WeaveResetReply(reset=True, message="Kernel reset successfully"),
        lambda: encode_weave_reset_reply(RID, reset=True, message="Kernel reset successfully"),
    ),
    (
        "V11",
        V11,
        WeaveHelpReply(help="Topics: api, session, examples", topic="api"),
        lambda: encode_weave_help_reply(RID, help="Topics: api, session, examples", topic="api"),
    ),
    (
        "V13",
        V13,
        PongReply(worker_id=WORKER_ID, uptime_secs=3600),
        lambda: encode_pong(RID, worker_id=WORKER_ID, uptime_secs=3600),
    ),
]


@pytest.mark.parametrize(("name", "body", "expected", "encode"), LINK_A_REPLIES, ids=lambda v: v)
def test_link_a_reply_vectors_decode_to_the_stated_values(
    name: str, body: bytes, expected: Any, encode: Callable[[], bytes]
) -> None:
    assert decode_reply(body) == expected


@pytest.mark.parametrize(("name", "body", "expected", "encode"), LINK_A_REPLIES, ids=lambda v: v)
def test_link_a_reply_vectors_are_reproduced_byte_for_byte_by_the_encoders(
    name: str, body: bytes, expected: Any, encode: Callable[[], bytes]
) -> None:
    assert encode() == body


# -- link B (vibeweaver -> hootenanny) ------------------------------------------------------------

LINK_B_REQUESTS: list[tuple[str, bytes, Any]] = [
    ("V14", V14, GardenPlay()),
    ("V15", V15, GardenSeek(beat=16.0)),
    (
        "V16",
        V16,
        GardenCreateRegion(
            position=0.0,
            duration=16.0,
            behavior_type="play_content",
            content_id="artifact_0123456789ab",
        ),
    ),
    ("V17", V17, JobStatus(job_id=JOB_ID)),
    ("V18", V18, JobPoll(job_ids=(JOB_ID,), timeout_ms=10000, mode="any")),
    ("V12", V12, PingRequest()),
]


@pytest.mark.parametrize(("name", "body", "expected"), LINK_B_REQUESTS, ids=lambda v: v)
def test_tool_request_vectors_decode_to_the_stated_values(
    name: str, body: bytes, expected: Any
) -> None:
    assert decode_tool_request(body) == expected


@pytest.mark.parametrize(("name", "body", "call"), LINK_B_REQUESTS, ids=lambda v: v)
def test_tool_request_vectors_reencode_byte_for_byte(name: str, body: bytes, call: Any) -> None:
    assert encode_tool_request(RID, call) == body


LINK_B_REPLIES: list[tuple[str, bytes, Any]] = [
    ("V19", V19, JobStarted(job_id=JOB_ID, tool="garden_play")),
    (
        "V20",
        V20,
        JobStatusReply(
            job_id=JOB_ID,
            status="complete",
            source="garden_create_region",
            result=GardenRegionCreated(
                region_id="a1b2c3d4-e5f6-4789-9abc-def012345678", position=0.0, duration=16.0
            ),
            error="",
            created_at=1767225600,
            started_at=1767225600,
            completed_at=1767225601,
        ),
    ),
    ("V6", V6, ErrorReply(code="python_error", message=PYTHON_ERROR_MESSAGE, details="")),
    ("V13", V13, PongReply(worker_id=WORKER_ID, uptime_secs=3600)),
]


@pytest.mark.parametrize(("name", "body", "expected"), LINK_B_REPLIES, ids=lambda v: v)
def test_tool_reply_vectors_decode_to_the_stated_values(
    name: str, body: bytes, expected: Any
) -> None:
    assert decode_tool_reply(body) == expected


@pytest.mark.parametrize(("name", "body", "reply"), LINK_B_REPLIES, ids=lambda v: v)
def test_tool_reply_vectors_reencode_byte_for_byte(name: str, body: bytes, reply: Any) -> None:
    assert encode_tool_reply(RID, reply) == body


# -- broadcasts -----------------------------------------------------------------------------------

BROADCASTS: list[tuple[str, bytes, Any]] = [
    (
        "B1",
        B1,
        BeatTick(
            timestamp_nanos=1767225600123456789, beat=16, position_beats=16.25, tempo_bpm=120.0
        ),
    ),
    (
        "B2",
        B2,
        JobStateChanged(
            job_id=JOB_ID, state="complete", result='{"artifact_id":"artifact_0123456789ab"}'
        ),
    ),
    ("B3", B3, JobStateChanged(job_id=JOB_ID, state="failed", result='{"error":"boom"}')),
    (
        "B4",
        B4,
        ArtifactCreated(
            artifact_id="artifact_0123456789ab",
            content_hash="0123456789abcdef0123456789abcdef",
            tags=("type:midi", "source:orpheus"),
            creator="orpheus",
        ),
    ),
    ("B5", B5, TransportStateChanged(state="playing", position_beats=8.0, tempo_bpm=120.0)),
    ("B6", B6, MarkerReached(position_beats=32.0, marker_type="chorus", metadata='{"bars":8}')),
]


@pytest.mark.parametrize(("name", "body", "expected"), BROADCASTS, ids=lambda v: v)
def test_broadcast_vectors_decode_to_the_stated_values(
    name: str, body: bytes, expected: Any
) -> None:
    assert decode_broadcast(body) == expected


@pytest.mark.parametrize(("name", "body", "event"), BROADCASTS, ids=lambda v: v)
def test_broadcast_vectors_reencode_byte_for_byte(name: str, body: bytes, event: Any) -> None:
    assert encode_broadcast(event) == body


def test_every_vector_of_the_sheet_is_covered() -> None:
    covered = {n for n, *_ in LINK_A_REQUESTS + LINK_A_REPLIES + LINK_B_REQUESTS + LINK_B_REPLIES}
    covered |= {n for n, *_ in BROADCASTS}
    assert covered == {f"V{i}" for i in range(1, 21)} | {f"B{i}" for i in range(1, 7)}


# -- frame sets F1-F3 -----------------------------------------------------------------------------

F1 = [VIBEWEAVER, HOOT01, _hex("00 02"), _hex("00 01"), RID, VIBEWEAVER, b"", V1]
F2 = [VIBEWEAVER, HOOT01, _hex("00 03"), _hex("00 01"), RID, VIBEWEAVER, b"", V2]
F3_ID = _hex("0a 0b 0c 0d 0e 0f 40 11 82 13 14 15 16 17 18 19")
F3 = [HOOTENANNY, HOOT01, _hex("00 04"), _hex("00 00"), F3_ID, HOOTENANNY, b"", b""]
F3_REPLY = [HOOTENANNY, HOOT01, _hex("00 04"), _hex("00 00"), F3_ID, VIBEWEAVER, b"", b""]


def test_f1_weave_eval_request_parses_into_identity_and_frame() -> None:
    identity, frame = parse_multipart(F1)
    assert identity == (b"vibeweaver",)
    assert frame == HootFrame(Command.REQUEST, ContentType.CAPNPROTO, RID, "vibeweaver", "", V1)
    assert decode_request(frame.body) == WeaveEvalRequest(code="1 + 1")
    assert build_multipart(identity, frame) == F1


def test_f2_reply_is_built_from_the_f1_request_with_the_same_identity_and_id() -> None:
    identity, request = parse_multipart(F1)
    body = encode_weave_eval_reply(
        request.request_id, output_type="expression", result="2", stdout="", stderr=""
    )
    assert build_multipart(identity, reply_frame(request, body)) == F2


def test_f3_heartbeat_is_answered_with_the_echoed_id_and_our_service_name() -> None:
    identity, request = parse_multipart(F3)
    assert identity == (b"hootenanny",)
    assert request.command is Command.HEARTBEAT
    assert request.content_type is ContentType.EMPTY
    assert request.service == "hootenanny"
    assert build_multipart(identity, heartbeat_reply(request)) == F3_REPLY
    # The DEALER side receives the same 7 frames without the identity.
    assert parse_multipart(F3_REPLY[1:]) == ((), heartbeat_reply(request))
