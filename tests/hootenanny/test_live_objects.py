"""Live DSL objects against the FakeHootenanny, through the ToolService as MCP and ZeroMQ use it
(issue [6], item 5 and part of item 7): a LatentRef follows its job without being awaited, a job
space's Job has its id when sample() returns (and `@on_job(job)` takes it), `done` is a property
everywhere, `await play()` is refused before anything runs, a failed schedule() raises in the cell
that awaits it, audition() puts the transport back after its duration, and a tempo broadcast moves
the session's tempo with the clock's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.doubles import FakeHootenanny
from tests.doubles.fake_hootenanny import iter_calls
from tests.hootenanny.test_dsl_against_fake import Cells
from vibeweaver.weaver import Weaver
from vibeweaver.wire import (
    GardenCreateRegion,
    GardenPause,
    GardenPlay,
    GardenSetTempo,
    GardenStop,
    MusicgenGenerate,
    TransportStateChanged,
)

Rig = tuple[FakeHootenanny, Cells]


@pytest.fixture
def make_rig(make_weaver: Callable[..., Weaver]) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(**fake_options: Any) -> Rig:
        fake = FakeHootenanny(**fake_options).start()
        weaver = make_weaver(
            f"w{len(made)}",
            hootenanny=fake.router_endpoint,
            broadcasts=fake.pub_endpoint,
            hootenanny_timeout=5.0,
        )
        fake.wait_for_subscribers(1)
        made.append((fake, Cells(weaver)))
        return made[-1]

    yield make
    for fake, cells in made:
        cells.close()
        fake.stop()


def sent(fake: FakeHootenanny, kind: type) -> list[Any]:
    return [call for call in iter_calls(fake) if isinstance(call, kind)]


class TestLatentRef:
    def test_state_and_done_follow_the_job_without_an_await(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        assert cells.value('ref = latent("musicgen", "pad", deadline=512)\nref.state') == (
            "'waiting'"
        )
        assert cells.value("ref.done, ref.job_id") == "(False, None)"
        cells.value("ref.materialize().state")  # start now instead of at its planned moment
        (job,) = wait_until(fake.jobs)
        # cells that never await: the ref is updated between evals, on the kernel's loop
        wait_until(lambda: cells.value("ref.state") == "'running'")
        assert cells.value("ref.done") == "False"
        artifact_id = fake.complete_job(job.job_id)
        wait_until(lambda: cells.value("ref.state") == "'complete'")
        assert cells.value("ref.done, ref.job_id") == f"(True, {job.job_id!r})"
        assert cells.value("(await ref).id") == repr(artifact_id)

    def test_a_failed_latent_shows_failed_without_an_await(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        cells.value('ref = latent("musicgen", "doomed", deadline=512).materialize()\nref.state')
        (job,) = wait_until(fake.jobs)
        wait_until(lambda: cells.value("ref.state") == "'running'")
        fake.fail_job(job.job_id, "out of GPU memory")
        wait_until(lambda: cells.value("ref.state") == "'failed'")
        assert cells.value("ref.done") == "True"

    def test_a_cancelled_latent_shows_cancelled(self, make_rig: Callable[..., Rig]) -> None:
        _, cells = make_rig(auto_complete=False)
        cells.value('ref = latent("musicgen", "later", deadline=100000)\nref.cancel()')
        wait_until(lambda: cells.value("ref.state") == "'cancelled'")
        assert cells.value("ref.done") == "True"


class TestJobs:
    def test_a_job_spaces_id_is_set_when_sample_returns(self, make_rig: Callable[..., Rig]) -> None:
        fake, cells = make_rig(auto_complete=False)
        result = cells.value('job = sample("musicgen", "pad")\njob.id, job.state, job.done')
        (job,) = fake.jobs()  # hootenanny had named it before the cell went on
        assert result == f"({job.job_id!r}, 'pending', False)"
        assert cells.value(f"jobs[{job.job_id!r}] is job") == "True"

    def test_on_job_accepts_the_job_itself_and_fires_when_it_ends(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig(auto_complete=False)
        cells.value(
            'job = sample("musicgen", "pad")\n'
            "ended = []\n"
            "@on_job(job)\n"
            "def done_pad(job_id, state):\n"
            "    ended.append((job_id, state))\n"
            "job.id"
        )
        (job,) = fake.jobs()
        fake.complete_job(job.job_id)
        wait_until(lambda: cells.value("ended") == repr([(job.job_id, "complete")]))
        assert cells.value("job.done, job.state") == "(True, 'complete')"

    def test_a_direct_space_has_no_job_id_and_on_job_says_why(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        _, cells = make_rig()
        assert cells.value('kick = sample("orpheus_loops", "kick")\nkick.id is None') == "True"
        wait_until(lambda: cells.value("kick.done") == "True")
        outcome = cells.run("@on_job(kick)\ndef f(job_id, state):\n    pass\n")
        assert outcome.status == "error" and outcome.error is not None
        assert "already ended" in outcome.error.message

    def test_done_is_a_property_on_jobs_regions_and_latent_refs(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        _, cells = make_rig()
        kinds = cells.value(
            'j = sample("musicgen", "x")\n'
            'r = schedule("artifact_0123456789ab", at=0)\n'
            'l = latent("musicgen", "y", deadline=100000)\n'
            "[type(x).done.__class__.__name__ for x in (j, r, l)]"
        )
        assert kinds == "['property', 'property', 'property']"


class TestNotAwaitable:
    def test_await_play_is_refused_before_anything_in_the_cell_runs(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig()
        outcome = cells.run("x = 1\nawait play()")
        assert outcome.status == "error" and outcome.error is not None
        assert outcome.error.type == "TypeError"
        assert "line 2: `await play()`: play() is not awaitable" in outcome.error.message
        assert "Nothing in this cell ran" in outcome.error.message
        assert cells.value("transport.state") == "'stopped'"
        assert cells.run("x").status == "error"  # the first line did not run either
        assert sent(fake, GardenPlay) == []

    @pytest.mark.parametrize(
        "code",
        [
            "await pause()",
            "await stop()",
            "await seek(8)",
            "await tempo(90)",
            'await marker("drop", 4)',
            "await vibeweaver.play()",
            "moved = await play()",
        ],
    )
    def test_other_acting_calls_are_refused_too(
        self, make_rig: Callable[..., Rig], code: str
    ) -> None:
        fake, cells = make_rig()
        outcome = cells.run(code)
        assert outcome.status == "error" and outcome.error is not None
        assert "is not awaitable" in outcome.error.message, outcome.error
        assert cells.value("transport.state, beat.current, tempo()") == "('stopped', 0.0, 120.0)"
        assert cells.value("timeline.markers") == "[]"
        assert sent(fake, GardenPause) == sent(fake, GardenSetTempo) == []

    def test_a_name_the_cell_rebinds_is_not_refused(self, make_rig: Callable[..., Rig]) -> None:
        _, cells = make_rig()
        assert cells.value("async def play():\n    return 'mine'\nawait play()") == "'mine'"

    def test_awaiting_a_transport_result_inside_a_function_says_what_happened(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        _, cells = make_rig()
        outcome = cells.run("async def go():\n    await pause()\nawait go()")
        assert outcome.status == "error" and outcome.error is not None
        assert "pause() is not awaitable: it already acted" in outcome.error.message


class TestTimeline:
    def test_a_failed_schedule_raises_in_the_cell_that_awaits_it(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        _, cells = make_rig(refuse={GardenCreateRegion: "no such content"})
        outcome = cells.run('region = await schedule("artifact_0123456789ab", at=4)')
        assert outcome.status == "error" and outcome.error is not None
        assert outcome.error.type == "RegionFailed"
        assert "schedule(artifact_0123456789ab, at=4) failed" in outcome.error.message
        assert "no such content" in outcome.error.message
        assert cells.value("1+1") == "2"

    def test_audition_stops_what_it_started_after_its_duration(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig()
        cells.value("tempo(600)\nseek(8)")  # 10 beats a second; stopped at beat 8
        assert cells.value('r = audition("artifact_0123456789ab", duration=4)\nr.position') == (
            "8.0"
        )
        assert cells.value("transport.state") == "'playing'"
        # after 4 beats (0.4 s) the transport is back where it was: stopped at beat 8
        wait_until(lambda: cells.value("transport.state") == "'stopped'")
        assert cells.value("beat.current") == "8.0"
        assert len(sent(fake, GardenPlay)) == 1 and len(sent(fake, GardenStop)) == 1

    def test_audition_while_playing_leaves_the_transport_alone(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig()
        cells.value('tempo(600)\nplay()\naudition("artifact_0123456789ab", duration=2)')
        wait_until(lambda: float(cells.value("beat.current")) > 6.0)  # well past its end
        assert cells.value("transport.state") == "'playing'"
        assert sent(fake, GardenStop) == [] and sent(fake, GardenPause) == []


class TestTempoBroadcast:
    def test_after_a_tempo_broadcast_the_session_and_the_clock_agree(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        fake, cells = make_rig()
        assert cells.value("tempo(), beat.tempo") == "(120.0, 120.0)"
        fake.publish(TransportStateChanged(state="playing", position_beats=8.0, tempo_bpm=140.0))
        wait_until(lambda: cells.value("beat.tempo") == "140.0")
        assert cells.value("tempo()") == "140.0"
        wait_until(lambda: cells.service.session().session.tempo_bpm == 140.0)
        assert cells.service.session().summary.count("Tempo: 140 BPM") == 1
        assert sent(fake, MusicgenGenerate) == []  # (nothing else was asked of hootenanny)
