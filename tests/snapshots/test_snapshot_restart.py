"""Kernel snapshots in real Weavers (SPEC §4.6): what a kernel saw (jobs, artifacts, the
transport) is back after a stop and a restart on the same data dir; running jobs are reconciled
with hootenanny's `jobStatus` (against the FakeHootenanny on loopback); a corrupt snapshot row is
reported, not fatal; a session switch snapshots the session left and restores the one entered;
changes between evals are snapshotted within the debounce window."""

from __future__ import annotations

import ast
import json
import sqlite3
import time
from collections.abc import Callable

from tests.conftest import wait_until
from tests.doubles import FakeHootenanny
from tests.doubles.fake_hootenanny import iter_calls
from tests.snapshots.helpers import Running
from vibeweaver.dsl.live import UNKNOWN_AFTER_RESTART
from vibeweaver.kernel.session_keeping import SNAPSHOT_DEBOUNCE_S
from vibeweaver.wire import ArtifactCreated, JobStatus

Start = Callable[..., Running]
Fakes = Callable[..., FakeHootenanny]

JOBS = "[(j.job_id, j.state, j.artifact.id if j.artifact else None) for j in jobs]"
ARTIFACTS = "[a.id for a in artifacts]"
GARBAGE = b"\x00\x00\x00\x00\xff\xff\xff\x7fgarbage"


def started_job_id(running: Running, variable: str, fake: FakeHootenanny, known: int) -> str:
    """The id hootenanny gave the sample() job in `variable` (the newest of the fake's jobs),
    once the kernel knows it too: the GenerationClient's `on_started` hook names the job when
    the `jobStarted` reply arrives, long before the job ends."""
    jobs = wait_until(lambda: fake.jobs() if len(fake.jobs()) > known else None)
    job_id = str(jobs[-1].job_id)
    wait_until(lambda: running.value(f"[{variable}.job_id]") == repr([job_id]))  # (None: no repr)
    assert running.value(f"{variable}.state, {variable}.restored") == "('pending', False)"
    assert running.value(f'jobs["{job_id}"] is {variable}') == "True"
    return job_id


def test_jobs_and_artifacts_seen_before_a_stop_are_back_after_a_restart(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes()
    first = start(fake)
    kick = first.value('kick = await sample("orpheus_loops", "kick")\nkick.id')
    pad = first.value('pad = await sample("musicgen", "pad")\npad.id')
    fake.publish(
        ArtifactCreated(
            artifact_id="artifact_aaaaaaaaaaaa",
            content_hash="a" * 32,
            tags=("type:midi", "source:elsewhere"),
            creator="someone",
        )
    )
    wait_until(lambda: "artifact_aaaaaaaaaaaa" in first.value(ARTIFACTS))
    jobs_before, artifacts_before = first.value(JOBS), first.value(ARTIFACTS)
    assert kick in artifacts_before and pad in artifacts_before
    first.weaver.stop()

    second = start(fake)
    assert second.value(JOBS) == jobs_before
    assert second.value(ARTIFACTS) == artifacts_before
    assert second.value('artifacts["artifact_aaaaaaaaaaaa"].tags') == (
        "('type:midi', 'source:elsewhere')"
    )
    assert second.value("(await jobs[0]).id") == kick  # a restored job is awaitable
    assert second.value("jobs[-1].state, jobs[-1].restored") == "('complete', True)"
    # the jobs table brings back what a snapshot cannot hold: space and prompt
    assert "musicgen 'pad': complete" in second.value("repr(jobs[-1])")
    assert second.value("jobs[-1].space, jobs[-1].prompt") == "('musicgen', 'pad')"
    assert second.value(f"artifacts[{pad}].space, artifacts[{pad}].prompt") == (
        "('musicgen', 'pad')"
    )
    # Python globals are not persisted (the seed's decision)
    assert second.run("kick").error.type == "NameError"  # type: ignore[union-attr]


def test_the_transport_comes_back_at_its_position_and_tempo_paused(start: Start) -> None:
    first = start()
    played_from = time.monotonic()  # (before play: an upper bound of the time played)
    first.value("tempo(96)\nseek(12)\nplay()")
    wait_until(lambda: first.clock().position > 12.3)
    first.weaver.stop()
    played = time.monotonic() - played_from

    second = start()
    clock = second.clock()
    assert clock.state == "paused"  # captured while playing: back paused where it was
    assert clock.tempo_bpm == 96.0
    assert 12.3 < clock.position <= 12 + played * 96 / 60
    assert f"transport paused at beat {clock.position:.1f}" in second.summary()
    assert second.value("tempo()") == "96.0"
    # a seek while stopped stays stopped at that beat
    second.value("stop()\nseek(20)")
    second.weaver.stop()
    third = start()
    clock = third.clock()
    assert (clock.state, clock.position, clock.tempo_bpm) == ("stopped", 20.0, 96.0)
    third.value("play()")
    wait_until(lambda: third.clock().position > 20.1)  # and plays on from there


def test_running_jobs_are_reconciled_with_job_status_after_a_restart(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes(auto_complete=False)
    first = start(fake)
    first.value('done_meanwhile = sample("musicgen", "one")\nNone or 1')
    done_id = started_job_id(first, "done_meanwhile", fake, known=0)
    first.value('still_running = sample("musicgen", "two")\nNone or 1')
    running_id = started_job_id(first, "still_running", fake, known=1)
    first.weaver.stop()
    artifact = fake.complete_job(done_id)  # while nobody listens: only jobStatus can tell

    second = start(fake)  # both come from the snapshot, by the ids the jobStarted replies gave
    restored = f'[jobs[i].restored for i in ("{done_id}", "{running_id}")]'
    assert second.value(restored) == "[True, True]"
    wait_until(lambda: second.value(f'jobs["{done_id}"].state') == "'complete'")
    assert second.value(f'(await jobs["{done_id}"]).id') == repr(artifact)
    assert artifact in second.value(ARTIFACTS)
    wait_until(
        lambda: (
            "running (hootenanny said so after the restart)"
            in second.value(f'repr(jobs["{running_id}"])')
        )
    )
    asked = {call.job_id for call in iter_calls(fake) if isinstance(call, JobStatus)}
    assert {done_id, running_id} <= asked
    later = fake.complete_job(running_id)  # its broadcast settles it
    assert second.value(f'(await jobs["{running_id}"]).id') == repr(later)
    assert second.value("len(jobs), len(jobs.running)") == "(2, 0)"


def test_without_hootenanny_a_running_job_stays_unknown_and_a_forgotten_one_fails(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes(auto_complete=False)
    first = start(fake)
    first.value('slow = sample("musicgen", "slow")\nNone or 1')
    job_id = started_job_id(first, "slow", fake, known=0)
    first.weaver.stop()

    alone = start()  # no hootenanny to ask: the job is kept, saying what is known
    shown = alone.value(f'repr(jobs["{job_id}"])')
    assert shown == repr(f"<Job {job_id[:8]} musicgen 'slow': {UNKNOWN_AFTER_RESTART}>")
    assert alone.value("len(jobs.running)") == "1"
    time.sleep(1.5)  # the reconciler looks every second: still nothing to ask
    assert alone.value(f'jobs["{job_id}"].state') == "'pending'"
    alone.weaver.stop()

    amnesiac = fakes()  # a hootenanny that restarted too: it does not know the job
    third = start(amnesiac)
    wait_until(lambda: third.value(f'jobs["{job_id}"].state') == "'failed'")
    assert "hootenanny no longer knows job" in third.value(f'jobs["{job_id}"].error')


def test_a_corrupt_snapshot_row_does_not_stop_the_start_and_is_reported(start: Start) -> None:
    first = start()
    first.value("seek(4)")
    session = first.weaver.session
    assert session is not None
    first.weaver.stop()
    db = first.weaver.db_path
    assert db is not None
    with sqlite3.connect(db) as raw:
        changed = raw.execute(
            "UPDATE kernel_snapshots SET state_capnp = ? WHERE session_id = ?",
            (GARBAGE, session.id),
        ).rowcount
    assert changed == 1

    second = start()  # starts anyway
    assert second.weaver.state == "running"
    assert second.value("len(jobs), len(artifacts)") == "(0, 0)"
    summary = second.summary()
    assert "kernel snapshot of session 'default'" in summary
    assert "unreadable and was ignored" in summary
    history = second.weaver.store.recent_history(session.id)
    (entry,) = [h for h in history if h.action == "snapshot_unreadable"]
    assert not entry.success and "cannot decode KernelState" in (entry.result or "")
    assert json.loads(entry.params or "{}")["bytes"] == len(GARBAGE)
    # the next snapshot (this eval moved the transport) replaces the row
    second.value("seek(6)")
    stored = second.snapshot()
    assert stored is not None and stored.beat.current == 6.0


def test_a_session_switch_snapshots_the_left_session_and_restores_the_entered_one(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes()
    running = start(fake)
    kick = running.value('kick = await sample("orpheus_loops", "kick")\nkick.id')
    default = running.weaver.session
    assert default is not None
    # the switch and a sample after it, in one cell: the sample belongs to the session entered
    snare = running.value('session("b")\nsnare = await sample("orpheus_loops", "snare")\nsnare.id')
    assert running.value(ARTIFACTS) == f"[{snare}]"
    left = running.stored(default.id)
    assert left is not None
    assert [a.artifact_id for a in left.recent_artifacts] == [ast.literal_eval(kick)]

    running.value('session(load="default")')
    assert running.value(ARTIFACTS) == f"[{kick}]"
    b = running.weaver.store.find_session("b")
    assert b is not None
    stored_b = running.stored(b.id)
    assert stored_b is not None
    assert [a.artifact_id for a in stored_b.recent_artifacts] == [ast.literal_eval(snare)]
    running.value('session(load="b")')
    assert running.value(ARTIFACTS) == f"[{snare}]"
    assert running.value("jobs[0].restored, jobs[0].state") == "(True, 'complete')"


def test_a_change_between_evals_is_snapshotted_within_the_debounce_window(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes()
    running = start(fake)
    running.value("1")
    count = running.value("1 + 1")
    published = time.monotonic()
    fake.publish(ArtifactCreated(artifact_id="artifact_bbbbbbbbbbbb", content_hash="b" * 32))

    def stored() -> bool:
        state = running.snapshot()
        return state is not None and any(
            a.artifact_id == "artifact_bbbbbbbbbbbb" for a in state.recent_artifacts
        )

    wait_until(stored, timeout=SNAPSHOT_DEBOUNCE_S + 3.0, interval=0.05)
    assert time.monotonic() - published < SNAPSHOT_DEBOUNCE_S + 2.0
    assert count == "2"
    kernel = running.weaver.handle("kernel").stats.published
    assert kernel["execution_count"] == 2  # no eval ran meanwhile: the debounced snapshot did it


def test_a_debounced_snapshot_inside_a_switching_cell_does_not_overwrite_the_entered_session(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes()
    running = start(fake, snapshot_debounce_s=0.1)
    snare = running.value('session("b")\nsnare = await sample("orpheus_loops", "snare")\nsnare.id')
    running.value('session(load="default")')
    # back in b, a sample arms the debounce timer, which fires while the cell still runs: the
    # kernel's jobs/artifacts are handed to b only when the cell ends, so nothing of b is saved
    hat = running.value(
        'session(load="b")\nhat = await sample("orpheus_loops", "hat")\n'
        "import asyncio\nawait asyncio.sleep(0.5)\nhat.id"
    )
    assert running.value(ARTIFACTS) == f"[{snare}, {hat}]"
    b = running.weaver.store.find_session("b")
    assert b is not None
    stored_b = running.stored(b.id)
    assert stored_b is not None
    assert [a.artifact_id for a in stored_b.recent_artifacts] == [
        ast.literal_eval(snare),
        ast.literal_eval(hat),
    ]
