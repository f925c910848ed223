"""play(), pause(), stop(), seek(beat): move the session's logical clock (the RuleScheduler
forwards each move to hootenanny when connected).

With hootenanny configured (`--hootenanny`) but not reachable, a move fails with NotConnected
naming the endpoint within the link's connect grace (about 1 s), before the clock moves; without
hootenanny (`--hootenanny none`) the local clock moves alone. A move is captured in a kernel
snapshot before the call returns (`DslContext.captured_transport`), so a `kill -9` right after
brings the transport back where it was. These calls act at once and are not awaitable: a cell
that writes `await play()` is refused before it runs (`vibeweaver.kernel.cell.check_awaits`), and
awaiting their result anywhere else raises a TypeError saying so.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

from vibeweaver.actors.gateway.link import CONNECT_GRACE_S
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.context import DslContext, DslError, current


class Moved(str):
    """What a transport call returns: `transport playing at beat 0` (a str, not awaitable)."""

    call: str = "play"

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError(
            f"{self.call}() is not awaitable: it already acted ({self}); write it without `await`"
        )


def require_hootenanny(ctx: DslContext, what: str) -> None:
    """When hootenanny is configured, fail fast (NotConnected naming the endpoint) unless it is
    connected; without hootenanny the local clock works alone."""
    if ctx.link.endpoint is not None:
        ctx.link.require_reachable(what, CONNECT_GRACE_S)


def _move(action: str, beat: float | None = None) -> Moved:
    ctx = current()
    require_hootenanny(ctx, f"{action}()")
    snapshot = ctx.ask_scheduler(scheduler_messages.MoveTransport(action=action, beat=beat))
    assert isinstance(snapshot, scheduler_messages.ClockSnapshot)
    ctx.record(action if beat is None else f"seek({beat:g})", None, snapshot.state)
    ctx.captured_transport()
    moved = Moved(f"transport {snapshot.state} at beat {snapshot.position:g}")
    moved.call = action
    return moved


def play() -> Moved:
    """Start the transport from its current position."""
    return _move("play")


def pause() -> Moved:
    """Freeze the transport where it is."""
    return _move("pause")


def stop() -> Moved:
    """Stop the transport and return to beat 0."""
    return _move("stop")


def seek(beat: float) -> Moved:
    """Move the transport to `beat` (≥ 0), keeping its state; beats skipped never fire."""
    if (
        isinstance(beat, bool)
        or not isinstance(beat, (int, float))
        or not math.isfinite(beat)
        or beat < 0
    ):
        raise DslError(f"seek(): beat must be a number ≥ 0, not {beat!r}")
    return _move("seek", float(beat))
