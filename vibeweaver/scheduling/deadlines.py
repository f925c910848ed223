"""Latent-job deadlines (SPEC 4.4): measured generation times per space, when each job starts.

Times are monotonic seconds passed in by the caller; generation durations are milliseconds (as in
the `generation_stats` table). The planner never reads a clock itself: the beat -> time mapping is
an injected function (usually `TransportClock.try_time_of`) that returns None while the transport
is not playing.

How a start time is chosen
--------------------------
- `estimate(space)` is the p95 of the space's recent durations once `min_samples` were measured,
  else a conservative default (the larger of `default_estimate_ms` and the slowest duration seen).
- `start_at(job) = time_of(deadline) - estimate * margin`, margin 1.5 for critical, 1.2 for high,
  1.0 for normal, low and idle: the latest moment from which the job still finishes by its
  deadline with the margin to spare. It follows the transport (tempo changes, seeks) because it is
  recomputed on every call.
- The planned start also accounts for capacity: pending jobs are packed backwards from their
  deadlines onto `capacity` slots (latest deadline first), so two jobs wanting the same slot make
  the earlier one start earlier instead of both starting at their own latest moment and colliding.
- A job whose planned start has come is due. Due jobs get capacity most urgent priority first,
  then earliest planned start.
- A job whose `start_at` has passed is flagged `at_risk` (on `add`, in `plan`, on its Dispatch)
  and is never dropped. If it is "likely late" (even its mean duration, started now, ends after
  the deadline) it runs as soon as no job that can still make its deadline is due and running it
  would not push such a job past its `start_at`: a job that misses anyway never makes another
  miss too. Otherwise it is simply due (its planned start is past) and runs at once.
- No head-of-line blocking: before the last free unit of capacity goes to a job, the planner
  checks whether a more urgent (higher-priority) job that can still make its deadline would then
  start after its `start_at`; if so, that job takes the capacity instead.
- Idle capacity is lent early. A GPU slot left idle is lost for good while a latent finished early
  is still a hit, so capacity that would otherwise idle goes to the waiting job with the earliest
  planned start. `idle_lookahead_s` bounds how early (None, the default: no bound; 0: the strict
  "start at the latest moment" reading, which keeps the GPU free for interactive `sample()` calls
  at some cost in hit rate; ops/bench/bench_deadlines.py prints both).

Transport not playing
---------------------
Paused or stopped, no beat has a wall time: deadlines are not approaching and no job is ever late,
so nothing is due and nothing is at risk. Idle capacity is still lent (most urgent priority first,
then the lowest deadline beat, then creation order) when `idle_lookahead_s` is None: a job finished
before playback starts is a sure hit, while waiting turns every deadline into a race the moment
playback starts (all jobs become due together). The cost: a job started while stopped cannot be
taken back if a more urgent one appears. In strict mode (a bounded lookahead) jobs wait for
playback and are planned from the moment it starts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from vibeweaver.persistence.records import GenerationStatsRecord
from vibeweaver.types import Priority

__all__ = [
    "DEFAULT_ESTIMATE_MS",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_WINDOW",
    "PERCENTILE",
    "DeadlinePlanner",
    "Dispatch",
    "DispatchReason",
    "GenerationStats",
    "JobPlan",
    "LatentJob",
    "safety_margin",
]

DEFAULT_ESTIMATE_MS = 10_000.0
"""Assumed generation time of a space with too few measurements (deliberately pessimistic)."""
DEFAULT_WINDOW = 64
"""How many recent durations per space the mean and percentile are computed over."""
DEFAULT_MIN_SAMPLES = 5
"""Measurements needed before the percentile is trusted over the default."""
PERCENTILE = 0.95

_MARGINS = {Priority.CRITICAL: 1.5, Priority.HIGH: 1.2}
_EPS = 1e-9


def safety_margin(priority: Priority) -> float:
    """Multiplier on the estimated duration: 1.5 critical, 1.2 high, 1.0 otherwise (SPEC 4.4)."""
    return _MARGINS.get(Priority.parse(priority), 1.0)


def _check_ms(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of milliseconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number of milliseconds >= 0, got {value!r}")
    return float(value)


def _check_time(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of seconds, got {value!r}")
    return float(value)


class GenerationStats:
    """Measured generation durations of one space: total count, and over a bounded window of the
    most recent durations, the mean and the p95 (nearest-rank, so always a measured value)."""

    __slots__ = ("_count", "_fallback_ms", "_min_samples", "_recent", "space")

    def __init__(
        self,
        space: str,
        *,
        window: int = DEFAULT_WINDOW,
        min_samples: int = DEFAULT_MIN_SAMPLES,
    ) -> None:
        if not isinstance(space, str) or not space:
            raise ValueError(f"space must be a non-empty string, got {space!r}")
        if window < 1:
            raise ValueError(f"stats window must be >= 1, got {window}")
        if not 1 <= min_samples <= window:
            raise ValueError(f"min_samples must be between 1 and the window ({window})")
        self.space = space
        self._recent: deque[float] = deque(maxlen=window)
        self._count = 0
        self._min_samples = min_samples
        self._fallback_ms: float | None = None

    def __repr__(self) -> str:
        p95 = self.p95_ms
        shown = "n/a" if p95 is None else f"{p95:.0f} ms"
        return f"GenerationStats({self.space!r}, n={self._count}, p95={shown})"

    @property
    def count(self) -> int:
        """Every duration ever observed (persisted), not only the window."""
        return self._count

    @property
    def recent_ms(self) -> tuple[float, ...]:
        return tuple(self._recent)

    @property
    def mean_ms(self) -> float | None:
        if not self._recent:
            return None
        return sum(self._recent) / len(self._recent)

    @property
    def p95_ms(self) -> float | None:
        if not self._recent:
            return None
        ordered = sorted(self._recent)
        return ordered[max(0, math.ceil(PERCENTILE * len(ordered)) - 1)]

    def observe(self, duration_ms: float) -> None:
        self._recent.append(_check_ms(duration_ms, "duration"))
        self._count += 1

    def estimate_ms(self, default_ms: float = DEFAULT_ESTIMATE_MS) -> float:
        """p95 of the window once it holds `min_samples` durations; before that the conservative
        max of `default_ms`, the slowest duration seen and a restored legacy figure."""
        if len(self._recent) >= self._min_samples:
            p95 = self.p95_ms
            assert p95 is not None
            return p95
        candidates = [_check_ms(default_ms, "default estimate"), *self._recent]
        if self._fallback_ms is not None:
            candidates.append(self._fallback_ms)
        return max(candidates)

    def to_record(self, last_updated: str) -> GenerationStatsRecord:
        return GenerationStatsRecord(
            space=self.space,
            sample_count=self._count,
            avg_duration_ms=self.mean_ms or 0.0,
            p95_duration_ms=self.p95_ms or 0.0,
            recent_durations_ms=self.recent_ms,
            last_updated=last_updated,
        )

    @classmethod
    def from_record(
        cls,
        record: GenerationStatsRecord,
        *,
        window: int = DEFAULT_WINDOW,
        min_samples: int = DEFAULT_MIN_SAMPLES,
    ) -> GenerationStats:
        """Restore from a row. The window keeps the most recent `window` durations; a row with no
        recent durations but an average (the seed's table) keeps that figure as a fallback."""
        stats = cls(record.space, window=window, min_samples=min_samples)
        for duration in record.recent_durations_ms:
            stats._recent.append(_check_ms(duration, "recorded duration"))
        stats._count = max(record.sample_count, len(stats._recent))
        if not record.recent_durations_ms and record.sample_count > 0:
            legacy = max(record.avg_duration_ms, record.p95_duration_ms)
            stats._fallback_ms = legacy if legacy > 0 else None
        return stats


@dataclass(frozen=True, slots=True, kw_only=True)
class LatentJob:
    """A latent generation to have finished by `deadline_beat` (id: the latent's id)."""

    id: str
    space: str
    deadline_beat: float
    priority: Priority = Priority.NORMAL
    created_at: float = 0.0
    """Monotonic seconds; breaks ties between otherwise equal jobs (earlier first)."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"job id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.space, str) or not self.space:
            raise ValueError(f"job space must be a non-empty string, got {self.space!r}")
        beat = self.deadline_beat
        if isinstance(beat, bool) or not isinstance(beat, int | float) or not math.isfinite(beat):
            raise ValueError(f"deadline beat must be a finite number, got {beat!r}")
        object.__setattr__(self, "deadline_beat", float(beat))
        object.__setattr__(self, "priority", Priority.parse(self.priority))
        object.__setattr__(self, "created_at", _check_time(self.created_at, "created_at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPlan:
    """Where a pending job stands at one moment."""

    job: LatentJob
    duration_s: float
    """Estimated duration times the priority's safety margin."""
    latest_start: float | None
    """`start_at(job)`; None while the transport is not playing."""
    planned_start: float | None
    """The capacity-aware start (<= latest_start); None while the transport is not playing."""
    at_risk: bool
    """Started now, the job would finish after its deadline with its estimate and margin."""
    likely_late: bool = False
    """Started now, even a typical (mean) duration would finish after the deadline: the job
    waits behind jobs that can still make theirs (it would only make them late too)."""


class DispatchReason(StrEnum):
    """Why a job was handed capacity."""

    DUE = "due"
    """Its planned start has come."""
    UNBLOCK = "unblock"
    """It would otherwise be blocked behind a less urgent job."""
    AT_RISK = "at_risk"
    """It can no longer make its deadline; it runs as soon as that makes no other job late."""
    IDLE = "idle"
    """Capacity would otherwise idle, so it starts early."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispatch:
    """Start this job now."""

    job: LatentJob
    at: float
    reason: DispatchReason
    latest_start: float | None
    at_risk: bool
    """Expected to miss its deadline (started after `latest_start`): report it to the agent."""


@dataclass(slots=True)
class _Running:
    job: LatentJob
    dispatched_at: float
    started_at: float | None = None


class DeadlinePlanner:
    """Decides when each latent job starts; plain and single-threaded (an actor owns one).

    Call `add`/`cancel`/`started`/`finished` as things happen, then `due(now)` to get what to
    dispatch; call `due` again after any of those, after a transport move, and at `next_wakeup()`.
    """

    __slots__ = (
        "_capacity",
        "_default_ms",
        "_lookahead",
        "_min_samples",
        "_pending",
        "_running",
        "_stats",
        "_time_of",
        "_window",
    )

    def __init__(
        self,
        *,
        time_of: Callable[[float], float | None],
        capacity: int = 1,
        default_estimate_ms: float = DEFAULT_ESTIMATE_MS,
        idle_lookahead_s: float | None = None,
        stats: Iterable[GenerationStats] = (),
        stats_window: int = DEFAULT_WINDOW,
        min_samples: int = DEFAULT_MIN_SAMPLES,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        if idle_lookahead_s is not None and (
            not math.isfinite(idle_lookahead_s) or idle_lookahead_s < 0
        ):
            raise ValueError(f"idle_lookahead_s must be None or >= 0, got {idle_lookahead_s!r}")
        self._time_of = time_of
        self._capacity = capacity
        self._default_ms = _check_ms(default_estimate_ms, "default estimate")
        self._lookahead = idle_lookahead_s
        self._window = stats_window
        self._min_samples = min_samples
        self._stats: dict[str, GenerationStats] = {s.space: s for s in stats}
        self._pending: dict[str, LatentJob] = {}
        self._running: dict[str, _Running] = {}

    # ---- configuration and stats ------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._capacity

    def set_capacity(self, capacity: int) -> None:
        """Change the concurrency limit (running jobs beyond it finish normally)."""
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self._capacity = capacity

    def stats(self, space: str) -> GenerationStats:
        """The stats of `space` (created empty on first use)."""
        found = self._stats.get(space)
        if found is None:
            found = GenerationStats(space, window=self._window, min_samples=self._min_samples)
            self._stats[space] = found
        return found

    def all_stats(self) -> list[GenerationStats]:
        return [self._stats[space] for space in sorted(self._stats)]

    def estimate_ms(self, space: str) -> float:
        """What a job in `space` is expected to take (p95 or the conservative default)."""
        found = self._stats.get(space)
        return self._default_ms if found is None else found.estimate_ms(self._default_ms)

    def typical_s(self, space: str) -> float:
        """The mean recent duration of `space` in seconds (the default estimate before any)."""
        found = self._stats.get(space)
        mean = None if found is None else found.mean_ms
        return (self._default_ms if mean is None else mean) / 1000.0

    def duration_s(self, job: LatentJob) -> float:
        """Estimated duration times the safety margin of the job's priority, in seconds."""
        return self.estimate_ms(job.space) * safety_margin(job.priority) / 1000.0

    def start_at(self, job: LatentJob) -> float | None:
        """The latest start that still finishes by the deadline with the margin to spare:
        `time_of(deadline) - estimate * margin`; None while the transport is not playing."""
        deadline_time = self._time_of(job.deadline_beat)
        if deadline_time is None:
            return None
        return deadline_time - self.duration_s(job)

    # ---- job lifecycle ----------------------------------------------------------------------

    def add(self, job: LatentJob, now: float) -> JobPlan:
        """Queue a job; the returned plan says at once whether it can still make its deadline."""
        if job.id in self._pending or job.id in self._running:
            raise ValueError(f"latent job {job.id!r} is already planned")
        self._pending[job.id] = job
        return self._plans(_check_time(now, "now"))[job.id]

    def cancel(self, job_id: str) -> LatentJob | None:
        """Forget a pending or running job (a running one frees its capacity; no stats kept)."""
        job = self._pending.pop(job_id, None)
        if job is not None:
            return job
        running = self._running.pop(job_id, None)
        return None if running is None else running.job

    def started(self, job_id: str, now: float) -> None:
        """The generation service accepted the job: durations are measured from here."""
        self._get_running(job_id).started_at = _check_time(now, "now")

    def finished(self, job_id: str, now: float, success: bool = True) -> float:
        """The job ended; returns its duration in ms (from `started`, else from dispatch).
        Successful durations update the space's stats; failures do not (they are not a measure of
        how long a generation takes)."""
        running = self._get_running(job_id)
        del self._running[job_id]
        began = running.started_at if running.started_at is not None else running.dispatched_at
        duration_ms = max(0.0, (_check_time(now, "now") - began) * 1000.0)
        if success:
            self.stats(running.job.space).observe(duration_ms)
        return duration_ms

    def pending(self) -> list[LatentJob]:
        """Waiting jobs, in the order they would get capacity if all were due."""
        return sorted(self._pending.values(), key=self._urgency_key)

    def running(self) -> list[LatentJob]:
        """Dispatched jobs not yet finished, in dispatch order."""
        return [r.job for r in self._running.values()]

    def plan(self, now: float) -> list[JobPlan]:
        """Every pending job's plan (for summaries and consoles), earliest planned start first."""
        plans = self._plans(_check_time(now, "now"))
        return sorted(plans.values(), key=self._plan_key)

    def at_risk(self, now: float) -> list[JobPlan]:
        """Pending jobs that can no longer make their deadline even if started now."""
        return [p for p in self.plan(now) if p.at_risk]

    # ---- dispatch ---------------------------------------------------------------------------

    def due(self, now: float) -> list[Dispatch]:
        """The jobs to start now (each is moved to running and holds one unit of capacity)."""
        now = _check_time(now, "now")
        dispatched: list[Dispatch] = []
        while self._pending and len(self._running) < self._capacity:
            plans = self._plans(now)
            choice = self._choose(plans, now)
            if choice is None:
                break
            plan, reason = choice
            del self._pending[plan.job.id]
            self._running[plan.job.id] = _Running(job=plan.job, dispatched_at=now)
            at_risk = plan.latest_start is not None and now > plan.latest_start + _EPS
            dispatched.append(
                Dispatch(
                    job=plan.job,
                    at=now,
                    reason=reason,
                    latest_start=plan.latest_start,
                    at_risk=at_risk,
                )
            )
        return dispatched

    def next_wakeup(self, now: float) -> float | None:
        """When `due` may next return something without any other call in between (None: only
        an add, a finish, a cancel or a transport move can change the answer)."""
        if not self._pending or len(self._running) >= self._capacity:
            return None
        lookahead = self._lookahead
        times = [
            p.planned_start - (lookahead or 0.0)
            for p in self._plans(_check_time(now, "now")).values()
            if p.planned_start is not None
        ]
        if not times:
            return None
        return max(now, min(times))

    # ---- internals --------------------------------------------------------------------------

    def _get_running(self, job_id: str) -> _Running:
        try:
            return self._running[job_id]
        except KeyError:
            raise KeyError(f"latent job {job_id!r} is not running") from None

    @staticmethod
    def _urgency_key(job: LatentJob) -> tuple[int, float, float, str]:
        return (job.priority.rank, job.deadline_beat, job.created_at, job.id)

    @staticmethod
    def _plan_key(plan: JobPlan) -> tuple[float, int, float, str]:
        start = plan.planned_start if plan.planned_start is not None else math.inf
        return (start, plan.job.priority.rank, plan.job.created_at, plan.job.id)

    def _plans(self, now: float) -> dict[str, JobPlan]:
        """Latest and capacity-aware planned starts of every pending job.

        Backward packing: jobs sorted by deadline time, latest first (on equal times the less
        urgent first, so the more urgent gets the earlier, safer slot); each takes the slot that
        stays free latest, finishing at min(its deadline, that slot's next start).
        """
        timed: list[tuple[LatentJob, float, float]] = []
        plans: dict[str, JobPlan] = {}
        for job in self._pending.values():
            duration = self.duration_s(job)
            deadline_time = self._time_of(job.deadline_beat)
            if deadline_time is None:
                plans[job.id] = JobPlan(
                    job=job,
                    duration_s=duration,
                    latest_start=None,
                    planned_start=None,
                    at_risk=False,
                    likely_late=False,
                )
            else:
                timed.append((job, duration, deadline_time))
        timed.sort(
            key=lambda item: (
                -item[2],
                -item[0].priority.rank,
                -item[0].created_at,
                item[0].id,
            )
        )
        slots = [math.inf] * self._capacity
        for job, duration, deadline_time in timed:
            slot = max(range(len(slots)), key=slots.__getitem__)
            finish = min(deadline_time, slots[slot])
            planned = finish - duration
            slots[slot] = planned
            latest = deadline_time - duration
            plans[job.id] = JobPlan(
                job=job,
                duration_s=duration,
                latest_start=latest,
                planned_start=planned,
                at_risk=now > latest + _EPS,
                likely_late=now + self.typical_s(job.space) > deadline_time + _EPS,
            )
        return plans

    def _choose(
        self, plans: dict[str, JobPlan], now: float
    ) -> tuple[JobPlan, DispatchReason] | None:
        """The job the next free unit of capacity goes to, or None to leave it idle for now.

        Classes, in order: jobs that can still make their deadline and whose planned start has
        come (priority, then planned start); jobs that cannot make it any more (priority, then
        latest start), unless running one now would push a job that can still make it past its
        latest start; idle lending. Then the head-of-line check against more urgent priorities.
        """
        last_unit = len(self._running) + 1 >= self._capacity
        feasible = [p for p in plans.values() if p.planned_start is not None and not p.likely_late]
        hopeless = [p for p in plans.values() if p.likely_late]
        due = [p for p in feasible if p.planned_start is not None and p.planned_start <= now]
        pick: JobPlan | None = None
        reason = DispatchReason.DUE
        if due:
            pick = min(due, key=self._priority_key)
        elif hopeless:
            pick = min(hopeless, key=self._priority_key)
            reason = DispatchReason.AT_RISK
            if last_unit:
                endangered = [p for p in feasible if self._pushed_late(p, now + pick.duration_s)]
                if endangered:
                    pick = min(endangered, key=self._plan_key)
                    reason = DispatchReason.UNBLOCK
        if pick is None:
            pick = self._idle_candidate(plans, now)
            reason = DispatchReason.IDLE
        if pick is None:
            return None
        if last_unit:
            finish = now + pick.duration_s
            blocked = [
                p
                for p in feasible
                if p.job.priority.rank < pick.job.priority.rank and self._pushed_late(p, finish)
            ]
            if blocked:
                pick = min(blocked, key=self._priority_key)
                reason = DispatchReason.UNBLOCK
        return pick, reason

    @staticmethod
    def _pushed_late(plan: JobPlan, start: float) -> bool:
        """Would starting `plan`'s job at `start` be after its latest start?"""
        return plan.latest_start is not None and plan.latest_start < start - _EPS

    def _priority_key(self, plan: JobPlan) -> tuple[int, float, int, float, str]:
        return (plan.job.priority.rank, *self._plan_key(plan))

    def _idle_candidate(self, plans: dict[str, JobPlan], now: float) -> JobPlan | None:
        if self._lookahead is None:
            timed = [p for p in plans.values() if p.planned_start is not None and not p.likely_late]
            if timed:
                return min(timed, key=self._plan_key)
            untimed = list(plans.values())
            if not untimed:
                return None
            return min(untimed, key=lambda p: self._urgency_key(p.job))
        horizon = now + self._lookahead
        soon = [
            p
            for p in plans.values()
            if p.planned_start is not None and not p.likely_late and p.planned_start <= horizon
        ]
        return min(soon, key=self._plan_key) if soon else None
