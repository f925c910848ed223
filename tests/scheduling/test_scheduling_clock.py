"""The logical transport clock, the exactly-once beat cursor and beat rules firing from them."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.scheduling import (
    BeatCrossed,
    BeatCursor,
    BeatTracker,
    BeatTrigger,
    NotifyAction,
    Rule,
    RuleIndex,
    TransportClock,
    TransportNotPlayingError,
    next_due_beat,
)
from vibeweaver.types import RuleId, SessionId, TransportState

PLAYING = TransportState.PLAYING
PAUSED = TransportState.PAUSED
STOPPED = TransportState.STOPPED

# ---- clock arithmetic ------------------------------------------------------------------------


def test_a_playing_clock_maps_beats_to_times_and_back() -> None:
    clock = TransportClock(tempo_bpm=120, beat=8, state=PLAYING, t=100.0)
    assert clock.beat_at(101.0) == 10.0
    assert clock.time_of(16) == 104.0
    assert clock.time_of(4) == 98.0
    assert clock.seconds_until(16, now=101.0) == 3.0
    assert clock.seconds_until(4, now=101.0) == 0.0
    assert clock.lateness(10, wall_time=101.25) == 0.25


def test_a_paused_or_stopped_clock_has_no_time_for_a_beat() -> None:
    clock = TransportClock(tempo_bpm=120, beat=8, state=PAUSED, t=0.0)
    assert clock.beat_at(1000.0) == 8.0
    assert clock.try_time_of(16) is None
    assert clock.seconds_until(16, now=0.0) is None
    with pytest.raises(TransportNotPlayingError, match="while the transport is paused"):
        clock.time_of(16)


def test_play_pause_stop_and_seek_move_the_anchor_as_a_daw_does() -> None:
    clock = TransportClock(tempo_bpm=60, t=0.0)
    assert (clock.state, clock.beat_at(5.0)) == (STOPPED, 0.0)
    clock.play(1.0)
    assert clock.beat_at(3.0) == 2.0
    clock.pause(3.0)
    assert (clock.state, clock.beat_at(10.0)) == (PAUSED, 2.0)
    clock.play(10.0)
    assert clock.beat_at(11.0) == 3.0
    clock.seek(32, 11.0)
    assert (clock.state, clock.beat_at(12.0)) == (PLAYING, 33.0)
    clock.stop(12.0)
    assert (clock.state, clock.beat_at(20.0)) == (STOPPED, 0.0)
    clock.seek(4, 20.0)
    assert (clock.state, clock.beat_at(30.0)) == (STOPPED, 4.0)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(1, 999),
    st.floats(1, 999),
    st.floats(0, 1e4),
    st.floats(0, 1e3),
)
def test_a_tempo_change_keeps_the_beat_continuous(
    bpm: float, new_bpm: float, start: float, elapsed: float
) -> None:
    clock = TransportClock(tempo_bpm=bpm, beat=start, state=PLAYING, t=0.0)
    before = clock.beat_at(elapsed)
    clock.set_tempo(new_bpm, elapsed)
    assert clock.beat_at(elapsed) == before
    assert math.isclose(clock.beat_at(elapsed + 60.0), before + new_bpm, rel_tol=1e-9)
    assert math.isclose(clock.time_of(clock.beat_at(elapsed + 7.0)), elapsed + 7.0, abs_tol=1e-6)


def test_reanchor_reports_how_far_the_clock_was_off() -> None:
    clock = TransportClock(tempo_bpm=120, state=PLAYING, t=0.0)
    assert clock.reanchor(beat=10.25, tempo_bpm=120, state="playing", t=5.0) == 0.25
    assert clock.beat_at(5.5) == 11.25
    assert clock.reanchor(beat=0, tempo_bpm=90, state=STOPPED, t=6.0) == -12.25
    assert (clock.state, clock.tempo_bpm) == (STOPPED, 90.0)


@pytest.mark.parametrize("bpm", [0, -120, 1000, float("nan"), float("inf")])
def test_an_impossible_tempo_is_refused(bpm: float) -> None:
    with pytest.raises(ValueError, match="tempo must be"):
        TransportClock(tempo_bpm=bpm)


def test_seeking_to_a_negative_or_infinite_beat_is_refused() -> None:
    clock = TransportClock()
    with pytest.raises(ValueError, match=">= 0"):
        clock.seek(-1, 0.0)
    with pytest.raises(ValueError, match="finite"):
        clock.seek(float("inf"), 0.0)


# ---- cursor ----------------------------------------------------------------------------------


def test_the_cursor_returns_each_integer_beat_once_in_order() -> None:
    cursor = BeatCursor(0.0)
    assert cursor.advance(0.5) == [0]
    assert cursor.advance(0.9) == []
    assert cursor.advance(3.0) == [1, 2, 3]
    assert cursor.advance(3.0) == []
    assert cursor.advance(2.0) == []
    assert cursor.advance(4.99) == [4]
    assert cursor.last == 4


def test_a_jump_skips_the_beats_it_jumps_over_but_not_an_integer_landing_beat() -> None:
    cursor = BeatCursor(0.0)
    cursor.advance(2.5)
    cursor.jump(8.0)
    assert cursor.advance(9.5) == [8, 9]
    cursor.jump(12.5)
    assert cursor.advance(14.0) == [13, 14]


def test_only_a_backwards_jump_lets_beats_fire_again() -> None:
    cursor = BeatCursor(0.0)
    assert cursor.advance(4.0) == [0, 1, 2, 3, 4]
    assert cursor.advance(1.0) == []
    cursor.jump(2.0)
    assert cursor.advance(4.0) == [2, 3, 4]


def test_next_due_beat_is_the_next_multiple_of_any_divisor() -> None:
    assert next_due_beat([4, 6], after=4) == 6
    assert next_due_beat([4, 6], after=6) == 8
    assert next_due_beat([32], after=-1) == 0
    assert next_due_beat([], after=3) is None


# ---- tracker ---------------------------------------------------------------------------------


def test_playback_from_zero_fires_the_downbeat_and_each_beat_once() -> None:
    tracker = BeatTracker(TransportClock(tempo_bpm=120))
    assert [e.beat for e in tracker.play(10.0)] == [0]
    assert [e.beat for e in tracker.tick(11.0)] == [1, 2]
    assert tracker.tick(11.0) == []
    events = tracker.pause(11.6)
    assert [e.beat for e in events] == [3]
    assert events[0].target_time == 11.5
    assert tracker.play(20.0) == []
    assert [e.beat for e in tracker.stop(20.5)] == [4]
    assert [e.beat for e in tracker.play(30.0)] == [0]


def test_a_seek_skips_beats_and_playing_over_them_again_fires_them_again() -> None:
    tracker = BeatTracker(TransportClock(tempo_bpm=60))
    tracker.play(0.0)
    tracker.tick(3.0)  # fired 0..3
    assert [e.beat for e in tracker.seek(10, 3.0)] == [10]
    assert [e.beat for e in tracker.tick(5.0)] == [11, 12]
    assert [e.beat for e in tracker.seek(1.5, 5.0)] == []
    assert [e.beat for e in tracker.tick(7.0)] == [2, 3]


def test_a_small_broadcast_correction_never_refires_or_skips_a_beat() -> None:
    tracker = BeatTracker(TransportClock(tempo_bpm=60), jump_tolerance_beats=1.0)
    assert [e.beat for e in tracker.play(0.0)] == [0]
    assert [e.beat for e in tracker.tick(4.02)] == [1, 2, 3, 4]
    assert tracker.reanchor(beat=3.98, tempo_bpm=60, state="playing", t=4.02) == []
    assert [e.beat for e in tracker.tick(5.1)] == [5]
    crossed = tracker.reanchor(beat=6.2, tempo_bpm=60, state="playing", t=5.9)
    assert [e.beat for e in crossed] == [6]
    assert math.isclose(crossed[0].target_time, 5.7)
    assert [e.beat for e in tracker.reanchor(beat=40, tempo_bpm=60, state="playing", t=6.0)] == [40]


def test_the_tracker_says_how_long_to_sleep_until_the_next_qualifying_beat() -> None:
    tracker = BeatTracker(TransportClock(tempo_bpm=120))
    assert tracker.next_due({4}, now=0.0) is None  # not playing: nothing comes by itself
    tracker.play(0.0)
    assert tracker.next_due({4}, now=0.0) == (4, 2.0)
    tracker.tick(2.5)
    assert tracker.next_due({4, 6}, now=2.5) == (6, 0.5)
    assert tracker.next_due(set(), now=2.5) is None


@settings(max_examples=100, deadline=None)
@given(
    st.floats(20, 400),
    st.sets(st.integers(1, 16), min_size=1, max_size=3),
    st.floats(0, 50),
)
def test_waking_at_the_announced_time_fires_that_beat(
    bpm: float, divisors: set[int], start: float
) -> None:
    tracker = BeatTracker(TransportClock(tempo_bpm=bpm, beat=0.0, t=0.0))
    tracker.play(start)
    now = start
    for _ in range(5):
        due = tracker.next_due(divisors, now)
        assert due is not None
        beat, wait = due
        now += wait
        fired = [e.beat for e in tracker.tick(now)]
        assert fired[-1] == beat
        assert all(b % d != 0 for b in fired[:-1] for d in divisors)


# ---- the exactly-once property ---------------------------------------------------------------

TEMPI = [60.0, 90.0, 120.0, 150.0, 180.0, 240.0]  # bpm/60 exact in binary: positions are exact

ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(0, 48).map(lambda k: k / 16)),
        st.tuples(st.just("wait"), st.integers(0, 48).map(lambda k: k / 16)),
        st.tuples(st.just("play"), st.just(0.0)),
        st.tuples(st.just("pause"), st.just(0.0)),
        st.tuples(st.just("stop"), st.just(0.0)),
        st.tuples(st.just("seek"), st.integers(0, 160).map(lambda k: k / 4)),
        st.tuples(st.just("tempo"), st.sampled_from(TEMPI)),
        st.tuples(st.just("drift"), st.integers(-4, 4).map(lambda k: k / 8)),
        st.tuples(st.just("jump"), st.integers(8, 80).map(lambda k: k / 4)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.sampled_from(TEMPI), st.sets(st.integers(1, 12), min_size=1, max_size=4))
def test_each_beat_rule_fires_once_per_multiple_the_clock_passes_and_never_for_skipped_beats(
    steps: list[tuple[str, float]], bpm: float, divisors: set[int]
) -> None:
    index = RuleIndex.of(
        Rule(
            id=RuleId(f"every{d}"),
            session_id=SessionId("s"),
            trigger=BeatTrigger(divisor=d),
            action=NotifyAction(message=str(d)),
            seq=d,
        )
        for d in sorted(divisors)
    )
    clock = TransportClock(tempo_bpm=bpm)
    tracker = BeatTracker(clock, jump_tolerance_beats=1.0)
    t = 0.0
    model_pos = 0.0
    model_bpm = bpm
    playing = False
    # The model: a pass starts at each jump (seek, stop, big re-anchor); within a pass every integer
    # beat between the landing position and the furthest position observed while playing fires.
    passes: list[list[float | None]] = [[0.0, None]]

    def observe() -> None:
        assert clock.beat_at(t) == model_pos
        if playing:
            reached = passes[-1][1]
            passes[-1][1] = model_pos if reached is None else max(reached, model_pos)

    events: list[BeatCrossed] = []
    for op, value in steps:
        if op in ("tick", "wait"):  # time passes; only a tick lets the tracker look at it
            if playing:
                model_pos += value * model_bpm / 60
            t += value
            if op == "tick":
                observe()
                events += tracker.tick(t)
            continue
        observe()
        if op == "play":
            events += tracker.play(t)
            playing = True
        elif op == "pause":
            events += tracker.pause(t)
            playing = False
        elif op == "stop":
            events += tracker.stop(t)
            playing, model_pos = False, 0.0
            passes.append([0.0, None])
        elif op == "seek":
            events += tracker.seek(value, t)
            model_pos = value
            passes.append([value, None])
        elif op == "tempo":
            events += tracker.set_tempo(value, t)
            model_bpm = value
        elif op == "drift":
            model_pos += value
            state = PLAYING if playing else PAUSED
            events += tracker.reanchor(beat=model_pos, tempo_bpm=model_bpm, state=state, t=t)
        else:  # a jump announced by a broadcast: further away than the tolerance
            target = model_pos - value if model_pos - value >= 0 else model_pos + value
            state = PLAYING if playing else PAUSED
            events += tracker.reanchor(beat=target, tempo_bpm=model_bpm, state=state, t=t)
            model_pos = target
            passes.append([target, None])
        observe()

    expected_beats: list[int] = []
    for landing, reached in passes:
        assert landing is not None
        if reached is not None:
            expected_beats += range(math.ceil(landing), math.floor(reached) + 1)
    assert [e.beat for e in events] == expected_beats
    assert all(e.target_time <= t + 1e-9 for e in events)

    fired = Counter((rule.id, event.beat) for event in events for rule in index.match(event))
    expected = Counter(
        (RuleId(f"every{d}"), b) for b in expected_beats for d in sorted(divisors) if b % d == 0
    )
    assert fired == expected
