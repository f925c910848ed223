"""The hootenanny wire codec: HOOT01 frames and Cap'n Proto bodies <-> frozen dataclasses.

Pure: no sockets, no threads, no zmq. Submodules: `frames` (HOOT01 multipart), `envelope`
(link A: what vibeweaver serves), `tools` (link B: calls to hootenanny), `broadcasts` (link C:
PUB/SUB events), `kernel_state` (snapshots), `errors` (exceptions and error codes).
"""

from __future__ import annotations

from vibeweaver.wire import broadcasts, envelope, errors, frames, kernel_state, tools
from vibeweaver.wire.broadcasts import *  # noqa: F403
from vibeweaver.wire.envelope import *  # noqa: F403
from vibeweaver.wire.errors import *  # noqa: F403
from vibeweaver.wire.frames import *  # noqa: F403
from vibeweaver.wire.kernel_state import *  # noqa: F403
from vibeweaver.wire.tools import *  # noqa: F403

__all__ = [
    *errors.__all__,
    *frames.__all__,
    *envelope.__all__,
    *tools.__all__,
    *broadcasts.__all__,
    *kernel_state.__all__,
]
