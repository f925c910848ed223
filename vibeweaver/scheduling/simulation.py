"""Deterministic simulation of latent-job deadlines: workloads, a generation service, strategies.

Everything runs on simulated monotonic seconds with seeded randomness, so a (workload, seed) pair
always gives the same numbers. Each job's actual generation time is drawn once, when the workload
is generated, and every strategy sees the same draws (common random numbers), so hit rates differ
only by the strategies' decisions.

The transport plays from beat 0 at t = 0 at the workload's tempo for the whole run. A job hits when
its generation finishes no later than the wall time of its deadline beat.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from vibeweaver.scheduling.clock import TransportClock
from vibeweaver.scheduling.deadlines import DeadlinePlanner, LatentJob, safety_margin
from vibeweaver.types import Priority, TransportState

__all__ = [
    "OLD_FORMULA_DEFAULT_MEAN_MS",
    "DurationModel",
    "FixedFormulaStrategy",
    "JobArrival",
    "JobOutcome",
    "PlannerStrategy",
    "SimGenerationService",
    "SimResult",
    "StartAtCreationStrategy",
    "Strategy",
    "StrategyFactory",
    "Workload",
    "busy_workload",
    "compare",
    "light_workload",
    "run",
]

OLD_FORMULA_DEFAULT_MEAN_MS = 5_000.0
"""The Rust seed's assumed generation time before any measurement."""

_EPS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationModel:
    """Log-normal generation time: `median_s * exp(sigma * N(0, 1))`."""

    median_s: float
    sigma: float = 0.3

    def __post_init__(self) -> None:
        if not self.median_s > 0 or not math.isfinite(self.median_s):
            raise ValueError(f"median_s must be > 0, got {self.median_s!r}")
        if not 0 <= self.sigma < 3:
            raise ValueError(f"sigma must be in [0, 3), got {self.sigma!r}")

    @property
    def mean_s(self) -> float:
        return self.median_s * math.exp(self.sigma**2 / 2)

    def sample(self, rng: random.Random) -> float:
        return self.median_s * math.exp(self.sigma * rng.gauss(0.0, 1.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class JobArrival:
    """One latent job of a workload, with its (pre-drawn) actual generation time."""

    job: LatentJob
    actual_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """Latent jobs arriving over time.

    Arrivals are Poisson bursts (an agent often asks for a few latents at once: the stems of the
    next section), each burst 1..`burst_max` jobs. Each job picks a space by weight, a priority by
    weight, and a deadline `lead_beats` ahead of the position at its arrival, rounded up to the
    next bar line.
    """

    name: str
    seed: int
    tempo_bpm: float
    capacity: int
    horizon_s: float
    bursts_per_s: float
    burst_max: int
    spaces: tuple[tuple[str, DurationModel, float], ...]
    priorities: tuple[tuple[Priority, float], ...]
    lead_beats: tuple[float, float]
    bar_beats: int = 4

    @property
    def mean_duration_s(self) -> float:
        total = sum(w for _, _, w in self.spaces)
        return sum(model.mean_s * w for _, model, w in self.spaces) / total

    @property
    def offered_load(self) -> float:
        """Mean fraction of capacity the jobs need (arrival rate x mean duration / capacity)."""
        jobs_per_s = self.bursts_per_s * (1 + self.burst_max) / 2
        return jobs_per_s * self.mean_duration_s / self.capacity

    def with_seed(self, seed: int) -> Workload:
        return Workload(
            name=self.name,
            seed=seed,
            tempo_bpm=self.tempo_bpm,
            capacity=self.capacity,
            horizon_s=self.horizon_s,
            bursts_per_s=self.bursts_per_s,
            burst_max=self.burst_max,
            spaces=self.spaces,
            priorities=self.priorities,
            lead_beats=self.lead_beats,
            bar_beats=self.bar_beats,
        )

    def generate(self) -> list[JobArrival]:
        rng = random.Random(self.seed)
        names = [name for name, _, _ in self.spaces]
        models = {name: model for name, model, _ in self.spaces}
        space_weights = [w for _, _, w in self.spaces]
        levels = [p for p, _ in self.priorities]
        level_weights = [w for _, w in self.priorities]
        beats_per_s = self.tempo_bpm / 60.0
        arrivals: list[JobArrival] = []
        t = rng.expovariate(self.bursts_per_s)
        while t < self.horizon_s:
            for _ in range(rng.randint(1, self.burst_max)):
                space = rng.choices(names, space_weights)[0]
                lead = rng.uniform(*self.lead_beats)
                deadline = math.ceil((t * beats_per_s + lead) / self.bar_beats) * self.bar_beats
                job = LatentJob(
                    id=f"{self.name}-{len(arrivals):05d}",
                    space=space,
                    deadline_beat=float(deadline),
                    priority=rng.choices(levels, level_weights)[0],
                    created_at=t,
                )
                arrivals.append(JobArrival(job=job, actual_s=models[space].sample(rng)))
            t += rng.expovariate(self.bursts_per_s)
        return arrivals


_SPACES = (
    ("orpheus", DurationModel(median_s=3.0, sigma=0.35), 0.4),
    ("musicgen", DurationModel(median_s=8.0, sigma=0.3), 0.4),
    ("stable_audio", DurationModel(median_s=14.0, sigma=0.25), 0.2),
)
_PRIORITY_MIX = (
    (Priority.CRITICAL, 0.1),
    (Priority.HIGH, 0.2),
    (Priority.NORMAL, 0.45),
    (Priority.LOW, 0.15),
    (Priority.IDLE, 0.1),
)


def _workload_at(name: str, load: float, seed: int, horizon_s: float) -> Workload:
    base = Workload(
        name=name,
        seed=seed,
        tempo_bpm=120.0,
        capacity=1,
        horizon_s=horizon_s,
        bursts_per_s=1.0,
        burst_max=3,
        spaces=_SPACES,
        priorities=_PRIORITY_MIX,
        lead_beats=(16.0, 128.0),
    )
    rate = load / base.offered_load
    return Workload(
        name=name,
        seed=seed,
        tempo_bpm=base.tempo_bpm,
        capacity=base.capacity,
        horizon_s=horizon_s,
        bursts_per_s=rate,
        burst_max=base.burst_max,
        spaces=base.spaces,
        priorities=base.priorities,
        lead_beats=base.lead_beats,
    )


def light_workload(seed: int = 1, horizon_s: float = 4 * 3600.0) -> Workload:
    """About 25% of one GPU: a few latents a minute, deadlines 8-64 s ahead at 120 BPM."""
    return _workload_at("light", 0.25, seed, horizon_s)


def busy_workload(seed: int = 1, horizon_s: float = 4 * 3600.0) -> Workload:
    """About 70% of one GPU, same mix as the light workload."""
    return _workload_at("busy", 0.70, seed, horizon_s)


class SimGenerationService:
    """A generation backend with `capacity` concurrent slots; extra submissions queue (FIFO)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._running: list[tuple[float, int, str, float]] = []  # (finish, order, id, start)
        self._queue: deque[tuple[str, float]] = deque()
        self._order = 0

    @property
    def busy(self) -> bool:
        return bool(self._running or self._queue)

    def submit(self, job_id: str, actual_s: float, now: float) -> list[tuple[str, float]]:
        """Accept a job; returns the (job id, start time) of jobs that started now."""
        self._queue.append((job_id, actual_s))
        return self._start_queued(now)

    def next_completion(self) -> float | None:
        return self._running[0][0] if self._running else None

    def complete(
        self, now: float
    ) -> tuple[list[tuple[str, float, float]], list[tuple[str, float]]]:
        """Finish every job due by `now`: ((id, start, finish) finished, (id, start) started)."""
        done: list[tuple[str, float, float]] = []
        while self._running and self._running[0][0] <= now + _EPS:
            finish, _, job_id, start = heapq.heappop(self._running)
            done.append((job_id, start, finish))
        return done, self._start_queued(now)

    def _start_queued(self, now: float) -> list[tuple[str, float]]:
        started: list[tuple[str, float]] = []
        while self._queue and len(self._running) < self.capacity:
            job_id, actual_s = self._queue.popleft()
            self._order += 1
            heapq.heappush(self._running, (now + actual_s, self._order, job_id, now))
            started.append((job_id, now))
        return started


class Strategy(Protocol):
    """A policy deciding when latent jobs go to the generation service."""

    name: str

    def arrive(self, job: LatentJob, now: float) -> None: ...

    def started(self, job_id: str, now: float) -> None: ...

    def finished(self, job_id: str, now: float) -> None: ...

    def dispatch(self, now: float) -> list[str]: ...

    def next_wakeup(self, now: float) -> float | None: ...


StrategyFactory = Callable[[TransportClock, int], Strategy]
"""Builds a strategy from the run's clock and the service capacity."""


class PlannerStrategy:
    """Our DeadlinePlanner."""

    def __init__(
        self,
        clock: TransportClock,
        capacity: int,
        *,
        idle_lookahead_s: float | None = None,
        name: str = "planner",
    ) -> None:
        self.name = name
        self.planner = DeadlinePlanner(
            time_of=clock.try_time_of, capacity=capacity, idle_lookahead_s=idle_lookahead_s
        )
        self.at_risk = 0

    def arrive(self, job: LatentJob, now: float) -> None:
        self.planner.add(job, now)

    def started(self, job_id: str, now: float) -> None:
        self.planner.started(job_id, now)

    def finished(self, job_id: str, now: float) -> None:
        self.planner.finished(job_id, now, success=True)

    def dispatch(self, now: float) -> list[str]:
        dispatches = self.planner.due(now)
        self.at_risk += sum(1 for d in dispatches if d.at_risk)
        return [d.job.id for d in dispatches]

    def next_wakeup(self, now: float) -> float | None:
        return self.planner.next_wakeup(now)


class StartAtCreationStrategy:
    """Baseline: send each job as soon as it exists, first come first served within capacity."""

    def __init__(self, clock: TransportClock, capacity: int) -> None:
        self.name = "start at creation"
        self._capacity = capacity
        self._queue: deque[str] = deque()
        self._running: set[str] = set()

    def arrive(self, job: LatentJob, now: float) -> None:
        self._queue.append(job.id)

    def started(self, job_id: str, now: float) -> None:
        return None

    def finished(self, job_id: str, now: float) -> None:
        self._running.discard(job_id)

    def dispatch(self, now: float) -> list[str]:
        out: list[str] = []
        while self._queue and len(self._running) < self._capacity:
            job_id = self._queue.popleft()
            self._running.add(job_id)
            out.append(job_id)
        return out

    def next_wakeup(self, now: float) -> float | None:
        return None


class FixedFormulaStrategy:
    """Baseline: the Rust seed's rule, in beats.

    `start_by = deadline - mean_ms * bpm / 60000 * margin` (margin 1.5 critical, 1.2 high, else
    1.0), where mean_ms is the running mean of the space's measured durations (5 s before any);
    when the position reaches start_by the job is dispatched if capacity is free, else queued
    (queue served by priority, then start_by).
    """

    def __init__(self, clock: TransportClock, capacity: int) -> None:
        self.name = "old fixed formula"
        self._clock = clock
        self._capacity = capacity
        self._jobs: dict[str, LatentJob] = {}
        self._running: dict[str, tuple[LatentJob, float]] = {}
        self._means: dict[str, tuple[int, float]] = {}

    def _start_by(self, job: LatentJob) -> float:
        _, mean = self._means.get(job.space, (0, OLD_FORMULA_DEFAULT_MEAN_MS))
        margin = safety_margin(job.priority)
        return job.deadline_beat - mean * self._clock.tempo_bpm / 60000.0 * margin

    def arrive(self, job: LatentJob, now: float) -> None:
        self._jobs[job.id] = job

    def started(self, job_id: str, now: float) -> None:
        job, _ = self._running[job_id]
        self._running[job_id] = (job, now)

    def finished(self, job_id: str, now: float) -> None:
        job, began = self._running.pop(job_id)
        count, mean = self._means.get(job.space, (0, 0.0))
        duration_ms = (now - began) * 1000.0
        self._means[job.space] = (count + 1, mean + (duration_ms - mean) / (count + 1))

    def dispatch(self, now: float) -> list[str]:
        position = self._clock.beat_at(now)
        due = [j for j in self._jobs.values() if self._start_by(j) <= position + _EPS]
        due.sort(key=lambda j: (j.priority.rank, self._start_by(j), j.created_at, j.id))
        out: list[str] = []
        for job in due:
            if len(self._running) >= self._capacity:
                break
            del self._jobs[job.id]
            self._running[job.id] = (job, now)
            out.append(job.id)
        return out

    def next_wakeup(self, now: float) -> float | None:
        if len(self._running) >= self._capacity:
            return None
        times = [self._clock.time_of(self._start_by(j)) for j in self._jobs.values()]
        future = [t for t in times if t > now + _EPS]
        return min(future) if future else None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOutcome:
    job: LatentJob
    started_at: float
    finished_at: float
    deadline_at: float

    @property
    def hit(self) -> bool:
        return self.finished_at <= self.deadline_at + _EPS

    @property
    def lateness_s(self) -> float:
        return self.finished_at - self.deadline_at


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """How one strategy did on one workload."""

    strategy: str
    workload: str
    outcomes: tuple[JobOutcome, ...]
    unfinished: int = 0
    at_risk: int = 0

    @property
    def jobs(self) -> int:
        return len(self.outcomes) + self.unfinished

    @property
    def hits(self) -> int:
        return sum(1 for o in self.outcomes if o.hit)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.jobs if self.jobs else 1.0

    @property
    def mean_miss_lateness_s(self) -> float | None:
        late = [o.lateness_s for o in self.outcomes if not o.hit]
        return sum(late) / len(late) if late else None

    def hit_rate_of(self, priority: Priority) -> float | None:
        mine = [o for o in self.outcomes if o.job.priority is priority]
        return sum(1 for o in mine if o.hit) / len(mine) if mine else None


def run(workload: Workload, factory: StrategyFactory) -> SimResult:
    """Drive one strategy through one workload, event by event, on simulated time."""
    arrivals = workload.generate()
    actual = {a.job.id: a.actual_s for a in arrivals}
    clock = TransportClock(tempo_bpm=workload.tempo_bpm, state=TransportState.PLAYING, t=0.0)
    strategy = factory(clock, workload.capacity)
    service = SimGenerationService(workload.capacity)
    started_at: dict[str, float] = {}
    outcomes: list[JobOutcome] = []
    jobs = {a.job.id: a.job for a in arrivals}
    next_arrival = 0
    now = 0.0
    budget = 50 * len(arrivals) + 100
    while True:
        budget -= 1
        if budget < 0:
            raise RuntimeError(f"simulation of {strategy.name!r} is not making progress")
        candidates = [
            t
            for t in (
                arrivals[next_arrival].job.created_at if next_arrival < len(arrivals) else None,
                service.next_completion(),
                strategy.next_wakeup(now),
            )
            if t is not None
        ]
        if not candidates:
            break
        now = max(now, min(candidates))
        done, began = service.complete(now)
        for job_id, start, finish in done:
            strategy.finished(job_id, finish)
            job = jobs[job_id]
            outcomes.append(
                JobOutcome(
                    job=job,
                    started_at=start,
                    finished_at=finish,
                    deadline_at=clock.time_of(job.deadline_beat),
                )
            )
        for job_id, start in began:
            started_at[job_id] = start
            strategy.started(job_id, start)
        while next_arrival < len(arrivals) and arrivals[next_arrival].job.created_at <= now:
            strategy.arrive(arrivals[next_arrival].job, now)
            next_arrival += 1
        for job_id in strategy.dispatch(now):
            for started_id, start in service.submit(job_id, actual[job_id], now):
                started_at[started_id] = start
                strategy.started(started_id, start)
    at_risk = strategy.at_risk if isinstance(strategy, PlannerStrategy) else 0
    return SimResult(
        strategy=strategy.name,
        workload=workload.name,
        outcomes=tuple(sorted(outcomes, key=lambda o: o.job.id)),
        unfinished=len(arrivals) - len(outcomes),
        at_risk=at_risk,
    )


def compare(
    workloads: Sequence[Workload], factories: Sequence[StrategyFactory]
) -> dict[str, dict[str, SimResult]]:
    """Run every strategy on every workload: {workload name: {strategy name: result}}.

    Several workloads with the same name (different seeds) are pooled into one result per
    strategy.
    """
    table: dict[str, dict[str, SimResult]] = {}
    for workload in workloads:
        row = table.setdefault(workload.name, {})
        for factory in factories:
            result = run(workload, factory)
            previous = row.get(result.strategy)
            if previous is not None:
                result = SimResult(
                    strategy=result.strategy,
                    workload=result.workload,
                    outcomes=previous.outcomes + result.outcomes,
                    unfinished=previous.unfinished + result.unfinished,
                    at_risk=previous.at_risk + result.at_risk,
                )
            row[result.strategy] = result
    return table
