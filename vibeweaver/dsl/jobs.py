"""sample(), gather() and the read-only views `jobs` and `artifacts`.

`sample(space, prompt)` starts a generation through the kernel's GenerationClient and returns a
`Job`; `await job` gives its `Artifact` (raising GenerationFailed with hootenanny's reason when it
fails). For a job space (musicgen, yue, ...) sample() returns once hootenanny's `jobStarted` reply
named the job (one round trip), so `job.id` is set at once and `@on_job(job)` works; a direct space
(orpheus_*, abc) has no job, its reply is the result, so sample() returns at once with `job.id`
None. With hootenanny configured but down, sample() raises GenerationFailed naming the endpoint
within the link's connect grace (about 1 s), before sending anything. A job that finishes before
anybody awaits it is not missed, and one that outlives its cell (eval timeout, `weave_reset`)
still lands in `jobs` and `artifacts` and can be awaited in a later cell. Each finished sample
is written to the session history: `sample(orpheus_loops, "kick") → artifact_abc ✓`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Iterable, Iterator, Mapping
from typing import Any, overload

from vibeweaver.actors.gateway.link import CONNECT_GRACE_S
from vibeweaver.dsl.checks import check_name, check_text
from vibeweaver.dsl.context import DslContext, DslError, current
from vibeweaver.dsl.live import Artifact, GenerationFailed, Job, LiveState, artifact_ids
from vibeweaver.errors import NotConnected, VibeweaverError
from vibeweaver.generation import SPACES, GenerationRequestError, build_request, resolve_space

NAMED_MARGIN_S = 1.0
"""sample() waits for a job space's `jobStarted` reply this long beyond the request timeout (the
GenerationClient reports one or the other within it; this only bounds the wait if it does not)."""

__all__ = ["Artifact", "GenerationFailed", "Job", "artifacts", "gather", "jobs", "sample", "spaces"]


def live_state(ctx: DslContext) -> LiveState:
    live = ctx.live
    if not isinstance(live, LiveState):
        raise DslError("this kernel keeps no live job state (it was started without one)")
    return live


def sample(
    space: str,
    prompt: str | None = None,
    inference: Mapping[str, Any] | None = None,
    tags: Iterable[str] | None = None,
    *,
    timeout: float | None = None,
) -> Job:
    """Generate in `space` (see `spaces()`); returns a Job: `kick = await sample("orpheus_loops")`.

    `inference` sets model parameters by name (temperature, duration, ...), `tags` are stored with
    the artifact, `timeout` bounds the whole job in seconds (default: the service's)."""
    ctx = current()
    live = live_state(ctx)
    if tags is not None and isinstance(tags, str):
        tags = [tags]
    if prompt is not None:
        prompt = check_text(prompt, "sample()", "prompt")
    if tags is not None:
        try:
            tags = [check_name(tag, "sample()", "tags") for tag in tags]
        except TypeError:
            raise DslError(
                f"sample(): tags must be a string or a list of strings, not {tags!r}"
            ) from None
    try:
        spec = resolve_space(space)
        build_request(spec, prompt, inference=inference or {}, tags=tags or ())
    except GenerationRequestError as exc:
        raise DslError(f"sample(): {exc}") from None
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise DslError(f"sample(): timeout must be a positive number of seconds, not {timeout!r}")
    generation = ctx.generation
    if generation is None:
        raise DslError(
            "sample(): this kernel has no generation client (hootenanny is not wired in)"
        )
    job = Job(spec.name, prompt, tags=tuple(tags or ()))
    try:
        ctx.link.require_reachable(job.label, CONNECT_GRACE_S)
    except NotConnected as exc:
        ctx.record(job.label, None, str(exc), success=False)
        raise GenerationFailed(str(exc)) from None
    live.add_job(job)
    answered = threading.Event()
    named: list[str] = []
    ended: list[Any] = []

    def on_outcome(outcome: Any) -> None:  # any thread: hand it to the kernel's loop
        ended.append(outcome)
        answered.set()
        live.post(_settle, ctx, live, job, outcome)

    def on_started(job_id: str) -> None:  # the IO thread: name the job on the kernel's loop
        named.append(job_id)
        answered.set()
        live.post(live.name_job, job, job_id)

    generation.start(
        spec.name,
        prompt,
        inference=inference or {},
        tags=tags or (),
        callback=on_outcome,
        timeout=None if timeout is None else float(timeout),
        on_started=on_started,
    )
    if spec.kind == "job":
        # on the kernel's loop: what was posted meanwhile runs after this cell yields; the job is
        # named (or settled) here at once, and the posted updates find it done
        _wait_interruptibly(answered, generation.request_timeout + NAMED_MARGIN_S)
        if named:
            live.name_job(job, named[0])
        elif ended:
            _settle(ctx, live, job, ended[0], report=False)
            job.result()  # raises GenerationFailed with the reason
    return job


def _wait_interruptibly(event: threading.Event, timeout: float) -> bool:
    """`event.wait(timeout)` in short slices, so the kernel's interrupt (an eval timeout, a reset)
    reaches this thread between them instead of after the whole wait."""
    deadline = time.monotonic() + timeout
    while not event.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            return False
    return True


def _settle(
    ctx: DslContext, live: LiveState, job: Job, outcome: Any, *, report: bool = True
) -> None:
    """On the kernel's loop: settle the job, record it in history, report unawaited failures."""
    awaited = job.awaited
    if not live.finish_job(job, outcome):
        return
    if job.state == "complete" and job.artifact is not None:
        ctx.record(job.label, None, job.artifact.id)
        return
    error = job.error if job.state == "failed" else "completed without an artifact"
    ctx.record(job.label, None, error, success=False)
    if report and not awaited:
        live.note(f"{job.label} failed: {error}")


def gather(
    *items: Awaitable[Any] | Iterable[Awaitable[Any]], return_exceptions: bool = False
) -> Any:
    """Await several jobs at once: `a, b = await gather(sample(...), sample(...))` (a list also
    works: `await gather(pending)`). The first failure raises unless return_exceptions=True."""
    awaitables: list[Awaitable[Any]] = []
    for item in items:
        if isinstance(item, (list, tuple, set, frozenset, JobsView)):
            awaitables.extend(item)
        else:
            awaitables.append(item)  # type: ignore[arg-type]
    for item in awaitables:
        if not hasattr(item, "__await__"):
            raise DslError(f"gather(): {item!r} is not awaitable (pass jobs from sample())")
    ctx = current()
    return _gather(ctx, awaitables, return_exceptions)


async def _gather(
    ctx: DslContext, awaitables: list[Awaitable[Any]], return_exceptions: bool
) -> list[Any]:
    results = list(
        await asyncio.gather(
            *(_awaiting(a) for a in awaitables), return_exceptions=return_exceptions
        )
    )
    ids = artifact_ids(r for r in results if isinstance(r, Artifact))
    failed = sum(1 for r in results if isinstance(r, BaseException))
    ctx.record(f"gather({len(awaitables)})", None, ", ".join(ids) or None, success=not failed)
    return results


async def _awaiting(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def spaces() -> dict[str, str]:
    """The generation spaces sample() knows, with what each one makes."""
    return {name: space.description for name, space in SPACES.items()}


class JobsView:
    """`jobs`: this kernel's recent generation jobs, oldest first (`jobs[-1]`, `jobs["<job id>"]`,
    `jobs.running`, `jobs.failed`)."""

    __slots__ = ()

    def _all(self) -> list[Job]:
        return live_state(current()).jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, key: int | str) -> Job: ...
    @overload
    def __getitem__(self, key: slice) -> list[Job]: ...
    def __getitem__(self, key: int | slice | str) -> Job | list[Job]:
        if isinstance(key, str):
            found = live_state(current()).find_job(key)
            if found is None:
                raise KeyError(f"no recent job {key!r}")
            return found
        return self._all()[key]

    @property
    def running(self) -> list[Job]:
        return [job for job in self._all() if not job.done]

    @property
    def failed(self) -> list[Job]:
        return [job for job in self._all() if job.state == "failed"]

    def __repr__(self) -> str:
        try:
            all_jobs = self._all()
        except VibeweaverError:
            return "<jobs: no kernel>"
        running = sum(1 for job in all_jobs if not job.done)
        head = f"<jobs: {len(all_jobs)} recent, {running} running>"
        return "\n  ".join([head, *(repr(job) for job in all_jobs[-10:])])


class ArtifactsView:
    """`artifacts`: the last 100 artifacts this kernel saw (its own results and hootenanny's
    `artifactCreated` broadcasts), oldest first (`artifacts[-1]`, `artifacts.latest`,
    `artifacts["artifact_…"]`, `artifacts.tagged("type:midi")`)."""

    __slots__ = ()

    def _all(self) -> list[Artifact]:
        return live_state(current()).artifacts

    def __iter__(self) -> Iterator[Artifact]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, item: object) -> bool:
        key = item.id if isinstance(item, Artifact) else item
        return isinstance(key, str) and live_state(current()).find_artifact(key) is not None

    @overload
    def __getitem__(self, key: int | str) -> Artifact: ...
    @overload
    def __getitem__(self, key: slice) -> list[Artifact]: ...
    def __getitem__(self, key: int | slice | str) -> Artifact | list[Artifact]:
        if isinstance(key, str):
            found = live_state(current()).find_artifact(key)
            if found is None:
                raise KeyError(f"no recent artifact {key!r}")
            return found
        return self._all()[key]

    @property
    def latest(self) -> Artifact | None:
        items = self._all()
        return items[-1] if items else None

    def tagged(self, tag: str) -> list[Artifact]:
        return [artifact for artifact in self._all() if tag in artifact.tags]

    def __repr__(self) -> str:
        try:
            items = self._all()
        except VibeweaverError:
            return "<artifacts: no kernel>"
        head = f"<artifacts: {len(items)} recent>"
        return "\n  ".join([head, *(repr(a) for a in items[-10:])])


jobs = JobsView()
artifacts = ArtifactsView()
