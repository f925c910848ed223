"""The RuleScheduler and DeadlinePlanner inside a real Weaver: the real kernel runs callback rules
on the real clock (issue 4, must-show 3), transport moves reach a (fake) hootenanny over real
sockets and its broadcasts move the clock, and latent() works from a cell."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import wait_until
from tests.doubles import FakeHootenanny
from tests.doubles.fake_hootenanny import iter_calls
from vibeweaver.actors.planner import messages as pm
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.frontends.admin import system_snapshot
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver
from vibeweaver.wire import GardenPlay, GardenSeek, OrpheusLoops, TransportStateChanged


def run(service: ToolService, code: str) -> str | None:
    outcome = service.evaluate(code)
    assert outcome.status == "ok", outcome
    return outcome.result


def test_at_120_bpm_without_hootenanny_an_on_beat_callback_fires_on_every_beat_in_order(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    service = ToolService(weaver.system, eval_timeout=10)
    run(
        service,
        "hits = []\n@on_beat(1)\ndef tick(beat):\n    hits.append(beat)\ntempo(120)\nplay()\n",
    )
    wait_until(lambda: int(run(service, "len(hits)") or 0) >= 6, timeout=15)
    hits = ast.literal_eval(run(service, "hits") or "[]")

    # playback starts on beat 0 (the first beat passed), then 1, 2, 3 ... each once, in order
    assert hits == list(range(len(hits)))
    summary = service.session().summary
    assert "transport playing" in summary
    timing = next(line for line in summary.splitlines() if line.startswith("Timing: "))
    assert "beat lateness p50" in timing and "p99" in timing
    lateness = system_snapshot(weaver)["clock"]["lateness"]  # what /admin/system serves
    assert lateness["count"] >= len(hits) - 1
    assert 0 <= lateness["p50_ms"] <= lateness["p99_ms"]
    assert weaver.handle("scheduler").stats.published["lateness"]["p99_ms"] == lateness["p99_ms"]
    status = weaver.handle("scheduler").ask(sm.GetSchedulerStatus(), timeout=5)
    assert status.lateness_p50_ms is not None and status.lateness_p99_ms is not None


def test_latent_from_a_cell_is_a_pending_deadline_rule_and_fails_clearly_without_hootenanny(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    service = ToolService(weaver.system, eval_timeout=10)
    shown = run(service, "ref = latent('orpheus_loops', 'dark kick', 64, priority='high')\nref")
    assert shown is not None
    assert "orpheus_loops 'dark kick' by beat 64 (high), waiting" in shown
    assert "Deadline(beat=64) → Sample (high priority, pending)" in service.session().summary
    planner = weaver.handle("planner").ask(pm.GetPlannerStatus(), timeout=5)
    assert [(lat.space, lat.state) for lat in planner.latents] == [("orpheus_loops", "pending")]

    outcome = service.evaluate("await ref.materialize()")  # start now: hootenanny is not there
    assert outcome.status == "error" and outcome.error is not None
    assert outcome.error.type == "LatentError"
    assert "hootenanny is not configured" in outcome.error.message
    summary = service.session().summary
    assert "Deadline(beat=64) → Sample (high priority, fired)" in summary
    assert "latent orpheus_loops for beat 64 failed" in summary
    assert run(service, "ref.state") == "'failed'"


@pytest.fixture
def hoot() -> Iterator[FakeHootenanny]:
    with FakeHootenanny() as fake:
        yield fake


def test_moves_reach_hootenanny_over_the_wire_and_its_broadcasts_reanchor_the_clock(
    make_weaver: Callable[..., Weaver], hoot: FakeHootenanny
) -> None:
    weaver = make_weaver(hootenanny=hoot.router_endpoint, broadcasts=hoot.pub_endpoint)
    hoot.wait_for_subscribers(1)
    wait_until(lambda: weaver.link.connected)
    service = ToolService(weaver.system, eval_timeout=10)
    run(service, "play()\nseek(16)")
    hoot.wait_for_request(lambda r: isinstance(r.call, GardenSeek))
    assert [c for c in iter_calls(hoot) if isinstance(c, GardenPlay | GardenSeek)] == [
        GardenPlay(),
        GardenSeek(beat=16.0),
    ]

    hoot.publish(TransportStateChanged(state="paused", position_beats=64.0, tempo_bpm=100.0))
    scheduler = weaver.handle("scheduler")

    def clock() -> sm.ClockSnapshot:
        snapshot = scheduler.ask(sm.GetClock(), timeout=5)
        assert isinstance(snapshot, sm.ClockSnapshot)
        return snapshot

    wait_until(lambda: clock().tempo_bpm == 100.0)
    snapshot = clock()
    assert (snapshot.state, snapshot.position) == ("paused", 64.0)


def test_a_latent_is_generated_by_hootenanny_and_its_duration_is_measured(
    make_weaver: Callable[..., Weaver], hoot: FakeHootenanny
) -> None:
    weaver = make_weaver(hootenanny=hoot.router_endpoint, broadcasts=hoot.pub_endpoint)
    hoot.wait_for_subscribers(1)
    wait_until(lambda: weaver.link.connected)
    service = ToolService(weaver.system, eval_timeout=10)
    # no measurements yet (10 s assumed) and the deadline 4 s away: it starts at once, reported
    run(service, "play()\nref = latent('orpheus_loops', 'dark kick', 8)")
    result = run(service, "kick = await ref\nkick.artifact_id")
    assert result is not None and result.startswith("'artifact_")
    assert run(service, "ref.state") == "'complete'"
    assert any(isinstance(c, OrpheusLoops) for c in iter_calls(hoot))

    summary = service.session().summary
    assert "Deadline(beat=8) → Sample (fired)" in summary
    assert "started late" in summary
    [stats] = weaver.store.list_generation_stats()
    assert (stats.space, stats.sample_count) == ("orpheus_loops", 1)
