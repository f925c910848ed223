"""Ledger: the kernel's jobs and artifacts written to the store's `jobs` and `artifacts` tables,
and read back for a restore (SPEC §4.6: the tables are the durable record, with the space and
prompt a kernel snapshot cannot hold).

Writing, on the kernel's loop: LiveState's change hook calls `changed()`, which schedules one
`write()` per burst of changes (`call_soon`); `write()` compares every job and artifact with what
it wrote last and tells the store only the rows that changed (`RecordMade`, batched by the store
with history, written within ~0.2 s and before any read; the KernelActor flushes the store before
each eval's reply). A job gets a key of its own at first sight (hootenanny names a job only once it
started); a job restored from a row keeps that row's key (matched by hootenanny's job id), and a
restored job that is already settled and has no row is not written again.

Reading (`merge_restore`, pure): the rows of a session, newest 100 of each, become the jobs and
artifacts LiveState restores, merged with the kernel snapshot's (a v1 database has only the
snapshot; a job the snapshot saw end overrides a row that still says running).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog

from vibeweaver.actors.store import StoreClient
from vibeweaver.dsl.live import LOST_WITHOUT_ID, Artifact, Job, JobRecord, LiveState
from vibeweaver.persistence.records import ArtifactRecord, GenerationJobRecord
from vibeweaver.types import SessionId

log = structlog.get_logger(__name__)

_SEEN_ONLY = ""
"""The key of a restored, settled job without a row: nothing to write for it."""


class Ledger:
    """Writes one kernel's LiveState to the store; see the module docstring."""

    def __init__(self, *, live: LiveState, store: StoreClient, session: Callable[[], str]) -> None:
        self.live = live
        self.store = store
        self.session = session
        self.closed = False
        self.dirty = False
        """A change is waiting to be written (read from the actor thread: a plain flag)."""
        self.written_rows = 0
        self._armed: Any = None
        self._keys: weakref.WeakKeyDictionary[Job, str] = weakref.WeakKeyDictionary()
        self._jobs: dict[str, tuple[object, ...]] = {}
        """Row key → what was written of the job last (a cheap fingerprint, not the row)."""
        self._artifacts: dict[str, tuple[str | None, Artifact]] = {}
        self._adopted: dict[str, str] = {}
        """hootenanny job id → the row key of a job being restored."""

    def close(self) -> None:
        self.closed = True

    def adopt(self, rows: Iterable[GenerationJobRecord]) -> None:
        """Rows a restore is about to bring back: their jobs keep these keys (on the loop)."""
        for row in rows:
            if row.job_id:
                self._adopted[row.job_id] = row.id

    def live_keys(self) -> set[str]:
        """The keys of the jobs LiveState holds now (on the loop)."""
        jobs, _ = self.live.entries()
        return {key for _, job in jobs if (key := self._keys.get(job))}

    # -- the loop ---------------------------------------------------------------------------------

    def changed(self) -> None:
        """LiveState changed (on the loop): write soon, once per burst."""
        if self.closed:
            return
        self.dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.write()  # no loop (the kernel is stopping): write now rather than lose it
            return
        if self._armed is loop:
            return
        self._armed = loop
        loop.call_soon(self._due, loop)

    def _due(self, loop: Any) -> None:
        if self._armed is loop:
            self._armed = None
        self.write()

    def write(self) -> int:
        """Tell the store the rows that changed since the last write; returns how many."""
        if self.closed:
            return 0
        self.dirty = False
        current = self.session()
        job_entries, artifact_entries = self.live.entries()
        jobs: list[GenerationJobRecord] = []
        for tag, job in job_entries:
            key = self._key(job)
            if not key:
                continue
            artifact = job.artifact
            fingerprint = (
                tag,
                job.state,
                job.job_id,
                None if artifact is None else artifact.id,
                job.error,
                job.duration_ms,
                job.finished_at,
                job.space,
                job.prompt,
            )
            if self._jobs.get(key) != fingerprint:
                self._jobs[key] = fingerprint
                jobs.append(job_row(job, key, SessionId(tag or current)))
        artifacts: list[ArtifactRecord] = []
        seen: set[str] = set()
        for tag, made in artifact_entries:
            seen.add(made.id)
            if self._artifacts.get(made.id) != (tag, made):
                self._artifacts[made.id] = (tag, made)
                artifacts.append(artifact_row(made, SessionId(tag or current)))
        for artifact_id in [a for a in self._artifacts if a not in seen]:
            del self._artifacts[artifact_id]  # gone from LiveState: its row stays as written
        live_keys = self.live_keys()
        for key in [k for k in self._jobs if k not in live_keys]:
            del self._jobs[key]
        if jobs or artifacts:
            try:
                self.store.record_made(tuple(jobs), tuple(artifacts))
            except Exception as exc:  # noqa: BLE001 - the next change writes them again
                log.error("ledger_write_failed", error=f"{type(exc).__name__}: {exc}")
                for row in jobs:
                    self._jobs.pop(row.id, None)
                for row_a in artifacts:
                    self._artifacts.pop(row_a.id, None)
                return 0
        self.written_rows += len(jobs) + len(artifacts)
        return len(jobs) + len(artifacts)

    def _key(self, job: Job) -> str:
        key = self._keys.get(job)
        if key is not None:
            return key
        if job.restored:
            adopted = self._adopted.pop(job.job_id, None) if job.job_id else None
            if adopted is not None:
                key = adopted
            elif job.state != "pending":
                key = _SEEN_ONLY  # settled before the restart; its row (if any) says so
            else:
                key = new_key()
        else:
            key = new_key()
        self._keys[job] = key
        return key


def new_key() -> str:
    return f"job_{uuid.uuid4().hex[:12]}"


def _stamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def job_row(job: Job, key: str, session_id: SessionId) -> GenerationJobRecord:
    """The `jobs` row of a LiveState job."""
    state: str = job.state
    if state == "pending":
        state = "running" if job.job_id else "pending"
    artifact = job.artifact
    tags = getattr(job, "tags", None) or ()
    return GenerationJobRecord(
        id=key,
        session_id=session_id,
        state=state,
        job_id=job.job_id,
        space=job.space,
        prompt=job.prompt,
        tags=tuple(str(tag) for tag in tags),
        origin=job.origin,
        artifact_id=None if artifact is None else artifact.id,
        error=job.error if job.state == "failed" else None,
        created_at=_stamp(job.created_at) or "",
        finished_at=_stamp(job.finished_at),
        duration_ms=job.duration_ms,
    )


def artifact_row(artifact: Artifact, session_id: SessionId) -> ArtifactRecord:
    """The `artifacts` row of a LiveState artifact."""
    return ArtifactRecord(
        id=artifact.id,
        session_id=session_id,
        space=artifact.space,
        prompt=artifact.prompt,
        tags=tuple(artifact.tags),
        job_id=artifact.job_id,
        creator=artifact.creator,
        content_hash=artifact.content_hash,
    )


@dataclass(frozen=True, slots=True)
class MergedRestore:
    """What to restore: jobs and artifacts oldest first, the rows whose jobs keep their keys, and
    rows of jobs that were lost (sent, never named by hootenanny) to mark failed."""

    jobs: tuple[JobRecord, ...]
    artifacts: tuple[Artifact, ...]
    adopted: tuple[GenerationJobRecord, ...]
    lost: tuple[GenerationJobRecord, ...]


def merge_restore(
    snapshot_jobs: Sequence[JobRecord],
    snapshot_artifacts: Sequence[Artifact],
    rows: Sequence[GenerationJobRecord],
    artifact_rows: Sequence[ArtifactRecord],
    *,
    skip: Collection[str] = (),
    at_start: bool,
) -> MergedRestore:
    """The jobs and artifacts to restore from a snapshot and the session's rows (oldest first).

    `skip`: row keys of jobs this kernel still holds (a session switch). `at_start`: the kernel
    is new, so a row still pending without a job id is a job lost with the old process."""
    ended = {
        job.job_id: job
        for job in snapshot_jobs
        if job.job_id and job.state in ("complete", "failed")
    }
    row_ids = {row.job_id for row in rows if row.job_id}
    jobs: list[JobRecord] = []
    if rows:
        jobs.extend(job for job in snapshot_jobs if job.job_id and job.job_id not in row_ids)
    else:
        jobs.extend(snapshot_jobs)
    adopted: list[GenerationJobRecord] = []
    lost: list[GenerationJobRecord] = []
    for row in rows:
        if row.id in skip:
            continue
        state = row.state if row.state in ("pending", "running", "complete", "failed") else "failed"
        record = JobRecord(
            row.job_id,
            state,  # type: ignore[arg-type]
            row.artifact_id,
            space=row.space,
            prompt=row.prompt,
            error=row.error,
            duration_ms=row.duration_ms,
        )
        seen_end = ended.get(row.job_id) if row.job_id else None
        if seen_end is not None and state in ("pending", "running"):
            record = replace(
                record, state=seen_end.state, artifact_id=seen_end.artifact_id or row.artifact_id
            )
        if record.state in ("pending", "running") and not record.job_id:
            if not at_start:
                continue  # a job of this process that is not in LiveState any more: leave it
            lost.append(
                replace(
                    row,
                    state="failed",
                    error=LOST_WITHOUT_ID,
                    finished_at=_stamp(time.time()),
                )
            )
        if record.job_id:
            adopted.append(row)
        jobs.append(record)

    by_id = {a.id: a for a in snapshot_artifacts}
    artifacts: list[Artifact] = []
    in_rows = {row.id for row in artifact_rows}
    artifacts.extend(a for a in snapshot_artifacts if a.id not in in_rows)
    for row_a in artifact_rows:
        artifact = Artifact(
            row_a.id,
            space=row_a.space,
            prompt=row_a.prompt,
            job_id=row_a.job_id,
            tags=tuple(row_a.tags),
            creator=row_a.creator,
            content_hash=row_a.content_hash,
        )
        known = by_id.get(row_a.id)
        artifacts.append(artifact if known is None else artifact.merged(known))
    return MergedRestore(
        jobs=tuple(jobs), artifacts=tuple(artifacts), adopted=tuple(adopted), lost=tuple(lost)
    )
