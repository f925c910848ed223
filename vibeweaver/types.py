"""Shared vocabulary: identifiers, enums and small value types used across the layers."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

SessionId = NewType("SessionId", str)
RuleId = NewType("RuleId", str)
MarkerId = NewType("MarkerId", str)
JobId = NewType("JobId", str)
ArtifactId = NewType("ArtifactId", str)


class Priority(StrEnum):
    """Rule and job priority, most urgent first (the declaration order is the ranking)."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
    IDLE = "idle"

    @property
    def rank(self) -> int:
        """0 for critical … 4 for idle: sort ascending to get the most urgent first."""
        return _PRIORITY_RANK[self]

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        """Accept a Priority or its name in any case; raise ValueError naming the choices."""
        if isinstance(value, Priority):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise ValueError(f"unknown priority {value!r}; choose one of: {choices}") from None


_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}


class TransportState(StrEnum):
    """The transport of a session's logical clock."""

    STOPPED = "stopped"
    PLAYING = "playing"
    PAUSED = "paused"

    @classmethod
    def parse(cls, value: str | TransportState) -> TransportState:
        """Accept a TransportState or its name in any case; raise ValueError naming the choices."""
        if isinstance(value, TransportState):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(
                f"unknown transport state {value!r}; choose one of: {choices}"
            ) from None


class TriggerType(StrEnum):
    """What makes a rule fire (the seed's Trigger union)."""

    BEAT = "beat"
    MARKER = "marker"
    DEADLINE = "deadline"
    ARTIFACT = "artifact"
    JOB_COMPLETE = "job_complete"
    TRANSPORT = "transport"


class ActionType(StrEnum):
    """What a rule does when it fires (the seed's Action union plus Python callbacks)."""

    SAMPLE = "sample"
    SCHEDULE = "schedule"
    SAMPLE_AND_SCHEDULE = "sample_and_schedule"
    PLAY = "play"
    PAUSE = "pause"
    STOP = "stop"
    SEEK = "seek"
    AUDITION = "audition"
    NOTIFY = "notify"
    CALLBACK = "callback"
