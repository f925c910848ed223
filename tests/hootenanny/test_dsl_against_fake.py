"""The DSL's hootenanny calls in a real Weaver whose --hootenanny/--broadcasts point at the
FakeHootenanny: sample() for direct and job spaces (including the sheet's races), failures,
awaits released by the eval timeout and weave_reset, schedule(), gather(), broadcasts updating
`jobs`/`artifacts` between evals, transport forwarding and `beat.current` following beatTick."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import free_port, wait_until
from tests.doubles import FakeHootenanny
from tests.doubles.fake_hootenanny import iter_calls
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver
from vibeweaver.wire import (
    ArtifactCreated,
    BeatTick,
    GardenCreateRegion,
    GardenPlay,
    JobStateChanged,
    MusicgenGenerate,
    OrpheusLoops,
    UnknownBroadcast,
)

EVAL_S = 10.0


class Cells:
    """Evaluates cells through the ToolService, as the MCP and ZeroMQ front ends do."""

    def __init__(self, weaver: Weaver, eval_timeout: float = EVAL_S) -> None:
        self.weaver = weaver
        self.service = ToolService(weaver.system, eval_timeout=eval_timeout)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-cell")

    def run(self, code: str) -> EvalOutcome:
        return self.service.evaluate(code)

    def value(self, code: str) -> str:
        """The repr of the cell's last expression; fails the test on any error."""
        outcome = self.run(code)
        assert outcome.status == "ok", (outcome.error, outcome.stderr)
        assert outcome.result is not None, outcome
        return outcome.result

    def start(self, code: str) -> Future[EvalOutcome]:
        """Evaluate in the background (for cells that wait on something the test does next)."""
        return self._pool.submit(self.run, code)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture
def make_rig(
    make_weaver: Callable[..., Weaver],
) -> Iterator[Callable[..., tuple[FakeHootenanny, Cells]]]:
    fakes: list[FakeHootenanny] = []
    cells: list[Cells] = []

    def make(eval_timeout: float = EVAL_S, **fake_options: Any) -> tuple[FakeHootenanny, Cells]:
        fake = FakeHootenanny(**fake_options).start()
        fakes.append(fake)
        weaver = make_weaver(
            f"w{len(fakes)}",
            hootenanny=fake.router_endpoint,
            broadcasts=fake.pub_endpoint,
            hootenanny_timeout=5.0,
        )
        fake.wait_for_subscribers(1)
        cell = Cells(weaver, eval_timeout)
        cells.append(cell)
        return fake, cell

    yield make
    for cell in cells:
        cell.close()
    for fake in fakes:
        fake.stop()


ARTIFACT = re.compile(r"artifact_[0-9a-f]{12}")


def artifact_in(text: str) -> str:
    match = ARTIFACT.search(text)
    assert match is not None, text
    return match.group(0)


class TestSample:
    def test_a_direct_orpheus_space_resolves_to_an_artifact_at_once(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        result = cells.value('kick = await sample("orpheus_loops", "kick")\nkick')
        assert result.startswith("Artifact('artifact_") and "space='orpheus_loops'" in result
        (call,) = [c for c in iter_calls(fake) if isinstance(c, OrpheusLoops)]
        assert (call.temperature, call.top_p, call.max_tokens, call.num_variations) == (
            1.0,
            0.95,
            1024,
            1,
        )
        assert call.seed_hash == "" and call.metadata.creator == "vibeweaver"
        assert cells.value("kick.id") == repr(artifact_in(result))
        assert fake.jobs() == []  # direct: no job

    def test_a_job_space_resolves_when_its_job_state_changed_complete_arrives(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        result = cells.value(
            'pad = await sample("musicgen", "warm pad", inference={"duration": 4})\npad'
        )
        (job,) = fake.jobs()
        assert job.status == "complete" and job.result is not None
        assert artifact_in(result) == job.result.artifact_id  # type: ignore[union-attr]
        (call,) = [c for c in iter_calls(fake) if isinstance(c, MusicgenGenerate)]
        assert (call.prompt, call.duration, call.top_k, call.guidance_scale) == (
            "warm pad",
            4.0,
            250,
            3.0,
        )

    def test_a_job_that_completes_before_the_await_is_not_missed(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        cells.value('job = sample("musicgen", "early")\njob')
        job_id = wait_until(lambda: [j.job_id for j in fake.jobs()])[0]
        # named by its jobStarted reply while it runs (GenerationClient's on_started hook)
        wait_until(lambda: cells.value("[job.job_id]") == repr([job_id]))  # (None has no repr)
        assert cells.value(f'jobs["{job_id}"] is job, job.state') == "(True, 'pending')"
        artifact_id = fake.complete_job(job_id)
        wait_until(lambda: cells.value("job.state") == "'complete'")  # settled between evals
        assert cells.value("kick = await job\nkick.id") == repr(artifact_id)

    def test_a_broadcast_that_overtakes_the_job_started_reply_still_resolves_the_await(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig(hold_job_replies=True)
        running = cells.start('kick = await sample("musicgen", "race")\nkick.id')
        wait_until(lambda: cells.weaver.generation.stats()["early_kept"] == 1)
        assert not running.done()
        assert fake.release_job_replies() == 1
        outcome = running.result(timeout=EVAL_S + 5)
        assert outcome.status == "ok", outcome.error
        (job,) = fake.jobs()
        assert outcome.result == repr(job.result.artifact_id)  # type: ignore[union-attr]

    def test_a_failed_job_raises_a_clear_error_in_the_awaiting_cell(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        running = cells.start('kick = await sample("musicgen", "doomed")')
        job_id = wait_until(lambda: [j.job_id for j in fake.jobs()])[0]
        # (the kernel's generation client keeps a job's end that comes before it knows the job)
        fake.fail_job(job_id, "out of GPU memory")
        outcome = running.result(timeout=EVAL_S + 5)
        assert outcome.status == "error" and outcome.error is not None
        assert outcome.error.type == "GenerationFailed"
        assert 'sample(musicgen, "doomed") failed' in outcome.error.message
        assert "out of GPU memory" in outcome.error.message
        assert cells.value("jobs[-1].state") == "'failed'"

    def test_an_unknown_space_raises_at_once_naming_the_known_spaces(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        _, cells = make_rig()
        outcome = cells.run('sample("theremin", "wooo")')
        assert outcome.status == "error" and outcome.error is not None
        assert "theremin" in outcome.error.message and "orpheus_loops" in outcome.error.message

    def test_gather_awaits_several_jobs_and_history_records_each_sample(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        _, cells = make_rig()
        result = cells.value(
            'a, b = await gather(sample("orpheus_loops", "kick"), sample("musicgen", "pad"))\n'
            "[a.id, b.id]"
        )
        a_id, b_id = ARTIFACT.findall(result)
        summary = cells.service.session().summary
        assert f'sample(orpheus_loops, "kick") → {a_id} ✓' in summary
        assert f'sample(musicgen, "pad") → {b_id} ✓' in summary


class TestReleasedAwaits:
    def test_the_eval_timeout_releases_a_pending_await_and_the_job_still_lands_later(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig(eval_timeout=1.0, auto_complete=False)
        outcome = cells.run('kick = await sample("musicgen", "slow")')
        assert outcome.status == "timeout"
        assert cells.value("1+1") == "2"
        (job,) = wait_until(fake.jobs)
        artifact_id = fake.complete_job(job.job_id)
        wait_until(lambda: cells.value("jobs[-1].state") == "'complete'")
        assert cells.value("(await jobs[-1]).id") == repr(artifact_id)
        assert cells.value(f"{artifact_id!r} in artifacts") == "True"

    def test_weave_reset_releases_a_pending_await_in_a_background_task(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        cells.value(
            "import asyncio\n"
            'waiter = asyncio.ensure_future(sample("musicgen", "bg"))\n'
            "waiter.done()"
        )
        count_tasks = (
            "import asyncio\n"
            "len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])"
        )
        assert cells.value(count_tasks) == "1"
        wait_until(fake.jobs)  # hootenanny has the job: the await is really pending on it
        cells.service.reset()
        assert cells.value(count_tasks) == "0"
        (job,) = fake.jobs()
        fake.complete_job(job.job_id)
        wait_until(lambda: cells.value("jobs[-1].state") == "'complete'")
        outcome = cells.run("1+1")
        assert outcome.status == "ok" and outcome.stderr == ""

    def test_weave_reset_interrupts_a_cell_stuck_in_an_await_and_the_kernel_answers_at_once(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        assert cells.run("x = 41").status == "ok"
        stuck = cells.start('kick = await sample("musicgen", "slow")')
        wait_until(fake.jobs)  # the cell is now waiting on hootenanny's job
        result = cells.service.reset()
        outcome = stuck.result(timeout=EVAL_S)
        assert outcome.status == "error"
        assert outcome.error is not None and outcome.error.type == "Interrupted"
        assert "weave_reset was called while it ran" in outcome.error.message
        assert result.reset
        assert cells.run("x").status == "error"  # the reset itself went through after it
        assert cells.value("1+1") == "2"


class TestTimeline:
    def test_schedule_creates_a_region_with_the_sheets_values_and_awaits_its_id(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        cells.value('kick = await sample("orpheus_loops", "kick")\nkick')
        result = cells.value("region = await schedule(kick, at=8, duration=4)\nregion.region_id")
        (call,) = [c for c in iter_calls(fake) if isinstance(c, GardenCreateRegion)]
        kick_id = artifact_in(cells.value("kick.id"))
        assert call == GardenCreateRegion(
            position=8.0, duration=4.0, behavior_type="play_content", content_id=kick_id
        )
        (job,) = fake.jobs()
        assert result == repr(job.result.region_id)  # type: ignore[union-attr]
        assert f"schedule({kick_id}, at=8) ✓" in cells.service.session().summary

    def test_the_timeline_and_transport_views_are_not_shadowed_by_the_dsl_modules(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        _, cells = make_rig()
        names = (
            "type(timeline).__name__, type(transport).__name__, type(vibeweaver.timeline).__name__"
        )
        assert cells.value(names) == "('TimelineView', 'TransportView', 'TimelineView')"

    def test_schedule_without_await_returns_at_once_and_completes_between_evals(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        _, cells = make_rig()
        assert cells.value('r = schedule("artifact_0123456789ab", at=0)\nr.done') in (
            "False",
            "True",
        )
        wait_until(lambda: cells.value("r.state") == "'complete'")
        assert "for 16 beats" in cells.value("r")


class TestBroadcasts:
    def test_artifact_created_and_foreign_job_state_changed_update_state_between_evals(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        fake.publish(
            ArtifactCreated(
                artifact_id="artifact_aaaaaaaaaaaa",
                content_hash="a" * 32,
                tags=("type:midi",),
                creator="someone",
            )
        )
        fake.publish(
            JobStateChanged(
                job_id="3d5e7f90-1a2b-4c3d-8e9f-a0b1c2d3e4f5",
                state="complete",
                result='{"artifact_id":"artifact_bbbbbbbbbbbb"}',
            )
        )
        wait_until(lambda: cells.value("len(artifacts)") == "2")
        assert cells.value('artifacts["artifact_aaaaaaaaaaaa"].tags') == "('type:midi',)"
        assert cells.value("jobs[-1].job_id") == "'3d5e7f90-1a2b-4c3d-8e9f-a0b1c2d3e4f5'"

    def test_artifacts_keeps_the_last_100(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        for i in range(105):
            fake.publish(
                ArtifactCreated(artifact_id=f"artifact_{i:012x}", content_hash=f"{i:032x}")
            )
        wait_until(lambda: cells.value("artifacts.latest.id") == repr(f"artifact_{104:012x}"))
        assert (
            cells.value("len(artifacts), artifacts[0].id")
            == f"(100, {'artifact_' + f'{5:012x}'!r})"
        )

    def test_an_unknown_broadcast_kind_is_skipped_and_counted(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        fake.publish(UnknownBroadcast(tag=4242))
        fake.publish(ArtifactCreated(artifact_id="artifact_cccccccccccc", content_hash="c" * 32))
        wait_until(lambda: cells.value("len(artifacts)") == "1")  # the next broadcast got through

        def unknown_counted() -> bool:
            counters = cells.weaver.handle("gateway").stats.published.get("counters", {})
            return bool(counters.get("broadcasts_unknown") == 1)

        wait_until(unknown_counted)


class TestTransport:
    """These depend on the RuleScheduler forwarding moves and re-anchoring its clock (issue [4])."""

    def test_play_sends_the_sheets_garden_play_request(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()
        cells.value("play()")
        received = fake.wait_for_request(lambda r: isinstance(r.call, GardenPlay), timeout=5.0)
        assert received.call == GardenPlay()

    def test_beat_current_follows_beat_tick_broadcasts(
        self, make_rig: Callable[..., tuple[FakeHootenanny, Cells]]
    ) -> None:
        fake, cells = make_rig()

        def beat_now() -> float:
            return float(cells.value("beat.current"))

        assert beat_now() == 0.0
        for position in (16.25, 64.0):
            tick = BeatTick(
                timestamp_nanos=0, beat=int(position), position_beats=position, tempo_bpm=120.0
            )
            fake.publish(tick)
            wait_until(lambda p=position: beat_now() >= p)  # type: ignore[misc]
            assert beat_now() < position + 16  # re-anchored on the tick, not drifting elsewhere


class TestHootenannyRestart:
    def test_after_hootenanny_restarts_on_the_same_ports_calls_and_broadcasts_work_again(
        self, make_weaver: Callable[..., Weaver]
    ) -> None:
        router_port, pub_port = free_port(), free_port()
        first = FakeHootenanny(router_port=router_port, pub_port=pub_port).start()
        weaver = make_weaver(
            "restart",
            hootenanny=first.router_endpoint,
            broadcasts=first.pub_endpoint,
            hootenanny_timeout=5.0,
        )
        cells = Cells(weaver)
        try:
            first.wait_for_subscribers(1)
            assert (
                cells.value('(await sample("orpheus_loops", "before")).space') == "'orpheus_loops'"
            )
            first.stop()
            second = FakeHootenanny(router_port=router_port, pub_port=pub_port).start()
            try:
                second.wait_for_subscribers(1, timeout=15.0)  # the SUB reconnected by itself
                after = cells.value('(await sample("orpheus_loops", "after")).space')
                assert after == "'orpheus_loops'"
                tick = BeatTick(timestamp_nanos=0, beat=32, position_beats=32.0, tempo_bpm=120.0)
                second.publish(tick)
                wait_until(lambda: float(cells.value("beat.current")) >= 32.0)
            finally:
                second.stop()
        finally:
            cells.close()
