# responses.capnp — ToolResponse: the union of every tool reply and its response structs.
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xc4f8e2a1b3d5f0e7;

using Common = import "common.capnp";

enum JobState {
  pending @0;
  running @1;
  complete @2;
  failed @3;
  cancelled @4;
}

enum TransportState {
  stopped @0;
  playing @1;
  paused @2;
}

enum WeaveOutputType {
  expression @0;
  statement @1;
}

enum AudioFormat {
  wav @0;
  mp3 @1;
  flac @2;
}

struct ToolResponse {
  union {
    casStored @0 :CasStoredResponse;
    casContent @1 :CasContentResponse;
    casInspected @2 :CasInspectedResponse;
    artifactCreated @3 :ArtifactCreatedResponse;
    artifactInfo @4 :ArtifactInfoResponse;
    artifactList @5 :ArtifactListResponse;
    jobStarted @6 :JobStartedResponse;
    jobStatus @7 :JobStatusResponse;
    jobList @8 :JobListResponse;
    jobPollResult @9 :JobPollResultResponse;
    abcParsed @10 :AbcParsedResponse;
    abcValidated @11 :AbcValidatedResponse;
    abcTransposed @12 :AbcTransposedResponse;
    abcConverted @13 :AbcConvertedResponse;
    soundfontInfo @14 :SoundfontInfoResponse;
    soundfontPresetInfo @15 :SoundfontPresetInfoResponse;
    orpheusGenerated @16 :OrpheusGeneratedResponse;
    orpheusClassified @17 :OrpheusClassifiedResponse;
    audioGenerated @18 :AudioGeneratedResponse;
    beatsAnalyzed @19 :BeatsAnalyzedResponse;
    clapAnalyzed @20 :ClapAnalyzedResponse;
    gardenStatus @21 :GardenStatusResponse;
    gardenRegions @22 :GardenRegionsResponse;
    gardenRegionCreated @23 :GardenRegionCreatedResponse;
    removedGardenQueryResult @24 :Void;
    removedGraphIdentity @25 :Void;
    removedGraphIdentities @26 :Void;
    removedGraphConnection @27 :Void;
    removedGraphTags @28 :Void;
    removedGraphContext @29 :Void;
    removedGraphQueryResult @30 :Void;
    configValue @31 :ConfigValueResponse;
    toolsList @32 :ToolsListResponse;
    ack @33 :AckResponse;
    annotationAdded @34 :AnnotationAddedResponse;
    weaveEval @35 :WeaveEvalResponse;
    weaveSession @36 :WeaveSessionResponse;
    weaveReset @37 :WeaveResetResponse;
    weaveHelp @38 :WeaveHelpResponse;
    gardenAudioStatus @39 :GardenAudioStatusResponse;
    gardenInputStatus @40 :GardenInputStatusResponse;
    gardenMonitorStatus @41 :GardenMonitorStatusResponse;
    toolHelp @42 :ToolHelpResponse;
    scheduleResult @43 :ScheduleResultResponse;
    analyzeResult @44 :AnalyzeResultResponse;
    casStats @45 :CasStatsResponse;
    projectResult @46 :ProjectResultResponse;
    removedGraphBind @47 :Void;
    removedGraphTag @48 :Void;
    removedGraphConnect @49 :Void;
    jobPoll @50 :JobPollResponse;
    jobCancel @51 :JobCancelResponse;
    abcToMidi @52 :AbcToMidiResponse;
    midiToWav @53 :MidiToWavResponse;
    midiInfo @54 :MidiInfoResponse;
    raveEncoded @55 :RaveEncodedResponse;
    raveDecoded @56 :RaveDecodedResponse;
    raveReconstructed @57 :RaveReconstructedResponse;
    raveGenerated @58 :RaveGeneratedResponse;
    raveStreamStarted @59 :RaveStreamStartedResponse;
    raveStreamStopped @60 :RaveStreamStoppedResponse;
    raveStreamStatus @61 :RaveStreamStatusResponse;
    gardenAudioSnapshot @62 :GardenAudioSnapshotResponse;
    audioCaptured @63 :AudioCapturedResponse;
    midiPorts @64 :MidiPortsResponse;
    midiAttached @65 :MidiAttachedResponse;
    midiStatus @66 :MidiStatusResponse;
    audioInfo @67 :AudioInfoResponse;
    unifiedStatus @68 :UnifiedStatusResponse;
    audioldm2Generated @69 :Audioldm2GeneratedResponse;
    anticipatoryGenerated @70 :AnticipatoryGeneratedResponse;
    anticipatoryEmbedded @71 :AnticipatoryEmbeddedResponse;
    demucsSeparated @72 :DemucsSeparatedResponse;
    midiAnalyzed @73 :MidiAnalyzedResponse;
    midiVoiceSeparated @74 :MidiVoiceSeparatedResponse;
    midiStemsExported @75 :MidiStemsExportedResponse;
    midiVoicesClassified @76 :MidiVoicesClassifiedResponse;
    midiUnderstood @77 :MidiUnderstoodResponse;
    audioDevices @78 :AudioDevicesResponse;
    gardenGraph @79 :GardenGraphResponse;
    timeConverted @80 :TimeConvertedResponse;
  }
}

struct WeaveEvalResponse {
  outputType @0 :WeaveOutputType;
  result @1 :Text;
  stdout @2 :Text;
  stderr @3 :Text;
}

struct WeaveSessionResponse {
  session @0 :WeaveSessionInfo;
  message @1 :Text;
}

struct WeaveSessionInfo {
  id @0 :Text;
  name @1 :Text;
  vibe @2 :Text;
}

struct WeaveResetResponse {
  reset @0 :Bool;
  message @1 :Text;
}

struct WeaveHelpResponse {
  help @0 :Text;
  topic @1 :Text;
}

struct JobStartedResponse {
  jobId @0 :Text;
  tool @1 :Text;
}

struct AckResponse {
  message @0 :Text;
}

struct JobStatusResponse {
  jobId @0 :Text;
  status @1 :JobState;
  source @2 :Text;
  result @3 :ToolResponse;
  error @4 :Text;
  createdAt @5 :UInt64;
  startedAt @6 :UInt64;
  completedAt @7 :UInt64;
}

struct JobListResponse {
  jobs @0 :List(JobStatusResponse);
  total @1 :UInt64;
  byStatus @2 :JobCounts;
}

struct JobCounts {
  pending @0 :UInt64;
  running @1 :UInt64;
  complete @2 :UInt64;
  failed @3 :UInt64;
  cancelled @4 :UInt64;
}

struct JobPollResultResponse {
  completed @0 :List(Text);
  failed @1 :List(Text);
  pending @2 :List(Text);
  timedOut @3 :Bool;
}

struct JobPollResponse {
  completed @0 :List(Text);
  failed @1 :List(Text);
  pending @2 :List(Text);
  reason @3 :Text;
  elapsedMs @4 :UInt64;
}

struct JobCancelResponse {
  jobId @0 :Text;
  cancelled @1 :Bool;
}

struct GardenStatusResponse {
  state @0 :TransportState;
  positionBeats @1 :Float64;
  tempoBpm @2 :Float64;
  regionCount @3 :UInt64;
}

struct UnifiedStatusResponse {
  transport @0 :TransportStatus;
  audioOutput @1 :AudioOutputStatus;
  audioInput @2 :AudioInputStatus;
  monitor @3 :MonitorStatus;
  midi @4 :MidiStatusResponse;
}

struct TransportStatus {
  state @0 :TransportState;
  positionBeats @1 :Float64;
  tempoBpm @2 :Float64;
  regionCount @3 :UInt64;
}

struct AudioOutputStatus {
  attached @0 :Bool;
  deviceName @1 :Text;
  sampleRate @2 :UInt32;
  latencyFrames @3 :UInt32;
  callbacks @4 :UInt64;
  samplesWritten @5 :UInt64;
  underruns @6 :UInt64;
}

struct AudioInputStatus {
  attached @0 :Bool;
  deviceName @1 :Text;
  sampleRate @2 :UInt32;
  channels @3 :UInt32;
  callbacks @4 :UInt64;
  samplesCaptured @5 :UInt64;
  overruns @6 :UInt64;
}

struct MonitorStatus {
  enabled @0 :Bool;
  gain @1 :Float32;
}

struct MidiStatusResponse {
  inputs @0 :List(MidiConnectionInfo);
  outputs @1 :List(MidiConnectionInfo);
}

struct MidiConnectionInfo {
  portName @0 :Text;
  messages @1 :UInt64;
}

struct GardenRegionsResponse {
  regions @0 :List(GardenRegionInfo);
  count @1 :UInt64;
}

struct GardenRegionInfo {
  regionId @0 :Text;
  position @1 :Float64;
  duration @2 :Float64;
  behaviorType @3 :Text;
  contentId @4 :Text;
}

struct GardenRegionCreatedResponse {
  regionId @0 :Text;
  position @1 :Float64;
  duration @2 :Float64;
}

struct ArtifactCreatedResponse {
  artifactId @0 :Text;
  contentHash @1 :Text;
  tags @2 :List(Text);
  creator @3 :Text;
}

struct ArtifactInfoResponse {
  id @0 :Text;
  contentHash @1 :Text;
  mimeType @2 :Text;
  tags @3 :List(Text);
  creator @4 :Text;
  createdAt @5 :UInt64;
  parentId @6 :Text;
  variationSetId @7 :Text;
  metadata @8 :ArtifactMetadata;
}

struct ArtifactMetadata {
  durationSeconds @0 :Float64;
  sampleRate @1 :UInt32;
  channels @2 :UInt8;
  midiInfo @3 :MidiMetadata;
}

struct MidiMetadata {
  tracks @0 :UInt16;
  ticksPerQuarter @1 :UInt16;
  durationTicks @2 :UInt64;
}

struct ArtifactListResponse {
  artifacts @0 :List(ArtifactInfoResponse);
  count @1 :UInt64;
}

struct OrpheusGeneratedResponse {
  outputHashes @0 :List(Text);
  artifactIds @1 :List(Text);
  tokensPerVariation @2 :List(UInt64);
  totalTokens @3 :UInt64;
  variationSetId @4 :Text;
  summary @5 :Text;
}

struct AudioGeneratedResponse {
  artifactId @0 :Text;
  contentHash @1 :Text;
  durationSeconds @2 :Float64;
  sampleRate @3 :UInt32;
  format @4 :AudioFormat;
  genre @5 :Text;
}

struct Audioldm2GeneratedResponse {
  artifactId @0 :Text;
  contentHash @1 :Text;
  durationSeconds @2 :Float64;
  sampleRate @3 :UInt32;
  prompt @4 :Text;
}

struct AnticipatoryGeneratedResponse {
  artifactId @0 :Text;
  contentHash @1 :Text;
  durationSeconds @2 :Float64;
  modelSize @3 :Text;
}

struct AbcParsedResponse {
  valid @0 :Bool;
  title @1 :Text;
  key @2 :Text;
  meter @3 :Text;
  tempo @4 :UInt16;
  notesCount @5 :UInt64;
}

struct AbcValidatedResponse {
  valid @0 :Bool;
  errors @1 :List(AbcValidationError);
  warnings @2 :List(Text);
}

struct AbcValidationError {
  line @0 :UInt64;
  column @1 :UInt64;
  message @2 :Text;
}

struct AbcTransposedResponse {
  abc @0 :Text;
  originalKey @1 :Text;
  newKey @2 :Text;
  semitones @3 :Int8;
}

struct AbcToMidiResponse {
  artifactId @0 :Text;
  contentHash @1 :Text;
}

struct MidiToWavResponse {
  artifactId @0 :Text;
  contentHash @1 :Text;
  sampleRate @2 :UInt32;
  durationSecs @3 :Float64;
}

struct OrpheusClassifiedResponse {
  classifications @0 :List(MidiClassification);
}

struct MidiClassification {
  label @0 :Text;
  confidence @1 :Float32;
}

struct MidiInfoResponse {
  tempoBpm @0 :Float64;
  hasTempoBpm @1 :Bool;
  tempoChanges @2 :List(MidiTempoChange);
  timeSigNum @3 :UInt8;
  timeSigDenom @4 :UInt8;
  hasTimeSig @5 :Bool;
  durationSeconds @6 :Float64;
  trackCount @7 :UInt16;
  ppq @8 :UInt16;
  noteCount @9 :UInt32;
  format @10 :UInt8;
}

struct MidiTempoChange {
  tick @0 :UInt32;
  bpm @1 :Float64;
}

struct AudioInfoResponse {
  durationSeconds @0 :Float64;
  sampleRate @1 :UInt32;
  channels @2 :UInt16;
  peakDb @3 :Float32;
  meanDb @4 :Float32;
  isSilent @5 :Bool;
}

struct AbcConvertedResponse {}

struct AnalyzeResultResponse {}

struct AnnotationAddedResponse {}

struct AnticipatoryEmbeddedResponse {}

struct AudioCapturedResponse {}

struct AudioDevicesResponse {}

struct BeatsAnalyzedResponse {}

struct CasContentResponse {}

struct CasInspectedResponse {}

struct CasStatsResponse {}

struct CasStoredResponse {}

struct ClapAnalyzedResponse {}

struct ConfigValueResponse {}

struct DemucsSeparatedResponse {}

struct GardenAudioSnapshotResponse {}

struct GardenAudioStatusResponse {}

struct GardenGraphResponse {}

struct GardenInputStatusResponse {}

struct GardenMonitorStatusResponse {}

struct MidiAnalyzedResponse {}

struct MidiAttachedResponse {}

struct MidiPortsResponse {}

struct MidiStemsExportedResponse {}

struct MidiUnderstoodResponse {}

struct MidiVoiceSeparatedResponse {}

struct MidiVoicesClassifiedResponse {}

struct ProjectResultResponse {}

struct RaveDecodedResponse {}

struct RaveEncodedResponse {}

struct RaveGeneratedResponse {}

struct RaveReconstructedResponse {}

struct RaveStreamStartedResponse {}

struct RaveStreamStatusResponse {}

struct RaveStreamStoppedResponse {}

struct ScheduleResultResponse {}

struct SoundfontInfoResponse {}

struct SoundfontPresetInfoResponse {}

struct TimeConvertedResponse {}

struct ToolHelpResponse {}

struct ToolsListResponse {}
