"""LiveState: the live jobs and artifacts of one kernel, and the awaitables the DSL hands out.

One LiveState per kernel (the `live` port of its DslContext). Its data is touched only on the
kernel's eval thread: by DSL code while a cell runs, and by callbacks that other threads post to
the eval thread's asyncio loop with `call_soon_threadsafe` (`post`). The loop runs between evals,
so hub events (`artifactCreated`, `jobStateChanged`) and generation outcomes update `jobs` and
`artifacts` between evals too, and cells read them without locks. The loop is looked up afresh for
every post, because a wedged eval thread is replaced by a new thread with a new loop.

`Pending` is the awaitable behind `Job` (a generation) and `Region` (a timeline region): its
outcome is stored on the object, so an await that starts after completion returns at once, and an
await that is cancelled (eval timeout, `weave_reset`) can be repeated later. Waiter futures come
from the loop's `create_future` (so a reset cancels them) and are only resolved if not done.

Kernel snapshots (`vibeweaver.snapshots`, SPEC §4.6): `export()` copies the jobs and artifacts
as plain records and `restore()` brings a snapshot's back, both on the loop. Every entry is
tagged with the session current when it was added (`session`), so a session switch can hand the
left session its own entries. `version` counts changes and `on_change` (called on the loop after
each) lets the kernel save a snapshot soon after. Restored jobs that were still running when the
snapshot was taken stay pending, marked "unknown after restart", until a `jobStateChanged`
broadcast or a `jobStatus` answer (`settle_restored`) tells how they ended. Only a job whose id is
known can be asked about: `name_job` records the id hootenanny gave a running job (sample()
passes it as the GenerationClient's `on_started` hook, called when the `jobStarted` reply
arrives); a job running without a known id (a direct tool, a reply still on its way) comes back
failed, saying why.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import sys
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

import structlog

from vibeweaver.errors import VibeweaverError
from vibeweaver.wire import broadcasts as wire_broadcasts

if TYPE_CHECKING:
    from vibeweaver.generation import GenerationOutcome

log = structlog.get_logger(__name__)

MAX_ARTIFACTS: Final = 100
MAX_JOBS: Final = 100
PendingState = Literal["pending", "complete", "failed"]
RecordState = Literal["pending", "running", "complete", "failed"]
UNKNOWN_AFTER_RESTART: Final = (
    "unknown after restart (it was running when the snapshot was taken; hootenanny has not "
    "told how it ended yet)"
)
RESTORED_FAILED: Final = "failed before the restart (the snapshot keeps no reason)"
LOST_WITHOUT_ID: Final = (
    "lost in the restart: it was running without a known job id, so hootenanny cannot be asked "
    "how it ended (its artifact still shows up here if hootenanny announces it)"
)


class GenerationFailed(VibeweaverError):
    """An awaited generation job failed (or ended without an artifact)."""


class RegionFailed(VibeweaverError):
    """An awaited schedule()/audition() region could not be created."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """Something hootenanny stored (MIDI, audio), by its id: pass it to schedule()/audition().

    Built by the DSL from generation results and `artifactCreated` broadcasts;
    `Artifact("artifact_…")` makes one from a known id."""

    id: str
    space: str | None = None
    prompt: str | None = None
    job_id: str | None = None
    tags: tuple[str, ...] = ()
    creator: str | None = None
    content_hash: str | None = None

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:
        parts = [repr(self.id)]
        if self.space:
            parts.append(f"space={self.space!r}")
        if self.prompt:
            parts.append(f"prompt={self.prompt!r}")
        if self.tags:
            parts.append(f"tags={list(self.tags)!r}")
        return f"Artifact({', '.join(parts)})"

    def merged(self, other: Artifact) -> Artifact:
        """This artifact with the fields `other` knows and this one does not."""
        return replace(
            self,
            space=self.space or other.space,
            prompt=self.prompt or other.prompt,
            job_id=self.job_id or other.job_id,
            tags=tuple(dict.fromkeys((*self.tags, *other.tags))),
            creator=self.creator or other.creator,
            content_hash=self.content_hash or other.content_hash,
        )


class Pending(abc.ABC):
    """An outcome that arrives later, awaitable any number of times (see the module docstring)."""

    def __init__(self) -> None:
        self.state: PendingState = "pending"
        self.error: str | None = None
        self.created_at = time.time()
        self.finished_at: float | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._awaited = 0

    @property
    def done(self) -> bool:
        """True once it completed or failed (a property, like `state`: `if job.done:`)."""
        return self.state != "pending"

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        if self.state == "pending":
            self._awaited += 1
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            finally:
                if future in self._waiters:
                    self._waiters.remove(future)
        return self._value()

    @abc.abstractmethod
    def _value(self) -> Any:
        """What an await returns once settled (or raises, for a failure)."""

    def _settle(self, state: PendingState, error: str | None = None) -> bool:
        """Record the outcome and wake the waiters (on the loop); False if already settled."""
        if self.state != "pending":
            return False
        self.state, self.error, self.finished_at = state, error, time.time()
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            _wake(future)
        return True

    @property
    def awaited(self) -> bool:
        """Somebody is awaiting it right now (a failure then surfaces there, not on stderr)."""
        return bool(self._waiters)


def _wake(future: asyncio.Future[None]) -> None:
    loop = future.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        if not future.done():
            future.set_result(None)
        return
    with contextlib.suppress(RuntimeError):  # a closed loop: its awaiting task is gone with it
        loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Job(Pending):
    """A generation job: `await job` gives its Artifact, or raises GenerationFailed."""

    def __init__(
        self,
        space: str | None,
        prompt: str | None = None,
        *,
        origin: str = "sample",
        tags: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.space = space
        self.prompt = prompt
        self.tags = tags
        self.origin = origin
        self.job_id: str | None = None
        self.artifact: Artifact | None = None
        self.duration_ms: float | None = None
        self.status_note: str | None = None
        """Restored jobs only: what is known of a job that was running at the snapshot
        (UNKNOWN_AFTER_RESTART until hootenanny tells more)."""

    @property
    def id(self) -> str | None:
        """hootenanny's job id: set when sample() returns for a job space (musicgen, yue, ...);
        None for a direct space (orpheus_*, abc), whose reply is the result (no job)."""
        return self.job_id

    @property
    def restored(self) -> bool:
        """True for a job brought back after a restart or a session switch (its space and prompt
        come back from the store's `jobs` table when it has the job's row)."""
        return self.origin == "restored"

    @property
    def label(self) -> str:
        """How history and errors name this job: sample(space, "prompt")."""
        if self.origin != "sample":
            return f"job {self.job_id}" if self.job_id else "a job without an id"
        return (
            f"sample({self.space}, {json.dumps(self.prompt)})"
            if self.prompt
            else f"sample({self.space})"
        )

    def result(self) -> Artifact:
        """The artifact of a completed job (raises if it failed or still runs)."""
        if self.state == "pending":
            raise GenerationFailed(f"{self.label} is still running; await it")
        return self._value()

    def _value(self) -> Artifact:
        if self.state == "failed":
            raise GenerationFailed(f"{self.label} failed: {self.error}")
        if self.artifact is None:
            raise GenerationFailed(
                f"{self.label} completed without an artifact (job {self.job_id})"
            )
        return self.artifact

    def __repr__(self) -> str:
        ident = f" {self.job_id[:8]}" if self.job_id else ""
        subject = self.space or ("(restored)" if self.restored else "(another client)")
        if self.prompt:
            subject += f" {self.prompt!r}"
        if self.state == "pending" and self.status_note is not None:
            return f"<Job{ident} {subject}: {self.status_note}>"
        if self.state == "pending":
            since = time.time() - self.created_at
            return f"<Job{ident} {subject}: running for {since:.1f} s>"
        took = f" in {self.duration_ms / 1000:.1f} s" if self.duration_ms is not None else ""
        if self.state == "failed":
            return f"<Job{ident} {subject}: failed{took}: {self.error}>"
        artifact = self.artifact.id if self.artifact else "no artifact"
        return f"<Job{ident} {subject}: complete{took} → {artifact}>"


class Region(Pending):
    """A timeline region being created: `await region` gives it back with `region_id` set, or
    raises RegionFailed."""

    def __init__(
        self, content_id: str, position: float, duration: float, gain: float, *, label: str
    ) -> None:
        super().__init__()
        self.content_id = content_id
        self.position = position
        self.duration = duration
        self.gain = gain
        self.label = label
        """How history and errors name it: schedule(artifact_abc, at=0)."""
        self.region_id: str | None = None

    def _value(self) -> Region:
        if self.state == "failed":
            raise RegionFailed(f"{self.label} failed: {self.error}")
        return self

    def __repr__(self) -> str:
        span = f"{self.content_id} at beat {self.position:g} for {self.duration:g} beats"
        if self.state == "pending":
            return f"<Region {span}: creating>"
        if self.state == "failed":
            return f"<Region {span}: failed: {self.error}>"
        return f"<Region {self.region_id} {span}>"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as a snapshot keeps it: "pending" = sent, not yet named by hootenanny; "running" =
    named (job_id set) and not ended; "complete"/"failed" = ended (`artifact_id` if any)."""

    job_id: str | None
    state: RecordState
    artifact_id: str | None = None
    space: str | None = None
    prompt: str | None = None
    error: str | None = None
    duration_ms: float | None = None
    """space/prompt/error/duration: known when restored from the store's `jobs` table (a
    snapshot has no field for them)."""


@dataclass(frozen=True, slots=True)
class LiveExport:
    """A plain copy of one session's jobs and artifacts, oldest first, at `version`."""

    jobs: tuple[JobRecord, ...]
    artifacts: tuple[Artifact, ...]
    version: int


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What `restore()` brought back; `unknown` are the ids of jobs whose end is not known."""

    jobs: int
    artifacts: int
    unknown: tuple[str, ...]
    lost: int
    """Jobs that were running without a job id: restored as failed (nobody can ask about them)."""


class LiveState:
    """Recent jobs and artifacts of one kernel; see the module docstring."""

    def __init__(
        self,
        loop: Callable[[], asyncio.AbstractEventLoop],
        *,
        max_artifacts: int = MAX_ARTIFACTS,
        max_jobs: int = MAX_JOBS,
        session: Callable[[], str | None] | None = None,
    ) -> None:
        self._loop = loop
        self.max_artifacts = max_artifacts
        self.max_jobs = max_jobs
        self._session = session
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self._job_ids: dict[str, Job] = {}
        self._artifacts: OrderedDict[str, Artifact] = OrderedDict()
        self._job_tags: dict[int, str | None] = {}
        self._artifact_tags: dict[str, str | None] = {}
        self._serial = 0
        self.counters: Counter[str] = Counter()
        self.version = 0
        """Counts changes to jobs and artifacts (read from any thread; written on the loop)."""
        self.on_change: Callable[[], None] | None = None
        """Called on the loop after every change (the kernel's debounced snapshot)."""
        self._posted: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self._posted_lock = threading.Lock()
        self._drain_loop: asyncio.AbstractEventLoop | None = None
        """The loop a drain of `_posted` is scheduled on, if one is."""

    # -- any thread -----------------------------------------------------------------------------

    def post(self, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(*args)` on the kernel's loop (soon, in order). When the kernel has no loop (it
        is stopping), run it here rather than lose the update.

        Updates are queued and drained in one loop callback: a burst of broadcasts wakes the loop
        once, not once per broadcast (each wake-up is a write to the loop's self-pipe, which took
        half of the gateway IO thread's time under a burst)."""
        try:
            loop: asyncio.AbstractEventLoop | None = self._loop()
        except (RuntimeError, AssertionError, AttributeError):
            loop = None
        with self._posted_lock:
            self._posted.append((fn, args))
            if loop is not None and self._drain_loop is loop and not loop.is_closed():
                return  # a drain is scheduled on the current loop: it takes this one too
            self._drain_loop = loop
        try:
            if loop is None:
                raise RuntimeError("no loop")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the kernel is stopping (no loop, or a closed one)
            self.counters["posted_without_loop"] += 1
            self._drain()

    def _drain(self) -> None:
        while True:
            with self._posted_lock:
                if not self._posted:
                    self._drain_loop = None
                    return
                batch = list(self._posted)
                self._posted.clear()
            for fn, args in batch:
                self._run(fn, args)

    def _run(self, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - one bad update must not stop the loop
            self.counters["update_errors"] += 1
            log.error("live_update_failed", error=f"{type(exc).__name__}: {exc}")

    def on_event(self, event: Any) -> None:
        """Hub sink (the gateway's IO thread): hand broadcasts of interest to the loop."""
        if isinstance(event, wire_broadcasts.ArtifactCreated | wire_broadcasts.JobStateChanged):
            self.post(self._apply, event)

    # -- the eval thread ------------------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        """Recent jobs, oldest first."""
        return list(self._jobs.values())

    @property
    def artifacts(self) -> list[Artifact]:
        """The last `max_artifacts` artifacts, oldest first."""
        return list(self._artifacts.values())

    def add_job(self, job: Job) -> Job:
        self._serial += 1
        self._jobs[self._serial] = job
        self._job_tags[self._serial] = self._current_session()
        if job.job_id is not None:
            self._job_ids[job.job_id] = job
        self._trim_jobs()
        self._changed()
        return job

    def find_job(self, job_id: str) -> Job | None:
        return self._job_ids.get(job_id)

    def find_artifact(self, artifact_id: str) -> Artifact | None:
        return self._artifacts.get(artifact_id)

    def add_artifact(self, artifact: Artifact) -> Artifact:
        """Add (or enrich) an artifact; the newest stay, the oldest beyond the limit go."""
        self._artifact_tags[artifact.id] = self._current_session()
        known = self._artifacts.get(artifact.id)
        if known is not None:
            artifact = known.merged(artifact)
            self._artifacts[artifact.id] = artifact
            self._changed()
            return artifact
        self._artifacts[artifact.id] = artifact
        self._trim_artifacts()
        self._changed()
        return artifact

    def finish_job(self, job: Job, outcome: GenerationOutcome) -> bool:
        """Settle `job` from the generation outcome (on the loop); False if already settled."""
        if job.done:
            return False
        job.duration_ms = outcome.duration_ms
        if outcome.job_id is not None:
            job.job_id = outcome.job_id
            seen = self._job_ids.get(outcome.job_id)
            if seen is not None and seen is not job:
                self._forget(seen)  # the broadcast overtook our reply: it is this very job
            self._job_ids[outcome.job_id] = job
        if outcome.state == "complete" and outcome.artifact_id:
            job.artifact = self.add_artifact(
                Artifact(
                    outcome.artifact_id, space=job.space, prompt=job.prompt, job_id=outcome.job_id
                )
            )
        if outcome.state == "complete":
            settled = job._settle("complete")
        else:
            settled = job._settle("failed", outcome.error or "no reason given")
        self._changed()
        return settled

    def name_job(self, job: Job, job_id: str) -> None:
        """Record the id hootenanny gave a running job (on the loop), so `jobs["<id>"]` finds it
        and a snapshot keeps it: a restored job with an id can be asked about after a restart.
        sample() posts it here from the GenerationClient's `on_started` hook, when the
        `jobStarted` reply arrives."""
        if job.done or job.job_id == job_id:
            return
        job.job_id = job_id
        seen = self._job_ids.get(job_id)
        if seen is not None and seen is not job:
            self._forget(seen)  # a broadcast listed it already: it is this very job
        self._job_ids[job_id] = job
        self._changed()

    def note(self, text: str) -> None:
        """A line for the agent, shown in the stderr of the current (or the next) eval. Only on
        the kernel's loop: without one (the system is stopping) there is nobody to tell."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            log.info("live_note_dropped", note=text)
            return
        print(f"vibeweaver: {text}", file=sys.stderr)

    # -- snapshots (on the loop) ----------------------------------------------------------------

    def entries(self) -> tuple[list[tuple[str | None, Job]], list[tuple[str | None, Artifact]]]:
        """Every job and artifact with the session it belongs to (None: untagged), oldest first
        (on the loop; the kernel's ledger writes them to the store)."""
        jobs = [(self._job_tags.get(key), job) for key, job in self._jobs.items()]
        artifacts = [
            (self._artifact_tags.get(artifact_id), artifact)
            for artifact_id, artifact in self._artifacts.items()
        ]
        return jobs, artifacts

    def export(self, session_id: str | None = None) -> LiveExport:
        """The jobs and artifacts of `session_id` (all when None; untagged ones always count)."""

        def mine(tag: str | None) -> bool:
            return session_id is None or tag is None or tag == session_id

        jobs = tuple(
            _record(job) for key, job in self._jobs.items() if mine(self._job_tags.get(key))
        )
        artifacts = tuple(
            artifact
            for artifact_id, artifact in self._artifacts.items()
            if mine(self._artifact_tags.get(artifact_id))
        )
        return LiveExport(jobs=jobs, artifacts=artifacts, version=self.version)

    def restore(
        self,
        jobs: Iterable[JobRecord],
        artifacts: Iterable[Artifact],
        *,
        session_id: str | None = None,
        leaving: str | None = None,
    ) -> RestoreReport:
        """Bring a snapshot's jobs and artifacts back, as the oldest entries (newer entries with
        the same ids win). `leaving`: the kernel switched from that session to `session_id`; the
        finished entries of `leaving` go (its snapshot keeps them), jobs still running stay, and
        every remaining entry counts as `session_id`'s from now on."""
        if leaving is not None:
            self._leave_session(leaving, session_id)
        restored_artifacts: OrderedDict[str, Artifact] = OrderedDict()
        for artifact in artifacts:
            restored_artifacts[artifact.id] = artifact
        merged: OrderedDict[str, Artifact] = OrderedDict()
        for artifact_id, artifact in restored_artifacts.items():
            if artifact_id not in self._artifacts:
                merged[artifact_id] = artifact
                self._artifact_tags[artifact_id] = session_id
        added_artifacts = len(merged)
        for artifact_id, artifact in self._artifacts.items():
            old = restored_artifacts.get(artifact_id)
            merged[artifact_id] = artifact if old is None else artifact.merged(old)
        self._artifacts = merged
        self._trim_artifacts()

        unknown: list[str] = []
        lost = 0
        new_jobs: OrderedDict[int, Job] = OrderedDict()
        for record in jobs:
            if record.job_id is not None and record.job_id in self._job_ids:
                continue  # known already (a newer entry)
            job = self._restored_job(record, restored_artifacts)
            if job.state == "pending" and job.job_id is not None:
                unknown.append(job.job_id)
            elif record.state in ("pending", "running"):
                lost += 1
            self._serial += 1
            new_jobs[self._serial] = job
            self._job_tags[self._serial] = session_id
            if job.job_id is not None:
                self._job_ids[job.job_id] = job
        added_jobs = len(new_jobs)
        new_jobs.update(self._jobs)
        self._jobs = new_jobs
        self._trim_jobs()
        self.counters["restored_jobs"] += added_jobs
        self.counters["restored_artifacts"] += added_artifacts
        self._changed()
        return RestoreReport(
            jobs=added_jobs, artifacts=added_artifacts, unknown=tuple(unknown), lost=lost
        )

    def restored_unknown(self) -> list[str]:
        """Ids of restored jobs whose end is not known yet (what to ask hootenanny about)."""
        return [
            job.job_id
            for job in self._jobs.values()
            if job.restored and not job.done and job.job_id is not None
        ]

    def settle_restored(
        self,
        job_id: str,
        state: Literal["running", "complete", "failed"],
        *,
        artifact_id: str | None = None,
        error: str | None = None,
        how: str = "hootenanny said so after the restart",
    ) -> bool:
        """Record what became known of a restored job (a jobStatus answer, a broadcast): still
        running (the note changes), complete (with its artifact) or failed. False if the job is
        not a restored one still open."""
        job = self._job_ids.get(job_id)
        if job is None or not job.restored or job.done:
            return False
        if state == "running":
            note = f"running ({how})"
            if job.status_note == note:
                return False
            job.status_note = note
            self._changed()
            return True
        job.status_note = None
        if state == "complete":
            if artifact_id:
                job.artifact = self.add_artifact(Artifact(artifact_id, job_id=job_id))
            job._settle("complete")
            ending = f"complete → {artifact_id}" if artifact_id else "complete (no artifact)"
        else:
            job._settle("failed", error or "no reason given")
            ending = f"failed: {job.error}"
        self._changed()
        self.note(f"{job.label} (running before the restart) ended: {ending}")
        return True

    # -- internals ------------------------------------------------------------------------------

    def _current_session(self) -> str | None:
        if self._session is None:
            return None
        try:
            return self._session()
        except Exception:  # noqa: BLE001 - a tag is a nicety, never a failure
            return None

    def _changed(self) -> None:
        self.version += 1
        hook = self.on_change
        if hook is not None:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 - saving later must not break an update
                log.error("live_change_hook_failed", error=f"{type(exc).__name__}: {exc}")

    def _restored_job(self, record: JobRecord, artifacts: dict[str, Artifact]) -> Job:
        job = Job(record.space, record.prompt, origin="restored")
        job.job_id = record.job_id
        job.duration_ms = record.duration_ms
        if record.state == "complete":
            if record.artifact_id:
                job.artifact = artifacts.get(record.artifact_id) or Artifact(
                    record.artifact_id, job_id=record.job_id
                )
            job._settle("complete")
        elif record.state == "failed":
            job._settle("failed", record.error or RESTORED_FAILED)
        elif record.job_id is None:
            job._settle("failed", LOST_WITHOUT_ID)
        else:
            job.status_note = UNKNOWN_AFTER_RESTART
        if job.done:
            job.finished_at = None  # when it ended is not kept
        return job

    def _leave_session(self, left: str, entered: str | None) -> None:
        """Drop the finished entries of `left`; the rest (jobs of `left` still running, entries of
        a session visited only in the middle of a cell) now belong to `entered`."""
        for key, job in list(self._jobs.items()):
            if self._job_tags.get(key) == left and job.done:
                self._remove_job(key, job)
            else:
                self._job_tags[key] = entered
        for artifact_id in list(self._artifacts):
            if self._artifact_tags.get(artifact_id) == left:
                del self._artifacts[artifact_id]
                self._artifact_tags.pop(artifact_id, None)
            else:
                self._artifact_tags[artifact_id] = entered

    def _remove_job(self, key: int, job: Job) -> None:
        del self._jobs[key]
        self._job_tags.pop(key, None)
        if job.job_id is not None and self._job_ids.get(job.job_id) is job:
            del self._job_ids[job.job_id]

    def _forget(self, job: Job) -> None:
        for key, value in list(self._jobs.items()):
            if value is job:
                del self._jobs[key]
                self._job_tags.pop(key, None)

    def _trim_jobs(self) -> None:
        excess = len(self._jobs) - self.max_jobs
        if excess <= 0:
            return
        for key, job in list(self._jobs.items()):
            if excess <= 0:
                break
            if job.done:
                self._remove_job(key, job)
                excess -= 1

    def _trim_artifacts(self) -> None:
        while len(self._artifacts) > self.max_artifacts:
            artifact_id, _ = self._artifacts.popitem(last=False)
            self._artifact_tags.pop(artifact_id, None)

    def _apply(self, event: Any) -> None:
        if isinstance(event, wire_broadcasts.ArtifactCreated):
            self.counters["artifact_created"] += 1
            self.add_artifact(
                Artifact(
                    event.artifact_id,
                    tags=tuple(event.tags),
                    creator=event.creator or None,
                    content_hash=event.content_hash or None,
                )
            )
        elif isinstance(event, wire_broadcasts.JobStateChanged):
            self.counters["job_state_changed"] += 1
            self._job_state_changed(event)

    def _job_state_changed(self, event: wire_broadcasts.JobStateChanged) -> None:
        """Jobs of this kernel are settled by their generation outcome; a restored job that was
        running is settled by its final broadcast; a generation job of someone else (a latent
        job, another client) that produced an artifact is listed too."""
        known = self._job_ids.get(event.job_id)
        if known is not None:
            if known.restored and not known.done:
                self._settle_restored_from(event)
            return
        if event.state != "complete":
            return
        artifact_id = _artifact_id(event.result)
        if artifact_id is None:
            return  # garden acks and region jobs: no artifact, not a generation
        job = Job(None, origin="hootenanny")
        job.job_id = event.job_id
        job.artifact = self.add_artifact(Artifact(artifact_id, job_id=event.job_id))
        job._settle("complete")
        self.add_job(job)

    def _settle_restored_from(self, event: wire_broadcasts.JobStateChanged) -> None:
        how = "a jobStateChanged broadcast after the restart"
        if event.state == "complete":
            self.settle_restored(
                event.job_id, "complete", artifact_id=_artifact_id(event.result), how=how
            )
        elif event.state == "failed":
            payload = _json(event.result)
            reason = payload.get("error") if isinstance(payload, dict) else None
            error = str(reason) if reason else (event.result or "no reason given")
            self.settle_restored(event.job_id, "failed", error=error, how=how)
        elif event.state == "cancelled":
            self.settle_restored(event.job_id, "failed", error="cancelled", how=how)
        elif event.state == "running":
            self.settle_restored(event.job_id, "running", how=how)


def _record(job: Job) -> JobRecord:
    if job.state == "pending":
        return JobRecord(job.job_id, "running" if job.job_id else "pending")
    artifact_id = job.artifact.id if job.artifact is not None else None
    return JobRecord(job.job_id, job.state, artifact_id)


def _json(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _artifact_id(result: str) -> str | None:
    value = _json(result)
    artifact_id = value.get("artifact_id") if isinstance(value, dict) else None
    return artifact_id if isinstance(artifact_id, str) and artifact_id else None


def artifact_ids(items: Iterable[Artifact | Job]) -> list[str]:
    """The ids of artifacts and completed jobs (for history lines)."""
    out = []
    for item in items:
        if isinstance(item, Artifact):
            out.append(item.id)
        elif isinstance(item, Job) and item.artifact is not None:
            out.append(item.artifact.id)
    return out
