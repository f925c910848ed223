"""The nine schema files: ids, struct layouts of sheet §2.4, placeholders, and the cached load."""

from __future__ import annotations

import re

import pytest

from vibeweaver.schema import SCHEMA_DIR, SCHEMA_FILES, load

FILE_IDS = {
    "common": 0xF8721CEF9BC45E2A,
    "jobs": 0xE73698FCEF0E99F0,
    "garden": 0xB55D10399D53FBB9,
    "streams": 0xF6C97CA6E0CDCD69,
    "tools": 0xF3D2F032F8BFE15A,
    "responses": 0xC4F8E2A1B3D5F0E7,
    "envelope": 0xD9C43DD35FAFFE92,
    "broadcast": 0xAB20A00D32798739,
    "vibeweaver": 0xBCDC9A739D8E7582,
}

# "file:Struct": (data words, pointers, union tag byte or None), copied from the sheet's headings.
LAYOUTS: dict[str, tuple[int, int, int | None]] = {
    "common:Uuid": (2, 0, None),
    "common:Error": (0, 3, None),
    "common:Timestamp": (1, 0, None),
    "common:ArtifactMetadata": (0, 4, None),
    "common:WorkerRegistration": (1, 5, None),
    "envelope:Envelope": (0, 3, None),
    "envelope:Payload": (1, 1, 0),
    "envelope:Pong": (1, 1, None),
    "envelope:ShutdownRequest": (0, 1, None),
    "envelope:ToolCall": (0, 2, None),
    "tools:ToolRequest": (1, 1, 0),
    "tools:WeaveEval": (0, 1, None),
    "tools:WeaveReset": (1, 0, None),
    "tools:WeaveHelp": (0, 1, None),
    "tools:ArtifactGet": (0, 1, None),
    "tools:ArtifactList": (0, 2, None),
    "tools:ArtifactUpload": (0, 3, None),
    "tools:ArtifactCreate": (0, 4, None),
    "tools:OrpheusGenerate": (2, 2, None),
    "tools:OrpheusGenerateSeeded": (2, 3, None),
    "tools:OrpheusContinue": (2, 3, None),
    "tools:OrpheusBridge": (2, 4, None),
    "tools:OrpheusLoops": (2, 2, None),
    "tools:OrpheusClassify": (0, 1, None),
    "tools:MusicgenGenerate": (3, 2, None),
    "tools:YueGenerate": (2, 3, None),
    "tools:Audioldm2Generate": (3, 3, None),
    "tools:AnticipatoryGenerate": (1, 2, None),
    "tools:AnticipatoryContinue": (2, 3, None),
    "tools:AbcParse": (0, 1, None),
    "tools:AbcValidate": (0, 1, None),
    "tools:AbcTranspose": (1, 2, None),
    "tools:AbcToMidi": (1, 2, None),
    "tools:ConvertMidiToWav": (1, 3, None),
    "tools:MidiInfo": (0, 2, None),
    "tools:AudioInfo": (0, 2, None),
    "jobs:JobExecute": (0, 3, None),
    "jobs:JobStatusRequest": (0, 1, None),
    "jobs:JobPoll": (2, 1, None),
    "jobs:JobCancel": (0, 1, None),
    "jobs:JobList": (0, 1, None),
    "garden:Seek": (1, 0, None),
    "garden:SetTempo": (1, 0, None),
    "garden:CreateRegion": (2, 2, None),
    "garden:DeleteRegion": (0, 1, None),
    "garden:MoveRegion": (1, 1, None),
    "garden:GetRegions": (2, 0, None),
    "garden:TransportSeek": (1, 0, None),
    "garden:TimelineQuery": (2, 0, None),
    "garden:TimelineAddMarker": (1, 2, None),
    "garden:TimelineEvent": (3, 1, None),
    "responses:ToolResponse": (1, 1, 0),
    "responses:WeaveEvalResponse": (1, 3, None),
    "responses:WeaveSessionResponse": (0, 2, None),
    "responses:WeaveSessionInfo": (0, 3, None),
    "responses:WeaveResetResponse": (1, 1, None),
    "responses:WeaveHelpResponse": (0, 2, None),
    "responses:JobStartedResponse": (0, 2, None),
    "responses:AckResponse": (0, 1, None),
    "responses:JobStatusResponse": (4, 4, None),
    "responses:JobListResponse": (1, 2, None),
    "responses:JobCounts": (5, 0, None),
    "responses:JobPollResultResponse": (1, 3, None),
    "responses:JobPollResponse": (1, 4, None),
    "responses:JobCancelResponse": (1, 1, None),
    "responses:GardenStatusResponse": (4, 0, None),
    "responses:UnifiedStatusResponse": (0, 5, None),
    "responses:TransportStatus": (4, 0, None),
    "responses:AudioOutputStatus": (5, 1, None),
    "responses:AudioInputStatus": (5, 1, None),
    "responses:MonitorStatus": (1, 0, None),
    "responses:MidiStatusResponse": (0, 2, None),
    "responses:MidiConnectionInfo": (1, 1, None),
    "responses:GardenRegionsResponse": (1, 1, None),
    "responses:GardenRegionInfo": (2, 3, None),
    "responses:GardenRegionCreatedResponse": (2, 1, None),
    "responses:ArtifactCreatedResponse": (0, 4, None),
    "responses:ArtifactInfoResponse": (1, 8, None),
    "responses:ArtifactMetadata": (2, 1, None),
    "responses:MidiMetadata": (2, 0, None),
    "responses:ArtifactListResponse": (1, 1, None),
    "responses:OrpheusGeneratedResponse": (1, 5, None),
    "responses:AudioGeneratedResponse": (2, 3, None),
    "responses:Audioldm2GeneratedResponse": (2, 3, None),
    "responses:AnticipatoryGeneratedResponse": (1, 3, None),
    "responses:AbcParsedResponse": (2, 3, None),
    "responses:AbcValidatedResponse": (1, 2, None),
    "responses:AbcValidationError": (2, 1, None),
    "responses:AbcTransposedResponse": (1, 3, None),
    "responses:AbcToMidiResponse": (0, 2, None),
    "responses:MidiToWavResponse": (2, 2, None),
    "responses:OrpheusClassifiedResponse": (0, 1, None),
    "responses:MidiClassification": (1, 1, None),
    "responses:MidiInfoResponse": (4, 1, None),
    "responses:MidiTempoChange": (2, 0, None),
    "responses:AudioInfoResponse": (3, 0, None),
    "streams:StreamHeadPosition": (2, 2, None),
    "streams:StreamChunkFull": (2, 3, None),
    "streams:StreamError": (1, 2, None),
    "broadcast:Broadcast": (1, 1, 0),
    "broadcast:ConfigUpdate": (0, 2, None),
    "broadcast:ShutdownBroadcast": (0, 1, None),
    "broadcast:ScriptInvalidate": (0, 1, None),
    "broadcast:JobStateChanged": (0, 3, None),
    "broadcast:Progress": (1, 2, None),
    "broadcast:ArtifactCreated": (0, 4, None),
    "broadcast:TransportStateChanged": (2, 1, None),
    "broadcast:MarkerReached": (1, 2, None),
    "broadcast:BeatTick": (3, 1, None),
    "broadcast:Log": (0, 3, None),
    "broadcast:DeviceConnected": (1, 4, None),
    "broadcast:DeviceDisconnected": (1, 1, None),
    "broadcast:AudioAttached": (1, 1, None),
    "broadcast:AudioDetached": (0, 0, None),
    "broadcast:AudioUnderrun": (1, 0, None),
    "vibeweaver:SessionId": (0, 1, None),
    "vibeweaver:RuleId": (0, 1, None),
    "vibeweaver:MarkerId": (0, 1, None),
    "vibeweaver:Session": (1, 5, None),
    "vibeweaver:BeatState": (2, 0, None),
    "vibeweaver:JobEntry": (1, 2, None),
    "vibeweaver:ArtifactRef": (0, 4, None),
    "vibeweaver:KernelState": (3, 6, None),
    "vibeweaver:Trigger": (1, 1, 0),
    "vibeweaver:BeatTrigger": (1, 0, None),
    "vibeweaver:MarkerTrigger": (0, 1, None),
    "vibeweaver:DeadlineTrigger": (1, 0, None),
    "vibeweaver:ArtifactTrigger": (0, 1, None),
    "vibeweaver:JobCompleteTrigger": (0, 1, None),
    "vibeweaver:TransportTrigger": (0, 1, None),
    "vibeweaver:Action": (1, 1, 0),
    "vibeweaver:SampleAction": (0, 3, None),
    "vibeweaver:ScheduleAction": (3, 1, None),
    "vibeweaver:SampleAndScheduleAction": (1, 2, None),
    "vibeweaver:SeekAction": (1, 0, None),
    "vibeweaver:AuditionAction": (1, 1, None),
    "vibeweaver:NotifyAction": (0, 1, None),
    "vibeweaver:Rule": (2, 6, None),
    "vibeweaver:Marker": (1, 5, None),
    "vibeweaver:HistoryEntry": (2, 5, None),
}


def test_load_is_cached_and_returns_the_nine_modules() -> None:
    assert load() is load()
    assert set(SCHEMA_FILES) == set(FILE_IDS)
    for name in SCHEMA_FILES:
        assert (SCHEMA_DIR / f"{name}.capnp").is_file()
        assert getattr(load(), name) is not None


@pytest.mark.parametrize("name", sorted(FILE_IDS))
def test_each_file_keeps_the_file_id_of_the_sheet(name: str) -> None:
    assert getattr(load(), name).schema.node.id == FILE_IDS[name]


def test_every_struct_of_the_sheet_has_the_documented_layout() -> None:
    schemas = load()
    wrong = {}
    for key, expected in LAYOUTS.items():
        file, struct = key.split(":")
        node = getattr(getattr(schemas, file), struct).schema.node.struct
        tag_byte = node.discriminantOffset * 2 if node.discriminantCount else None
        actual = (node.dataWordCount, node.pointerCount, tag_byte)
        if actual != expected:
            wrong[key] = (actual, expected)
    assert wrong == {}
    assert len(LAYOUTS) == 140


def test_union_tags_equal_member_ordinals_for_the_whole_struct_unions() -> None:
    schemas = load()
    unions = [
        (schemas.envelope.Payload, 30),
        (schemas.tools.ToolRequest, 103),
        (schemas.responses.ToolResponse, 81),
        (schemas.broadcast.Broadcast, 18),
        (schemas.vibeweaver.Trigger, 6),
        (schemas.vibeweaver.Action, 9),
    ]
    for struct, count in unions:
        names = struct.schema.union_fields
        assert len(names) == count
        for ordinal, name in enumerate(names):
            proto = struct.schema.fields[name].proto
            assert proto.discriminantValue == ordinal
            assert proto.ordinal.explicit == ordinal


def test_no_field_declares_a_default_and_placeholders_are_empty_structs() -> None:
    placeholders = 0
    for name in SCHEMA_FILES:
        source = (SCHEMA_DIR / f"{name}.capnp").read_text(encoding="utf-8")
        for line in source.splitlines():
            code = line.split("#", 1)[0]
            if not code.startswith("using "):
                assert "=" not in code, f"{name}.capnp declares a default: {line}"
        placeholders += len(re.findall(r"^struct \w+ \{\}$", source, flags=re.MULTILINE))
    # 84 placeholders plus broadcast.capnp's AudioDetached, which really has no fields.
    assert placeholders == 85
