"""A small real actor system for the RuleScheduler and DeadlinePlanner on simulated time.

Real parts: the supervisor, the SessionStore on a real sqlite file, the planner and the scheduler.
Stand-ins: a simulated monotonic clock injected into both actors, `ManualWakeTimer`s instead of the
timer threads (the rig fires them in time order, like a discrete-event simulation), a kernel that
records the `RunCallback`s it is told, and a generation layer whose jobs the test ends.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel.messages import RunCallback
from vibeweaver.actors.messages import Ping
from vibeweaver.actors.planner import DeadlinePlanner
from vibeweaver.actors.planner import messages as pm
from vibeweaver.actors.scheduler import RuleScheduler
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.actors.scheduler.ports import LocalOutcome
from vibeweaver.actors.scheduler.timer import ManualWakeTimer
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorHandle, ActorSpec, ActorSystem
from vibeweaver.config import Config
from vibeweaver.dsl import context as dsl_context
from vibeweaver.persistence.records import RuleRecord, SessionRecord
from vibeweaver.scheduling.rules import Rule, rule_to_record

T = TypeVar("T")
ASK_S = 5.0


class SimClock:
    """Monotonic seconds that only move when the test says so (thread-safe reads)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._t = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._t

    def set(self, t: float) -> None:
        with self._lock:
            if t < self._t:
                raise ValueError(f"simulated time cannot go back ({t} < {self._t})")
            self._t = t

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._t += seconds
            return self._t


class SimWallClock:
    """UTC timestamps that follow a SimClock (so last_fired_at is deterministic too)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.epoch = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.epoch + timedelta(seconds=self.clock())


@dataclass
class Started:
    """One generation the fake layer was asked for."""

    space: str
    prompt: str | None
    inference: Any
    tags: Any
    callback: Callable[[Any], None]
    at: float


class FakeGeneration:
    """The GenerationPort: records `start` calls; the test ends each job with complete/fail."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.started: list[Started] = []
        self._cond = threading.Condition()

    def start(
        self,
        space: str,
        prompt: str | None,
        *,
        inference: Any = (),
        tags: Any = (),
        callback: Callable[[Any], None],
    ) -> None:
        with self._cond:
            self.started.append(Started(space, prompt, inference, tags, callback, self.clock()))
            self._cond.notify_all()

    def wait_started(self, count: int, timeout: float = ASK_S) -> list[Started]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.started) >= count, timeout):
                raise AssertionError(f"{len(self.started)} of {count} generations started")
            return list(self.started)

    def complete(self, job: Started, artifact_id: str, *, duration_ms: float | None = None) -> None:
        took = (self.clock() - job.at) * 1000.0 if duration_ms is None else duration_ms
        job.callback(
            LocalOutcome(
                space=job.space,
                job_id=f"job_{artifact_id}",
                state="complete",
                artifact_id=artifact_id,
                duration_ms=took,
            )
        )

    def fail(self, job: Started, error: str) -> None:
        took = (self.clock() - job.at) * 1000.0
        job.callback(LocalOutcome(space=job.space, state="failed", error=error, duration_ms=took))


class RecordingKernel(WeaverActor):
    """Stands in for the KernelActor: records the callbacks it is told to run, in order."""

    def __init__(self, context: ActorContext, *, calls: list[tuple[str, tuple[object, ...]]]):
        super().__init__(context)
        self.calls = calls

    @handles(RunCallback)
    def run_callback(self, message: RunCallback) -> None:
        self.calls.append((message.name, message.args))


class FakeLink:
    """A connected HootenannyLink stand-in that records calls and answers `reply(call)`."""

    def __init__(self, reply: Callable[[Any], Any] | None = None) -> None:
        self.calls: list[Any] = []
        self.connected = True
        self._reply = reply or (lambda call: type("JobStarted", (), {"job_id": "job_1"})())

    def call(self, call: Any, *, timeout: float, callback: Callable[[Any], None]) -> None:
        self.calls.append(call)
        callback(self._reply(call))


@dataclass
class Rig:
    """The running system and the means to drive it; see the module docstring."""

    system: ActorSystem
    store: StoreClient
    scheduler: ActorHandle
    planner: ActorHandle
    clock: SimClock
    session: SessionRecord
    generation: FakeGeneration | None
    calls: list[tuple[str, tuple[object, ...]]]
    timers: dict[str, list[ManualWakeTimer]] = field(default_factory=dict)

    # -- asking and settling ----------------------------------------------------------------------

    def settle(self, rounds: int = 4) -> None:
        """Let every tell already sent (and the tells they cause) be handled."""
        kernel = self.system.handle("kernel")
        for _ in range(rounds):
            for handle in (self.scheduler, self.planner, self.scheduler, kernel):
                handle.ask(Ping(), timeout=ASK_S)

    def move(self, action: str, **values: Any) -> sm.ClockSnapshot:
        snapshot = self.scheduler.ask(sm.MoveTransport(action=action, **values), timeout=ASK_S)
        assert isinstance(snapshot, sm.ClockSnapshot)
        self.settle()
        return snapshot

    def status(self) -> sm.SchedulerStatus:
        self.settle()
        status = self.scheduler.ask(sm.GetSchedulerStatus(), timeout=ASK_S)
        assert isinstance(status, sm.SchedulerStatus)
        return status

    def planner_status(self) -> pm.PlannerStatus:
        self.settle()
        status = self.planner.ask(pm.GetPlannerStatus(), timeout=ASK_S)
        assert isinstance(status, pm.PlannerStatus)
        return status

    def add_rule(self, rule: Rule) -> RuleRecord:
        saved = self.store.save_rule(rule_to_record(rule))
        self.scheduler.tell(sm.RuleSaved(rule=saved))
        self.settle()
        return saved

    # -- simulated time ---------------------------------------------------------------------------

    def timer(self, name: str) -> ManualWakeTimer:
        """The current incarnation's timer of `scheduler` or `planner`."""
        return self.timers[name][-1]

    def advance_to(self, t: float, *, max_steps: int = 100_000) -> None:
        """Move simulated time to `t`, firing every armed timer in time order on the way."""
        for _ in range(max_steps):
            self.settle()
            armed = [
                (timer.due, name, timer)
                for name in ("scheduler", "planner")
                if (timer := self.timer(name)).due is not None and timer.due <= t
            ]
            if not armed:
                break
            due, _, timer = min(armed, key=lambda item: (item[0], item[1]))
            if due > self.clock():
                self.clock.set(due)
            timer.fire()
        else:
            raise AssertionError(f"timers kept firing before t={t}")
        if t > self.clock():
            self.clock.set(t)
        self.settle()

    def advance(self, seconds: float) -> None:
        self.advance_to(self.clock() + seconds)

    # -- the DSL ----------------------------------------------------------------------------------

    def dsl(self, fn: Callable[[], T]) -> T:
        """Run `fn` with a DSL context bound (as on a kernel's eval thread), isolated from the
        test thread's own context."""
        context = dsl_context.DslContext(
            store=self.store,
            scheduler=self.scheduler,
            planner=self.planner,
            link=HootenannyLink(None),
            session=self.session,
        )

        def run() -> T:
            dsl_context.bind(context)
            return fn()

        return contextvars.copy_context().run(run)

    def stop(self) -> None:
        self.system.stop()


def build_rig(
    db_path: Path,
    *,
    clock: SimClock | None = None,
    generation: FakeGeneration | None = None,
    with_generation: bool = True,
    hub: EventHub | None = None,
    link: Any = None,
    session: str = "jam",
    capacity: int = 1,
    idle_lookahead_s: float | None = 0.0,
    default_estimate_ms: float = 10_000.0,
    extra: Sequence[ActorSpec] = (),
) -> Rig:
    """Start supervisor, store, planner, scheduler and a recording kernel on `db_path`."""
    clock = clock or SimClock()
    if generation is None and with_generation:
        generation = FakeGeneration(clock)
    wall = SimWallClock(clock)
    config = Config(
        data_dir=db_path.parent,
        db=f"sqlite:///{db_path}",
        session=session,
        router=None,
        hootenanny=None,
        broadcasts=None,
        http=None,
    )
    timers: dict[str, list[ManualWakeTimer]] = {"scheduler": [], "planner": []}

    def factory(owner: str) -> Callable[..., ManualWakeTimer]:
        def make(
            name: str, source: Callable[[], float], on_due: Callable[[], None]
        ) -> ManualWakeTimer:
            timer = ManualWakeTimer(name, source, on_due)
            timers[owner].append(timer)
            return timer

        return make

    calls: list[tuple[str, tuple[object, ...]]] = []
    system = ActorSystem(name=f"rig:{db_path}")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    system.define(ActorSpec("store", SessionStore, {"db_url": config.db_url}))
    system.define(
        ActorSpec(
            "planner",
            DeadlinePlanner,
            {
                "config": config,
                "capacity": capacity,
                "hub": hub,
                "generation": generation,
                "clock": clock,
                "wall_clock": wall,
                "timer_factory": factory("planner"),
                "idle_lookahead_s": idle_lookahead_s,
                "default_estimate_ms": default_estimate_ms,
            },
        )
    )
    system.define(
        ActorSpec(
            "scheduler",
            RuleScheduler,
            {
                "config": config,
                "hub": hub,
                "link": link,
                "generation": generation,
                "clock": clock,
                "wall_clock": wall,
                "timer_factory": factory("scheduler"),
            },
        )
    )
    system.define(ActorSpec("kernel", RecordingKernel, {"calls": calls}))
    for spec in extra:
        system.define(spec)
    system.start()
    store = StoreClient(system.handle("store"))
    rig = Rig(
        system=system,
        store=store,
        scheduler=system.handle("scheduler"),
        planner=system.handle("planner"),
        clock=clock,
        session=store.open_session(session),
        generation=generation,
        calls=calls,
        timers=timers,
    )
    rig.settle()
    return rig
