"""The store's `jobs` and `artifacts` tables follow the kernel's jobs as they change (the ledger),
per session, and a restore merges their rows with the snapshot; also `history()` and `sessions()`
in a real Weaver (SPEC §4.2, §4.6)."""

from __future__ import annotations

import ast
from collections.abc import Callable

from tests.conftest import wait_until
from tests.doubles import FakeHootenanny
from tests.snapshots.helpers import Running
from vibeweaver.dsl.live import LOST_WITHOUT_ID, Artifact, JobRecord
from vibeweaver.kernel.ledger import merge_restore
from vibeweaver.persistence.records import ArtifactRecord, GenerationJobRecord
from vibeweaver.types import SessionId

Start = Callable[..., Running]
Fakes = Callable[..., FakeHootenanny]


def _jobs(running: Running, session: str | None = None) -> list[tuple[object, ...]]:
    record = running.weaver.store.find_session(session) if session else running.weaver.session
    assert record is not None
    return [
        (job.space, job.prompt, job.state, job.job_id is not None)
        for job in running.weaver.store.list_jobs(record.id)
    ]


def test_a_job_row_follows_the_job_between_evals_and_per_session(
    start: Start, fakes: Fakes
) -> None:
    fake = fakes(auto_complete=False)
    running = start(fake)
    running.value('slow = sample("musicgen", "slow pad", tags=["pad"])\nNone or 1')
    wait_until(lambda: _jobs(running) == [("musicgen", "slow pad", "running", True)])
    job_id = ast.literal_eval(running.value("slow.job_id"))
    artifact = fake.complete_job(job_id)  # settles between evals, on the kernel's loop
    wait_until(lambda: _jobs(running) == [("musicgen", "slow pad", "complete", True)])
    session = running.weaver.session
    assert session is not None
    (row,) = running.weaver.store.list_jobs(session.id)
    assert row.artifact_id == artifact and row.finished_at is not None
    (made,) = [a for a in running.weaver.store.list_artifacts(session.id) if a.id == artifact]
    assert (made.space, made.prompt) == ("musicgen", "slow pad")

    # a sample made after a switch belongs to the session entered
    running.value('session("b")\nhat = await sample("orpheus_loops", "hat")\nhat.id')
    assert _jobs(running, "b") == [("orpheus_loops", "hat", "complete", False)]
    assert len(_jobs(running)) == 1


def test_history_reads_older_entries_newest_first_and_sessions_lists_every_session(
    start: Start,
) -> None:
    running = start()
    for beat in range(30):
        running.value(f'marker("m{beat}", {beat})')
    assert running.value("len(history())") == "20"
    newest = running.value("history(3)")
    lines = newest.splitlines()
    assert lines[0] == "3 newest history entries of session 'default', newest first:"
    assert lines[1].endswith(": eval(len(history())) → 20 ✓>") and "just now" in lines[1]
    assert 'eval(marker("m29", 29))' in lines[2]
    assert lines[3].endswith(": marker(m29@29) ✓>")
    markers = running.value('[h.action for h in history(40, kind="marker")][:2]')
    assert markers == "['marker(m29@29)', 'marker(m28@28)']"
    assert running.value('len(history(1000, kind="marker"))') == "30"
    assert running.value('history(kind="nothing_like_it")') == (
        "No history of kind 'nothing_like_it' in session 'default' yet."
    )
    for code, message in [
        ("history(0)", "n must be an integer from 1 to 1000"),
        ("history(5000)", "n must be an integer from 1 to 1000"),
        ('history(kind="")', "kind must be a non-empty string"),
    ]:
        outcome = running.run(code)
        assert outcome.error is not None and message in outcome.error.message, code

    running.value('session(name="jam", vibe="dark")\ntempo(130)')
    listing = running.value("sessions()")
    assert listing.splitlines()[0] == (
        "2 sessions (most recently used first; session(load=name) switches):"
    )
    assert listing.splitlines()[1] == "  <session 'jam': current, 130 BPM, 'dark'>"
    assert listing.splitlines()[2].startswith("  <session 'default': last used just now, 120 BPM")
    assert running.value('sessions()["default"].current, len(sessions())') == "(False, 2)"
    assert "Other sessions: default (just now)" in running.summary()


def test_a_restore_merges_the_rows_with_the_snapshot() -> None:
    session = SessionId("session_1")
    rows = [
        GenerationJobRecord(id="k1", session_id=session, state="complete", job_id="j1",
                            space="musicgen", prompt="pad", artifact_id="a1"),
        GenerationJobRecord(id="k2", session_id=session, state="running", job_id="j2",
                            space="yue", prompt="song"),
        GenerationJobRecord(id="k3", session_id=session, state="pending", space="musicgen"),
    ]  # fmt: skip
    snapshot = [JobRecord("j0", "complete", "a0"), JobRecord("j2", "failed")]
    artifact_rows = [ArtifactRecord(id="a1", session_id=session, space="musicgen", prompt="pad")]
    merged = merge_restore(
        snapshot, [Artifact("a1", tags=("t",))], rows, artifact_rows, at_start=True
    )
    # the snapshot's job without a row first; a row's state loses to a snapshot that saw the end
    assert [(j.job_id, j.state, j.space) for j in merged.jobs] == [
        ("j0", "complete", None),
        ("j1", "complete", "musicgen"),
        ("j2", "failed", "yue"),
        (None, "pending", "musicgen"),
    ]
    assert [a.id for a in merged.adopted] == ["k1", "k2"]
    (lost,) = merged.lost  # sent but never named by hootenanny: it died with the old process
    assert (lost.id, lost.state, lost.error) == ("k3", "failed", LOST_WITHOUT_ID)
    assert merged.artifacts == (Artifact("a1", space="musicgen", prompt="pad", tags=("t",)),)

    switched = merge_restore([], [], rows, artifact_rows, skip={"k1"}, at_start=False)
    assert [j.job_id for j in switched.jobs] == ["j2"] and switched.lost == ()
