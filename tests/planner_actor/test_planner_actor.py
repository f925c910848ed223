"""DeadlinePlanner actor: when latent jobs start, capacity and priority, reports of jobs that cannot
make their deadline, statistics from real durations, and LatentRef (await, cancel, materialize),
on a real store and simulated time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.scheduler_actor.rig import FakeGeneration, Rig
from vibeweaver.actors.messages import InjectFault, Ping
from vibeweaver.actors.planner import messages as pm
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.dsl.latent import LatentError, LatentRef, LatentResult, latent
from vibeweaver.scheduling.deadlines import GenerationStats
from vibeweaver.service import ToolService
from vibeweaver.types import RuleId

SPB = 0.5  # seconds per beat at 120 BPM


def seeded(
    make_rig: Callable[..., Rig], durations_ms: dict[str, list[float]], **kwargs: object
) -> Rig:
    """A rig whose planner starts with measured durations in generation_stats."""
    first = make_rig(**kwargs)
    for space, durations in durations_ms.items():
        stats = GenerationStats(space)
        for duration in durations:
            stats.observe(duration)
        first.store.save_generation_stats(stats.to_record("2026-01-01T00:00:00+00:00"))
    first.stop()
    return make_rig(**kwargs)


def gen(rig: Rig) -> FakeGeneration:
    assert rig.generation is not None
    return rig.generation


def new_latent(rig: Rig, prompt: str, deadline: float, priority: str = "normal") -> LatentRef:
    ref = rig.dsl(lambda: latent("orpheus_loops", prompt, deadline, priority))
    rig.settle()
    return ref


def test_each_latent_starts_at_the_latest_moment_that_finishes_by_its_deadline_with_its_margin(
    make_rig: Callable[..., Rig],
) -> None:
    rig = seeded(make_rig, {"orpheus_loops": [4000.0] * 10}, capacity=3)
    t0 = rig.clock()
    rig.move("play")
    for prompt, priority in (("n", "normal"), ("h", "high"), ("c", "critical")):
        new_latent(rig, prompt, 64, priority)  # beat 64 = t0 + 32 s
    plans = {lat.priority.value: lat for lat in rig.planner_status().latents}
    assert plans["normal"].latest_start == pytest.approx(t0 + 32 - 4.0)
    assert plans["high"].latest_start == pytest.approx(t0 + 32 - 4.0 * 1.2)
    assert plans["critical"].latest_start == pytest.approx(t0 + 32 - 4.0 * 1.5)

    rig.advance_to(t0 + 25.99)
    assert gen(rig).started == []  # not a moment earlier than needed
    rig.advance_to(t0 + 40)
    started = {s.prompt: s.at - t0 for s in gen(rig).started}
    assert started == {
        "c": pytest.approx(26.0),
        "h": pytest.approx(27.2),
        "n": pytest.approx(28.0),
    }
    assert all(s.tags == ("latent",) for s in gen(rig).started)


def test_capacity_is_shared_so_an_earlier_job_starts_early_enough_not_to_block_a_later_one(
    make_rig: Callable[..., Rig],
) -> None:
    rig = seeded(make_rig, {"orpheus_loops": [4000.0] * 10})  # capacity 1
    t0 = rig.clock()
    rig.move("play")
    new_latent(rig, "a", 40, "idle")  # due by t0+20: latest start 16
    new_latent(rig, "b", 44, "critical")  # due by t0+22: latest start 22 - 6 = 16
    rig.advance_to(t0 + 16)
    first = gen(rig).wait_started(1)[0]
    # packed before b's slot
    assert (first.prompt, first.at - t0) == ("a", pytest.approx(12.0))  # type: ignore[comparison-overlap]  # approx() == float
    gen(rig).complete(first, "artifact_a")
    rig.settle()
    second = gen(rig).wait_started(2)[1]
    assert (second.prompt, second.at - t0) == ("b", pytest.approx(16.0))  # type: ignore[comparison-overlap]  # approx() == float
    assert rig.status().notes == ()  # nobody was late


def test_when_capacity_frees_waiting_jobs_go_most_urgent_first_and_lateness_is_reported(
    make_rig: Callable[..., Rig],
) -> None:
    rig = seeded(make_rig, {"orpheus_loops": [4000.0] * 10})
    t0 = rig.clock()
    rig.move("play")
    new_latent(rig, "x", 20, "normal")  # starts at t0+6
    rig.advance_to(t0 + 6)
    hog = gen(rig).wait_started(1)[0]
    new_latent(rig, "low", 64, "low")
    new_latent(rig, "crit", 72, "critical")
    new_latent(rig, "high", 68, "high")
    rig.advance_to(t0 + 31)  # the first job hogs the only slot: every other job becomes late
    assert len(gen(rig).started) == 1
    notes = rig.status().notes
    assert len(notes) == 3 and all("cannot make its deadline" in note for note in notes)
    assert all("starts as soon as capacity is free" in note for note in notes)

    for expected in ("crit", "high", "low"):
        running = gen(rig).started[-1]
        gen(rig).complete(running, f"artifact_{running.prompt}")
        rig.settle()
        assert gen(rig).started[-1].prompt == expected
    assert [s.prompt for s in gen(rig).started] == ["x", "crit", "high", "low"]
    assert hog.prompt == "x"
    history = rig.store.recent_history(rig.session.id, 20)
    at_risk = [h for h in history if h.action == "latent_at_risk"]
    assert len(at_risk) == 3 and not any(h.success for h in at_risk)
    # reported once each; crit and high then finished by their deadlines after all (beat 62 <
    # 68, 72), so those notices are gone; low still runs, and the hog finished late
    notes = rig.status().notes
    assert len(notes) == 2
    assert "for beat 64 (low priority) cannot make its deadline" in notes[0]
    assert notes[1] == "latent orpheus_loops for beat 20 finished after its deadline at beat 62.0"


def test_a_job_that_cannot_make_its_deadline_starts_at_once_is_reported_and_still_completes(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()  # no measurements: 10 s assumed
    rig.move("play")
    ref = new_latent(rig, "late kick", 4)  # 2 s ahead
    job = gen(rig).wait_started(1)[0]
    assert job.at == rig.clock()  # started at once
    note = rig.status().notes[-1]
    assert "latent orpheus_loops for beat 4 (normal priority) started late" in note
    assert "expected to finish after its deadline" in note

    rig.advance(7.0)
    gen(rig).complete(job, "artifact_late")
    rig.settle()
    stored = rig.store.get_rule(ref.id)
    assert stored is not None and stored.fired_count == 1
    history = [
        (h.action, h.params, h.result, h.success) for h in rig.store.recent_history(rig.session.id)
    ]
    assert history == [
        ("latent", 'orpheus_loops, "late kick", deadline=4', ref.id, True),
        ("latent_at_risk", "orpheus_loops, deadline=4", "started late", False),
        ("latent_result", 'orpheus_loops, "late kick", deadline=4', "artifact_late", True),
    ]
    summary = ToolService(rig.system, eval_timeout=5).session().summary
    assert "Deadline(beat=4) → Sample (fired)" in summary
    assert "started late" in summary


def test_measured_durations_update_the_persisted_statistics_that_later_plans_use(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(capacity=1)
    rig.move("play")
    durations = [3000.0, 3200.0, 2800.0, 5000.0, 3100.0, 2900.0]
    for n, duration in enumerate(durations):
        new_latent(rig, f"p{n}", 0)  # already due: starts at once
        job = gen(rig).wait_started(n + 1)[n]
        gen(rig).complete(job, f"artifact_{n}", duration_ms=duration)
        rig.settle()
    stored = {r.space: r for r in rig.store.list_generation_stats()}["orpheus_loops"]
    assert stored.sample_count == 6
    assert stored.avg_duration_ms == pytest.approx(sum(durations) / 6, abs=1)
    assert stored.p95_duration_ms == 5000.0
    assert stored.recent_durations_ms == tuple(durations)
    status = rig.planner_status()
    assert dict(status.estimates_ms)["orpheus_loops"] == 5000.0
    assert status.spaces[0][:2] == ("orpheus_loops", 6)
    rig.stop()

    again = make_rig()
    assert dict(again.planner_status().estimates_ms)["orpheus_loops"] == 5000.0


def test_a_failed_generation_is_reported_counts_the_rule_as_fired_and_fails_the_await(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")

    async def scenario() -> None:
        ref = latent("orpheus_loops", "kick", 0)

        def drive() -> None:
            job = gen(rig).wait_started(1)[0]
            gen(rig).fail(job, "model crashed")

        waiting = asyncio.ensure_future(ref)
        await asyncio.to_thread(drive)
        with pytest.raises(LatentError, match="failed: model crashed"):
            await waiting
        assert ref.state == "failed"

    rig.dsl(lambda: asyncio.run(scenario()))
    rig.settle()
    assert any("failed: model crashed" in note for note in rig.status().notes)
    [stored] = rig.store.list_rules(rig.session.id)
    assert stored.fired_count == 1
    assert rig.store.list_generation_stats() == ()  # a failure is no measure of duration


def test_awaiting_a_latent_in_the_kernel_loop_gives_its_artifact_and_cancel_and_materialize_work(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    t0 = rig.clock()
    rig.move("play")
    results: dict[str, object] = {}

    async def scenario() -> None:
        kick = latent("orpheus_loops", "kick", 64)  # planned start t0 + 22
        pad = latent("orpheus_loops", "pad", 512)
        soon = latent("orpheus_loops", "soon", 1024)
        assert pad.cancel() is True
        assert soon.materialize() is soon

        def drive() -> None:
            rig.settle()
            first = gen(rig).wait_started(1)[0]
            results["materialized_at"] = first.at - t0
            gen(rig).complete(first, "artifact_soon")
            rig.advance_to(t0 + 22)
            second = gen(rig).wait_started(2)[1]
            results["kick_at"] = second.at - t0
            rig.advance(5.0)
            gen(rig).complete(second, "artifact_kick")

        waiting = asyncio.ensure_future(kick)
        await asyncio.to_thread(drive)
        results["kick"] = await waiting
        results["again"] = await kick  # awaiting twice gives the same result
        results["soon"] = await soon
        with pytest.raises(LatentError, match="was cancelled"):
            await pad
        results["repr"] = repr(kick)

    rig.dsl(lambda: asyncio.run(scenario()))
    assert results["materialized_at"] == 0.0
    assert results["kick_at"] == pytest.approx(22.0)
    kick = results["kick"]
    assert isinstance(kick, LatentResult)
    assert (kick.artifact_id, str(kick), kick.late, kick.duration_ms) == (  # type: ignore[comparison-overlap]  # approx() == float
        "artifact_kick",
        "artifact_kick",
        False,
        pytest.approx(5000.0),
    )
    assert results["again"] == kick
    assert isinstance(results["soon"], LatentResult) and str(results["soon"]) == "artifact_soon"
    shown = str(results["repr"])
    assert shown.startswith("<LatentRef latent_")
    assert shown.endswith(": orpheus_loops 'kick' by beat 64, complete>")
    assert [s.prompt for s in gen(rig).started] == ["soon", "kick"]  # the cancelled one never ran


def test_a_planner_crash_while_a_job_runs_loses_neither_the_job_nor_its_result(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    ref = new_latent(rig, "kick", 0)
    job = gen(rig).wait_started(1)[0]
    rig.planner.tell(InjectFault(reason="test crash"))
    assert rig.planner.ask(Ping(), timeout=5).generation == 1
    rig.advance(3.0)
    gen(rig).complete(job, "artifact_kick")
    rig.settle()
    stored = rig.store.get_rule(RuleId(ref.id))
    assert stored is not None and stored.fired_count == 1
    assert [r.sample_count for r in rig.store.list_generation_stats()] == [1]
    assert len(gen(rig).started) == 1  # not started twice


def test_a_latent_watched_after_it_ended_or_unknown_resolves_at_once(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    ref = new_latent(rig, "kick", 0)
    gen(rig).complete(gen(rig).wait_started(1)[0], "artifact_kick")
    rig.settle()
    seen: list[pm.LatentCompleted] = []
    rig.planner.tell(pm.WatchLatent(rule_id=ref.id, callback=seen.append))
    rig.planner.tell(pm.WatchLatent(rule_id=RuleId("latent_nope"), callback=seen.append))
    rig.settle()
    assert [(c.state, c.artifact_id) for c in seen] == [
        ("complete", "artifact_kick"),
        ("unknown", None),
    ]
    assert "no pending latent latent_nope" in (seen[1].error or "")


def test_an_await_on_a_latent_whose_session_is_left_is_released_and_the_latent_kept(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    other = rig.store.open_session("elsewhere")

    refs: list[LatentRef] = []

    async def scenario() -> None:
        ref = latent("orpheus_loops", "kick", 512)
        refs.append(ref)
        waiting = asyncio.ensure_future(ref)
        await asyncio.sleep(0)  # the await registers its watch before the switch

        def switch() -> None:
            rig.settle()
            rig.scheduler.ask(sm.SwitchSession(session_id=other.id), timeout=10)
            rig.settle()

        await asyncio.to_thread(switch)
        with pytest.raises(LatentError, match="its session was left before it ran"):
            await asyncio.wait_for(waiting, timeout=10)

    rig.dsl(lambda: asyncio.run(scenario()))
    assert rig.planner_status().latents == ()
    assert gen(rig).started == []
    rig.scheduler.ask(sm.SwitchSession(session_id=rig.session.id), timeout=10)
    [planned] = rig.planner_status().latents
    assert planned.rule_id == refs[0].id  # planned again once its session is entered
