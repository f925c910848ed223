"""DeadlinePlanner: when each latent job starts, and the generation statistics that decide it.

State owned: per-space generation statistics (count, mean and p95 over recent durations; re-read
from the store's generation_stats in `setup`, saved after each measured job), the pending and
running latent jobs of the current session (a `vibeweaver.scheduling.DeadlinePlanner`), a mirror
of the scheduler's clock (to turn deadline beats into times), the capacity (default 1 concurrent
job), and who waits for which latent.

Inputs, all tells: the RuleScheduler owns the Deadline rules and the clock and sends `SyncLatents`
(on its start, a session switch, or when this planner restarts and says `PlannerStarted`),
`PlanLatent`, `CancelLatent` and `ClockMoved`; the DSL sends `MaterializeLatent` and `WatchLatent`;
the wake timer sends `PlannerTick` at the next planned start; the generation layer's callback
sends `GenerationDone`. Outputs: `GenerationPort.start` for each dispatched job; `LatentFinished`
and `AddNote` to the scheduler; `LatentCompleted` on the hub and to watchers. The planner asks only
the store, and never the scheduler or the kernel.

Policy (SPEC 4.4): a job starts at the latest moment that still finishes by its deadline with its
priority's safety margin (1.5x critical, 1.2x high), computed from the space's p95; jobs are packed
onto the capacity so a more urgent job is never blocked behind a less urgent one. By default idle
capacity is not lent early (`idle_lookahead_s=0.0`), which keeps the GPU free for interactive
`sample()` calls; `idle_lookahead_s=None` lends it (a higher hit rate under load, see
ops/bench/bench_deadlines.py). A job that cannot make its deadline is started as soon as capacity
allows and reported once (a note in the session summary and a history entry); it is never dropped.

Crash: the whole planning state (including running jobs and watchers) is handed to the next
incarnation through the vault, so a generation that ends during the restart is still accounted.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.planner import messages as m
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.actors.scheduler.ports import MISSING_GENERATION, GenerationPort, failed_outcome
from vibeweaver.actors.scheduler.timer import ThreadWakeTimer, TimerFactory, WakeTimer
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.errors import VibeweaverError
from vibeweaver.scheduling import deadlines as planning
from vibeweaver.scheduling.clock import TransportClock
from vibeweaver.types import RuleId, SessionId, TransportState

__all__ = ["MAX_OUTCOMES", "DeadlinePlanner"]

MAX_OUTCOMES = 256
"""Ended latents remembered for late `WatchLatent` calls."""
_EPS = 1e-9
_REPORT_AFTER_S = 1e-6
"""A job is checked for lateness this long after its latest start (strictly after it)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _State:
    """Everything the planner knows; one object so a crash can hand it over whole."""

    planner: planning.DeadlinePlanner
    mirror: TransportClock
    session_id: SessionId | None = None
    specs: dict[RuleId, m.LatentSpec] = field(default_factory=dict)
    """Pending and running latents (planned and forced)."""
    tokens: dict[RuleId, int] = field(default_factory=dict)
    """The attempt of each running job; a GenerationDone with another token is stale."""
    forced_queue: list[RuleId] = field(default_factory=list)
    forced_running: dict[RuleId, float] = field(default_factory=dict)
    started_late: set[RuleId] = field(default_factory=set)
    reported: set[RuleId] = field(default_factory=set)
    watchers: dict[RuleId, list[Callable[[m.LatentCompleted], None]]] = field(default_factory=dict)
    outcomes: OrderedDict[RuleId, m.LatentCompleted] = field(default_factory=OrderedDict)
    next_token: int = 0


class DeadlinePlanner(WeaverActor):
    """Owns generation statistics and latent jobs; see the module docstring."""

    def __init__(
        self,
        context: ActorContext,
        *,
        config: Config,
        capacity: int = 1,
        hub: EventHub | None = None,
        generation: GenerationPort | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        timer_factory: TimerFactory = ThreadWakeTimer,
        idle_lookahead_s: float | None = 0.0,
        default_estimate_ms: float = planning.DEFAULT_ESTIMATE_MS,
        scheduler: str = "scheduler",
    ) -> None:
        super().__init__(context)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"planner capacity must be an integer >= 1, got {capacity!r}")
        self.config = config
        self.capacity = capacity
        self.hub = hub
        self.generation = generation
        self.clock = clock
        self.wall_clock = wall_clock
        self.idle_lookahead_s = idle_lookahead_s
        self.default_estimate_ms = default_estimate_ms
        self._timer_factory = timer_factory
        self.store = StoreClient(self.system.handle("store"))
        self.scheduler = self.system.handle(scheduler)
        self.me = self.system.handle(context.name)
        self.state: _State | None = None
        self.timer: WakeTimer | None = None
        self._wake: float | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        kept = self.context.vault.pop("state", None)
        self.state = kept if isinstance(kept, _State) else self._fresh_state()
        self.timer = self._timer_factory(f"{self.context.name}-timer", self.clock, self._knock)
        self.timer.start()
        self.scheduler.tell(sm.PlannerStarted())
        self._pump()

    def release(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        if self.crashed and self.state is not None:
            self.context.vault["state"] = self.state

    def _fresh_state(self) -> _State:
        stats = [
            planning.GenerationStats.from_record(record)
            for record in self.store.list_generation_stats()
        ]
        mirror = TransportClock(t=self.clock())
        holder: list[_State] = []

        def time_of(beat: float) -> float | None:
            return holder[0].mirror.try_time_of(beat)

        planner = planning.DeadlinePlanner(
            time_of=time_of,
            capacity=self.capacity,
            default_estimate_ms=self.default_estimate_ms,
            idle_lookahead_s=self.idle_lookahead_s,
            stats=stats,
        )
        state = _State(planner=planner, mirror=mirror)
        holder.append(state)
        return state

    def _knock(self) -> None:
        """The timer's callback (timer thread): only a tell."""
        if self.me.accepting:
            self.me.tell(m.PlannerTick())

    @property
    def s(self) -> _State:
        assert self.state is not None, "planner used before setup"
        return self.state

    # -- messages from the scheduler --------------------------------------------------------------

    @handles(m.SyncLatents)
    def sync(self, message: m.SyncLatents) -> None:
        s = self.s
        s.session_id = message.session_id
        self._set_clock(message.clock)
        listed = {spec.rule_id: spec for spec in message.latents}
        for job in s.planner.pending():
            if job.id not in listed:
                s.planner.cancel(job.id)
                s.specs.pop(RuleId(job.id), None)
        s.forced_queue = [rule_id for rule_id in s.forced_queue if rule_id in listed]
        now = self.clock()
        for spec in message.latents:
            if spec.rule_id not in s.specs:
                self._add(spec, now)
        self._pump()

    @handles(m.PlanLatent)
    def plan_latent(self, message: m.PlanLatent) -> None:
        spec = message.latent
        s = self.s
        if s.session_id is not None and spec.session_id != s.session_id:
            return
        if spec.rule_id not in s.specs:
            self._add(spec, self.clock())
        self._pump()

    @handles(m.CancelLatent)
    def cancel_latent(self, message: m.CancelLatent) -> None:
        s = self.s
        spec = s.specs.pop(message.rule_id, None)
        if spec is None:
            return
        s.planner.cancel(message.rule_id)
        s.forced_running.pop(message.rule_id, None)
        if message.rule_id in s.forced_queue:
            s.forced_queue.remove(message.rule_id)
        s.tokens.pop(message.rule_id, None)
        self._finish(self._completed(spec, "cancelled", error=message.reason), tell=False)
        self._pump()

    @handles(m.ClockMoved)
    def clock_moved(self, message: m.ClockMoved) -> None:
        self._set_clock(message.clock)
        self._pump()

    # -- messages from the DSL --------------------------------------------------------------------

    @handles(m.MaterializeLatent)
    def materialize(self, message: m.MaterializeLatent) -> None:
        s = self.s
        pending = {job.id for job in s.planner.pending()}
        if message.rule_id in pending and message.rule_id not in s.forced_queue:
            s.forced_queue.append(message.rule_id)
        self._pump()

    @handles(m.WatchLatent)
    def watch(self, message: m.WatchLatent) -> None:
        s = self.s
        ended = s.outcomes.get(message.rule_id)
        if ended is not None:
            _call(message.callback, ended, self)
        elif message.rule_id in s.specs:
            s.watchers.setdefault(message.rule_id, []).append(message.callback)
        else:
            unknown = m.LatentCompleted(
                rule_id=message.rule_id,
                session_id=s.session_id,
                space="?",
                prompt=None,
                deadline_beat=math.nan,
                state="unknown",
                error=f"no pending latent {message.rule_id} in the current session",
            )
            _call(message.callback, unknown, self)

    # -- timer and generation ---------------------------------------------------------------------

    @handles(m.PlannerTick)
    def tick(self, message: m.PlannerTick) -> None:
        self._pump()

    @handles(m.GenerationDone)
    def generation_done(self, message: m.GenerationDone) -> None:
        s = self.s
        if s.tokens.get(message.rule_id) != message.token:
            self.log.info("generation_result_ignored", rule_id=message.rule_id, reason="stale")
            return
        del s.tokens[message.rule_id]
        spec = s.specs.pop(message.rule_id)
        outcome = message.outcome
        now = self.clock()
        ok = getattr(outcome, "state", None) == "complete"
        duration_ms = _duration(getattr(outcome, "duration_ms", None))
        stats = s.planner.stats(spec.space)
        forced = s.forced_running.pop(message.rule_id, None) is not None
        if not forced:
            # Free the capacity; the generation layer's own measure is the duration when it has one.
            try:
                measured = s.planner.finished(message.rule_id, now, success=False)
            except KeyError:
                measured = None
            if duration_ms is None:
                duration_ms = measured
        if ok and duration_ms is not None:
            stats.observe(duration_ms)
            self._save_stats(stats)
        completed = self._completed(
            spec,
            "complete" if ok else "failed",
            artifact_id=getattr(outcome, "artifact_id", None) if ok else None,
            job_id=getattr(outcome, "job_id", None),
            error=None if ok else (getattr(outcome, "error", None) or "generation failed"),
            duration_ms=duration_ms,
            now=now,
        )
        s.started_late.discard(message.rule_id)
        s.reported.discard(message.rule_id)
        self._finish(completed, tell=True)
        self._pump()

    # -- status -----------------------------------------------------------------------------------

    @handles(m.GetPlannerStatus)
    def status(self, message: m.GetPlannerStatus) -> m.PlannerStatus:
        s = self.s
        now = self.clock()
        latents: list[m.LatentStatus] = []
        for plan in s.planner.plan(now):
            latents.append(
                m.LatentStatus(
                    rule_id=RuleId(plan.job.id),
                    space=plan.job.space,
                    deadline_beat=plan.job.deadline_beat,
                    priority=plan.job.priority,
                    state="pending",
                    planned_start=plan.planned_start,
                    latest_start=plan.latest_start,
                    at_risk=plan.at_risk,
                )
            )
        for rule_id in list(s.tokens):
            spec = s.specs.get(rule_id)
            if spec is not None:
                latents.append(
                    m.LatentStatus(
                        rule_id=rule_id,
                        space=spec.space,
                        deadline_beat=spec.deadline_beat,
                        priority=spec.priority,
                        state="running",
                        at_risk=rule_id in s.started_late,
                    )
                )
        stats = s.planner.all_stats()
        return m.PlannerStatus(
            capacity=self.capacity,
            spaces=tuple(
                (st.space, st.count, st.mean_ms or 0.0, st.p95_ms or 0.0)
                for st in stats
                if st.count > 0
            ),
            latents=tuple(latents),
            session_id=s.session_id,
            next_wakeup=self._wake,
            estimates_ms=tuple((st.space, s.planner.estimate_ms(st.space)) for st in stats),
        )

    # -- internals --------------------------------------------------------------------------------

    def _set_clock(self, snapshot: sm.ClockSnapshot) -> None:
        try:
            self.s.mirror = TransportClock(
                tempo_bpm=snapshot.tempo_bpm,
                beat=snapshot.anchor_beat,
                state=TransportState.parse(snapshot.state),
                t=snapshot.anchor_time,
            )
        except ValueError as exc:
            self.log.warning("clock_snapshot_invalid", error=str(exc))

    def _add(self, spec: m.LatentSpec, now: float) -> None:
        s = self.s
        job = planning.LatentJob(
            id=spec.rule_id,
            space=spec.space,
            deadline_beat=spec.deadline_beat,
            priority=spec.priority,
            created_at=float(spec.order),
        )
        s.planner.add(job, now)
        s.specs[spec.rule_id] = spec
        self.log.info(
            "latent_planned",
            rule_id=spec.rule_id,
            space=spec.space,
            deadline_beat=spec.deadline_beat,
            priority=spec.priority.value,
        )

    def _free(self) -> int:
        s = self.s
        return self.capacity - len(s.planner.running()) - len(s.forced_running)

    def _pump(self) -> None:
        """Report new risks, start what is due, arm the timer, publish."""
        s = self.s
        now = self.clock()
        planner = s.planner
        while s.forced_queue and self._free() > 0:
            rule_id = s.forced_queue.pop(0)
            if planner.cancel(rule_id) is None:
                continue
            s.forced_running[rule_id] = now
            self._start(s.specs[rule_id], now)
        free = self._free()
        planner.set_capacity(max(1, self.capacity - len(s.forced_running)))
        if free > 0:
            for dispatch in planner.due(now):
                if dispatch.at_risk:
                    s.started_late.add(RuleId(dispatch.job.id))
                    self._report(dispatch.job.id, dispatch.latest_start, now, started=True)
                self._start(s.specs[RuleId(dispatch.job.id)], now)
        for plan in planner.plan(now):  # still waiting for capacity, and already too late
            if plan.at_risk:
                self._report(plan.job.id, plan.latest_start, now, started=False)
        candidates: list[float] = []
        if self._free() > 0:
            wake = planner.next_wakeup(now)
            if wake is not None:
                candidates.append(wake)
        for plan in planner.plan(now):  # wake up to report a job the moment it becomes late
            if plan.latest_start is not None and plan.job.id not in s.reported:
                report_at = plan.latest_start + _REPORT_AFTER_S
                if report_at > now:
                    candidates.append(report_at)
        self._wake = min(candidates) if candidates else None
        if self.timer is not None:
            self.timer.wake_at(self._wake)
        self._publish(now)

    def _start(self, spec: m.LatentSpec, now: float) -> None:
        s = self.s
        s.next_token += 1
        token = s.next_token
        s.tokens[spec.rule_id] = token
        me, rule_id = self.me, spec.rule_id
        self.log.info("latent_started", rule_id=rule_id, space=spec.space)
        generation = self.generation
        if generation is None:
            me.tell(
                m.GenerationDone(
                    rule_id=rule_id,
                    token=token,
                    outcome=failed_outcome(spec.space, MISSING_GENERATION),
                )
            )
            return

        def done(outcome: Any) -> None:
            me.tell(m.GenerationDone(rule_id=rule_id, token=token, outcome=outcome))

        try:
            generation.start(
                spec.space, spec.prompt, inference=spec.inference, tags=("latent",), callback=done
            )
        except Exception as exc:  # noqa: BLE001 - a failed start is the job's failure, reported
            error = f"{type(exc).__name__}: {exc}"
            me.tell(
                m.GenerationDone(
                    rule_id=rule_id, token=token, outcome=failed_outcome(spec.space, error)
                )
            )

    def _report(
        self, job_id: str, latest_start: float | None, now: float, *, started: bool
    ) -> None:
        """Tell the agent once that a latent cannot make its deadline (never dropped)."""
        s = self.s
        rule_id = RuleId(job_id)
        if rule_id in s.reported:
            return
        s.reported.add(rule_id)
        spec = s.specs.get(rule_id)
        if spec is None:
            return
        need_s = s.planner.estimate_ms(spec.space) / 1000.0
        late_s = (
            "" if latest_start is None else f", {now - latest_start:.1f} s past its latest start"
        )
        what = "started late" if started else "cannot make its deadline"
        then = "it runs now" if started else "it starts as soon as capacity is free"
        text = (
            f"latent {spec.space} for beat {spec.deadline_beat:g} ({spec.priority.value} priority) "
            f"{what}: it needs ~{need_s:.1f} s{late_s}; {then} and is expected to finish after "
            "its deadline"
        )
        self.scheduler.tell(sm.AddNote(text=text))
        if s.session_id is not None:
            self.store.append_history(
                s.session_id,
                "latent_at_risk",
                params=f"{spec.space}, deadline={spec.deadline_beat:g}",
                result=what,
                success=False,
            )
        self.log.warning("latent_at_risk", rule_id=rule_id, space=spec.space, started=started)

    def _completed(
        self,
        spec: m.LatentSpec,
        state: str,
        *,
        artifact_id: str | None = None,
        job_id: str | None = None,
        error: str | None = None,
        duration_ms: float | None = None,
        now: float | None = None,
    ) -> m.LatentCompleted:
        s = self.s
        when = self.clock() if now is None else now
        position = s.mirror.beat_at(when)
        return m.LatentCompleted(
            rule_id=spec.rule_id,
            session_id=spec.session_id,
            space=spec.space,
            prompt=spec.prompt,
            deadline_beat=spec.deadline_beat,
            state=state,
            artifact_id=artifact_id,
            job_id=job_id,
            error=error,
            duration_ms=duration_ms,
            finished_beat=position,
            late=state == "complete" and position > spec.deadline_beat + _EPS,
            started_late=spec.rule_id in s.started_late,
        )

    def _finish(self, completed: m.LatentCompleted, *, tell: bool) -> None:
        """Remember the outcome, wake its watchers, publish it, report it to the scheduler."""
        s = self.s
        s.outcomes[completed.rule_id] = completed
        while len(s.outcomes) > MAX_OUTCOMES:
            s.outcomes.popitem(last=False)
        for callback in s.watchers.pop(completed.rule_id, []):
            _call(callback, completed, self)
        if self.hub is not None:
            self.hub.publish(completed)
        if tell:
            self.scheduler.tell(sm.LatentFinished(latent=completed))
        self.log.info(
            "latent_ended",
            rule_id=completed.rule_id,
            state=completed.state,
            late=completed.late,
            duration_ms=completed.duration_ms,
        )

    def _save_stats(self, stats: planning.GenerationStats) -> None:
        try:
            self.store.save_generation_stats(stats.to_record(self.wall_clock().isoformat()))
        except VibeweaverError as exc:
            self.log.error("generation_stats_not_saved", space=stats.space, error=str(exc))

    def _publish(self, now: float) -> None:
        s = self.s
        self.publish(
            capacity=self.capacity,
            session={"id": s.session_id},
            pending=len(s.planner.pending()),
            running=len(s.tokens),
            at_risk=sorted(s.reported),
            next_wakeup_in_s=None if self._wake is None else round(max(0.0, self._wake - now), 3),
            spaces={
                st.space: {
                    "count": st.count,
                    "mean_ms": None if st.mean_ms is None else round(st.mean_ms, 1),
                    "p95_ms": None if st.p95_ms is None else round(st.p95_ms, 1),
                    "estimate_ms": round(s.planner.estimate_ms(st.space), 1),
                }
                for st in s.planner.all_stats()
            },
        )


def _duration(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _call(
    callback: Callable[[m.LatentCompleted], None], completed: m.LatentCompleted, actor: WeaverActor
) -> None:
    try:
        callback(completed)
    except Exception as exc:  # noqa: BLE001 - a watcher's failure is its own (a closed loop ...)
        actor.log.warning("latent_watcher_failed", rule_id=completed.rule_id, error=repr(exc))
