"""The logical transport clock (SPEC 4.4): anchor arithmetic and the exactly-once beat cursor.

Time is always passed in (monotonic seconds, e.g. `time.monotonic()`): nothing here reads a clock,
so every behaviour is deterministic and testable on simulated time.

Transport semantics, decided here and relied on by the RuleScheduler:

- `play` starts moving from the current position; `pause` freezes it; `stop` is pause + seek to
  beat 0 (the common DAW behaviour) and leaves the state STOPPED; `seek` moves the position and
  keeps the state (seeking while playing keeps playing).
- A tempo change re-anchors at the moment of the change, so the beat position is continuous.
- Beats fire only while playing. A beat b "is passed" when the playhead, while playing, reaches a
  position >= b. Playback that *starts* exactly on an integer beat (play from 0, play after a seek
  to 64) passes that beat, so a `@on_beat(4)` rule fires on the downbeat playback starts from.
- Beats jumped over by a seek (or by a re-anchor larger than the jump tolerance) never fire. A seek
  backwards followed by playing forward again passes those beats again, so they fire again: each
  seek starts a new pass. Pausing and resuming, tempo changes and small re-anchors (drift
  corrections from `beatTick`) never make a beat fire twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from vibeweaver.errors import VibeweaverError
from vibeweaver.scheduling.rules import BeatCrossed
from vibeweaver.types import TransportState

__all__ = [
    "BEAT_EPSILON",
    "DEFAULT_JUMP_TOLERANCE_BEATS",
    "MAX_TEMPO_BPM",
    "MIN_TEMPO_BPM",
    "BeatCursor",
    "BeatTracker",
    "ClockAnchor",
    "TransportClock",
    "TransportNotPlayingError",
    "next_due_beat",
]

MIN_TEMPO_BPM = 1.0
MAX_TEMPO_BPM = 999.0
BEAT_EPSILON = 1e-9
"""Positions within this many beats of an integer count as on it (absorbs float rounding, so the
beat computed at `time_of(b)` is never 3.9999999999 instead of 4)."""
DEFAULT_JUMP_TOLERANCE_BEATS = 1.0
"""A re-anchor that moves the position by more than this is a jump (a seek), not a drift fix."""


class TransportNotPlayingError(VibeweaverError, RuntimeError):
    """A beat's wall time was asked for while the transport is not playing (it is undefined)."""


def _check_time(t: float, what: str = "time") -> float:
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError(f"{what} must be a finite number of seconds, got {t!r}")
    return float(t)


def _check_beat(beat: float, what: str = "beat", *, allow_negative: bool = False) -> float:
    if isinstance(beat, bool) or not isinstance(beat, int | float) or not math.isfinite(beat):
        raise ValueError(f"{what} must be a finite number of beats, got {beat!r}")
    if beat < 0 and not allow_negative:
        raise ValueError(f"{what} must be >= 0, got {beat!r}")
    return float(beat)


def _check_tempo(bpm: float) -> float:
    if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not math.isfinite(bpm):
        raise ValueError(f"tempo must be a finite number of BPM, got {bpm!r}")
    if not MIN_TEMPO_BPM <= bpm <= MAX_TEMPO_BPM:
        raise ValueError(
            f"tempo must be between {MIN_TEMPO_BPM:g} and {MAX_TEMPO_BPM:g} BPM, got {bpm!r}"
        )
    return float(bpm)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockAnchor:
    """At monotonic `time` the transport was at `beat`, moving at `tempo_bpm` when PLAYING."""

    time: float
    beat: float
    tempo_bpm: float
    state: TransportState

    @property
    def beats_per_second(self) -> float:
        return self.tempo_bpm / 60.0


class TransportClock:
    """A session's logical transport clock: one anchor, everything else computed from it."""

    __slots__ = ("_anchor",)

    def __init__(
        self,
        *,
        tempo_bpm: float = 120.0,
        beat: float = 0.0,
        state: TransportState | str = TransportState.STOPPED,
        t: float = 0.0,
    ) -> None:
        self._anchor = ClockAnchor(
            time=_check_time(t),
            beat=_check_beat(beat, allow_negative=True),
            tempo_bpm=_check_tempo(tempo_bpm),
            state=TransportState.parse(state),
        )

    def __repr__(self) -> str:
        a = self._anchor
        return (
            f"TransportClock({a.state.value}, beat {a.beat:g} at t={a.time:g}, {a.tempo_bpm:g} BPM)"
        )

    @property
    def anchor(self) -> ClockAnchor:
        return self._anchor

    @property
    def state(self) -> TransportState:
        return self._anchor.state

    @property
    def tempo_bpm(self) -> float:
        return self._anchor.tempo_bpm

    @property
    def is_playing(self) -> bool:
        return self._anchor.state is TransportState.PLAYING

    def beat_at(self, t: float) -> float:
        """The position at monotonic time t (constant unless playing)."""
        a = self._anchor
        if a.state is not TransportState.PLAYING:
            return a.beat
        return a.beat + (t - a.time) * a.beats_per_second

    def time_of(self, beat: float) -> float:
        """The monotonic time at which the playhead is (or was) at `beat`, at the current tempo.

        Raises TransportNotPlayingError when paused or stopped (the playhead never gets there).
        """
        a = self._anchor
        if a.state is not TransportState.PLAYING:
            raise TransportNotPlayingError(
                f"beat {beat:g} has no wall time while the transport is {a.state.value}"
            )
        return a.time + (beat - a.beat) / a.beats_per_second

    def try_time_of(self, beat: float) -> float | None:
        """`time_of(beat)`, or None when the transport is not playing (the planner's injection)."""
        if not self.is_playing:
            return None
        return self.time_of(beat)

    def seconds_until(self, beat: float, now: float) -> float | None:
        """Seconds from `now` until the playhead reaches `beat` (0 if already there or past);
        None when not playing, since then it never arrives by itself."""
        if not self.is_playing:
            return None
        return max(0.0, self.time_of(beat) - now)

    def lateness(self, beat: float, wall_time: float) -> float:
        """`wall_time - time_of(beat)`: how late (> 0) or early (< 0) an action for `beat` ran."""
        return wall_time - self.time_of(beat)

    # ---- moves (all re-anchor at t) ---------------------------------------------------------

    def play(self, t: float) -> None:
        """Start moving from the current position (no-op when already playing)."""
        if self.is_playing:
            return
        self._reset(t=t, beat=self._anchor.beat, state=TransportState.PLAYING)

    def pause(self, t: float) -> None:
        """Freeze the position where it is at t (no-op unless playing)."""
        if not self.is_playing:
            return
        self._reset(t=t, beat=self.beat_at(t), state=TransportState.PAUSED)

    def stop(self, t: float) -> None:
        """Pause and return to beat 0; the state becomes STOPPED."""
        self._reset(t=t, beat=0.0, state=TransportState.STOPPED)

    def seek(self, beat: float, t: float) -> None:
        """Move to `beat` (>= 0) at t, keeping the state."""
        self._reset(t=t, beat=_check_beat(beat, "seek beat"), state=self._anchor.state)

    def set_tempo(self, bpm: float, t: float) -> None:
        """Change tempo at t; the position is continuous (re-anchored at t)."""
        tempo = _check_tempo(bpm)
        self._reset(t=t, beat=self.beat_at(t), state=self._anchor.state, tempo_bpm=tempo)

    def reanchor(
        self,
        *,
        beat: float,
        tempo_bpm: float,
        state: TransportState | str,
        t: float,
    ) -> float:
        """Adopt an observed position (a `transportStateChanged` or `beatTick` broadcast).

        Returns the discontinuity in beats: the observed beat minus where this clock thought the
        playhead was at t (positive when the clock was behind). Any finite beat is accepted, since
        it comes from a peer.
        """
        observed = _check_beat(beat, "observed beat", allow_negative=True)
        predicted = self.beat_at(_check_time(t))
        self._reset(t=t, beat=observed, state=TransportState.parse(state), tempo_bpm=tempo_bpm)
        return observed - predicted

    def _reset(
        self, *, t: float, beat: float, state: TransportState, tempo_bpm: float | None = None
    ) -> None:
        self._anchor = ClockAnchor(
            time=_check_time(t),
            beat=beat,
            tempo_bpm=self._anchor.tempo_bpm if tempo_bpm is None else _check_tempo(tempo_bpm),
            state=state,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSnapshot:
    """The clock's anchor at `anchor_time` (monotonic seconds of this process) plus the position
    computed at `taken_at`; readers compute later positions from the anchor. The scheduler's
    answer to GetClock, and what it hands the planner (a value both share, defined here so that
    neither actor's messages import the other's)."""

    state: str
    tempo_bpm: float
    anchor_time: float
    anchor_beat: float
    taken_at: float
    position: float

    def at(self, now: float) -> ClockSnapshot:
        """The same clock read at `now` (monotonic seconds): the position moves on while it
        plays, and stays at the anchor otherwise."""
        position = self.anchor_beat
        if self.state == "playing":
            position += (now - self.anchor_time) * self.tempo_bpm / 60.0
        return ClockSnapshot(
            state=self.state,
            tempo_bpm=self.tempo_bpm,
            anchor_time=self.anchor_time,
            anchor_beat=self.anchor_beat,
            taken_at=now,
            position=position,
        )


def next_due_beat(divisors: Iterable[int], after: int) -> int | None:
    """The smallest integer beat > `after` that is a multiple of one of `divisors` (None if none).

    With a cursor: `next_due_beat(index.beat_divisors(), cursor.last)` is the next beat any beat
    rule can fire on, so the scheduler thread can sleep until `clock.seconds_until(that)`.
    """
    best: int | None = None
    for divisor in divisors:
        if divisor < 1:
            raise ValueError(f"beat divisor must be >= 1, got {divisor}")
        candidate = (after // divisor + 1) * divisor
        if best is None or candidate < best:
            best = candidate
    return best


class BeatCursor:
    """Exactly-once integer beats along one pass of the playhead.

    The cursor remembers `last`, the highest integer beat already passed. `advance(to)` returns
    the integer beats b with last < b <= to, in order, and moves `last` to the highest of them; a
    `to` at or below `last` returns nothing and leaves the cursor alone (going backwards never
    re-fires). `jump(beat)` starts a new pass at `beat` without returning anything: afterwards
    `last = ceil(beat) - 1`, so the beats skipped by the jump never fire, while an integer landing
    beat is not yet passed and fires on the next advance that reaches it (playback that starts on
    beat 64 plays beat 64). Jumping backwards is the only way to make beats fire again.
    """

    __slots__ = ("_last",)

    def __init__(self, beat: float = 0.0) -> None:
        self._last = 0
        self.jump(beat)

    def __repr__(self) -> str:
        return f"BeatCursor(last={self._last})"

    @property
    def last(self) -> int:
        """The highest integer beat considered passed in the current pass."""
        return self._last

    def advance(self, to_beat: float) -> list[int]:
        target = math.floor(
            _check_beat(to_beat, "cursor target", allow_negative=True) + BEAT_EPSILON
        )
        if target <= self._last:
            return []
        crossed = list(range(self._last + 1, target + 1))
        self._last = target
        return crossed

    def jump(self, beat: float) -> None:
        landing = _check_beat(beat, "cursor position", allow_negative=True)
        self._last = math.ceil(landing - BEAT_EPSILON) - 1


class BeatTracker:
    """A TransportClock and a BeatCursor kept in step: transport moves in, BeatCrossed events out.

    Every method takes the monotonic time t of the move and first catches up, i.e. returns the
    beats the playhead passed up to t under the old anchor, then applies the move, then returns any
    beat the move itself makes due (playback starting on an integer beat). Times earlier than the
    latest seen are treated as that latest time, so the playhead never runs backwards by accident.
    `target_time` of each event is the beat's ideal monotonic time (under the anchor in force when
    it was passed); the firing code records `lateness = now - target_time`.
    """

    __slots__ = ("_clock", "_cursor", "_jump_tolerance", "_last_t")

    def __init__(
        self,
        clock: TransportClock | None = None,
        *,
        jump_tolerance_beats: float = DEFAULT_JUMP_TOLERANCE_BEATS,
    ) -> None:
        self._clock = clock if clock is not None else TransportClock()
        if not math.isfinite(jump_tolerance_beats) or jump_tolerance_beats < 0:
            raise ValueError(f"jump tolerance must be >= 0 beats, got {jump_tolerance_beats!r}")
        self._jump_tolerance = float(jump_tolerance_beats)
        self._last_t = self._clock.anchor.time
        self._cursor = BeatCursor(self._clock.anchor.beat)

    @property
    def clock(self) -> TransportClock:
        return self._clock

    @property
    def cursor(self) -> BeatCursor:
        return self._cursor

    def position(self, t: float) -> float:
        return self._clock.beat_at(max(t, self._last_t))

    def tick(self, t: float) -> list[BeatCrossed]:
        """The beats passed since the last call (call it when woken, or on any schedule)."""
        return self._catch_up(self._now(t))

    def play(self, t: float) -> list[BeatCrossed]:
        now = self._now(t)
        crossed = self._catch_up(now)
        self._clock.play(now)
        return crossed + self._catch_up(now)

    def pause(self, t: float) -> list[BeatCrossed]:
        now = self._now(t)
        crossed = self._catch_up(now)
        self._clock.pause(now)
        return crossed

    def stop(self, t: float) -> list[BeatCrossed]:
        now = self._now(t)
        crossed = self._catch_up(now)
        self._clock.stop(now)
        self._cursor.jump(0.0)
        return crossed

    def seek(self, beat: float, t: float) -> list[BeatCrossed]:
        beat = _check_beat(beat, "seek beat")
        now = self._now(t)
        crossed = self._catch_up(now)
        self._clock.seek(beat, now)
        self._cursor.jump(beat)
        return crossed + self._catch_up(now)

    def set_tempo(self, bpm: float, t: float) -> list[BeatCrossed]:
        bpm = _check_tempo(bpm)
        now = self._now(t)
        crossed = self._catch_up(now)
        self._clock.set_tempo(bpm, now)
        return crossed

    def reanchor(
        self, *, beat: float, tempo_bpm: float, state: TransportState | str, t: float
    ) -> list[BeatCrossed]:
        """Adopt a broadcast position. A move within the jump tolerance is a drift correction
        (continuous: nothing re-fires, beats inside a forward correction fire once played); a
        larger move is a jump, handled exactly like a seek."""
        beat = _check_beat(beat, "observed beat", allow_negative=True)
        tempo_bpm = _check_tempo(tempo_bpm)
        state = TransportState.parse(state)
        now = self._now(t)
        crossed = self._catch_up(now)
        delta = self._clock.reanchor(beat=beat, tempo_bpm=tempo_bpm, state=state, t=now)
        if abs(delta) > self._jump_tolerance:
            self._cursor.jump(beat)
        return crossed + self._catch_up(now)

    def next_due(self, divisors: Iterable[int], now: float) -> tuple[int, float] | None:
        """(beat, seconds from now) of the next beat a rule with one of `divisors` fires on, or
        None when nothing will fire by itself (no divisors, or not playing)."""
        beat = next_due_beat(divisors, self._cursor.last)
        if beat is None:
            return None
        wait = self._clock.seconds_until(beat, max(now, self._last_t))
        return None if wait is None else (beat, wait)

    def _now(self, t: float) -> float:
        self._last_t = max(_check_time(t), self._last_t)
        return self._last_t

    def _catch_up(self, now: float) -> list[BeatCrossed]:
        if not self._clock.is_playing:
            return []
        return [
            BeatCrossed(beat=b, target_time=self._clock.time_of(b))
            for b in self._cursor.advance(self._clock.beat_at(now))
        ]
