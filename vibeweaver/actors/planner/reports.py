"""What the DeadlinePlanner says about its latents: outcomes, risk notes, status and stats.

Pure functions of the planner's state (`PlannerState`), called by the planner actor on its thread:
the `LatentCompleted` of an ended latent, the text of a "cannot make its deadline" report, the
`PlannerStatus` answer and the stats the actor publishes.
"""

from __future__ import annotations

import math
from typing import Any

from vibeweaver.actors.planner import messages as m
from vibeweaver.actors.planner.state import PlannerState
from vibeweaver.types import RuleId

__all__ = ["completed", "duration_ms", "published", "risk_note", "status"]

_EPS = 1e-9


def completed(
    state: PlannerState,
    spec: m.LatentSpec,
    outcome: str,
    now: float,
    *,
    artifact_id: str | None = None,
    job_id: str | None = None,
    error: str | None = None,
    duration_ms: float | None = None,
) -> m.LatentCompleted:
    """The end of `spec`'s latent at `now` (state `outcome`), with where the transport was."""
    position = state.mirror.beat_at(now)
    return m.LatentCompleted(
        rule_id=spec.rule_id,
        session_id=spec.session_id,
        space=spec.space,
        prompt=spec.prompt,
        deadline_beat=spec.deadline_beat,
        state=outcome,
        artifact_id=artifact_id,
        job_id=job_id,
        error=error,
        duration_ms=duration_ms,
        finished_beat=position,
        late=outcome == "complete" and position > spec.deadline_beat + _EPS,
        started_late=spec.rule_id in state.started_late,
    )


def risk_note(
    spec: m.LatentSpec, need_s: float, latest_start: float | None, now: float, *, started: bool
) -> str:
    """The session summary's note for a latent that cannot make its deadline."""
    late_s = "" if latest_start is None else f", {now - latest_start:.1f} s past its latest start"
    what = risk_result(started=started)
    then = "it runs now" if started else "it starts as soon as capacity is free"
    return (
        f"latent {spec.space} for beat {spec.deadline_beat:g} ({spec.priority.value} priority) "
        f"{what}: it needs ~{need_s:.1f} s{late_s}; {then} and is expected to finish after "
        "its deadline"
    )


def risk_result(*, started: bool) -> str:
    """The history entry's result for a latent that cannot make its deadline."""
    return "started late" if started else "cannot make its deadline"


def status(state: PlannerState, capacity: int, now: float, wake: float | None) -> m.PlannerStatus:
    """The answer to `GetPlannerStatus`: planned and running latents, stats and estimates."""
    latents: list[m.LatentStatus] = []
    for plan in state.planner.plan(now):
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
    for rule_id in list(state.tokens):
        spec = state.specs.get(rule_id)
        if spec is not None:
            latents.append(
                m.LatentStatus(
                    rule_id=rule_id,
                    space=spec.space,
                    deadline_beat=spec.deadline_beat,
                    priority=spec.priority,
                    state="running",
                    at_risk=rule_id in state.started_late,
                )
            )
    stats = state.planner.all_stats()
    return m.PlannerStatus(
        capacity=capacity,
        spaces=tuple(
            (st.space, st.count, st.mean_ms or 0.0, st.p95_ms or 0.0)
            for st in stats
            if st.count > 0
        ),
        latents=tuple(latents),
        session_id=state.session_id,
        next_wakeup=wake,
        estimates_ms=tuple((st.space, state.planner.estimate_ms(st.space)) for st in stats),
    )


def published(state: PlannerState, capacity: int, now: float, wake: float | None) -> dict[str, Any]:
    """The planner's published stats (the admin views read them)."""
    planner = state.planner
    return {
        "capacity": capacity,
        "session": {"id": state.session_id},
        "pending": len(planner.pending()),
        "running": len(state.tokens),
        "at_risk": sorted(state.reported),
        "next_wakeup_in_s": None if wake is None else round(max(0.0, wake - now), 3),
        "spaces": {
            st.space: {
                "count": st.count,
                "mean_ms": None if st.mean_ms is None else round(st.mean_ms, 1),
                "p95_ms": None if st.p95_ms is None else round(st.p95_ms, 1),
                "estimate_ms": round(planner.estimate_ms(st.space), 1),
            }
            for st in planner.all_stats()
        },
    }


def duration_ms(value: object) -> float | None:
    """A generation's reported duration, if it is a finite non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
