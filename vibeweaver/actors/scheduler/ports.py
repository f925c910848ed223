"""What the RuleScheduler and the DeadlinePlanner need from the generation layer and hootenanny.

The generation layer (`vibeweaver.generation.GenerationClient`) turns a space + prompt into the
right hootenanny tool request, follows the job to completion through the hub and measures its
duration. The actors only depend on the small `GenerationPort` protocol below, so tests can hand
them a fake on simulated time, and a system without the layer reports a clear failure instead of
silently doing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "MISSING_GENERATION",
    "GenerationOutcomeLike",
    "GenerationPort",
    "LocalOutcome",
    "failed_outcome",
]

MISSING_GENERATION = (
    "needs the hootenanny generation layer (vibeweaver.generation), which this system was "
    "started without"
)


class GenerationOutcomeLike(Protocol):
    """How a generation ended (the generation layer's `GenerationOutcome`)."""

    @property
    def space(self) -> str: ...
    @property
    def job_id(self) -> str | None: ...
    @property
    def state(self) -> str: ...

    """"complete" or "failed"."""

    @property
    def artifact_id(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def duration_ms(self) -> float: ...


class GenerationPort(Protocol):
    """`GenerationClient.start`: begin a generation; `callback` runs once, on another thread."""

    def start(
        self,
        space: str,
        prompt: str | None,
        *,
        inference: Sequence[tuple[str, object]] = (),
        tags: Sequence[str] = (),
        callback: Callable[[Any], None],
    ) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalOutcome:
    """An outcome made up locally (the layer is missing, or `start` raised)."""

    space: str
    job_id: str | None = None
    state: str = "failed"
    artifact_id: str | None = None
    error: str | None = None
    duration_ms: float = 0.0


def failed_outcome(space: str, error: str) -> LocalOutcome:
    return LocalOutcome(space=space, state="failed", error=error)
