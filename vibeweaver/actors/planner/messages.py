"""The DeadlinePlanner's messages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPlannerStatus:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannerStatus:
    capacity: int
    spaces: tuple[tuple[str, int, float, float], ...]
    """(space, sample count, mean ms, p95 ms) per space with measured generation times."""
