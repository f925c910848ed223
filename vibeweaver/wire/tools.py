"""Link B codec: vibeweaver's tool calls to hootenanny and the replies it gets (sheet §3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, TypeAlias, cast

from vibeweaver.wire._capnp import (
    check_enum,
    decode_root,
    encoding,
    enum_name,
    f32,
    new_envelope,
    read_text_list,
    schemas,
    set_member,
    set_text_list,
    text,
    union_members,
)
from vibeweaver.wire.envelope import (
    ErrorReply,
    PingRequest,
    PongReply,
    read_error,
    read_pong,
    write_error,
    write_pong,
)
from vibeweaver.wire.errors import WireDecodeError, WireEncodeError

__all__ = [
    "JOB_STATES",
    "AbcToMidi",
    "AbcToMidiResult",
    "Ack",
    "AnticipatoryContinue",
    "AnticipatoryGenerate",
    "AnticipatoryGenerated",
    "ArtifactCreate",
    "ArtifactCreatedReply",
    "ArtifactGet",
    "ArtifactInfo",
    "ArtifactList",
    "ArtifactListing",
    "ArtifactMediaMetadata",
    "ArtifactMetadata",
    "ArtifactUpload",
    "AudioFormat",
    "AudioGenerated",
    "AudioInputStatus",
    "AudioOutputStatus",
    "Audioldm2Generate",
    "Audioldm2Generated",
    "ConvertMidiToWav",
    "GardenClearRegions",
    "GardenCreateRegion",
    "GardenDeleteRegion",
    "GardenEmergencyPause",
    "GardenGetRegions",
    "GardenMoveRegion",
    "GardenPause",
    "GardenPlay",
    "GardenRegionCreated",
    "GardenRegionInfo",
    "GardenRegions",
    "GardenSeek",
    "GardenSetTempo",
    "GardenStatus",
    "GardenStop",
    "JobCancel",
    "JobCancelReply",
    "JobCounts",
    "JobList",
    "JobListReply",
    "JobPoll",
    "JobPollReply",
    "JobStarted",
    "JobStateName",
    "JobStatus",
    "JobStatusReply",
    "LinkBRequest",
    "MidiConnection",
    "MidiMetadata",
    "MidiStatus",
    "MidiToWavResult",
    "MonitorStatus",
    "MusicgenGenerate",
    "OrpheusBridge",
    "OrpheusContinue",
    "OrpheusGenerate",
    "OrpheusGenerateSeeded",
    "OrpheusGenerated",
    "OrpheusLoops",
    "OtherReply",
    "OtherToolCall",
    "PollModeName",
    "ToolCall",
    "ToolReply",
    "ToolResponseReply",
    "TransportStateName",
    "TransportStatus",
    "UnifiedStatus",
    "YueGenerate",
    "decode_tool_reply",
    "decode_tool_request",
    "encode_tool_reply",
    "encode_tool_request",
    "tool_name",
    "tool_name_of",
]

JobStateName: TypeAlias = Literal["pending", "running", "complete", "failed", "cancelled"]
JOB_STATES: Final[tuple[JobStateName, ...]] = (
    "pending",
    "running",
    "complete",
    "failed",
    "cancelled",
)
TransportStateName: TypeAlias = Literal["stopped", "playing", "paused"]
_TRANSPORT_STATES: Final[tuple[TransportStateName, ...]] = ("stopped", "playing", "paused")
AudioFormat: TypeAlias = Literal["wav", "mp3", "flac"]
_AUDIO_FORMATS: Final[tuple[AudioFormat, ...]] = ("wav", "mp3", "flac")
PollModeName: TypeAlias = Literal["any", "all"]
_POLL_MODES: Final[tuple[PollModeName, ...]] = ("any", "all")

# ---------------------------------------------------------------------------------------------
# Request values (ToolRequest members). Defaults are the values of sheet §3.4.


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactMetadata:
    """common.capnp `ArtifactMetadata` carried by every generation request ("" = none)."""

    variation_set_id: str = ""
    parent_id: str = ""
    tags: tuple[str, ...] = ()
    creator: str = "vibeweaver"


def _meta() -> ArtifactMetadata:
    return ArtifactMetadata()


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenPlay:
    """`gardenPlay` (51, Void) -> jobStarted `garden_play`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenPause:
    """`gardenPause` (52, Void) -> jobStarted `garden_pause`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenStop:
    """`gardenStop` (53, Void) -> jobStarted `garden_stop`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenEmergencyPause:
    """`gardenEmergencyPause` (57, Void) -> jobStarted `garden_emergency_pause`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenClearRegions:
    """`gardenClearRegions` (69, Void) -> jobStarted `garden_clear_regions`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenStatus:
    """`gardenStatus` (50, Void) -> direct `unifiedStatus`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenSeek:
    """`gardenSeek` (54) -> jobStarted `garden_seek`."""

    beat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenSetTempo:
    """`gardenSetTempo` (55) -> jobStarted `garden_set_tempo`."""

    bpm: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenCreateRegion:
    """`gardenCreateRegion` (58) -> jobStarted; the job result is `gardenRegionCreated`.

    behavior_type "latent" makes content_id a job id; anything else (use "play_content") makes it
    content (an `artifact_…` id or a CAS hash).
    """

    position: float
    duration: float
    behavior_type: str = "play_content"
    content_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenDeleteRegion:
    """`gardenDeleteRegion` (59) -> jobStarted."""

    region_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenMoveRegion:
    """`gardenMoveRegion` (60) -> jobStarted."""

    region_id: str
    new_position: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenGetRegions:
    """`gardenGetRegions` (61) -> direct `gardenRegions`; range applies only if both are != 0."""

    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStatus:
    """`jobStatus` (38) -> direct `jobStatus`, or error `not_found`."""

    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPoll:
    """`jobPoll` (39) -> direct `jobPoll`; hootenanny caps timeout_ms at 30000."""

    job_ids: tuple[str, ...]
    timeout_ms: int = 10_000
    mode: PollModeName = "any"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCancel:
    """`jobCancel` (40) -> direct `jobCancel`."""

    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobList:
    """`jobList` (41) -> direct `jobList`; status "" = all."""

    status: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactGet:
    """`artifactGet` (22) -> direct `artifactInfo`, or error `not_found`."""

    artifact_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactList:
    """`artifactList` (23) -> direct `artifactList`; "" = no filter."""

    tag: str = ""
    creator: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactUpload:
    """`artifactUpload` (21) -> direct `artifactCreated`; file_path is on hootenanny's host."""

    file_path: str
    mime_type: str
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactCreate:
    """`artifactCreate` (24) -> direct `artifactCreated`; metadata is JSON text."""

    cas_hash: str
    tags: tuple[str, ...] = ()
    creator: str = "vibeweaver"
    metadata: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrpheusGenerate:
    """`orpheusGenerate` (4) -> direct `orpheusGenerated` (synchronous)."""

    model: str = ""
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    num_variations: int = 1
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrpheusGenerateSeeded:
    """`orpheusGenerateSeeded` (5) -> direct `orpheusGenerated`."""

    seed_hash: str
    model: str = ""
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    num_variations: int = 1
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrpheusContinue:
    """`orpheusContinue` (6) -> direct `orpheusGenerated`."""

    input_hash: str
    model: str = ""
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    num_variations: int = 1
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrpheusBridge:
    """`orpheusBridge` (7) -> direct `orpheusGenerated`; section_b_hash "" = none."""

    section_a_hash: str
    section_b_hash: str = ""
    model: str = ""
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrpheusLoops:
    """`orpheusLoops` (8) -> direct `orpheusGenerated`; seed_hash "" = none."""

    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    num_variations: int = 1
    seed_hash: str = ""
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class MusicgenGenerate:
    """`musicgenGenerate` (19) -> jobStarted; job result `audioGenerated`."""

    prompt: str = ""
    duration: float = 10.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.9
    guidance_scale: float = 3.0
    do_sample: bool = True
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class YueGenerate:
    """`yueGenerate` (20) -> jobStarted; job result `audioGenerated`."""

    lyrics: str
    genre: str = "Pop"
    max_new_tokens: int = 3000
    run_n_segments: int = 2
    seed: int = 42
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class Audioldm2Generate:
    """`audioldm2Generate` (90) -> jobStarted; job result `audioGenerated`; seed 0 = random."""

    prompt: str = ""
    negative_prompt: str = ""
    duration: float = 5.0
    num_inference_steps: int = 200
    guidance_scale: float = 3.5
    seed: int = 0
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnticipatoryGenerate:
    """`anticipatoryGenerate` (91) -> jobStarted; job result `anticipatoryGenerated`."""

    length_seconds: float = 30.0
    top_p: float = 0.95
    model_size: str = "small"
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnticipatoryContinue:
    """`anticipatoryContinue` (92) -> jobStarted; job result `anticipatoryGenerated`."""

    input_hash: str
    length_seconds: float = 30.0
    prime_seconds: float = 5.0
    top_p: float = 0.95
    model_size: str = "small"
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class AbcToMidi:
    """`abcToMidi` (11) -> direct `abcToMidi` (ToolResponse 52); velocity 0 really means 0."""

    abc: str
    tempo_override: int = 0
    transpose: int = 0
    velocity: int = 80
    channel: int = 0
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvertMidiToWav:
    """`convertMidiToWav` (14) -> direct `midiToWav`."""

    input_hash: str
    soundfont_hash: str
    sample_rate: int = 44100
    metadata: ArtifactMetadata = field(default_factory=_meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherToolCall:
    """A decodable request this codec does not map.

    kind is "toolRequest.<member>" for a ToolRequest member, else the Payload member name
    ("register", "shutdown", "transportPlay", ...).
    """

    kind: str


ToolCall: TypeAlias = (
    GardenPlay
    | GardenPause
    | GardenStop
    | GardenEmergencyPause
    | GardenClearRegions
    | GardenStatus
    | GardenSeek
    | GardenSetTempo
    | GardenCreateRegion
    | GardenDeleteRegion
    | GardenMoveRegion
    | GardenGetRegions
    | JobStatus
    | JobPoll
    | JobCancel
    | JobList
    | ArtifactGet
    | ArtifactList
    | ArtifactUpload
    | ArtifactCreate
    | OrpheusGenerate
    | OrpheusGenerateSeeded
    | OrpheusContinue
    | OrpheusBridge
    | OrpheusLoops
    | MusicgenGenerate
    | YueGenerate
    | Audioldm2Generate
    | AnticipatoryGenerate
    | AnticipatoryContinue
    | AbcToMidi
    | ConvertMidiToWav
)
LinkBRequest: TypeAlias = ToolCall | PingRequest | OtherToolCall

# ---------------------------------------------------------------------------------------------
# Reply values (ToolResponse members)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStarted:
    """`jobStarted` (6): the job exists (for garden jobs it is already final)."""

    job_id: str
    tool: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """`ack` (33): the stored result of completed garden jobs."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenRegionCreated:
    """`gardenRegionCreated` (23): the result of a `gardenCreateRegion` job."""

    region_id: str
    position: float
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenRegionInfo:
    """One entry of `gardenRegions` (behavior_type "latent" or "content")."""

    region_id: str
    position: float
    duration: float
    behavior_type: str
    content_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GardenRegions:
    """`gardenRegions` (22)."""

    regions: tuple[GardenRegionInfo, ...]
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrpheusGenerated:
    """`orpheusGenerated` (16): one artifact per variation."""

    output_hashes: tuple[str, ...]
    artifact_ids: tuple[str, ...]
    tokens_per_variation: tuple[int, ...]
    total_tokens: int
    variation_set_id: str
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioGenerated:
    """`audioGenerated` (18): the result of musicgen / yue / audioldm2 jobs."""

    artifact_id: str
    content_hash: str
    duration_seconds: float
    sample_rate: int
    format: AudioFormat = "wav"
    genre: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Audioldm2Generated:
    """`audioldm2Generated` (69)."""

    artifact_id: str
    content_hash: str
    duration_seconds: float
    sample_rate: int
    prompt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AnticipatoryGenerated:
    """`anticipatoryGenerated` (70): the result of anticipatory jobs."""

    artifact_id: str
    content_hash: str
    duration_seconds: float
    model_size: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AbcToMidiResult:
    """`abcToMidi` (52): the artifact made from ABC notation."""

    artifact_id: str
    content_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MidiToWavResult:
    """`midiToWav` (53)."""

    artifact_id: str
    content_hash: str
    sample_rate: int
    duration_secs: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactCreatedReply:
    """`artifactCreated` (3): the reply to artifactUpload / artifactCreate."""

    artifact_id: str
    content_hash: str
    tags: tuple[str, ...]
    creator: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MidiMetadata:
    """responses.capnp `MidiMetadata`."""

    tracks: int
    ticks_per_quarter: int
    duration_ticks: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactMediaMetadata:
    """responses.capnp `ArtifactMetadata` (not the common one); midi None = null pointer."""

    duration_seconds: float
    sample_rate: int
    channels: int
    midi: MidiMetadata | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactInfo:
    """`artifactInfo` (4): one artifact; metadata None = null pointer (always, at HEAD)."""

    artifact_id: str
    content_hash: str
    mime_type: str
    tags: tuple[str, ...]
    creator: str
    created_at: int
    parent_id: str = ""
    variation_set_id: str = ""
    metadata: ArtifactMediaMetadata | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactListing:
    """`artifactList` (5)."""

    artifacts: tuple[ArtifactInfo, ...]
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStatusReply:
    """`jobStatus` (7): result is the job's ToolResponse, None unless complete (null pointer)."""

    job_id: str
    status: JobStateName
    source: str
    result: ToolResponseReply | None = None
    error: str = ""
    created_at: int = 0
    started_at: int = 0
    completed_at: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCounts:
    """`JobCounts`."""

    pending: int = 0
    running: int = 0
    complete: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobListReply:
    """`jobList` (8)."""

    jobs: tuple[JobStatusReply, ...]
    total: int
    by_status: JobCounts


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPollReply:
    """`jobPoll` (50): reason is `job_complete` or `timeout`."""

    completed: tuple[str, ...]
    failed: tuple[str, ...]
    pending: tuple[str, ...]
    reason: str
    elapsed_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCancelReply:
    """`jobCancel` (51)."""

    job_id: str
    cancelled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportStatus:
    """`TransportStatus`: the transport part of `unifiedStatus`."""

    state: TransportStateName = "stopped"
    position_beats: float = 0.0
    tempo_bpm: float = 0.0
    region_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioOutputStatus:
    """`AudioOutputStatus`."""

    attached: bool = False
    device_name: str = ""
    sample_rate: int = 0
    latency_frames: int = 0
    callbacks: int = 0
    samples_written: int = 0
    underruns: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioInputStatus:
    """`AudioInputStatus`."""

    attached: bool = False
    device_name: str = ""
    sample_rate: int = 0
    channels: int = 0
    callbacks: int = 0
    samples_captured: int = 0
    overruns: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorStatus:
    """`MonitorStatus`."""

    enabled: bool = False
    gain: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MidiConnection:
    """`MidiConnectionInfo`."""

    port_name: str
    messages: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MidiStatus:
    """`MidiStatusResponse`."""

    inputs: tuple[MidiConnection, ...] = ()
    outputs: tuple[MidiConnection, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UnifiedStatus:
    """`unifiedStatus` (68): the reply to `gardenStatus` (null sub-structs read as defaults)."""

    transport: TransportStatus = field(default_factory=TransportStatus)
    audio_output: AudioOutputStatus = field(default_factory=AudioOutputStatus)
    audio_input: AudioInputStatus = field(default_factory=AudioInputStatus)
    monitor: MonitorStatus = field(default_factory=MonitorStatus)
    midi: MidiStatus = field(default_factory=MidiStatus)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherReply:
    """A decodable reply this codec does not map.

    kind is "toolResponse.<member>" for a ToolResponse member, else the Payload member name.
    """

    kind: str


ToolResponseReply: TypeAlias = (
    JobStarted
    | JobStatusReply
    | JobListReply
    | JobPollReply
    | JobCancelReply
    | Ack
    | GardenRegionCreated
    | GardenRegions
    | UnifiedStatus
    | OrpheusGenerated
    | AudioGenerated
    | Audioldm2Generated
    | AnticipatoryGenerated
    | AbcToMidiResult
    | MidiToWavResult
    | ArtifactCreatedReply
    | ArtifactInfo
    | ArtifactListing
    | OtherReply
)
ToolReply: TypeAlias = ToolResponseReply | ErrorReply | PongReply

# ---------------------------------------------------------------------------------------------
# Field tables: (wire field, attribute, kind[, enumerants]) in construction order.

_Field: TypeAlias = tuple[str, str, str, tuple[str, ...]]


def _f(wire: str, attr: str, kind: str, names: tuple[str, ...] = ()) -> _Field:
    return (wire, attr, kind, names)


@dataclass(frozen=True, slots=True)
class _Spec:
    member: str
    cls: type[Any]
    fields: tuple[_Field, ...] | None  # None: a Void member


_META = _f("metadata", "metadata", "meta")

_REQUEST_SPECS: Final[tuple[_Spec, ...]] = (
    _Spec("gardenPlay", GardenPlay, None),
    _Spec("gardenPause", GardenPause, None),
    _Spec("gardenStop", GardenStop, None),
    _Spec("gardenEmergencyPause", GardenEmergencyPause, None),
    _Spec("gardenClearRegions", GardenClearRegions, None),
    _Spec("gardenStatus", GardenStatus, None),
    _Spec("gardenSeek", GardenSeek, (_f("beat", "beat", "f64"),)),
    _Spec("gardenSetTempo", GardenSetTempo, (_f("bpm", "bpm", "f64"),)),
    _Spec(
        "gardenCreateRegion",
        GardenCreateRegion,
        (
            _f("position", "position", "f64"),
            _f("duration", "duration", "f64"),
            _f("behaviorType", "behavior_type", "text"),
            _f("contentId", "content_id", "text"),
        ),
    ),
    _Spec("gardenDeleteRegion", GardenDeleteRegion, (_f("regionId", "region_id", "text"),)),
    _Spec(
        "gardenMoveRegion",
        GardenMoveRegion,
        (_f("regionId", "region_id", "text"), _f("newPosition", "new_position", "f64")),
    ),
    _Spec(
        "gardenGetRegions",
        GardenGetRegions,
        (_f("start", "start", "f64"), _f("end", "end", "f64")),
    ),
    _Spec("jobStatus", JobStatus, (_f("jobId", "job_id", "text"),)),
    _Spec(
        "jobPoll",
        JobPoll,
        (
            _f("jobIds", "job_ids", "texts"),
            _f("timeoutMs", "timeout_ms", "int"),
            _f("mode", "mode", "enum", _POLL_MODES),
        ),
    ),
    _Spec("jobCancel", JobCancel, (_f("jobId", "job_id", "text"),)),
    _Spec("jobList", JobList, (_f("status", "status", "text"),)),
    _Spec("artifactGet", ArtifactGet, (_f("id", "artifact_id", "text"),)),
    _Spec(
        "artifactList",
        ArtifactList,
        (_f("tag", "tag", "text"), _f("creator", "creator", "text")),
    ),
    _Spec(
        "artifactUpload",
        ArtifactUpload,
        (_f("filePath", "file_path", "text"), _f("mimeType", "mime_type", "text"), _META),
    ),
    # The one exception to ordinal order (sheet §2.3): casHash, creator, metadata, then tags.
    _Spec(
        "artifactCreate",
        ArtifactCreate,
        (
            _f("casHash", "cas_hash", "text"),
            _f("creator", "creator", "text"),
            _f("metadata", "metadata", "text"),
            _f("tags", "tags", "texts"),
        ),
    ),
    _Spec(
        "orpheusGenerate",
        OrpheusGenerate,
        (
            _f("model", "model", "text"),
            _f("temperature", "temperature", "f32"),
            _f("topP", "top_p", "f32"),
            _f("maxTokens", "max_tokens", "int"),
            _f("numVariations", "num_variations", "int"),
            _META,
        ),
    ),
    _Spec(
        "orpheusGenerateSeeded",
        OrpheusGenerateSeeded,
        (
            _f("seedHash", "seed_hash", "text"),
            _f("model", "model", "text"),
            _f("temperature", "temperature", "f32"),
            _f("topP", "top_p", "f32"),
            _f("maxTokens", "max_tokens", "int"),
            _f("numVariations", "num_variations", "int"),
            _META,
        ),
    ),
    _Spec(
        "orpheusContinue",
        OrpheusContinue,
        (
            _f("inputHash", "input_hash", "text"),
            _f("model", "model", "text"),
            _f("temperature", "temperature", "f32"),
            _f("topP", "top_p", "f32"),
            _f("maxTokens", "max_tokens", "int"),
            _f("numVariations", "num_variations", "int"),
            _META,
        ),
    ),
    _Spec(
        "orpheusBridge",
        OrpheusBridge,
        (
            _f("sectionAHash", "section_a_hash", "text"),
            _f("sectionBHash", "section_b_hash", "text"),
            _f("model", "model", "text"),
            _f("temperature", "temperature", "f32"),
            _f("topP", "top_p", "f32"),
            _f("maxTokens", "max_tokens", "int"),
            _META,
        ),
    ),
    _Spec(
        "orpheusLoops",
        OrpheusLoops,
        (
            _f("temperature", "temperature", "f32"),
            _f("topP", "top_p", "f32"),
            _f("maxTokens", "max_tokens", "int"),
            _f("numVariations", "num_variations", "int"),
            _f("seedHash", "seed_hash", "text"),
            _META,
        ),
    ),
    _Spec(
        "musicgenGenerate",
        MusicgenGenerate,
        (
            _f("prompt", "prompt", "text"),
            _f("duration", "duration", "f32"),
            _f("temperature", "temperature", "f32"),
            _f("topK", "top_k", "int"),
            _f("topP", "top_p", "f32"),
            _f("guidanceScale", "guidance_scale", "f32"),
            _f("doSample", "do_sample", "bool"),
            _META,
        ),
    ),
    _Spec(
        "yueGenerate",
        YueGenerate,
        (
            _f("lyrics", "lyrics", "text"),
            _f("genre", "genre", "text"),
            _f("maxNewTokens", "max_new_tokens", "int"),
            _f("runNSegments", "run_n_segments", "int"),
            _f("seed", "seed", "int"),
            _META,
        ),
    ),
    _Spec(
        "audioldm2Generate",
        Audioldm2Generate,
        (
            _f("prompt", "prompt", "text"),
            _f("negativePrompt", "negative_prompt", "text"),
            _f("duration", "duration", "f32"),
            _f("numInferenceSteps", "num_inference_steps", "int"),
            _f("guidanceScale", "guidance_scale", "f32"),
            _f("seed", "seed", "int"),
            _META,
        ),
    ),
    _Spec(
        "anticipatoryGenerate",
        AnticipatoryGenerate,
        (
            _f("lengthSeconds", "length_seconds", "f32"),
            _f("topP", "top_p", "f32"),
            _f("modelSize", "model_size", "text"),
            _META,
        ),
    ),
    _Spec(
        "anticipatoryContinue",
        AnticipatoryContinue,
        (
            _f("inputHash", "input_hash", "text"),
            _f("lengthSeconds", "length_seconds", "f32"),
            _f("primeSeconds", "prime_seconds", "f32"),
            _f("topP", "top_p", "f32"),
            _f("modelSize", "model_size", "text"),
            _META,
        ),
    ),
    _Spec(
        "abcToMidi",
        AbcToMidi,
        (
            _f("abc", "abc", "text"),
            _f("tempoOverride", "tempo_override", "int"),
            _f("transpose", "transpose", "int"),
            _f("velocity", "velocity", "int"),
            _f("channel", "channel", "int"),
            _META,
        ),
    ),
    _Spec(
        "convertMidiToWav",
        ConvertMidiToWav,
        (
            _f("inputHash", "input_hash", "text"),
            _f("soundfontHash", "soundfont_hash", "text"),
            _f("sampleRate", "sample_rate", "int"),
            _META,
        ),
    ),
)
_REQUEST_BY_CLASS: Final = {s.cls: s for s in _REQUEST_SPECS}
_REQUEST_BY_MEMBER: Final = {s.member: s for s in _REQUEST_SPECS}

# Legacy direct Payload members that hootenanny maps onto the ToolRequest of the same name.
_LEGACY_PAYLOAD_GARDEN: Final = frozenset(
    {
        "gardenStatus",
        "gardenPlay",
        "gardenPause",
        "gardenStop",
        "gardenSeek",
        "gardenSetTempo",
        "gardenEmergencyPause",
        "gardenCreateRegion",
        "gardenDeleteRegion",
        "gardenMoveRegion",
        "gardenGetRegions",
    }
)

# Flat ToolResponse members (everything else is written and read by hand below).
_REPLY_SPECS: Final[tuple[_Spec, ...]] = (
    _Spec("jobStarted", JobStarted, (_f("jobId", "job_id", "text"), _f("tool", "tool", "text"))),
    _Spec("ack", Ack, (_f("message", "message", "text"),)),
    _Spec(
        "gardenRegionCreated",
        GardenRegionCreated,
        (
            _f("regionId", "region_id", "text"),
            _f("position", "position", "f64"),
            _f("duration", "duration", "f64"),
        ),
    ),
    _Spec(
        "orpheusGenerated",
        OrpheusGenerated,
        (
            _f("outputHashes", "output_hashes", "texts"),
            _f("artifactIds", "artifact_ids", "texts"),
            _f("tokensPerVariation", "tokens_per_variation", "ints"),
            _f("totalTokens", "total_tokens", "int"),
            _f("variationSetId", "variation_set_id", "text"),
            _f("summary", "summary", "text"),
        ),
    ),
    _Spec(
        "audioGenerated",
        AudioGenerated,
        (
            _f("artifactId", "artifact_id", "text"),
            _f("contentHash", "content_hash", "text"),
            _f("durationSeconds", "duration_seconds", "f64"),
            _f("sampleRate", "sample_rate", "int"),
            _f("format", "format", "enum", _AUDIO_FORMATS),
            _f("genre", "genre", "text"),
        ),
    ),
    _Spec(
        "audioldm2Generated",
        Audioldm2Generated,
        (
            _f("artifactId", "artifact_id", "text"),
            _f("contentHash", "content_hash", "text"),
            _f("durationSeconds", "duration_seconds", "f64"),
            _f("sampleRate", "sample_rate", "int"),
            _f("prompt", "prompt", "text"),
        ),
    ),
    _Spec(
        "anticipatoryGenerated",
        AnticipatoryGenerated,
        (
            _f("artifactId", "artifact_id", "text"),
            _f("contentHash", "content_hash", "text"),
            _f("durationSeconds", "duration_seconds", "f64"),
            _f("modelSize", "model_size", "text"),
        ),
    ),
    _Spec(
        "abcToMidi",
        AbcToMidiResult,
        (_f("artifactId", "artifact_id", "text"), _f("contentHash", "content_hash", "text")),
    ),
    _Spec(
        "midiToWav",
        MidiToWavResult,
        (
            _f("artifactId", "artifact_id", "text"),
            _f("contentHash", "content_hash", "text"),
            _f("sampleRate", "sample_rate", "int"),
            _f("durationSecs", "duration_secs", "f64"),
        ),
    ),
    _Spec(
        "artifactCreated",
        ArtifactCreatedReply,
        (
            _f("artifactId", "artifact_id", "text"),
            _f("contentHash", "content_hash", "text"),
            _f("tags", "tags", "texts"),
            _f("creator", "creator", "text"),
        ),
    ),
    _Spec(
        "jobPoll",
        JobPollReply,
        (
            _f("completed", "completed", "texts"),
            _f("failed", "failed", "texts"),
            _f("pending", "pending", "texts"),
            _f("reason", "reason", "text"),
            _f("elapsedMs", "elapsed_ms", "int"),
        ),
    ),
    _Spec(
        "jobCancel",
        JobCancelReply,
        (_f("jobId", "job_id", "text"), _f("cancelled", "cancelled", "bool")),
    ),
)
_REPLY_BY_CLASS: Final = {s.cls: s for s in _REPLY_SPECS}
_REPLY_BY_MEMBER: Final = {s.member: s for s in _REPLY_SPECS}

# ToolRequest member -> the snake_case tool name hootenanny reports in `jobStarted.tool`.
_TOOL_NAMES: Final = {
    GardenPlay: "garden_play",
    GardenPause: "garden_pause",
    GardenStop: "garden_stop",
    GardenEmergencyPause: "garden_emergency_pause",
    GardenClearRegions: "garden_clear_regions",
    GardenStatus: "garden_status",
    GardenSeek: "garden_seek",
    GardenSetTempo: "garden_set_tempo",
    GardenCreateRegion: "garden_create_region",
    GardenDeleteRegion: "garden_delete_region",
    GardenMoveRegion: "garden_move_region",
    GardenGetRegions: "garden_get_regions",
    JobStatus: "job_status",
    JobPoll: "job_poll",
    JobCancel: "job_cancel",
    JobList: "job_list",
    ArtifactGet: "artifact_get",
    ArtifactList: "artifact_list",
    ArtifactUpload: "artifact_upload",
    ArtifactCreate: "artifact_create",
    OrpheusGenerate: "orpheus_generate",
    OrpheusGenerateSeeded: "orpheus_generate_seeded",
    OrpheusContinue: "orpheus_continue",
    OrpheusBridge: "orpheus_bridge",
    OrpheusLoops: "orpheus_loops",
    MusicgenGenerate: "musicgen_generate",
    YueGenerate: "yue_generate",
    Audioldm2Generate: "audioldm2_generate",
    AnticipatoryGenerate: "anticipatory_generate",
    AnticipatoryContinue: "anticipatory_continue",
    AbcToMidi: "abc_to_midi",
    ConvertMidiToWav: "convert_midi_to_wav",
}


def tool_name(call: ToolCall) -> str:
    """The snake_case hootenanny tool name of a call (as in `jobStarted.tool`, sheet §3.1)."""
    return _TOOL_NAMES[type(call)]


def tool_name_of(call_type: type[ToolCall]) -> str:
    """`tool_name` of a call class, without an instance."""
    return _TOOL_NAMES[call_type]


# ---------------------------------------------------------------------------------------------
# Generic field writing / reading


def _write_meta(builder: Any, meta: ArtifactMetadata) -> None:
    m = builder.init("metadata")
    m.variationSetId = text(meta.variation_set_id)
    m.parentId = text(meta.parent_id)
    set_text_list(m, "tags", meta.tags)
    m.creator = text(meta.creator)


def _read_meta(reader: Any) -> ArtifactMetadata:
    return ArtifactMetadata(
        variation_set_id=reader.variationSetId,
        parent_id=reader.parentId,
        tags=read_text_list(reader.tags),
        creator=reader.creator,
    )


def _write_fields(builder: Any, spec_fields: tuple[_Field, ...], value: Any) -> None:
    for wire, attr, kind, names in spec_fields:
        v = getattr(value, attr)
        if kind == "text":
            setattr(builder, wire, text(v))
        elif kind in ("f32", "f64"):
            setattr(builder, wire, float(v))
        elif kind == "int":
            setattr(builder, wire, int(v))
        elif kind == "bool":
            setattr(builder, wire, bool(v))
        elif kind == "texts":
            set_text_list(builder, wire, v)
        elif kind == "ints":
            lst = builder.init(wire, len(v))
            for i, item in enumerate(v):
                lst[i] = int(item)
        elif kind == "enum":
            setattr(builder, wire, check_enum(v, names, wire))
        elif kind == "meta":
            _write_meta(builder, v)
        else:  # pragma: no cover - the tables above use only the kinds handled here
            raise WireEncodeError(f"unknown field kind {kind!r}")


def _read_fields(reader: Any, spec_fields: tuple[_Field, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wire, attr, kind, names in spec_fields:
        v = getattr(reader, wire)
        if kind == "text":
            out[attr] = v
        elif kind == "f32":
            out[attr] = f32(v)
        elif kind == "f64":
            out[attr] = float(v)
        elif kind == "int":
            out[attr] = int(v)
        elif kind == "bool":
            out[attr] = bool(v)
        elif kind == "texts":
            out[attr] = read_text_list(v)
        elif kind == "ints":
            out[attr] = tuple(int(x) for x in v)
        elif kind == "enum":
            out[attr] = enum_name(v, names, wire)
        elif kind == "meta":
            out[attr] = _read_meta(v)
        else:  # pragma: no cover
            raise WireDecodeError(f"unknown field kind {kind!r}")
    return out


def _write_spec(union_builder: Any, spec: _Spec, value: Any) -> None:
    if spec.fields is None:
        setattr(union_builder, spec.member, None)
    else:
        _write_fields(union_builder.init(spec.member), spec.fields, value)


def _read_spec(union_reader: Any, spec: _Spec) -> Any:
    if spec.fields is None:
        return spec.cls()
    return spec.cls(**_read_fields(getattr(union_reader, spec.member), spec.fields))


# ---------------------------------------------------------------------------------------------
# Requests


@encoding
def encode_tool_request(request_id: bytes, call: LinkBRequest) -> bytes:
    """An Envelope carrying `payload.toolRequest.<member>` (or `ping`), in Rust order."""
    msg, payload = new_envelope(request_id)
    if isinstance(call, PingRequest):
        payload.ping = None
    elif isinstance(call, OtherToolCall):
        head, _, member = call.kind.partition(".")
        if head == "toolRequest" and member:
            set_member(payload.init("toolRequest"), "ToolRequest", member)
        elif not member:
            set_member(payload, "Payload", head)
        else:
            raise WireEncodeError(f"unknown request kind {call.kind!r}")
    else:
        spec = _REQUEST_BY_CLASS.get(type(call))
        if spec is None:
            raise WireEncodeError(f"not a tool call: {call!r}")
        _write_spec(payload.init("toolRequest"), spec, call)
    return bytes(msg.to_bytes())


def _read_tool_request(env: Any) -> LinkBRequest:
    if not env._has("payload"):
        raise WireDecodeError("Envelope has no payload (empty message or wrong root type)")
    payload = env.payload
    kind = payload.which()
    if kind == "toolRequest":
        tool = payload.toolRequest
        member = tool.which()
        spec = _REQUEST_BY_MEMBER.get(member)
        if spec is None:
            return OtherToolCall(kind=f"toolRequest.{member}")
        return cast(ToolCall, _read_spec(tool, spec))
    if kind == "ping":
        return PingRequest()
    if kind in _LEGACY_PAYLOAD_GARDEN:
        return cast(ToolCall, _read_spec(payload, _REQUEST_BY_MEMBER[kind]))
    return OtherToolCall(kind=str(kind))


def decode_tool_request(body: bytes) -> LinkBRequest:
    """Decode a request Envelope as hootenanny receives it (for the fake hootenanny).

    Legacy direct garden Payload members decode to the same values as their ToolRequest forms.
    """
    return decode_root(
        schemas().envelope.Envelope, body, _read_tool_request, "tool request Envelope"
    )


# ---------------------------------------------------------------------------------------------
# Replies


def _write_job_status(b: Any, v: JobStatusReply) -> None:
    b.jobId = text(v.job_id)
    b.status = check_enum(v.status, JOB_STATES, "job state")
    b.source = text(v.source)
    if v.result is not None:
        _write_tool_response(b.init("result"), v.result)
    b.error = text(v.error)
    b.createdAt = int(v.created_at)
    b.startedAt = int(v.started_at)
    b.completedAt = int(v.completed_at)


def _read_job_status(r: Any) -> JobStatusReply:
    return JobStatusReply(
        job_id=r.jobId,
        status=enum_name(r.status, JOB_STATES, "JobState"),
        source=r.source,
        result=_read_tool_response(r.result) if r._has("result") else None,
        error=r.error,
        created_at=int(r.createdAt),
        started_at=int(r.startedAt),
        completed_at=int(r.completedAt),
    )


_REGION_FIELDS: Final = (
    _f("regionId", "region_id", "text"),
    _f("position", "position", "f64"),
    _f("duration", "duration", "f64"),
    _f("behaviorType", "behavior_type", "text"),
    _f("contentId", "content_id", "text"),
)
_TRANSPORT_FIELDS: Final = (
    _f("state", "state", "enum", _TRANSPORT_STATES),
    _f("positionBeats", "position_beats", "f64"),
    _f("tempoBpm", "tempo_bpm", "f64"),
    _f("regionCount", "region_count", "int"),
)
_AUDIO_OUT_FIELDS: Final = (
    _f("attached", "attached", "bool"),
    _f("deviceName", "device_name", "text"),
    _f("sampleRate", "sample_rate", "int"),
    _f("latencyFrames", "latency_frames", "int"),
    _f("callbacks", "callbacks", "int"),
    _f("samplesWritten", "samples_written", "int"),
    _f("underruns", "underruns", "int"),
)
_AUDIO_IN_FIELDS: Final = (
    _f("attached", "attached", "bool"),
    _f("deviceName", "device_name", "text"),
    _f("sampleRate", "sample_rate", "int"),
    _f("channels", "channels", "int"),
    _f("callbacks", "callbacks", "int"),
    _f("samplesCaptured", "samples_captured", "int"),
    _f("overruns", "overruns", "int"),
)
_MONITOR_FIELDS: Final = (_f("enabled", "enabled", "bool"), _f("gain", "gain", "f32"))
_MIDI_CONN_FIELDS: Final = (_f("portName", "port_name", "text"), _f("messages", "messages", "int"))
_ARTIFACT_INFO_FIELDS: Final = (
    _f("id", "artifact_id", "text"),
    _f("contentHash", "content_hash", "text"),
    _f("mimeType", "mime_type", "text"),
    _f("tags", "tags", "texts"),
    _f("creator", "creator", "text"),
    _f("createdAt", "created_at", "int"),
    _f("parentId", "parent_id", "text"),
    _f("variationSetId", "variation_set_id", "text"),
)
_MEDIA_FIELDS: Final = (
    _f("durationSeconds", "duration_seconds", "f64"),
    _f("sampleRate", "sample_rate", "int"),
    _f("channels", "channels", "int"),
)
_MIDI_META_FIELDS: Final = (
    _f("tracks", "tracks", "int"),
    _f("ticksPerQuarter", "ticks_per_quarter", "int"),
    _f("durationTicks", "duration_ticks", "int"),
)


def _write_struct_list(
    builder: Any, wire: str, items: tuple[Any, ...], write: Callable[[Any, Any], None]
) -> None:
    lst = builder.init(wire, len(items))
    for i, item in enumerate(items):
        write(lst[i], item)


def _write_artifact_info(b: Any, v: ArtifactInfo) -> None:
    _write_fields(b, _ARTIFACT_INFO_FIELDS, v)
    if v.metadata is not None:
        m = b.init("metadata")
        _write_fields(m, _MEDIA_FIELDS, v.metadata)
        if v.metadata.midi is not None:
            _write_fields(m.init("midiInfo"), _MIDI_META_FIELDS, v.metadata.midi)


def _read_artifact_info(r: Any) -> ArtifactInfo:
    metadata = None
    if r._has("metadata"):
        m = r.metadata
        midi = (
            MidiMetadata(**_read_fields(m.midiInfo, _MIDI_META_FIELDS))
            if m._has("midiInfo")
            else None
        )
        metadata = ArtifactMediaMetadata(**_read_fields(m, _MEDIA_FIELDS), midi=midi)
    return ArtifactInfo(**_read_fields(r, _ARTIFACT_INFO_FIELDS), metadata=metadata)


def _write_midi_conn(b: Any, v: MidiConnection) -> None:
    _write_fields(b, _MIDI_CONN_FIELDS, v)


def _write_tool_response(resp: Any, value: ToolResponseReply) -> None:
    spec = _REPLY_BY_CLASS.get(type(value))
    if spec is not None:
        _write_spec(resp, spec, value)
    elif isinstance(value, JobStatusReply):
        _write_job_status(resp.init("jobStatus"), value)
    elif isinstance(value, JobListReply):
        b = resp.init("jobList")
        _write_struct_list(b, "jobs", value.jobs, _write_job_status)
        b.total = int(value.total)
        _write_fields(
            b.init("byStatus"), tuple(_f(n, n, "int") for n in JOB_STATES), value.by_status
        )
    elif isinstance(value, GardenRegions):
        b = resp.init("gardenRegions")
        _write_struct_list(
            b, "regions", value.regions, lambda rb, v: _write_fields(rb, _REGION_FIELDS, v)
        )
        b.count = int(value.count)
    elif isinstance(value, ArtifactInfo):
        _write_artifact_info(resp.init("artifactInfo"), value)
    elif isinstance(value, ArtifactListing):
        b = resp.init("artifactList")
        _write_struct_list(b, "artifacts", value.artifacts, _write_artifact_info)
        b.count = int(value.count)
    elif isinstance(value, UnifiedStatus):
        b = resp.init("unifiedStatus")
        _write_fields(b.init("transport"), _TRANSPORT_FIELDS, value.transport)
        _write_fields(b.init("audioOutput"), _AUDIO_OUT_FIELDS, value.audio_output)
        _write_fields(b.init("audioInput"), _AUDIO_IN_FIELDS, value.audio_input)
        _write_fields(b.init("monitor"), _MONITOR_FIELDS, value.monitor)
        midi = b.init("midi")
        _write_struct_list(midi, "inputs", value.midi.inputs, _write_midi_conn)
        _write_struct_list(midi, "outputs", value.midi.outputs, _write_midi_conn)
    elif isinstance(value, OtherReply):
        head, _, member = value.kind.partition(".")
        if head != "toolResponse" or not member:
            raise WireEncodeError(f"not a ToolResponse kind: {value.kind!r}")
        set_member(resp, "ToolResponse", member)
    else:
        raise WireEncodeError(f"not a tool reply: {value!r}")


def _read_midi_conns(items: Any) -> tuple[MidiConnection, ...]:
    return tuple(MidiConnection(**_read_fields(c, _MIDI_CONN_FIELDS)) for c in items)


def _read_tool_response(resp: Any) -> ToolResponseReply:
    member = resp.which()
    spec = _REPLY_BY_MEMBER.get(member)
    if spec is not None:
        return cast(ToolResponseReply, _read_spec(resp, spec))
    if member == "jobStatus":
        return _read_job_status(resp.jobStatus)
    if member == "jobList":
        r = resp.jobList
        return JobListReply(
            jobs=tuple(_read_job_status(j) for j in r.jobs),
            total=int(r.total),
            by_status=JobCounts(
                **_read_fields(r.byStatus, tuple(_f(n, n, "int") for n in JOB_STATES))
            ),
        )
    if member == "gardenRegions":
        r = resp.gardenRegions
        return GardenRegions(
            regions=tuple(GardenRegionInfo(**_read_fields(g, _REGION_FIELDS)) for g in r.regions),
            count=int(r.count),
        )
    if member == "artifactInfo":
        return _read_artifact_info(resp.artifactInfo)
    if member == "artifactList":
        r = resp.artifactList
        return ArtifactListing(
            artifacts=tuple(_read_artifact_info(a) for a in r.artifacts), count=int(r.count)
        )
    if member == "unifiedStatus":
        r = resp.unifiedStatus
        return UnifiedStatus(
            transport=TransportStatus(**_read_fields(r.transport, _TRANSPORT_FIELDS)),
            audio_output=AudioOutputStatus(**_read_fields(r.audioOutput, _AUDIO_OUT_FIELDS)),
            audio_input=AudioInputStatus(**_read_fields(r.audioInput, _AUDIO_IN_FIELDS)),
            monitor=MonitorStatus(**_read_fields(r.monitor, _MONITOR_FIELDS)),
            midi=MidiStatus(
                inputs=_read_midi_conns(r.midi.inputs), outputs=_read_midi_conns(r.midi.outputs)
            ),
        )
    return OtherReply(kind=f"toolResponse.{member}")


def _read_tool_reply(env: Any) -> ToolReply:
    if not env._has("payload"):
        raise WireDecodeError("Envelope has no payload (empty message or wrong root type)")
    payload = env.payload
    kind = payload.which()
    if kind == "toolResponse":
        return _read_tool_response(payload.toolResponse)
    if kind == "error":
        return read_error(payload.error)
    if kind == "pong":
        return read_pong(payload.pong)
    return OtherReply(kind=str(kind))


def decode_tool_reply(body: bytes) -> ToolReply:
    """Decode hootenanny's reply Envelope on link B. Raises WireDecodeError if undecodable."""
    return decode_root(schemas().envelope.Envelope, body, _read_tool_reply, "tool reply Envelope")


@encoding
def encode_tool_reply(request_id: bytes, reply: ToolReply) -> bytes:
    """An Envelope carrying `reply` as hootenanny sends it (for the fake hootenanny)."""
    msg, payload = new_envelope(request_id)
    if isinstance(reply, ErrorReply):
        write_error(payload, reply.code, reply.message, reply.details)
    elif isinstance(reply, PongReply):
        write_pong(payload, reply.worker_id, reply.uptime_secs)
    elif isinstance(reply, OtherReply) and not reply.kind.startswith("toolResponse."):
        set_member(payload, "Payload", reply.kind)
    else:
        _write_tool_response(payload.init("toolResponse"), reply)
    return bytes(msg.to_bytes())


def _check_tables() -> None:
    """Import-time guard: every table names real dataclass fields and real union members."""
    requests = union_members("ToolRequest")
    responses = union_members("ToolResponse")
    for specs, members in ((_REQUEST_SPECS, requests), (_REPLY_SPECS, responses)):
        for spec in specs:
            assert spec.member in members, spec.member
            names = {f.name for f in fields(spec.cls)}
            for _wire, attr, _kind, _names in spec.fields or ():
                assert attr in names, (spec.cls.__name__, attr)
