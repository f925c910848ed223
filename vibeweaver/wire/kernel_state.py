"""Kernel snapshots: the vibeweaver.capnp `KernelState` (sheet §2.4.9) to and from plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from vibeweaver.wire._capnp import (
    check_enum,
    decode_root,
    encoding,
    enum_name,
    read_text_list,
    schemas,
    set_text_list,
    text,
)

__all__ = [
    "ArtifactRef",
    "BeatState",
    "JobEntry",
    "KernelJobState",
    "KernelState",
    "KernelTransport",
    "decode_kernel_state",
    "encode_kernel_state",
]

KernelTransport: TypeAlias = Literal["stopped", "playing", "paused"]
_TRANSPORTS: Final[tuple[KernelTransport, ...]] = ("stopped", "playing", "paused")
# vibeweaver.capnp's JobState has no `cancelled` (unlike responses.capnp's).
KernelJobState: TypeAlias = Literal["pending", "running", "complete", "failed"]
_JOB_STATES: Final[tuple[KernelJobState, ...]] = ("pending", "running", "complete", "failed")


@dataclass(frozen=True, slots=True, kw_only=True)
class BeatState:
    """`BeatState`: the logical clock position and tempo."""

    current: float = 0.0
    tempo_bpm: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEntry:
    """`JobEntry`: a tracked job; artifact_id "" = none."""

    job_id: str
    state: KernelJobState
    artifact_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactRef:
    """`ArtifactRef`: a recently seen artifact (created_at in Unix nanoseconds)."""

    artifact_id: str
    content_hash: str
    tags: tuple[str, ...] = ()
    created_at_nanos: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelState:
    """`KernelState`: a kernel snapshot (session_vibe "" = none)."""

    session_id: str
    session_name: str
    session_vibe: str = ""
    tempo_bpm: float = 120.0
    transport: KernelTransport = "stopped"
    beat: BeatState = field(default_factory=BeatState)
    jobs: tuple[JobEntry, ...] = ()
    recent_artifacts: tuple[ArtifactRef, ...] = ()
    captured_at_nanos: int = 0


@encoding
def encode_kernel_state(state: KernelState) -> bytes:
    """A standard-framed, unpacked message rooted at `KernelState` (fields in ordinal order)."""
    check_enum(state.transport, _TRANSPORTS, "transport state")
    msg = schemas().vibeweaver.KernelState.new_message()
    msg.init("sessionId").value = text(state.session_id)
    msg.sessionName = text(state.session_name)
    msg.sessionVibe = text(state.session_vibe)
    msg.tempoBpm = float(state.tempo_bpm)
    msg.transport = state.transport
    beat = msg.init("beat")
    beat.current = float(state.beat.current)
    beat.tempoBpm = float(state.beat.tempo_bpm)
    jobs = msg.init("jobs", len(state.jobs))
    for i, job in enumerate(state.jobs):
        j = jobs[i]
        j.jobId = text(job.job_id)
        j.state = check_enum(job.state, _JOB_STATES, "kernel job state")
        j.artifactId = text(job.artifact_id)
    arts = msg.init("recentArtifacts", len(state.recent_artifacts))
    for i, art in enumerate(state.recent_artifacts):
        a = arts[i]
        a.id = text(art.artifact_id)
        a.contentHash = text(art.content_hash)
        set_text_list(a, "tags", art.tags)
        a.init("createdAt").nanos = int(art.created_at_nanos)
    msg.capturedAtNanos = int(state.captured_at_nanos)
    return bytes(msg.to_bytes())


def _read(r: Any) -> KernelState:
    beat = r.beat
    return KernelState(
        session_id=r.sessionId.value,
        session_name=r.sessionName,
        session_vibe=r.sessionVibe,
        tempo_bpm=float(r.tempoBpm),
        transport=enum_name(r.transport, _TRANSPORTS, "TransportState"),
        beat=BeatState(current=float(beat.current), tempo_bpm=float(beat.tempoBpm)),
        jobs=tuple(
            JobEntry(
                job_id=j.jobId,
                state=enum_name(j.state, _JOB_STATES, "JobState"),
                artifact_id=j.artifactId,
            )
            for j in r.jobs
        ),
        recent_artifacts=tuple(
            ArtifactRef(
                artifact_id=a.id,
                content_hash=a.contentHash,
                tags=read_text_list(a.tags),
                created_at_nanos=int(a.createdAt.nanos),
            )
            for a in r.recentArtifacts
        ),
        captured_at_nanos=int(r.capturedAtNanos),
    )


def decode_kernel_state(body: bytes) -> KernelState:
    """Decode a `KernelState` message. Raises WireDecodeError if undecodable."""
    return decode_root(schemas().vibeweaver.KernelState, body, _read, "KernelState")
