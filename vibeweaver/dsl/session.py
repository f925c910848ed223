"""session(), tempo(), marker() and the read-only views beat, transport and timeline."""

from __future__ import annotations

import math
import time
from typing import Any

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.checks import check_metadata, check_name, check_text
from vibeweaver.dsl.context import DslError, current
from vibeweaver.dsl.playback import require_hootenanny
from vibeweaver.dsl.values import Marker, Session
from vibeweaver.errors import VibeweaverError

MIN_BPM = 20.0
MAX_BPM = 999.0


def session(name: str | None = None, vibe: str | None = None, load: str | None = None) -> Session:
    """Open (creating if missing) the session `name`, or switch to the existing session `load`;
    set its `vibe` if given. With no arguments, return the current session."""
    ctx = current()
    if name is not None and load is not None:
        raise DslError("session(): give name= (open or create) or load= (existing only), not both")
    if name is not None:
        name = check_name(name, "session()", "name")
    if load is not None:
        load = check_name(load, "session()", "load")
    if vibe is not None:
        vibe = check_text(vibe, "session()", "vibe")
        if not vibe.strip():
            raise DslError("session(): vibe must be a non-empty string")
    target = ctx.session
    if load is not None:
        found = ctx.store.find_session(load)
        if found is None:
            known = ", ".join(s.name for s in ctx.store.list_sessions()) or "none"
            raise DslError(f"session(load={load!r}): no such session (known: {known})")
        target = found
    elif name is not None and name != ctx.session.name:
        target = ctx.store.open_session(name, vibe)
    if vibe is not None and vibe != target.vibe:
        target = ctx.store.update_session(target.id, vibe=vibe)
    if target.id != ctx.session.id:
        ctx.ask_scheduler(scheduler_messages.SwitchSession(session_id=target.id))
        # durable before the reply: a restart without --session comes back to this session
        target = ctx.store.use_session(target.id)
        ctx.session = target
        ctx.callbacks.clear()
    else:
        ctx.session = target
    if name is not None or load is not None or vibe is not None:
        ctx.record("session", {"name": target.name, "vibe": target.vibe}, target.id)
    return Session.of(target)


def tempo(bpm: float | None = None) -> float:
    """Set the tempo in BPM (20–999); with no argument, return it."""
    ctx = current()
    if bpm is None:
        return _clock().tempo_bpm  # the clock's: a tempo broadcast from hootenanny moves it too
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not math.isfinite(bpm):
        raise DslError(f"tempo(): bpm must be a number, not {bpm!r}")
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise DslError(f"tempo(): {bpm:g} BPM is outside {MIN_BPM:g}–{MAX_BPM:g}")
    require_hootenanny(ctx, "tempo()")
    ctx.session = ctx.store.update_session(ctx.session.id, tempo_bpm=float(bpm))
    ctx.ask_scheduler(scheduler_messages.MoveTransport(action="tempo", bpm=float(bpm)))
    ctx.record(f"tempo({bpm:g})")
    ctx.captured_transport()
    return float(bpm)


def marker(name: str, beat: float, metadata: Any = None) -> Marker:
    """Place (or move) the marker `name` at `beat`; metadata must be JSON-serialisable."""
    ctx = current()
    name = check_name(name, "marker()")
    if (
        isinstance(beat, bool)
        or not isinstance(beat, (int, float))
        or not math.isfinite(beat)
        or beat < 0
    ):
        raise DslError(f"marker(): beat must be a number ≥ 0, not {beat!r}")
    metadata_json = check_metadata(metadata, "marker()")
    record = ctx.store.save_marker(ctx.session.id, name, float(beat), metadata_json)
    ctx.scheduler.tell(
        scheduler_messages.MarkerPlaced(
            session_id=ctx.session.id, name=record.name, beat=record.beat
        )
    )
    ctx.record(f"marker({record.name}@{record.beat:g})")
    return Marker.of(record)


def _clock() -> scheduler_messages.ClockSnapshot:
    snapshot = current().ask_scheduler(scheduler_messages.GetClock())
    assert isinstance(snapshot, scheduler_messages.ClockSnapshot)
    return snapshot


def _position(snapshot: scheduler_messages.ClockSnapshot) -> float:
    if snapshot.state != "playing":
        return snapshot.anchor_beat
    return (
        snapshot.anchor_beat + (time.monotonic() - snapshot.anchor_time) * snapshot.tempo_bpm / 60.0
    )


class BeatView:
    """`beat.current` (the clock's position in beats, now) and `beat.tempo` (BPM)."""

    __slots__ = ()

    @property
    def current(self) -> float:
        return _position(_clock())

    @property
    def tempo(self) -> float:
        return _clock().tempo_bpm

    def __repr__(self) -> str:
        try:
            snapshot = _clock()
        except VibeweaverError:
            return "<beat: no kernel>"
        return f"<beat {_position(snapshot):.2f} at {snapshot.tempo_bpm:g} BPM>"


class TransportView:
    """`transport.state` ('stopped' / 'playing' / 'paused') and `transport.position` (beats)."""

    __slots__ = ()

    @property
    def state(self) -> str:
        return _clock().state

    @property
    def position(self) -> float:
        return _position(_clock())

    def __repr__(self) -> str:
        try:
            snapshot = _clock()
        except VibeweaverError:
            return "<transport: no kernel>"
        return f"<transport {snapshot.state} at beat {_position(snapshot):.2f}>"


class TimelineView:
    """`timeline.markers`: the session's markers, sorted by beat."""

    __slots__ = ()

    @property
    def markers(self) -> list[Marker]:
        ctx = current()
        return [Marker.of(record) for record in ctx.store.list_markers(ctx.session.id)]

    def __repr__(self) -> str:
        try:
            markers = self.markers
        except VibeweaverError:
            return "<timeline: no kernel>"
        listed = ", ".join(f"{m.name}@{m.beat:g}" for m in markers) or "no markers"
        return f"<timeline: {listed}>"


beat = BeatView()
transport = TransportView()
timeline = TimelineView()
