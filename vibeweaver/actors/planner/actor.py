"""DeadlinePlanner: when each latent job starts, and the generation statistics that decide it.

State owned: per-space generation statistics (count, mean and p95 over recent durations; re-read
from the store's generation_stats in `setup`, saved after each measured job), the pending and
running latent jobs of the current session (a `vibeweaver.scheduling.DeadlinePlanner`), a mirror
of the scheduler's clock (to turn deadline beats into times), the capacity (default 1 concurrent
job), and who waits for which latent.

Inputs, all tells: the RuleScheduler owns the Deadline rules and the clock and sends `SyncLatents`
(on its start, a session switch, or when this planner restarts and says `PlannerStarted`),
`PlanLatent`, `CancelLatent` and `ClockMoved`, and relays the DSL's `MaterializeLatent` and
`WatchLatent` (so they come after the `PlanLatent` of the latent they name);
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

Parts: `state` (the `PlannerState` this actor owns), `reports` (outcomes, risk notes, status and
published stats, computed from it); the planning policy itself is `vibeweaver.scheduling.deadlines`.

Crash: the whole planning state (including running jobs and watchers) is handed to the next
incarnation through the vault, so a generation that ends during the restart is still accounted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.planner import messages as m
from vibeweaver.actors.planner import reports
from vibeweaver.actors.planner.state import MAX_OUTCOMES, PlannerState, Watcher
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.actors.scheduler.notes import latent_note_key
from vibeweaver.actors.scheduler.ports import MISSING_GENERATION, GenerationPort, failed_outcome
from vibeweaver.actors.scheduler.timer import ThreadWakeTimer, TimerFactory, WakeTimer
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.errors import VibeweaverError
from vibeweaver.scheduling import deadlines as planning
from vibeweaver.scheduling.clock import TransportClock
from vibeweaver.types import RuleId, SessionId, TransportState

__all__ = ["MAX_OUTCOMES", "DeadlinePlanner"]

_REPORT_AFTER_S = 1e-6
"""A job is checked for lateness this long after its latest start (strictly after it)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        self.state: PlannerState | None = None
        self.timer: WakeTimer | None = None
        self._wake: float | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        kept = self.context.vault.pop("state", None)
        self.state = kept if isinstance(kept, PlannerState) else self._fresh_state()
        self.timer = self._timer_factory(f"{self.context.name}-timer", self.clock, self._knock)
        self.timer.start()
        self.scheduler.tell(sm.PlannerStarted())
        self._pump()

    def release(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        if self.crashed and self.state is not None:
            self.context.vault["state"] = self.state

    def _fresh_state(self) -> PlannerState:
        return PlannerState.new(
            stats=[
                planning.GenerationStats.from_record(record)
                for record in self.store.list_generation_stats()
            ],
            now=self.clock(),
            capacity=self.capacity,
            default_estimate_ms=self.default_estimate_ms,
            idle_lookahead_s=self.idle_lookahead_s,
        )

    def _knock(self) -> None:
        """The timer's callback (timer thread): only a tell."""
        if self.me.accepting:
            self.me.tell(m.PlannerTick())

    @property
    def s(self) -> PlannerState:
        assert self.state is not None, "planner used before setup"
        return self.state

    # -- messages from the scheduler --------------------------------------------------------------

    @handles(m.SyncLatents)
    def sync(self, message: m.SyncLatents) -> None:
        s = self.s
        left = s.session_id if s.session_id != message.session_id else None
        s.session_id = message.session_id
        self._set_clock(message.clock)
        listed = {spec.rule_id: spec for spec in message.latents}
        for job in s.planner.pending():
            if job.id not in listed:
                rule_id = RuleId(job.id)
                s.planner.cancel(job.id)
                s.specs.pop(rule_id, None)
                self._release_watchers(rule_id, left)
        s.forced_queue = [rule_id for rule_id in s.forced_queue if rule_id in listed]
        now = self.clock()
        for spec in message.latents:
            if spec.rule_id not in s.specs:
                self._add(spec, now)
        self._pump()

    def _release_watchers(self, rule_id: RuleId, left: SessionId | None) -> None:
        """Wake the awaits of a latent this planner stopped planning without an outcome (its
        session was left, or its rule is gone), so no await hangs on it."""
        self.s.start_watchers.pop(rule_id, None)
        watchers = self.s.watchers.pop(rule_id, [])
        if not watchers:
            return
        if left is not None:
            error = (
                "its session was left before it ran; the rule stays stored and is planned "
                "again when that session is entered"
            )
        else:
            error = "its rule is no longer stored"
        ended = m.LatentCompleted.unknown(rule_id, left or self.s.session_id, error)
        for callback in watchers:
            _call(callback, ended, self)

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
        ended = reports.completed(s, spec, "cancelled", self.clock(), error=message.reason)
        self._finish(ended, tell=False)
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
            if message.on_started is None:
                return
            if message.rule_id in s.tokens:  # running already
                _started(message.on_started, message.rule_id, self)
            else:
                s.start_watchers.setdefault(message.rule_id, []).append(message.on_started)
        else:
            error = f"no pending latent {message.rule_id} in the current session"
            _call(
                message.callback,
                m.LatentCompleted.unknown(message.rule_id, s.session_id, error),
                self,
            )

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
        duration_ms = reports.duration_ms(getattr(outcome, "duration_ms", None))
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
        completed = reports.completed(
            s,
            spec,
            "complete" if ok else "failed",
            now,
            artifact_id=getattr(outcome, "artifact_id", None) if ok else None,
            job_id=getattr(outcome, "job_id", None),
            error=None if ok else (getattr(outcome, "error", None) or "generation failed"),
            duration_ms=duration_ms,
        )
        s.started_late.discard(message.rule_id)
        s.reported.discard(message.rule_id)
        self._finish(completed, tell=True)
        self._pump()

    # -- status -----------------------------------------------------------------------------------

    @handles(m.GetPlannerStatus)
    def status(self, message: m.GetPlannerStatus) -> m.PlannerStatus:
        return reports.status(self.s, self.capacity, self.clock(), self._wake)

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
        return self.s.free(self.capacity)

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
        token = self.s.next_token_for(spec.rule_id)
        me, rule_id = self.me, spec.rule_id
        self.log.info("latent_started", rule_id=rule_id, space=spec.space)
        for hook in self.s.start_watchers.pop(rule_id, []):
            _started(hook, rule_id, self)
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
        text = reports.risk_note(spec, need_s, latest_start, now, started=started)
        self.scheduler.tell(
            sm.AddNote(text=text, session_id=spec.session_id, key=latent_note_key(rule_id))
        )
        if s.session_id is not None:
            self.store.append_history(
                s.session_id,
                "latent_at_risk",
                params=f"{spec.space}, deadline={spec.deadline_beat:g}",
                result=reports.risk_result(started=started),
                success=False,
            )
        self.log.warning("latent_at_risk", rule_id=rule_id, space=spec.space, started=started)

    def _finish(self, completed: m.LatentCompleted, *, tell: bool) -> None:
        """Remember the outcome, wake its watchers, publish it, report it to the scheduler."""
        for callback in self.s.remember(completed):
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
        self.publish(**reports.published(self.s, self.capacity, now, self._wake))


def _started(hook: Callable[[], None], rule_id: RuleId, actor: WeaverActor) -> None:
    try:
        hook()
    except Exception as exc:  # noqa: BLE001 - a watcher's failure is its own (a closed loop ...)
        actor.log.warning("latent_watcher_failed", rule_id=rule_id, error=repr(exc))


def _call(callback: Watcher, completed: m.LatentCompleted, actor: WeaverActor) -> None:
    try:
        callback(completed)
    except Exception as exc:  # noqa: BLE001 - a watcher's failure is its own (a closed loop ...)
        actor.log.warning("latent_watcher_failed", rule_id=completed.rule_id, error=repr(exc))
