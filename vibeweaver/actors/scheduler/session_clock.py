"""One session's logical clock as the RuleScheduler keeps it: a `BeatTracker` plus the pass of the
playhead over the session's local markers.

Plain code, owned and called by the scheduler on its thread: it says which beats and markers became
due (as `Item`s the scheduler fires), applies transport moves, broadcast positions and snapshot
restores, and validates their values (`TransportError`). Side effects (forwarding a move to
hootenanny, telling the planner) stay with the scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

from vibeweaver.actors.scheduler import messages as m
from vibeweaver.actors.scheduler.markers import MarkerTable
from vibeweaver.errors import VibeweaverError
from vibeweaver.scheduling.clock import (
    BEAT_EPSILON,
    DEFAULT_JUMP_TOLERANCE_BEATS,
    MAX_TEMPO_BPM,
    MIN_TEMPO_BPM,
    BeatTracker,
    TransportClock,
)
from vibeweaver.scheduling.rules import BeatCrossed, Event, MarkerHit, TransportChanged
from vibeweaver.types import TransportState

__all__ = [
    "TRANSPORT_ACTIONS",
    "Item",
    "Markers",
    "SessionClock",
    "TransportError",
    "check_move",
    "check_restore",
]

TRANSPORT_ACTIONS = ("play", "pause", "stop", "seek", "tempo")
MARKER_EPSILON = 1e-9

Item = tuple[Event, float | None, bool]
"""An event to run, the ideal monotonic time of the moment it stands for (lateness), and whether a
rule action caused it in this handler (then each rule fires at most once more)."""
Markers = MarkerTable
"""The session's local markers."""


class TransportError(VibeweaverError, ValueError):
    """A MoveTransport with an unknown action or a bad beat/tempo (the reply names it)."""


def check_move(action: str, beat: float | None, bpm: float | None) -> None:
    """Raise a TransportError naming what is wrong with a MoveTransport."""
    if action not in TRANSPORT_ACTIONS:
        raise TransportError(
            f"unknown transport action {action!r}; use one of {', '.join(TRANSPORT_ACTIONS)}"
        )
    if action == "seek" and (
        beat is None or not isinstance(beat, int | float) or not math.isfinite(beat) or beat < 0
    ):
        raise TransportError(f"seek needs a beat >= 0, got {beat!r}")
    if action == "tempo" and (
        bpm is None
        or not isinstance(bpm, int | float)
        or not math.isfinite(bpm)
        or not MIN_TEMPO_BPM <= bpm <= MAX_TEMPO_BPM
    ):
        raise TransportError(
            f"tempo needs a BPM between {MIN_TEMPO_BPM:g} and {MAX_TEMPO_BPM:g}, got {bpm!r}"
        )


def check_restore(state: str, beat: float, tempo_bpm: float) -> tuple[TransportState, float, float]:
    """A RestoreTransport's values, checked (a TransportError names the first bad one)."""
    try:
        parsed = TransportState.parse(state)
    except ValueError as exc:
        raise TransportError(str(exc)) from None
    if parsed is TransportState.PLAYING:
        raise TransportError("a restored clock is paused or stopped, never playing")
    beat, bpm = float(beat), float(tempo_bpm)
    if not math.isfinite(beat) or beat < 0:
        raise TransportError(f"a restored position must be a beat >= 0, got {beat!r}")
    if not (math.isfinite(bpm) and MIN_TEMPO_BPM <= bpm <= MAX_TEMPO_BPM):
        raise TransportError(
            f"a restored tempo must be between {MIN_TEMPO_BPM:g} and {MAX_TEMPO_BPM:g} "
            f"BPM, got {bpm!r}"
        )
    return parsed, beat, bpm


def _tracker(clock: TransportClock) -> BeatTracker:
    return BeatTracker(clock, jump_tolerance_beats=DEFAULT_JUMP_TOLERANCE_BEATS)


@dataclass(slots=True)
class SessionClock:
    """One session's logical clock plus the local-marker pass state."""

    tracker: BeatTracker
    marker_from: float
    """Markers at beats > marker_from may still fire in the current pass of the playhead."""
    markers_fired: set[str] = field(default_factory=set)
    """Marker names fired in the current pass (a broadcast and a local crossing fire once)."""
    moved: bool = False
    """Something set this clock in this process (a move, a broadcast, a snapshot restore); a
    kernel snapshot is then no longer restored into it."""

    @classmethod
    def new(cls, tempo_bpm: float, now: float) -> SessionClock:
        """A stopped clock at beat 0 (tempo clamped to the supported range)."""
        tempo = min(max(tempo_bpm, MIN_TEMPO_BPM), MAX_TEMPO_BPM)
        return cls(
            tracker=_tracker(TransportClock(tempo_bpm=tempo, t=now)), marker_from=-MARKER_EPSILON
        )

    def jump(self, beat: float) -> None:
        """A new pass starts at `beat` (a marker exactly there fires once playback reaches it)."""
        self.marker_from = beat - MARKER_EPSILON
        self.markers_fired.clear()

    def first_hit(self, name: str) -> bool:
        """Count a marker reached in this pass; False if it already fired in it."""
        if name in self.markers_fired:
            return False
        self.markers_fired.add(name)
        return True

    def fingerprint(self) -> tuple[object, ...]:
        """State, tempo and the playhead's phase (the beat it would be at at time 0: playing does
        not change it, a seek or a re-anchor beyond drift does)."""
        anchor = self.tracker.clock.anchor
        phase = anchor.beat
        if anchor.state is TransportState.PLAYING:
            phase -= anchor.time * anchor.tempo_bpm / 60.0
        return (
            anchor.state,
            round(anchor.tempo_bpm, 6),
            round(phase, 2) if math.isfinite(phase) else 0.0,
        )

    def snapshot(self, now: float) -> m.ClockSnapshot:
        tracker = self.tracker
        anchor = tracker.clock.anchor
        return m.ClockSnapshot(
            state=anchor.state.value,
            tempo_bpm=anchor.tempo_bpm,
            anchor_time=anchor.time,
            anchor_beat=anchor.beat,
            taken_at=now,
            position=tracker.position(now),
        )

    def catch_up(self, now: float, markers: Markers) -> list[Item]:
        """The beats and local markers the playhead passed up to `now`, in order."""
        beats = [(event, event.target_time) for event in self.tracker.tick(now)]
        return self.with_markers(beats, now, markers)

    def with_markers(
        self, beats: list[tuple[BeatCrossed, float]], now: float, markers: Markers
    ) -> list[Item]:
        """Merge the passed beats with the local markers passed up to `now` (by position)."""
        clock = self.tracker.clock
        items: list[tuple[float, int, Event, float | None]] = [
            (float(event.beat), 0, event, target) for event, target in beats
        ]
        if clock.is_playing and markers:
            position = self.tracker.position(now)
            if position > self.marker_from:
                for beat, name in markers.passed(self.marker_from, position + BEAT_EPSILON):
                    if name not in self.markers_fired:
                        self.markers_fired.add(name)
                        hit = MarkerHit(name=name, beat=beat)
                        items.append((beat, 1, hit, clock.time_of(beat)))
                self.marker_from = position
        items.sort(key=lambda item: (item[0], item[1]))
        return [(event, target, False) for _, _, event, target in items]

    def move(
        self,
        action: str,
        now: float,
        markers: Markers,
        *,
        beat: float | None = None,
        bpm: float | None = None,
        cascade: bool,
    ) -> list[Item]:
        """Apply a transport move at `now` (already caught up); returns what it makes due: the
        beat/marker it lands on when playing, and the transport change."""
        self.moved = True
        tracker = self.tracker
        before = tracker.clock.state
        match action:
            case "play":
                landed = tracker.play(now)
            case "pause":
                landed = tracker.pause(now)
            case "stop":
                landed = tracker.stop(now)
                self.jump(0.0)
            case "seek":
                assert beat is not None
                landed = tracker.seek(float(beat), now)
                self.jump(float(beat))
            case "tempo":
                assert bpm is not None
                landed = tracker.set_tempo(float(bpm), now)
            case _:  # pragma: no cover - validated by the callers
                raise TransportError(f"unknown transport action {action!r}")
        items = self.with_markers([(event, event.target_time) for event in landed], now, markers)
        items = [(event, target, cascade) for event, target, _ in items]
        after = tracker.clock.state
        if after is not before:
            items.insert(0, (TransportChanged(state=after), None, cascade))
        return items

    def reanchor(
        self, beat: float, tempo_bpm: float, state: TransportState, at: float, markers: Markers
    ) -> list[Item] | None:
        """Adopt a position observed by hootenanny (a broadcast); None if it is not finite."""
        tracker = self.tracker
        if not (math.isfinite(beat) and math.isfinite(tempo_bpm)):
            return None
        tempo = min(max(tempo_bpm, MIN_TEMPO_BPM), MAX_TEMPO_BPM)
        self.moved = True
        before = tracker.clock.state
        predicted = tracker.position(at)
        crossed = tracker.reanchor(beat=beat, tempo_bpm=tempo, state=state, t=at)
        if abs(beat - predicted) > DEFAULT_JUMP_TOLERANCE_BEATS:
            self.jump(beat)
        items = self.with_markers([(event, event.target_time) for event in crossed], at, markers)
        if tracker.clock.state is not before:
            items.insert(0, (TransportChanged(state=tracker.clock.state), None, False))
        return items

    def restore(self, state: TransportState, beat: float, tempo_bpm: float, now: float) -> None:
        """Put the clock where a kernel snapshot left it (checked by `check_restore`)."""
        self.tracker = _tracker(TransportClock(tempo_bpm=tempo_bpm, beat=beat, state=state, t=now))
        self.jump(beat)
        self.moved = True

    def next_marker_time(
        self, markers: Markers, names: Collection[str], now: float
    ) -> float | None:
        """When the playhead reaches the next marker of this pass that a rule waits for."""
        clock = self.tracker.clock
        if not clock.is_playing:
            return None
        beat = markers.next_waited(names, self.marker_from, self.markers_fired)
        return None if beat is None else max(now, clock.time_of(beat))
