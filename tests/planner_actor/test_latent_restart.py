"""latent(...) survives a restart as a pending Deadline rule and still runs before its deadline
afterwards (issue 4, must-show 6), on simulated time with a real sqlite file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.scheduler_actor.rig import FakeGeneration, Rig
from vibeweaver.actors.messages import InjectFault, Ping
from vibeweaver.dsl.latent import latent
from vibeweaver.scheduling.rules import DeadlineTrigger, SampleAction, rule_from_record
from vibeweaver.service import ToolService
from vibeweaver.types import Priority

ESTIMATE_S = 10.0  # no measurements yet: the planner assumes 10 s
MARGIN_HIGH = 1.2


def gen(rig: Rig) -> FakeGeneration:
    assert rig.generation is not None
    return rig.generation


def summary(rig: Rig) -> str:
    return ToolService(rig.system, eval_timeout=5).session().summary


def test_a_latent_survives_a_restart_as_a_pending_rule_and_still_runs_before_its_deadline(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    ref = rig.dsl(lambda: latent("orpheus_loops", "dark kick", 64, "high"))
    rig.advance(5.0)  # beat 10; the job would start at beat 64 - 24 = 40
    assert gen(rig).started == []
    rig.stop()  # the process goes away before the job started

    again = make_rig()
    record = again.store.get_rule(ref.id)
    assert record is not None and record.fired_count == 0
    rule = rule_from_record(record)
    assert rule.trigger == DeadlineTrigger(beat=64.0)
    assert rule.action == SampleAction(space="orpheus_loops", prompt="dark kick")
    assert rule.priority is Priority.HIGH
    assert "Deadline(beat=64) → Sample (high priority, pending)" in summary(again)
    [waiting] = again.planner_status().latents
    assert (waiting.rule_id, waiting.state, waiting.planned_start) == (ref.id, "pending", None)

    t0 = again.clock()
    again.move("play")  # a new process starts stopped at beat 0; 120 BPM: beat 64 at t0 + 32
    deadline_time = t0 + 32.0
    start = deadline_time - ESTIMATE_S * MARGIN_HIGH
    [planned] = again.planner_status().latents
    assert planned.planned_start == pytest.approx(start)
    again.advance_to(start - 0.01)
    assert gen(again).started == []
    again.advance_to(start)
    job = gen(again).wait_started(1)[0]
    assert (job.space, job.prompt, job.at) == ("orpheus_loops", "dark kick", pytest.approx(start))  # type: ignore[comparison-overlap]  # approx() == float

    again.advance(9.0)  # the generation takes 9 s: done at t0 + 29.2, before t0 + 32
    gen(again).complete(job, "artifact_kick")
    again.settle()
    assert again.clock() < deadline_time
    record = again.store.get_rule(ref.id)
    assert record is not None and record.fired_count == 1
    text = summary(again)
    assert "Deadline(beat=64) → Sample (high priority, fired)" in text
    assert 'latent_result(orpheus_loops, "dark kick", deadline=64) → artifact_kick ✓' in text
    assert "Notifications" not in text  # on time: nothing to report
    [stats] = again.store.list_generation_stats()
    assert (stats.space, stats.sample_count, stats.recent_durations_ms) == (  # type: ignore[comparison-overlap]  # approx() == float
        "orpheus_loops",
        1,
        (pytest.approx(9000.0),),
    )


def test_a_latent_survives_crashes_of_both_actors_while_the_transport_plays(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    t0 = rig.clock()
    rig.move("play")
    ref = rig.dsl(lambda: latent("orpheus_loops", "pad", 64))  # start at t0 + 32 - 10 = t0 + 22
    rig.advance_to(t0 + 10)
    for handle in (rig.scheduler, rig.planner):
        handle.tell(InjectFault(reason="test crash"))
        assert handle.ask(Ping(), timeout=5).generation == 1
    rig.advance_to(t0 + 25)
    job = gen(rig).wait_started(1)[0]
    assert job.at == pytest.approx(t0 + 22.0)  # the clock and the plan survived the crashes
    rig.advance(6.0)
    gen(rig).complete(job, "artifact_pad")
    rig.settle()
    record = rig.store.get_rule(ref.id)
    assert record is not None and record.fired_count == 1
    assert len(gen(rig).started) == 1


def test_a_latent_whose_job_was_running_at_the_restart_runs_again_afterwards(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    ref = rig.dsl(lambda: latent("orpheus_loops", "kick", 8))  # already at risk: starts at once
    assert len(gen(rig).wait_started(1)) == 1
    rig.stop()  # its result is lost with the process

    again = make_rig()
    again.move("play")
    job = gen(again).wait_started(1)[0]  # still pending, still late: started at once
    gen(again).complete(job, "artifact_kick")
    again.settle()
    record = again.store.get_rule(ref.id)
    assert record is not None and record.fired_count == 1
