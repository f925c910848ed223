"""Kernel snapshots (SPEC §4.6): a kernel's jobs and artifacts plus its session's transport clock
as the seed's Cap'n Proto `KernelState`, and back. Pure functions: when snapshots are taken and how
they are restored is the KernelActor's business (see its module docstring).

What is kept, and the decisions behind it:

* Jobs: id, state and artifact id, the fields of vibeweaver.capnp's `JobEntry`. LiveState's
  "pending" (the request was sent, hootenanny has not named the job) and "running" (named, not
  ended) map to the same names; "complete" and "failed" too. The schema's JobState has no
  "cancelled": a cancelled job is stored as "failed" (the GenerationClient already reports a
  cancellation as a failure saying "cancelled"). Not kept, since the schema has no field for them:
  space, prompt, error text and timings, so a restored job shows as `(restored)`.
  Direct generations (Orpheus, abc) have no job id: their entries have an empty id.
* Artifacts: id, content hash and tags (`ArtifactRef`); created_at is 0 (unknown: broadcasts do not
  carry it); space, prompt and creator are not kept.
* Transport: `transport` is the clock's state when captured, `beat.current` its position then and
  `beat.tempoBpm` its tempo; the top-level `tempoBpm` is the session record's tempo.
* Restoring the transport (`plan_restore`): a clock captured while playing comes back **paused at
  the captured position**. Its anchor was a monotonic instant of a process that is gone, and
  counting the downtime as played beats would fire beat rules for music nobody heard. When
  hootenanny is playing, its next `transportStateChanged`/`beatTick` broadcast re-anchors the clock
  as usual (playing, at hootenanny's position), so the pause lasts only until then. Paused and
  stopped clocks come back as they were. A tempo or position that is out of range (a snapshot
  written by something else) is clamped, not refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from vibeweaver.dsl.live import Artifact, JobRecord, LiveExport
from vibeweaver.errors import VibeweaverError
from vibeweaver.scheduling.clock import MAX_TEMPO_BPM, MIN_TEMPO_BPM
from vibeweaver.wire.errors import WireDecodeError
from vibeweaver.wire.kernel_state import (
    ArtifactRef,
    BeatState,
    JobEntry,
    KernelJobState,
    KernelState,
    KernelTransport,
    decode_kernel_state,
    encode_kernel_state,
)

if TYPE_CHECKING:
    from vibeweaver.persistence.records import SessionRecord

__all__ = [
    "DEFAULT_TEMPO_BPM",
    "ClockReading",
    "RestorePlan",
    "SnapshotUnreadable",
    "TransportPlan",
    "capture",
    "decode",
    "encode",
    "plan_restore",
]

DEFAULT_TEMPO_BPM: Final = 120.0
_TRANSPORTS: Final[tuple[KernelTransport, ...]] = ("stopped", "playing", "paused")


class SnapshotUnreadable(VibeweaverError):
    """A stored snapshot cannot be used (undecodable bytes, or another session's)."""


class ClockReading(Protocol):
    """What a snapshot needs of the scheduler's `ClockSnapshot`."""

    @property
    def state(self) -> str: ...
    @property
    def tempo_bpm(self) -> float: ...
    @property
    def position(self) -> float: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportPlan:
    """How the session's clock comes back: `state` is "paused" or "stopped" (never playing, see
    the module docstring), at `beat`, moving at `tempo_bpm` once played; `captured_state` is the
    state it had when the snapshot was taken."""

    state: Literal["paused", "stopped"]
    beat: float
    tempo_bpm: float
    captured_state: KernelTransport


@dataclass(frozen=True, slots=True, kw_only=True)
class RestorePlan:
    """A decoded snapshot in the terms the kernel restores: LiveState records and a clock."""

    session_id: str
    jobs: tuple[JobRecord, ...]
    artifacts: tuple[Artifact, ...]
    transport: TransportPlan
    captured_at_nanos: int


def capture(
    session: SessionRecord,
    live: LiveExport,
    clock: ClockReading | None,
    *,
    captured_at_nanos: int,
) -> KernelState:
    """The KernelState of `session` from its exported jobs/artifacts and its clock (None: not
    readable now; the clock is then recorded as stopped at beat 0 at the session's tempo)."""
    tempo = _tempo(session.tempo_bpm, DEFAULT_TEMPO_BPM)
    if clock is None:
        transport: KernelTransport = "stopped"
        beat = BeatState(current=0.0, tempo_bpm=tempo)
    else:
        transport = _transport(clock.state)
        beat = BeatState(current=_beat(clock.position), tempo_bpm=_tempo(clock.tempo_bpm, tempo))
    return KernelState(
        session_id=session.id,
        session_name=session.name,
        session_vibe=session.vibe or "",
        tempo_bpm=tempo,
        transport=transport,
        beat=beat,
        jobs=tuple(_entry(job) for job in live.jobs),
        recent_artifacts=tuple(
            ArtifactRef(
                artifact_id=artifact.id,
                content_hash=artifact.content_hash or "",
                tags=tuple(artifact.tags),
            )
            for artifact in live.artifacts
        ),
        captured_at_nanos=max(0, int(captured_at_nanos)),
    )


def encode(state: KernelState) -> bytes:
    """The snapshot's bytes (a standard-framed Cap'n Proto message)."""
    return encode_kernel_state(state)


def decode(body: bytes, *, session_id: str | None = None) -> KernelState:
    """Decode a stored snapshot; SnapshotUnreadable if the bytes are not a KernelState, or (with
    `session_id`) if it is another session's."""
    try:
        state = decode_kernel_state(bytes(body))
    except WireDecodeError as exc:
        raise SnapshotUnreadable(f"{exc} ({len(body)} bytes)") from None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:  # (decode_root wraps these)
        raise SnapshotUnreadable(
            f"cannot decode KernelState: {type(exc).__name__}: {exc} ({len(body)} bytes)"
        ) from None
    if session_id is not None and state.session_id != session_id:
        raise SnapshotUnreadable(
            f"the snapshot stored for session {session_id} is of session "
            f"{state.session_id or '(none)'}"
        )
    return state


def plan_restore(state: KernelState) -> RestorePlan:
    """What to restore from `state`: jobs and artifacts oldest first, the clock paused/stopped."""
    job_of_artifact = {job.artifact_id: job.job_id or None for job in state.jobs if job.artifact_id}
    artifacts = tuple(
        Artifact(
            ref.artifact_id,
            job_id=job_of_artifact.get(ref.artifact_id),
            tags=tuple(ref.tags),
            content_hash=ref.content_hash or None,
        )
        for ref in state.recent_artifacts
        if ref.artifact_id
    )
    jobs = tuple(
        JobRecord(job.job_id or None, job.state, job.artifact_id or None) for job in state.jobs
    )
    session_tempo = _tempo(state.tempo_bpm, DEFAULT_TEMPO_BPM)
    transport = TransportPlan(
        state="stopped" if state.transport == "stopped" else "paused",
        beat=_beat(state.beat.current),
        tempo_bpm=_tempo(state.beat.tempo_bpm, session_tempo),
        captured_state=state.transport,
    )
    return RestorePlan(
        session_id=state.session_id,
        jobs=jobs,
        artifacts=artifacts,
        transport=transport,
        captured_at_nanos=state.captured_at_nanos,
    )


def _transport(state: str) -> KernelTransport:
    for known in _TRANSPORTS:
        if state == known:
            return known
    return "stopped"


def _entry(job: JobRecord) -> JobEntry:
    state: KernelJobState = job.state
    return JobEntry(job_id=job.job_id or "", state=state, artifact_id=job.artifact_id or "")


def _tempo(value: float, fallback: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return fallback
    return min(max(float(value), MIN_TEMPO_BPM), MAX_TEMPO_BPM)


def _beat(value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return 0.0
    return float(value)
