"""latent(space, prompt, deadline, priority="normal") → LatentRef: generation ready by a beat.

`latent(...)` stores a Deadline rule (trigger `Deadline(beat=deadline)`, action `Sample(space,
prompt)`) and returns at once. The DeadlinePlanner starts the generation at the latest moment that
still finishes by the deadline (from the space's measured generation times, with a safety margin
for high and critical priority). The rule is persisted, so a latent survives a restart as a pending
rule and is planned again; only the `LatentRef` object, like every Python global, does not.

    ref = latent("orpheus_loops", "dark kick", deadline=64, priority="high")
    ref            # <LatentRef latent_3f…: orpheus_loops 'dark kick' by beat 64 (high), waiting>
    ref.state, ref.done  # "waiting" → "running" → "complete"/"failed"/"cancelled", no await needed
    kick = await ref  # the LatentResult once generated (raises LatentError if it failed)
    ref.materialize()  # start now instead of at the planned moment
    ref.cancel()       # forget it (delete the rule)

A ref follows its latent without being awaited: `latent()` sends the planner a `WatchLatent`
whose hooks (the generation started; it ended) are handed to the kernel's loop, which runs between
evals too, so `ref.state`, `ref.done` and `ref.job_id` are current whenever a cell reads them.

How completion reaches an awaiting cell without involving the KernelActor: awaiting a ref creates a
future on the kernel's asyncio loop and sends the planner `WatchLatent` with a callback that hands
the outcome to that loop (`call_soon_threadsafe`). `WatchLatent` and `MaterializeLatent` go through
the scheduler, like the `RuleSaved` that `latent()` sends: the scheduler hands the new latent to the
planner (`PlanLatent`) before relaying them, so `ref = latent(...); await ref` never reaches a
planner that does not know the latent yet, however busy the scheduler is. A latent that already
ended is remembered by the planner, so a late `await` still gets its outcome; an await on a latent
whose session was left before it started ends with a LatentError (the rule stays stored and is
planned again when that session is entered). The futures live
here, keyed per loop, so two kernels in one process never see each other's, and a `weave_reset`
(which cancels the loop's pending futures) simply makes the next `await` register again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import uuid
import weakref
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vibeweaver.actors.planner.messages import LatentCompleted, MaterializeLatent, WatchLatent
from vibeweaver.actors.scheduler.messages import RuleDeleted, RuleSaved
from vibeweaver.dsl.checks import check_name, check_text
from vibeweaver.dsl.context import DslContext, DslError, current
from vibeweaver.dsl.live import LiveState
from vibeweaver.scheduling.rules import (
    DeadlineTrigger,
    Rule,
    SampleAction,
    freeze_inference,
    rule_to_record,
)
from vibeweaver.types import Priority, RuleId

if TYPE_CHECKING:
    from vibeweaver.actors.system import ActorHandle

__all__ = ["LatentError", "LatentRef", "LatentResult", "latent"]


class LatentError(DslError):
    """Awaiting a latent that failed, was cancelled, or is unknown to the planner."""


@dataclass(frozen=True, slots=True)
class LatentResult:
    """What awaiting a LatentRef gives: the generated artifact (usable wherever an artifact id is:
    `schedule(result, at=64)` and `str(result)` give the id)."""

    artifact_id: str
    space: str
    prompt: str | None
    deadline: float
    job_id: str | None = None
    duration_ms: float | None = None
    late: bool = False

    @property
    def id(self) -> str:
        return self.artifact_id

    def __str__(self) -> str:
        return self.artifact_id

    def __repr__(self) -> str:
        took = "" if self.duration_ms is None else f", {self.duration_ms / 1000:.1f} s"
        timing = "late" if self.late else "on time"
        return (
            f"<LatentResult {self.artifact_id} from {self.space}{took}, "
            f"{timing} for beat {self.deadline:g}>"
        )


@dataclass(slots=True)
class _Live:
    """The latent futures of one kernel loop (touched only on that loop's thread)."""

    futures: dict[RuleId, asyncio.Future[LatentCompleted]] = field(default_factory=dict)


_LIVE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Live] = weakref.WeakKeyDictionary()
_LIVE_LOCK = threading.Lock()


def _live_for(loop: asyncio.AbstractEventLoop) -> _Live:
    with _LIVE_LOCK:
        live = _LIVE.get(loop)
        if live is None:
            live = _Live()
            _LIVE[loop] = live
        return live


def _resolve(future: asyncio.Future[LatentCompleted], completed: LatentCompleted) -> None:
    if not future.done():
        future.set_result(completed)


class LatentRef:
    """A handle on one latent: awaitable, `cancel()`, `materialize()`; see the module docstring."""

    __slots__ = (
        "_outcome",
        "_planner",
        "_scheduler",
        "_started",
        "deadline",
        "id",
        "priority",
        "prompt",
        "space",
    )

    def __init__(
        self,
        rule_id: RuleId,
        *,
        space: str,
        prompt: str | None,
        deadline: float,
        priority: Priority,
        planner: ActorHandle,
        scheduler: ActorHandle,
    ) -> None:
        self.id = rule_id
        self.space = space
        self.prompt = prompt
        self.deadline = deadline
        self.priority = priority
        self._planner = planner
        self._scheduler = scheduler
        self._outcome: LatentCompleted | None = None
        self._started = False

    def __repr__(self) -> str:
        prompt = "" if self.prompt is None else f" {self.prompt!r}"
        level = "" if self.priority is Priority.NORMAL else f" ({self.priority.value})"
        return (
            f"<LatentRef {self.id}: {self.space}{prompt} by beat {self.deadline:g}{level}, "
            f"{self.state}>"
        )

    @property
    def state(self) -> str:
        """Follows the latent without an await: "waiting" (planned), "running" (its generation
        started), then "complete", "failed", "cancelled" (or "unknown": the planner lost track,
        e.g. its session was left)."""
        if self._outcome is not None:
            return self._outcome.state
        return "running" if self._started else "waiting"

    @property
    def done(self) -> bool:
        """True once it ended (a property, like `state` and `Job.done`: `if ref.done:`)."""
        return self._outcome is not None

    @property
    def job_id(self) -> str | None:
        """hootenanny's job id, once the latent ended (None for a direct space)."""
        return None if self._outcome is None else self._outcome.job_id

    def _follow(self, post: Callable[..., None]) -> None:
        """Watch the latent so `state`/`done` follow it; `post(fn, *args)` runs fn on the kernel's
        loop (the hooks run on the planner's thread). A planner that is not running leaves the
        ref "waiting" until an await asks again."""

        def saw_start() -> None:
            post(self._saw_start)

        def saw_end(completed: LatentCompleted) -> None:
            post(self._saw_end, completed)

        if self._planner.accepting:
            watch = WatchLatent(rule_id=self.id, callback=saw_end, on_started=saw_start)
            self._scheduler.tell(watch)

    def _saw_start(self) -> None:
        self._started = True

    def _saw_end(self, completed: LatentCompleted) -> None:
        if self._outcome is None:
            self._outcome = completed

    def cancel(self) -> bool:
        """Forget this latent: delete its rule (a running generation's result is ignored).
        True if the rule existed."""
        ctx = current()
        deleted = ctx.store.delete_rule(self.id)
        ctx.scheduler.tell(RuleDeleted(rule_id=self.id))
        result = "cancelled" if deleted else "not found"
        ctx.record("latent_cancel", self.id, result, success=deleted)
        return deleted

    def materialize(self) -> LatentRef:
        """Start the generation now (as soon as a unit of capacity is free), ahead of its plan;
        returns this ref, so `await ref.materialize()` gives the result."""
        ctx = current()
        if not ctx.planner.accepting or not ctx.scheduler.tell(MaterializeLatent(rule_id=self.id)):
            raise LatentError("the deadline planner is not running; the latent cannot start")
        ctx.record("latent_materialize", self.id)
        return self

    def __await__(self) -> Generator[Any, None, LatentResult]:
        return self._wait().__await__()

    async def _wait(self) -> LatentResult:
        completed = await self._future()
        self._outcome = completed
        return self._result(completed)

    def _future(self) -> asyncio.Future[LatentCompleted]:
        loop = asyncio.get_running_loop()
        live = _live_for(loop)
        future = live.futures.get(self.id)
        if future is not None and not future.cancelled():
            return future
        future = loop.create_future()
        live.futures[self.id] = future

        def deliver(completed: LatentCompleted) -> None:  # on the planner's thread
            loop.call_soon_threadsafe(_resolve, future, completed)

        watch = WatchLatent(rule_id=self.id, callback=deliver)
        if not self._planner.accepting or not self._scheduler.tell(watch):
            live.futures.pop(self.id, None)
            raise LatentError("the deadline planner is not running; cannot wait for the latent")
        return future

    def _result(self, completed: LatentCompleted) -> LatentResult:
        what = f"latent {self.space} for beat {self.deadline:g}"
        if completed.state == "complete" and completed.artifact_id is not None:
            return LatentResult(
                artifact_id=completed.artifact_id,
                space=self.space,
                prompt=self.prompt,
                deadline=self.deadline,
                job_id=completed.job_id,
                duration_ms=completed.duration_ms,
                late=completed.late,
            )
        if completed.state == "cancelled":
            raise LatentError(f"{what} was cancelled ({completed.error or 'cancelled'})")
        if completed.state == "unknown":
            raise LatentError(f"{what}: {completed.error}")
        raise LatentError(f"{what} failed: {completed.error or 'no artifact was produced'}")


def latent(
    space: str,
    prompt: str | None,
    deadline: float,
    priority: str = "normal",
    *,
    inference: Mapping[str, object] | None = None,
) -> LatentRef:
    """Generate from `space` (with `prompt`) so that it is ready by beat `deadline`; the planner
    decides when to start. Returns a LatentRef (await it for the result)."""
    ctx = current()
    space = check_name(space, "latent()", "space")
    if prompt is not None:
        prompt = check_text(prompt, "latent()", "prompt")
    if (
        isinstance(deadline, bool)
        or not isinstance(deadline, int | float)
        or not math.isfinite(deadline)
        or deadline < 0
    ):
        raise DslError(f"latent(): deadline must be a beat number ≥ 0, not {deadline!r}")
    try:
        level = Priority.parse(priority)
        action = SampleAction(
            space=space.strip(), prompt=prompt, inference=freeze_inference(inference or {})
        )
    except ValueError as exc:
        raise DslError(f"latent(): {exc}") from None
    rule = Rule(
        id=RuleId(f"latent_{uuid.uuid4().hex[:12]}"),
        session_id=ctx.session.id,
        trigger=DeadlineTrigger(beat=float(deadline)),
        action=action,
        priority=level,
        created_at=datetime.now(UTC),
    )
    saved = ctx.store.save_rule(rule_to_record(rule))
    ctx.scheduler.tell(RuleSaved(rule=saved))
    shown = [action.space]
    if prompt:
        shown.append(json.dumps(prompt, ensure_ascii=False))
    shown.append(f"deadline={float(deadline):g}")
    if level is not Priority.NORMAL:
        shown.append(f"priority={level.value}")
    ctx.record("latent", ", ".join(shown), saved.id)
    ref = LatentRef(
        RuleId(saved.id),
        space=action.space,
        prompt=prompt,
        deadline=float(deadline),
        priority=level,
        planner=ctx.planner,
        scheduler=ctx.scheduler,
    )
    ref._follow(_poster(ctx))
    return ref


def _poster(ctx: DslContext) -> Callable[..., None]:
    """How to run a function on this kernel's loop from another thread: the LiveState's `post`
    (which finds the current loop, even after the eval thread was replaced), else this loop's
    (without a loop, a plain call: the hooks only set fields)."""
    live = ctx.live
    if isinstance(live, LiveState):
        return live.post
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _call_now

    def call_soon(fn: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody reads the ref any more
            loop.call_soon_threadsafe(fn, *args)

    return call_soon


def _call_now(fn: Callable[..., object], *args: object) -> None:
    fn(*args)
