"""Size limits shared by the service's interfaces (SPEC §3.2, §3.3), so both eval paths agree."""

from __future__ import annotations

from typing import Final

MAX_CODE_CHARS: Final = 1_000_000
"""A cell's code, on MCP and over the ROUTER alike."""

MAX_REQUEST_BYTES: Final = MAX_CODE_CHARS * 4 + 64 * 1024
"""The largest Cap'n Proto body a weaveEval of MAX_CODE_CHARS can need (4 bytes a character at
most, plus the envelope); a larger request is refused from its header, before it is decoded."""

ROUTER_MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
"""ZMQ_MAXMSGSIZE of the ROUTER: a larger message makes libzmq drop the peer's connection (no
reply is possible then); below it, an oversized request gets an error reply."""

SUB_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
"""ZMQ_MAXMSGSIZE of the SUB socket: broadcasts are small events."""
