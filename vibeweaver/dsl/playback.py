"""play(), pause(), stop(), seek(beat): move the session's logical clock (the RuleScheduler
forwards each move to hootenanny when connected)."""

from __future__ import annotations

import math

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.context import DslError, current


def _move(action: str, beat: float | None = None) -> str:
    ctx = current()
    snapshot = ctx.ask_scheduler(scheduler_messages.MoveTransport(action=action, beat=beat))
    assert isinstance(snapshot, scheduler_messages.ClockSnapshot)
    ctx.record(action if beat is None else f"seek({beat:g})", None, snapshot.state)
    return f"transport {snapshot.state} at beat {snapshot.position:g}"


def play() -> str:
    """Start the transport from its current position."""
    return _move("play")


def pause() -> str:
    """Freeze the transport where it is."""
    return _move("pause")


def stop() -> str:
    """Stop the transport and return to beat 0."""
    return _move("stop")


def seek(beat: float) -> str:
    """Move the transport to `beat` (≥ 0), keeping its state; beats skipped never fire."""
    if (
        isinstance(beat, bool)
        or not isinstance(beat, (int, float))
        or not math.isfinite(beat)
        or beat < 0
    ):
        raise DslError(f"seek(): beat must be a number ≥ 0, not {beat!r}")
    return _move("seek", float(beat))
