"""The DSL's value objects as an agent sees them: Session and Marker, each with a helpful repr."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vibeweaver.persistence.records import MarkerRecord, SessionRecord


@dataclass(frozen=True, slots=True)
class Session:
    """A session: the persistent context of a piece (read-only; session() and tempo() change it)."""

    id: str
    name: str
    vibe: str | None
    tempo_bpm: float

    @classmethod
    def of(cls, record: SessionRecord) -> Session:
        return cls(id=record.id, name=record.name, vibe=record.vibe, tempo_bpm=record.tempo_bpm)

    def __repr__(self) -> str:
        vibe = f", vibe={self.vibe!r}" if self.vibe else ""
        return f"Session({self.name!r}{vibe}, tempo={self.tempo_bpm:g} BPM)"


@dataclass(frozen=True, slots=True)
class Marker:
    """A named position on the session's timeline, in beats."""

    name: str
    beat: float
    metadata: Any = None

    @classmethod
    def of(cls, record: MarkerRecord) -> Marker:
        metadata = json.loads(record.metadata) if record.metadata else None
        return cls(name=record.name, beat=record.beat, metadata=metadata)

    def __repr__(self) -> str:
        extra = f", {self.metadata!r}" if self.metadata is not None else ""
        return f"Marker({self.name!r}@{self.beat:g}{extra})"
