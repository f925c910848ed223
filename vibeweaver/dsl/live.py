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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter, OrderedDict
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


class Pending:
    """An outcome that arrives later, awaitable any number of times (see the module docstring)."""

    def __init__(self) -> None:
        self.state: PendingState = "pending"
        self.error: str | None = None
        self.created_at = time.time()
        self.finished_at: float | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._awaited = 0

    def done(self) -> bool:
        """True once it completed or failed."""
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

    def _value(self) -> Any:
        raise NotImplementedError

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
        self, space: str | None, prompt: str | None = None, *, origin: str = "sample"
    ) -> None:
        super().__init__()
        self.space = space
        self.prompt = prompt
        self.origin = origin
        self.job_id: str | None = None
        self.artifact: Artifact | None = None
        self.duration_ms: float | None = None

    @property
    def label(self) -> str:
        """How history and errors name this job: sample(space, "prompt")."""
        if self.origin != "sample":
            return f"job {self.job_id}"
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
        subject = self.space or "(another client)"
        if self.prompt:
            subject += f" {self.prompt!r}"
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


class LiveState:
    """Recent jobs and artifacts of one kernel; see the module docstring."""

    def __init__(
        self,
        loop: Callable[[], asyncio.AbstractEventLoop],
        *,
        max_artifacts: int = MAX_ARTIFACTS,
        max_jobs: int = MAX_JOBS,
    ) -> None:
        self._loop = loop
        self.max_artifacts = max_artifacts
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self._job_ids: dict[str, Job] = {}
        self._artifacts: OrderedDict[str, Artifact] = OrderedDict()
        self._serial = 0
        self.counters: Counter[str] = Counter()

    # -- any thread -----------------------------------------------------------------------------

    def post(self, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(*args)` on the kernel's loop (soon, in order). When the kernel has no loop (it
        is stopping), run it here rather than lose the update."""
        try:
            loop = self._loop()
            loop.call_soon_threadsafe(self._run, fn, args)
        except (RuntimeError, AssertionError, AttributeError):
            self.counters["posted_without_loop"] += 1
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
        if job.job_id is not None:
            self._job_ids[job.job_id] = job
        self._trim_jobs()
        return job

    def find_job(self, job_id: str) -> Job | None:
        return self._job_ids.get(job_id)

    def find_artifact(self, artifact_id: str) -> Artifact | None:
        return self._artifacts.get(artifact_id)

    def add_artifact(self, artifact: Artifact) -> Artifact:
        """Add (or enrich) an artifact; the newest stay, the oldest beyond the limit go."""
        known = self._artifacts.get(artifact.id)
        if known is not None:
            artifact = known.merged(artifact)
            self._artifacts[artifact.id] = artifact
            return artifact
        self._artifacts[artifact.id] = artifact
        while len(self._artifacts) > self.max_artifacts:
            self._artifacts.popitem(last=False)
        return artifact

    def finish_job(self, job: Job, outcome: GenerationOutcome) -> bool:
        """Settle `job` from the generation outcome (on the loop); False if already settled."""
        if job.done():
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
            return job._settle("complete")
        return job._settle("failed", outcome.error or "no reason given")

    def note(self, text: str) -> None:
        """A line for the agent, shown in the stderr of the current (or the next) eval. Only on
        the kernel's loop: without one (the system is stopping) there is nobody to tell."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            log.info("live_note_dropped", note=text)
            return
        print(f"vibeweaver: {text}", file=sys.stderr)

    def _forget(self, job: Job) -> None:
        for key, value in list(self._jobs.items()):
            if value is job:
                del self._jobs[key]

    def _trim_jobs(self) -> None:
        excess = len(self._jobs) - self.max_jobs
        if excess <= 0:
            return
        for key, job in list(self._jobs.items()):
            if excess <= 0:
                break
            if job.done():
                del self._jobs[key]
                if job.job_id is not None and self._job_ids.get(job.job_id) is job:
                    del self._job_ids[job.job_id]
                excess -= 1

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
        """Jobs of this kernel are settled by their generation outcome; a generation job of
        someone else (a latent job, another client) that produced an artifact is listed too."""
        if event.job_id in self._job_ids or event.state != "complete":
            return
        artifact_id = _artifact_id(event.result)
        if artifact_id is None:
            return  # garden acks and region jobs: no artifact, not a generation
        job = Job(None, origin="hootenanny")
        job.job_id = event.job_id
        job.artifact = self.add_artifact(Artifact(artifact_id, job_id=event.job_id))
        job._settle("complete")
        self.add_job(job)


def _artifact_id(result: str) -> str | None:
    if not result:
        return None
    try:
        value = json.loads(result)
    except ValueError:
        return None
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
