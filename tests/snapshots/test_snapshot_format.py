"""Kernel snapshots without a system: LiveState ⇄ KernelState ⇄ Cap'n Proto bytes
(`vibeweaver.snapshots`), restoring into a LiveState, and its session tags."""

from __future__ import annotations

import asyncio
import math

import pytest

from vibeweaver.actors.scheduler.messages import ClockSnapshot
from vibeweaver.dsl.live import (
    LOST_WITHOUT_ID,
    RESTORED_FAILED,
    UNKNOWN_AFTER_RESTART,
    Artifact,
    Job,
    JobRecord,
    LiveState,
)
from vibeweaver.generation import GenerationOutcome
from vibeweaver.persistence.records import SessionRecord
from vibeweaver.snapshots import SnapshotUnreadable, capture, decode, encode, plan_restore
from vibeweaver.types import SessionId
from vibeweaver.wire.broadcasts import JobStateChanged
from vibeweaver.wire.kernel_state import BeatState, KernelState

SESSION = SessionRecord(
    id=SessionId("session_aaaaaaaaaaaa"),
    name="jam",
    vibe="dusty",
    tempo_bpm=96.0,
    created_at="2026-01-01T00:00:00+00:00",
    updated_at="2026-01-01T00:00:00+00:00",
)
RUNNING_ID = "3d5e7f90-1a2b-4c3d-8e9f-a0b1c2d3e4f5"
DONE_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def no_loop() -> asyncio.AbstractEventLoop:
    raise RuntimeError("no loop in this test: updates run on the test thread")


def clock(state: str = "playing", position: float = 37.5, tempo: float = 96.0) -> ClockSnapshot:
    return ClockSnapshot(
        state=state,
        tempo_bpm=tempo,
        anchor_time=100.0,
        anchor_beat=position,
        taken_at=100.0,
        position=position,
    )


def outcome(job_id: str | None, state: str, artifact_id: str | None = None) -> GenerationOutcome:
    error = None if state == "complete" else "musicgen: job was cancelled"
    return GenerationOutcome("musicgen", job_id, state, artifact_id, error, 12.0)  # type: ignore[arg-type]


def busy_live(session: list[str]) -> LiveState:
    """A LiveState with one job of each kind: direct complete, named complete, failed (a
    cancellation), running with an id, sent without an id; plus a broadcast artifact."""
    live = LiveState(no_loop, session=lambda: session[0])
    direct = live.add_job(Job("orpheus_loops", "kick"))
    live.finish_job(direct, outcome(None, "complete", "artifact_000000000001"))
    named = live.add_job(Job("musicgen", "pad"))
    live.finish_job(named, outcome(DONE_ID, "complete", "artifact_000000000002"))
    cancelled = live.add_job(Job("musicgen", "gone"))
    live.finish_job(cancelled, outcome("job-cancelled", "failed"))
    running = live.add_job(Job("musicgen", "slow"))
    live.name_job(running, RUNNING_ID)
    live.add_job(Job("yue", "song"))  # sent, not named yet
    live.add_artifact(Artifact("artifact_000000000003", tags=("type:midi",), content_hash="c" * 32))
    return live


def test_a_snapshot_round_trips_jobs_artifacts_and_the_clock_through_capnp() -> None:
    live = busy_live(["session_aaaaaaaaaaaa"])
    export = live.export(SESSION.id)
    state = capture(SESSION, export, clock(), captured_at_nanos=1_700_000_000_000_000_000)
    body = encode(state)
    assert len(body) < 2_000
    back = decode(body, session_id=SESSION.id)
    assert back == state
    assert (back.session_name, back.session_vibe, back.tempo_bpm) == ("jam", "dusty", 96.0)
    assert [(j.job_id, j.state, j.artifact_id) for j in back.jobs] == [
        ("", "complete", "artifact_000000000001"),
        (DONE_ID, "complete", "artifact_000000000002"),
        ("job-cancelled", "failed", ""),  # cancelled is stored as failed (no such JobState)
        (RUNNING_ID, "running", ""),
        ("", "pending", ""),
    ]
    assert [a.artifact_id for a in back.recent_artifacts] == [
        "artifact_000000000001",
        "artifact_000000000002",
        "artifact_000000000003",
    ]
    assert back.recent_artifacts[2].tags == ("type:midi",)
    assert back.recent_artifacts[2].content_hash == "c" * 32
    assert back.transport == "playing"
    assert back.beat == BeatState(current=37.5, tempo_bpm=96.0)


def test_a_clock_captured_while_playing_is_planned_paused_at_the_captured_position() -> None:
    live = LiveState(no_loop)
    for state, planned in (("playing", "paused"), ("paused", "paused"), ("stopped", "stopped")):
        snapshot = capture(SESSION, live.export(), clock(state, 12.25, 140.0), captured_at_nanos=1)
        plan = plan_restore(decode(encode(snapshot)))
        assert plan.transport.state == planned
        assert plan.transport.captured_state == state
        assert (plan.transport.beat, plan.transport.tempo_bpm) == (12.25, 140.0)


def test_out_of_range_clock_values_are_clamped_not_refused() -> None:
    state = KernelState(
        session_id=SESSION.id,
        session_name="jam",
        tempo_bpm=math.inf,
        transport="paused",
        beat=BeatState(current=-4.0, tempo_bpm=100_000.0),
    )
    plan = plan_restore(decode(encode(state)))
    assert plan.transport.beat == 0.0
    assert plan.transport.tempo_bpm == 999.0
    state = KernelState(
        session_id=SESSION.id, session_name="jam", tempo_bpm=90.0, beat=BeatState(tempo_bpm=0.0)
    )
    assert plan_restore(state).transport.tempo_bpm == 90.0  # no clock tempo: the session's


def test_without_a_clock_reading_the_snapshot_says_stopped_at_the_sessions_tempo() -> None:
    state = capture(SESSION, LiveState(no_loop).export(), None, captured_at_nanos=5)
    assert (state.transport, state.beat) == ("stopped", BeatState(current=0.0, tempo_bpm=96.0))


@pytest.mark.parametrize(
    "body",
    [b"", b"not a snapshot", b"\x00\x00\x00\x00\x05\x00\x00\x00" + b"\xff" * 40, b"\x01" * 7],
)
def test_undecodable_bytes_raise_snapshot_unreadable(body: bytes) -> None:
    with pytest.raises(SnapshotUnreadable, match="cannot decode KernelState"):
        decode(body)


def test_another_sessions_snapshot_is_unreadable_for_this_one() -> None:
    body = encode(capture(SESSION, LiveState(no_loop).export(), None, captured_at_nanos=1))
    with pytest.raises(SnapshotUnreadable, match="is of session session_aaaaaaaaaaaa"):
        decode(body, session_id="session_bbbbbbbbbbbb")


def test_restoring_brings_back_each_kind_of_job_and_the_artifacts_as_the_oldest_entries() -> None:
    before = busy_live(["session_aaaaaaaaaaaa"])
    body = encode(capture(SESSION, before.export(), clock(), captured_at_nanos=1))
    plan = plan_restore(decode(body))

    live = LiveState(no_loop)
    newer = live.add_artifact(Artifact("artifact_00000000000f", space="orpheus_loops"))
    report = live.restore(plan.jobs, plan.artifacts, session_id=SESSION.id)
    assert (report.jobs, report.artifacts, report.unknown, report.lost) == (5, 3, (RUNNING_ID,), 1)
    assert [a.id for a in live.artifacts] == [
        "artifact_000000000001",
        "artifact_000000000002",
        "artifact_000000000003",
        newer.id,
    ]
    direct, named, cancelled, running, unnamed = live.jobs
    assert all(job.restored for job in live.jobs)
    assert direct.result().id == "artifact_000000000001" and direct.job_id is None
    assert named.result().id == "artifact_000000000002"
    assert named.result().job_id == DONE_ID
    assert live.find_job(DONE_ID) is named
    assert (cancelled.state, cancelled.error) == ("failed", RESTORED_FAILED)
    assert (unnamed.state, unnamed.error) == ("failed", LOST_WITHOUT_ID)
    # still running at the snapshot: pending, never dropped, and its repr says what is known
    assert running.state == "pending" and live.restored_unknown() == [RUNNING_ID]
    assert repr(running) == f"<Job {RUNNING_ID[:8]} (restored): {UNKNOWN_AFTER_RESTART}>"
    assert "unknown after restart" in repr(running)
    assert repr(direct) == "<Job (restored): complete → artifact_000000000001>"

    # a restored snapshot exports as it was taken (what a later snapshot writes again)
    again = capture(SESSION, live.export(), clock(), captured_at_nanos=1)
    assert [(j.job_id, j.state) for j in again.jobs] == [
        ("", "complete"),
        (DONE_ID, "complete"),
        ("job-cancelled", "failed"),
        (RUNNING_ID, "running"),
        ("", "failed"),  # the lost one stays failed
    ]


def test_a_restored_running_job_is_settled_by_its_broadcast_or_a_status_answer() -> None:
    live = LiveState(no_loop)
    live.restore([JobRecord(f"job-{x}", "running") for x in "abc"], [])
    live._apply(
        JobStateChanged(job_id="job-a", state="complete", result='{"artifact_id":"artifact_a"}')
    )
    live._apply(JobStateChanged(job_id="job-b", state="cancelled", result=""))
    assert live.settle_restored("job-c", "running") is True
    a, b, c = live.jobs
    assert a.result().id == "artifact_a" and live.find_artifact("artifact_a") is not None
    assert (b.state, b.error) == ("failed", "cancelled")
    assert repr(c).endswith(": running (hootenanny said so after the restart)>")
    assert live.restored_unknown() == ["job-c"]
    assert live.settle_restored("job-c", "failed", error="out of memory") is True
    assert c.error == "out of memory" and live.restored_unknown() == []
    assert live.settle_restored("job-c", "complete") is False  # settled once


def test_after_a_switch_the_left_sessions_finished_entries_go_and_running_jobs_stay() -> None:
    current = ["session_aaaaaaaaaaaa"]
    live = busy_live(current)
    left = live.export("session_aaaaaaaaaaaa")
    current[0] = "session_bbbbbbbbbbbb"  # a cell switched sessions, then sampled
    b_job = live.add_job(Job("orpheus_loops", "b"))
    live.finish_job(b_job, outcome(None, "complete", "artifact_00000000000b"))
    assert live.export("session_bbbbbbbbbbbb").artifacts == (b_job.artifact,)

    report = live.restore(
        [JobRecord("job-old-b", "complete", "artifact_0000000000b0")],
        [Artifact("artifact_0000000000b0")],
        session_id="session_bbbbbbbbbbbb",
        leaving="session_aaaaaaaaaaaa",
    )
    assert (report.jobs, report.artifacts) == (1, 1)
    assert [a.id for a in live.artifacts] == ["artifact_0000000000b0", "artifact_00000000000b"]
    # the finished jobs of the left session went (its snapshot has them); running ones stay
    kept = [job.prompt or job.job_id for job in live.jobs]
    assert kept == ["job-old-b", "slow", "song", "b"]
    exported = live.export("session_bbbbbbbbbbbb")
    assert [j.state for j in exported.jobs] == ["complete", "running", "pending", "complete"]
    assert len(left.jobs) == 5 and len(left.artifacts) == 3


def test_every_change_bumps_the_version_and_calls_the_hook() -> None:
    live = LiveState(no_loop)
    calls: list[int] = []
    live.on_change = lambda: calls.append(live.version)
    job = live.add_job(Job("musicgen", "x"))
    live.name_job(job, "job-x")
    live.finish_job(job, outcome("job-x", "complete", "artifact_x"))
    live.restore([JobRecord("job-y", "running")], [])
    assert calls == list(range(1, live.version + 1)) and live.version >= 5
