"""Generation stats and the deadline planner, on simulated time."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.persistence.records import GenerationStatsRecord
from vibeweaver.scheduling import (
    DeadlinePlanner,
    DispatchReason,
    GenerationStats,
    LatentJob,
    TransportClock,
    safety_margin,
)
from vibeweaver.types import Priority, TransportState

PLAYING = TransportState.PLAYING


def playing_clock(bpm: float = 60.0) -> TransportClock:
    """At 60 BPM beat b is at second b, which keeps the arithmetic readable."""
    return TransportClock(tempo_bpm=bpm, state=PLAYING, t=0.0)


def stats_of(space: str, durations_ms: list[float]) -> GenerationStats:
    stats = GenerationStats(space)
    for d in durations_ms:
        stats.observe(d)
    return stats


def job(
    job_id: str,
    deadline: float,
    priority: Priority = Priority.NORMAL,
    space: str = "gen",
    created_at: float = 0.0,
) -> LatentJob:
    return LatentJob(
        id=job_id, space=space, deadline_beat=deadline, priority=priority, created_at=created_at
    )


# ---- stats -----------------------------------------------------------------------------------


def test_stats_report_count_mean_and_nearest_rank_p95() -> None:
    stats = stats_of("gen", [float(ms) for ms in range(1000, 21000, 1000)])  # 1 s .. 20 s
    assert stats.count == 20
    assert stats.mean_ms == 10500.0
    assert stats.p95_ms == 19000.0
    assert stats.estimate_ms(default_ms=5000.0) == 19000.0


def test_stats_keep_a_bounded_window_of_recent_durations() -> None:
    stats = GenerationStats("gen", window=4, min_samples=2)
    for d in [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]:
        stats.observe(d)
    assert stats.count == 6
    assert stats.recent_ms == (300.0, 400.0, 500.0, 600.0)
    assert stats.mean_ms == 450.0


def test_too_few_samples_give_a_conservative_estimate() -> None:
    assert GenerationStats("gen").estimate_ms(default_ms=8000.0) == 8000.0
    assert stats_of("gen", [2000.0, 3000.0]).estimate_ms(default_ms=8000.0) == 8000.0
    assert stats_of("gen", [2000.0, 12000.0]).estimate_ms(default_ms=8000.0) == 12000.0


def test_a_negative_or_infinite_duration_is_refused() -> None:
    stats = GenerationStats("gen")
    with pytest.raises(ValueError, match="finite number of milliseconds"):
        stats.observe(-1.0)
    with pytest.raises(ValueError, match="finite number of milliseconds"):
        stats.observe(math.inf)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=80))
def test_stats_survive_the_round_trip_through_their_record(durations: list[float]) -> None:
    stats = stats_of("orpheus", durations)
    record = stats.to_record(last_updated="2026-05-01T00:00:00+00:00")
    assert record.sample_count == len(durations)
    assert record.recent_durations_ms == tuple(durations[-64:])
    restored = GenerationStats.from_record(record)
    assert restored.count == stats.count
    assert restored.recent_ms == stats.recent_ms
    assert restored.p95_ms == stats.p95_ms
    assert restored.estimate_ms(1234.0) == stats.estimate_ms(1234.0)
    assert restored.to_record(record.last_updated) == record


def test_a_seed_style_record_with_only_an_average_still_informs_the_estimate() -> None:
    record = GenerationStatsRecord(
        space="old",
        sample_count=12,
        avg_duration_ms=15000.0,
        p95_duration_ms=0.0,
        recent_durations_ms=(),
        last_updated="",
    )
    assert GenerationStats.from_record(record).estimate_ms(default_ms=10000.0) == 15000.0


# ---- start times -----------------------------------------------------------------------------


def test_the_margin_is_1_5_for_critical_1_2_for_high_and_1_otherwise() -> None:
    assert [safety_margin(p) for p in Priority] == [1.5, 1.2, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("priority", "expected_start"),
    [
        (Priority.CRITICAL, 100.0 - 19.0 * 1.5),
        (Priority.HIGH, 100.0 - 19.0 * 1.2),
        (Priority.NORMAL, 100.0 - 19.0),
        (Priority.IDLE, 100.0 - 19.0),
    ],
)
def test_the_start_time_follows_the_measured_p95_and_the_priority_margin(
    priority: Priority, expected_start: float
) -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of,
        stats=[stats_of("gen", [float(ms) for ms in range(1000, 21000, 1000)])],
    )
    start = planner.start_at(job("a", deadline=100, priority=priority))
    assert start is not None
    assert math.isclose(start, expected_start)


def test_new_measurements_move_the_start_time() -> None:
    planner = DeadlinePlanner(time_of=playing_clock().try_time_of, default_estimate_ms=10000.0)
    latent = job("a", deadline=100)
    assert planner.start_at(latent) == 90.0
    for i in range(5):
        planner.add(job(f"m{i}", deadline=1000), now=0.0)
        (dispatch,) = planner.due(now=float(i))
        planner.started(dispatch.job.id, now=float(i))
        assert planner.finished(dispatch.job.id, now=i + 2.0) == 2000.0
    assert planner.start_at(latent) == 98.0


def test_a_tempo_change_moves_the_start_time_with_the_deadline() -> None:
    clock = playing_clock(bpm=60)
    planner = DeadlinePlanner(time_of=clock.try_time_of, default_estimate_ms=10000.0)
    latent = job("a", deadline=100)
    assert planner.start_at(latent) == 90.0
    clock.set_tempo(120, 20.0)  # beat 20 at t=20; beat 100 now at t=60
    assert planner.start_at(latent) == 50.0
    clock.pause(30.0)
    assert planner.start_at(latent) is None


def test_jobs_competing_for_one_slot_are_planned_back_to_back_from_the_deadline() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    planner.add(job("a", deadline=100, created_at=0.0), now=0.0)
    planner.add(job("b", deadline=100, created_at=1.0), now=1.0)
    planner.add(job("c", deadline=200, created_at=2.0), now=2.0)
    plans = {p.job.id: p for p in planner.plan(now=2.0)}
    assert (plans["a"].latest_start, plans["b"].latest_start) == (90.0, 90.0)
    assert (plans["a"].planned_start, plans["b"].planned_start) == (80.0, 90.0)
    assert plans["c"].planned_start == 190.0
    assert planner.next_wakeup(now=2.0) == 80.0
    assert planner.due(now=79.0) == []
    assert [d.job.id for d in planner.due(now=80.0)] == ["a"]


# ---- dispatch --------------------------------------------------------------------------------


def test_strict_mode_starts_a_job_at_its_latest_moment_and_not_before() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    plan = planner.add(job("a", deadline=100), now=0.0)
    assert (plan.latest_start, plan.planned_start, plan.at_risk) == (90.0, 90.0, False)
    assert planner.due(now=89.0) == []
    assert planner.next_wakeup(now=89.0) == 90.0
    (dispatch,) = planner.due(now=90.0)
    assert (dispatch.job.id, dispatch.reason, dispatch.at_risk) == ("a", DispatchReason.DUE, False)
    assert [j.id for j in planner.running()] == ["a"]


def test_by_default_idle_capacity_starts_the_most_pressing_job_early() -> None:
    planner = DeadlinePlanner(time_of=playing_clock().try_time_of, default_estimate_ms=10000.0)
    planner.add(job("later", deadline=300), now=0.0)
    planner.add(job("sooner", deadline=100), now=0.0)
    (dispatch,) = planner.due(now=0.0)
    assert (dispatch.job.id, dispatch.reason) == ("sooner", DispatchReason.IDLE)
    assert [j.id for j in planner.pending()] == ["later"]
    assert planner.next_wakeup(now=0.0) is None  # capacity is full: only a finish changes things


def test_a_critical_job_goes_ahead_of_queued_normal_jobs_when_capacity_frees() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    planner.add(job("running", deadline=20, space="other"), now=0.0)
    assert [d.job.id for d in planner.due(now=10.0)] == ["running"]
    planner.add(job("n1", deadline=30, created_at=1.0), now=11.0)
    planner.add(job("n2", deadline=31, created_at=2.0), now=11.0)
    planner.add(job("crit", deadline=60, priority=Priority.CRITICAL, created_at=3.0), now=11.0)
    assert planner.due(now=21.0) == []  # the slot is still busy
    assert [(p.job.id, p.planned_start) for p in planner.plan(now=21.0)] == [
        ("n1", 11.0),
        ("n2", 21.0),
        ("crit", 45.0),
    ]
    planner.finished("running", now=45.0)
    (first,) = planner.due(now=45.0)
    assert first.job.id == "crit"
    assert (first.reason, first.at_risk) == (DispatchReason.DUE, False)
    planner.finished("crit", now=50.0)
    assert [d.job.id for d in planner.due(now=50.0)] == ["n1"]


def test_a_more_urgent_job_is_never_blocked_behind_a_less_urgent_one() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    planner.add(job("normal", deadline=40), now=30.0)  # due now: latest start 30
    planner.add(job("high", deadline=45, priority=Priority.HIGH), now=30.0)  # latest start 33
    (dispatch,) = planner.due(now=30.0)
    assert (dispatch.job.id, dispatch.reason) == ("high", DispatchReason.UNBLOCK)
    assert dispatch.at_risk is False


def test_a_job_that_cannot_make_its_deadline_is_dispatched_at_once_and_reported() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    plan = planner.add(job("late", deadline=55), now=50.0)
    assert plan.at_risk is True
    assert [p.job.id for p in planner.at_risk(now=50.0)] == ["late"]
    (dispatch,) = planner.due(now=50.0)
    assert dispatch.job.id == "late"
    assert dispatch.at_risk is True
    assert dispatch.reason is DispatchReason.AT_RISK


def test_a_late_job_is_never_dropped_but_does_not_make_a_feasible_job_late_too() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    planner.add(job("hopeless", deadline=52, priority=Priority.HIGH), now=50.0)
    planner.add(job("ontime", deadline=65), now=50.0)  # latest start 55: would be pushed to 60
    (first,) = planner.due(now=50.0)
    assert (first.job.id, first.reason) == ("ontime", DispatchReason.UNBLOCK)
    planner.finished("ontime", now=58.0)
    (second,) = planner.due(now=58.0)
    assert (second.job.id, second.at_risk) == ("hopeless", True)


def test_capacity_limits_how_many_jobs_run_at_once() -> None:
    planner = DeadlinePlanner(
        time_of=playing_clock().try_time_of, capacity=2, default_estimate_ms=10000.0
    )
    for i in range(3):
        planner.add(job(f"j{i}", deadline=100 + i), now=0.0)
    assert [d.job.id for d in planner.due(now=0.0)] == ["j0", "j1"]
    assert planner.due(now=1.0) == []
    planner.cancel("j1")
    assert [d.job.id for d in planner.due(now=2.0)] == ["j2"]
    with pytest.raises(ValueError, match="capacity must be"):
        DeadlinePlanner(time_of=playing_clock().try_time_of, capacity=0)


def test_a_failed_job_is_not_taken_as_a_measure_of_generation_time() -> None:
    planner = DeadlinePlanner(time_of=playing_clock().try_time_of)
    planner.add(job("a", deadline=100), now=0.0)
    planner.due(now=0.0)
    planner.started("a", now=1.0)
    assert planner.finished("a", now=4.0, success=False) == 3000.0
    assert planner.stats("gen").count == 0
    with pytest.raises(KeyError, match="not running"):
        planner.finished("a", now=5.0)
    planner.add(job("b", deadline=100), now=5.0)
    with pytest.raises(ValueError, match="already planned"):
        planner.add(job("b", deadline=100), now=5.0)


def test_with_the_transport_stopped_idle_capacity_is_lent_most_urgent_first() -> None:
    clock = TransportClock(tempo_bpm=60)
    planner = DeadlinePlanner(time_of=clock.try_time_of, default_estimate_ms=10000.0)
    plan = planner.add(job("low", deadline=16, priority=Priority.LOW), now=0.0)
    assert (plan.latest_start, plan.at_risk) == (None, False)
    planner.add(job("high", deadline=64, priority=Priority.HIGH), now=0.0)
    (dispatch,) = planner.due(now=0.0)
    assert (dispatch.job.id, dispatch.reason, dispatch.at_risk) == (
        "high",
        DispatchReason.IDLE,
        False,
    )


def test_in_strict_mode_jobs_wait_for_playback_when_the_transport_is_stopped() -> None:
    clock = TransportClock(tempo_bpm=60)
    planner = DeadlinePlanner(
        time_of=clock.try_time_of, default_estimate_ms=10000.0, idle_lookahead_s=0.0
    )
    planner.add(job("a", deadline=16), now=0.0)
    assert planner.due(now=100.0) == []
    assert planner.next_wakeup(now=100.0) is None
    clock.play(100.0)
    assert planner.next_wakeup(now=100.0) == 106.0
    assert [d.job.id for d in planner.due(now=106.0)] == ["a"]
