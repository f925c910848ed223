"""Round-trip properties: values survive encode -> decode (non-ASCII text, extreme numbers)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.schema import load
from vibeweaver.wire import (
    JOB_STATES,
    AbcToMidi,
    ArtifactCreated,
    ArtifactInfo,
    ArtifactListing,
    ArtifactMediaMetadata,
    ArtifactMetadata,
    ArtifactRef,
    AudioAttached,
    AudioDetached,
    AudioInputStatus,
    AudioOutputStatus,
    AudioUnderrun,
    BeatState,
    BeatTick,
    ConfigUpdate,
    DeviceConnected,
    DeviceDisconnected,
    ErrorReply,
    GardenPlay,
    GardenRegionInfo,
    GardenRegions,
    GardenSeek,
    GardenSetTempo,
    JobCounts,
    JobEntry,
    JobListReply,
    JobStateChanged,
    JobStatusReply,
    KernelState,
    Log,
    MarkerReached,
    MidiConnection,
    MidiMetadata,
    MidiStatus,
    MonitorStatus,
    MusicgenGenerate,
    OrpheusGenerate,
    OtherReply,
    OtherToolCall,
    PingRequest,
    PongReply,
    Progress,
    ScriptInvalidate,
    SessionInfo,
    Shutdown,
    StreamChunkFull,
    StreamError,
    StreamHeadPosition,
    TransportStateChanged,
    TransportStatus,
    UnhandledRequest,
    UnifiedStatus,
    UnknownBroadcast,
    WeaveEvalReply,
    WeaveEvalRequest,
    WeaveHelpReply,
    WeaveHelpRequest,
    WeaveResetReply,
    WeaveResetRequest,
    WeaveSessionReply,
    WeaveSessionRequest,
    YueGenerate,
    decode_broadcast,
    decode_kernel_state,
    decode_reply,
    decode_request,
    decode_tool_reply,
    decode_tool_request,
    encode_broadcast,
    encode_error,
    encode_kernel_state,
    encode_pong,
    encode_request,
    encode_tool_reply,
    encode_tool_request,
    encode_weave_eval_reply,
    encode_weave_help_reply,
    encode_weave_reset_reply,
    encode_weave_session_reply,
    tools,
)

SCHEMAS = load()
RIDS = st.binary(min_size=16, max_size=16)

# Text: any Unicode except lone surrogates (not encodable as UTF-8), NUL and astral planes included.
texts = st.text(max_size=40)
non_ascii = st.text(
    st.characters(min_codepoint=0x80, exclude_categories=["Cs"]), min_size=1, max_size=20
)
any_text = st.one_of(texts, non_ascii)
text_tuples = st.lists(any_text, max_size=4).map(tuple)

INT_RANGES = {
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def ints(capnp_type: str) -> st.SearchStrategy[int]:
    lo, hi = INT_RANGES[capnp_type]
    return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))


u8, u16, u32, u64 = ints("uint8"), ints("uint16"), ints("uint32"), ints("uint64")
f64 = st.floats(allow_nan=False)
# Float32 values written with at most 6 significant digits read back exactly (the codec returns
# the shortest decimal with the same Float32 bits); arbitrary Float32 bits are checked below.
f32 = st.one_of(
    st.sampled_from([0.0, float("inf"), float("-inf"), 3.4e38, -1.5e-38]),
    st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-999_999, 999_999), st.integers(-30, 30)),
)
metadata = st.builds(
    ArtifactMetadata,
    variation_set_id=any_text,
    parent_id=any_text,
    tags=text_tuples,
    creator=any_text,
)


def spec_strategy(union_struct: Any, spec: Any) -> st.SearchStrategy[Any]:
    """A strategy for one codec table entry, with integer ranges taken from the schema."""
    if spec.fields is None:
        return st.just(spec.cls())
    member = union_struct.schema.fields[spec.member].schema
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for wire, attr, kind, names in spec.fields:
        if kind == "int":
            kwargs[attr] = ints(member.fields[wire].proto.slot.type.which())
        elif kind == "ints":
            kwargs[attr] = st.lists(u64, max_size=4).map(tuple)
        else:
            kwargs[attr] = {
                "text": any_text,
                "f32": f32,
                "f64": f64,
                "bool": st.booleans(),
                "texts": text_tuples,
                "enum": st.sampled_from(names),
                "meta": metadata,
            }[kind]
    return st.builds(spec.cls, **kwargs)


def members(struct_type: Any) -> tuple[str, ...]:
    return tuple(struct_type.schema.union_fields)


PAYLOAD_MEMBERS = members(SCHEMAS.envelope.Payload)
TOOL_REQUEST_MEMBERS = members(SCHEMAS.tools.ToolRequest)
TOOL_RESPONSE_MEMBERS = members(SCHEMAS.responses.ToolResponse)


# -- link A -------------------------------------------------------------------------------------

WEAVE_MEMBERS = {"weaveEval", "weaveSession", "weaveReset", "weaveHelp"}
unhandled = st.one_of(
    st.sampled_from([m for m in PAYLOAD_MEMBERS if m not in ("toolRequest", "ping")]),
    st.sampled_from([f"toolRequest.{m}" for m in TOOL_REQUEST_MEMBERS if m not in WEAVE_MEMBERS]),
).map(lambda kind: UnhandledRequest(kind=kind))
inbound_requests = st.one_of(
    st.builds(WeaveEvalRequest, code=any_text),
    st.just(WeaveSessionRequest()),
    st.builds(WeaveResetRequest, clear_session=st.booleans()),
    st.builds(WeaveHelpRequest, topic=any_text),
    st.just(PingRequest()),
    unhandled,
)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, inbound_requests)
def test_every_inbound_request_survives_a_round_trip(rid: bytes, request: Any) -> None:
    assert decode_request(encode_request(rid, request)) == request


def test_every_unhandled_kind_is_generated_by_the_strategy_tables() -> None:
    # payload members other than toolRequest/ping + toolRequest members other than weave*
    assert len(PAYLOAD_MEMBERS) == 30
    assert len(TOOL_REQUEST_MEMBERS) == 103


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, st.sampled_from(["expression", "statement"]), any_text, any_text, any_text)
def test_weave_eval_replies_survive_a_round_trip(
    rid: bytes, output_type: Any, result: str, stdout: str, stderr: str
) -> None:
    body = encode_weave_eval_reply(
        rid, output_type=output_type, result=result, stdout=stdout, stderr=stderr
    )
    assert decode_reply(body) == WeaveEvalReply(
        output_type=output_type, result=result, stdout=stdout, stderr=stderr
    )


sessions = st.none() | st.builds(SessionInfo, id=any_text, name=any_text, vibe=any_text)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, sessions, any_text)
def test_weave_session_replies_keep_null_versus_present_sessions(
    rid: bytes, session: SessionInfo | None, message: str
) -> None:
    body = encode_weave_session_reply(rid, session=session, message=message)
    assert decode_reply(body) == WeaveSessionReply(session=session, message=message)


def test_an_all_empty_session_is_still_a_present_session() -> None:
    empty = SessionInfo(id="", name="", vibe="")
    body = encode_weave_session_reply(bytes(16), session=empty, message="")
    assert decode_reply(body) == WeaveSessionReply(session=empty, message="")


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, st.booleans(), any_text, any_text, any_text)
def test_reset_and_help_replies_survive_a_round_trip(
    rid: bytes, reset: bool, message: str, help_text: str, topic: str
) -> None:
    assert decode_reply(encode_weave_reset_reply(rid, reset=reset, message=message)) == (
        WeaveResetReply(reset=reset, message=message)
    )
    assert decode_reply(encode_weave_help_reply(rid, help=help_text, topic=topic)) == (
        WeaveHelpReply(help=help_text, topic=topic)
    )


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, RIDS, u64, any_text, any_text, any_text)
def test_pong_and_error_replies_survive_a_round_trip(
    rid: bytes, worker: bytes, uptime: int, code: str, message: str, details: str
) -> None:
    assert decode_reply(encode_pong(rid, worker_id=worker, uptime_secs=uptime)) == PongReply(
        worker_id=worker, uptime_secs=uptime
    )
    body = encode_error(rid, code=code, message=message, details=details)
    assert decode_reply(body) == ErrorReply(code=code, message=message, details=details)


def test_a_long_multi_segment_reply_survives_a_round_trip() -> None:
    stdout = "ünïcødé ♪ " * 20_000  # far beyond the first 8 KiB segment
    body = encode_weave_eval_reply(
        bytes(16), output_type="statement", result="", stdout=stdout, stderr=""
    )
    assert int.from_bytes(body[:4], "little") >= 1  # more than one segment
    reply = decode_reply(body)
    assert isinstance(reply, WeaveEvalReply)
    assert reply.stdout == stdout


def test_lone_surrogates_are_written_as_backslash_escapes_instead_of_failing() -> None:
    body = encode_weave_eval_reply(
        bytes(16), output_type="statement", result="", stdout="bad \udcff byte", stderr=""
    )
    reply = decode_reply(body)
    assert isinstance(reply, WeaveEvalReply)
    assert reply.stdout == "bad \\udcff byte"


# -- link B -------------------------------------------------------------------------------------

tool_calls = st.one_of(
    *(spec_strategy(SCHEMAS.tools.ToolRequest, spec) for spec in tools._REQUEST_SPECS)
)
MAPPED_REQUEST_MEMBERS = {spec.member for spec in tools._REQUEST_SPECS}
LEGACY_GARDEN = {
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
other_calls = st.one_of(
    st.sampled_from(
        [f"toolRequest.{m}" for m in TOOL_REQUEST_MEMBERS if m not in MAPPED_REQUEST_MEMBERS]
    ),
    st.sampled_from(
        [m for m in PAYLOAD_MEMBERS if m not in {"toolRequest", "ping"} | LEGACY_GARDEN]
    ),
).map(lambda kind: OtherToolCall(kind=kind))


def test_the_codec_tables_name_real_fields_and_members() -> None:
    tools._check_tables()


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, st.one_of(tool_calls, other_calls, st.just(PingRequest())))
def test_every_tool_call_survives_a_round_trip(rid: bytes, call: Any) -> None:
    assert decode_tool_request(encode_tool_request(rid, call)) == call


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.floats(width=32, allow_nan=False))
def test_any_float32_value_keeps_its_exact_bits(value: float) -> None:
    call = OrpheusGenerate(temperature=value)
    decoded = decode_tool_request(encode_tool_request(bytes(16), call))
    assert isinstance(decoded, OrpheusGenerate)
    assert struct.pack("<f", decoded.temperature) == struct.pack("<f", value)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("gardenPlay", GardenPlay()), ("gardenSeek", GardenSeek(beat=0.0))],
)
def test_legacy_direct_garden_payloads_decode_like_their_tool_request_forms(
    kind: str, expected: Any
) -> None:
    body = encode_request(bytes(16), UnhandledRequest(kind=kind))
    assert decode_tool_request(body) == expected


def test_generation_requests_carry_the_sheet_defaults_and_creator_vibeweaver() -> None:
    assert MusicgenGenerate(prompt="x") == MusicgenGenerate(
        prompt="x",
        duration=10.0,
        temperature=1.0,
        top_k=250,
        top_p=0.9,
        guidance_scale=3.0,
        do_sample=True,
        metadata=ArtifactMetadata(creator="vibeweaver"),
    )
    assert AbcToMidi(abc="X:1").velocity == 80
    assert YueGenerate(lyrics="la").genre == "Pop"
    for call in (MusicgenGenerate(), YueGenerate(lyrics=""), AbcToMidi(abc="")):
        decoded = decode_tool_request(encode_tool_request(bytes(16), call))
        assert decoded == call
        assert isinstance(decoded, MusicgenGenerate | YueGenerate | AbcToMidi)
        assert decoded.metadata.creator == "vibeweaver"


flat_replies = st.one_of(
    *(spec_strategy(SCHEMAS.responses.ToolResponse, spec) for spec in tools._REPLY_SPECS)
)
HAND_MAPPED = {
    "jobStatus",
    "jobList",
    "gardenRegions",
    "artifactInfo",
    "artifactList",
    "unifiedStatus",
}
MAPPED_REPLY_MEMBERS = {spec.member for spec in tools._REPLY_SPECS} | HAND_MAPPED
other_replies = st.one_of(
    st.sampled_from(
        [f"toolResponse.{m}" for m in TOOL_RESPONSE_MEMBERS if m not in MAPPED_REPLY_MEMBERS]
    ),
    st.sampled_from([m for m in PAYLOAD_MEMBERS if m not in {"toolResponse", "error", "pong"}]),
).map(lambda kind: OtherReply(kind=kind))
other_tool_responses = st.sampled_from(
    [f"toolResponse.{m}" for m in TOOL_RESPONSE_MEMBERS if m not in MAPPED_REPLY_MEMBERS]
).map(lambda kind: OtherReply(kind=kind))
regions = st.builds(
    GardenRegionInfo,
    region_id=any_text,
    position=f64,
    duration=f64,
    behavior_type=any_text,
    content_id=any_text,
)
artifact_infos = st.builds(
    ArtifactInfo,
    artifact_id=any_text,
    content_hash=any_text,
    mime_type=any_text,
    tags=text_tuples,
    creator=any_text,
    created_at=u64,
    parent_id=any_text,
    variation_set_id=any_text,
    metadata=st.none()
    | st.builds(
        ArtifactMediaMetadata,
        duration_seconds=f64,
        sample_rate=u32,
        channels=u8,
        midi=st.none()
        | st.builds(MidiMetadata, tracks=u16, ticks_per_quarter=u16, duration_ticks=u64),
    ),
)
connections = st.lists(st.builds(MidiConnection, port_name=any_text, messages=u64), max_size=3)
unified = st.builds(
    UnifiedStatus,
    transport=st.builds(
        TransportStatus,
        state=st.sampled_from(["stopped", "playing", "paused"]),
        position_beats=f64,
        tempo_bpm=f64,
        region_count=u64,
    ),
    audio_output=st.builds(
        AudioOutputStatus,
        attached=st.booleans(),
        device_name=any_text,
        sample_rate=u32,
        latency_frames=u32,
        callbacks=u64,
        samples_written=u64,
        underruns=u64,
    ),
    audio_input=st.builds(
        AudioInputStatus,
        attached=st.booleans(),
        device_name=any_text,
        sample_rate=u32,
        channels=u32,
        callbacks=u64,
        samples_captured=u64,
        overruns=u64,
    ),
    monitor=st.builds(MonitorStatus, enabled=st.booleans(), gain=f32),
    midi=st.builds(MidiStatus, inputs=connections.map(tuple), outputs=connections.map(tuple)),
)


def job_statuses(result: st.SearchStrategy[Any]) -> st.SearchStrategy[JobStatusReply]:
    return st.builds(
        JobStatusReply,
        job_id=any_text,
        status=st.sampled_from(JOB_STATES),
        source=any_text,
        result=result,
        error=any_text,
        created_at=u64,
        started_at=u64,
        completed_at=u64,
    )


leaf_results = st.one_of(
    flat_replies,
    other_tool_responses,
    st.lists(regions, max_size=3).map(lambda r: GardenRegions(regions=tuple(r), count=len(r))),
    artifact_infos,
    unified,
)
job_status_replies = job_statuses(st.none() | leaf_results | job_statuses(st.none() | leaf_results))
tool_replies = st.one_of(
    flat_replies,
    other_replies,
    leaf_results,
    job_status_replies,
    st.builds(
        JobListReply,
        jobs=st.lists(job_statuses(st.none()), max_size=3).map(tuple),
        total=u64,
        by_status=st.builds(
            JobCounts, pending=u64, running=u64, complete=u64, failed=u64, cancelled=u64
        ),
    ),
    st.builds(
        ArtifactListing, artifacts=st.lists(artifact_infos, max_size=2).map(tuple), count=u64
    ),
    st.builds(ErrorReply, code=any_text, message=any_text, details=any_text),
    st.builds(PongReply, worker_id=RIDS, uptime_secs=u64),
)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(RIDS, tool_replies)
def test_every_tool_reply_survives_a_round_trip(rid: bytes, reply: Any) -> None:
    assert decode_tool_reply(encode_tool_reply(rid, reply)) == reply


def test_a_job_status_with_a_null_result_decodes_to_none() -> None:
    reply = JobStatusReply(job_id="j", status="running", source="musicgen_generate")
    decoded = decode_tool_reply(encode_tool_reply(bytes(16), reply))
    assert isinstance(decoded, JobStatusReply)
    assert decoded.result is None


# -- broadcasts ---------------------------------------------------------------------------------

broadcasts = st.one_of(
    st.builds(ConfigUpdate, key=any_text, value=any_text),
    st.builds(Shutdown, reason=any_text),
    st.builds(ScriptInvalidate, hash=any_text),
    st.builds(JobStateChanged, job_id=any_text, state=any_text, result=any_text),
    st.builds(Progress, job_id=any_text, percent=f32, message=any_text),
    st.builds(
        ArtifactCreated,
        artifact_id=any_text,
        content_hash=any_text,
        tags=text_tuples,
        creator=any_text,
    ),
    st.builds(TransportStateChanged, state=any_text, position_beats=f64, tempo_bpm=f64),
    st.builds(MarkerReached, position_beats=f64, marker_type=any_text, metadata=any_text),
    st.builds(BeatTick, timestamp_nanos=u64, beat=u64, position_beats=f64, tempo_bpm=f64),
    st.builds(Log, level=any_text, message=any_text, source=any_text),
    st.builds(
        StreamHeadPosition,
        stream_uri=any_text,
        sample_position=u64,
        byte_position=u64,
        wall_clock_nanos=u64,
    ),
    st.builds(
        StreamChunkFull,
        stream_uri=any_text,
        path=any_text,
        bytes_written=u64,
        samples_written=u64,
        wall_clock_nanos=u64,
    ),
    st.builds(StreamError, stream_uri=any_text, error=any_text, recoverable=st.booleans()),
    st.builds(
        DeviceConnected,
        pipewire_id=u32,
        name=any_text,
        media_class=any_text,
        identity_id=any_text,
        identity_name=any_text,
    ),
    st.builds(DeviceDisconnected, pipewire_id=u32, name=any_text),
    st.builds(AudioAttached, device_name=any_text, sample_rate=u32, latency_frames=u32),
    st.just(AudioDetached()),
    st.builds(AudioUnderrun, count=u64),
    st.builds(UnknownBroadcast, tag=st.integers(18, 0xFFFF)),
)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(broadcasts)
def test_every_broadcast_kind_survives_a_round_trip(event: Any) -> None:
    assert decode_broadcast(encode_broadcast(event)) == event


def test_the_broadcast_strategy_covers_every_member_of_the_union() -> None:
    assert len(members(SCHEMAS.broadcast.Broadcast)) == 18


# -- kernel state -------------------------------------------------------------------------------

kernel_states = st.builds(
    KernelState,
    session_id=any_text,
    session_name=any_text,
    session_vibe=any_text,
    tempo_bpm=f64,
    transport=st.sampled_from(["stopped", "playing", "paused"]),
    beat=st.builds(BeatState, current=f64, tempo_bpm=f64),
    jobs=st.lists(
        st.builds(
            JobEntry,
            job_id=any_text,
            state=st.sampled_from(["pending", "running", "complete", "failed"]),
            artifact_id=any_text,
        ),
        max_size=3,
    ).map(tuple),
    recent_artifacts=st.lists(
        st.builds(
            ArtifactRef,
            artifact_id=any_text,
            content_hash=any_text,
            tags=text_tuples,
            created_at_nanos=u64,
        ),
        max_size=3,
    ).map(tuple),
    captured_at_nanos=u64,
)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(kernel_states)
def test_kernel_state_snapshots_survive_a_round_trip(state: KernelState) -> None:
    assert decode_kernel_state(encode_kernel_state(state)) == state


def test_set_tempo_keeps_an_extreme_bpm_exactly() -> None:
    for bpm in (5e-324, 1.7976931348623157e308, -0.0, float("inf")):
        decoded = decode_tool_request(encode_tool_request(bytes(16), GardenSetTempo(bpm=bpm)))
        assert decoded == GardenSetTempo(bpm=bpm)
