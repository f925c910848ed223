# tools.capnp — ToolRequest: the union of every tool call and its request structs.
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xf3d2f032f8bfe15a;

using Common = import "common.capnp";
using Garden = import "garden.capnp";
using Jobs = import "jobs.capnp";

struct ToolRequest {
  union {
    casStore @0 :CasStore;
    casInspect @1 :CasInspect;
    casGet @2 :CasGet;
    casUploadFile @3 :CasUploadFile;
    orpheusGenerate @4 :OrpheusGenerate;
    orpheusGenerateSeeded @5 :OrpheusGenerateSeeded;
    orpheusContinue @6 :OrpheusContinue;
    orpheusBridge @7 :OrpheusBridge;
    orpheusLoops @8 :OrpheusLoops;
    orpheusClassify @9 :OrpheusClassify;
    abcParse @10 :AbcParse;
    abcToMidi @11 :AbcToMidi;
    abcValidate @12 :AbcValidate;
    abcTranspose @13 :AbcTranspose;
    convertMidiToWav @14 :ConvertMidiToWav;
    soundfontInspect @15 :SoundfontInspect;
    soundfontPresetInspect @16 :SoundfontPresetInspect;
    beatthisAnalyze @17 :BeatthisAnalyze;
    clapAnalyze @18 :ClapAnalyze;
    musicgenGenerate @19 :MusicgenGenerate;
    yueGenerate @20 :YueGenerate;
    artifactUpload @21 :ArtifactUpload;
    artifactGet @22 :ArtifactGet;
    artifactList @23 :ArtifactList;
    artifactCreate @24 :ArtifactCreate;
    removedGraphQuery @25 :Void;
    removedGraphBind @26 :Void;
    removedGraphTag @27 :Void;
    removedGraphConnect @28 :Void;
    removedGraphFind @29 :Void;
    removedGraphContext @30 :Void;
    addAnnotation @31 :AddAnnotation;
    configGet @32 :ConfigGet;
    luaEval @33 :LuaEval;
    luaDescribe @34 :LuaDescribe;
    scriptStore @35 :ScriptStore;
    scriptSearch @36 :ScriptSearch;
    jobExecute @37 :Jobs.JobExecute;
    jobStatus @38 :Jobs.JobStatusRequest;
    jobPoll @39 :Jobs.JobPoll;
    jobCancel @40 :Jobs.JobCancel;
    jobList @41 :Jobs.JobList;
    readResource @42 :ReadResource;
    listResources @43 :Void;
    complete @44 :Complete;
    sampleLlm @45 :SampleLlm;
    weaveEval @46 :WeaveEval;
    weaveSession @47 :Void;
    weaveReset @48 :WeaveReset;
    weaveHelp @49 :WeaveHelp;
    gardenStatus @50 :Void;
    gardenPlay @51 :Void;
    gardenPause @52 :Void;
    gardenStop @53 :Void;
    gardenSeek @54 :Garden.Seek;
    gardenSetTempo @55 :Garden.SetTempo;
    removedGardenQuery @56 :Void;
    gardenEmergencyPause @57 :Void;
    gardenCreateRegion @58 :Garden.CreateRegion;
    gardenDeleteRegion @59 :Garden.DeleteRegion;
    gardenMoveRegion @60 :Garden.MoveRegion;
    gardenGetRegions @61 :Garden.GetRegions;
    gardenAttachAudio @62 :Garden.AttachAudio;
    gardenDetachAudio @63 :Void;
    gardenAudioStatus @64 :Void;
    gardenAttachInput @65 :Garden.AttachInput;
    gardenDetachInput @66 :Void;
    gardenInputStatus @67 :Void;
    gardenSetMonitor @68 :Garden.SetMonitor;
    gardenClearRegions @69 :Void;
    getToolHelp @70 :GetToolHelp;
    casStats @71 :Void;
    midiInfo @72 :MidiInfo;
    raveEncode @73 :RaveEncode;
    raveDecode @74 :RaveDecode;
    raveReconstruct @75 :RaveReconstruct;
    raveGenerate @76 :RaveGenerate;
    raveStreamStart @77 :RaveStreamStart;
    raveStreamStop @78 :RaveStreamStop;
    raveStreamStatus @79 :RaveStreamStatus;
    gardenGetAudioSnapshot @80 :Garden.GetAudioSnapshot;
    audioCapture @81 :AudioCapture;
    midiListPorts @82 :Void;
    midiInputAttach @83 :MidiAttach;
    midiInputDetach @84 :MidiDetach;
    midiOutputAttach @85 :MidiAttach;
    midiOutputDetach @86 :MidiDetach;
    midiSend @87 :MidiSend;
    midiStatus @88 :Void;
    audioInfo @89 :AudioInfo;
    audioldm2Generate @90 :Audioldm2Generate;
    anticipatoryGenerate @91 :AnticipatoryGenerate;
    anticipatoryContinue @92 :AnticipatoryContinue;
    anticipatoryEmbed @93 :AnticipatoryEmbed;
    demucsSeparate @94 :DemucsSeparate;
    midiAnalyze @95 :MidiAnalyze;
    midiVoiceSeparate @96 :MidiVoiceSeparate;
    midiStemsExport @97 :MidiStemsExport;
    midiClassifyVoices @98 :MidiClassifyVoices;
    midiUnderstand @99 :MidiUnderstand;
    audioListDevices @100 :Void;
    gardenGraph @101 :Void;
    timeConvert @102 :TimeConvert;
  }
}

struct WeaveEval {
  code @0 :Text;
}

struct WeaveReset {
  clearSession @0 :Bool;
}

struct WeaveHelp {
  topic @0 :Text;
}

struct ArtifactGet {
  id @0 :Text;
}

struct ArtifactList {
  tag @0 :Text;
  creator @1 :Text;
}

struct ArtifactUpload {
  filePath @0 :Text;
  mimeType @1 :Text;
  metadata @2 :Common.ArtifactMetadata;
}

struct ArtifactCreate {
  casHash @0 :Text;
  tags @1 :List(Text);
  creator @2 :Text;
  metadata @3 :Text;
}

struct OrpheusGenerate {
  model @0 :Text;
  temperature @1 :Float32;
  topP @2 :Float32;
  maxTokens @3 :UInt32;
  numVariations @4 :UInt32;
  metadata @5 :Common.ArtifactMetadata;
}

struct OrpheusGenerateSeeded {
  seedHash @0 :Text;
  model @1 :Text;
  temperature @2 :Float32;
  topP @3 :Float32;
  maxTokens @4 :UInt32;
  numVariations @5 :UInt32;
  metadata @6 :Common.ArtifactMetadata;
}

struct OrpheusContinue {
  inputHash @0 :Text;
  model @1 :Text;
  temperature @2 :Float32;
  topP @3 :Float32;
  maxTokens @4 :UInt32;
  numVariations @5 :UInt32;
  metadata @6 :Common.ArtifactMetadata;
}

struct OrpheusBridge {
  sectionAHash @0 :Text;
  sectionBHash @1 :Text;
  model @2 :Text;
  temperature @3 :Float32;
  topP @4 :Float32;
  maxTokens @5 :UInt32;
  metadata @6 :Common.ArtifactMetadata;
}

struct OrpheusLoops {
  temperature @0 :Float32;
  topP @1 :Float32;
  maxTokens @2 :UInt32;
  numVariations @3 :UInt32;
  seedHash @4 :Text;
  metadata @5 :Common.ArtifactMetadata;
}

struct OrpheusClassify {
  midiHash @0 :Text;
}

struct MusicgenGenerate {
  prompt @0 :Text;
  duration @1 :Float32;
  temperature @2 :Float32;
  topK @3 :UInt32;
  topP @4 :Float32;
  guidanceScale @5 :Float32;
  doSample @6 :Bool;
  metadata @7 :Common.ArtifactMetadata;
}

struct YueGenerate {
  lyrics @0 :Text;
  genre @1 :Text;
  maxNewTokens @2 :UInt32;
  runNSegments @3 :UInt32;
  seed @4 :UInt64;
  metadata @5 :Common.ArtifactMetadata;
}

struct Audioldm2Generate {
  prompt @0 :Text;
  negativePrompt @1 :Text;
  duration @2 :Float32;
  numInferenceSteps @3 :UInt32;
  guidanceScale @4 :Float32;
  seed @5 :UInt64;
  metadata @6 :Common.ArtifactMetadata;
}

struct AnticipatoryGenerate {
  lengthSeconds @0 :Float32;
  topP @1 :Float32;
  modelSize @2 :Text;
  metadata @3 :Common.ArtifactMetadata;
}

struct AnticipatoryContinue {
  inputHash @0 :Text;
  lengthSeconds @1 :Float32;
  primeSeconds @2 :Float32;
  topP @3 :Float32;
  modelSize @4 :Text;
  metadata @5 :Common.ArtifactMetadata;
}

struct AbcParse {
  abc @0 :Text;
}

struct AbcValidate {
  abc @0 :Text;
}

struct AbcTranspose {
  abc @0 :Text;
  semitones @1 :Int8;
  targetKey @2 :Text;
}

struct AbcToMidi {
  abc @0 :Text;
  tempoOverride @1 :UInt16;
  transpose @2 :Int8;
  velocity @3 :UInt8;
  channel @4 :UInt8;
  metadata @5 :Common.ArtifactMetadata;
}

struct ConvertMidiToWav {
  inputHash @0 :Text;
  soundfontHash @1 :Text;
  sampleRate @2 :UInt32;
  metadata @3 :Common.ArtifactMetadata;
}

struct MidiInfo {
  artifactId @0 :Text;
  hash @1 :Text;
}

struct AudioInfo {
  artifactId @0 :Text;
  hash @1 :Text;
}

struct AddAnnotation {}

struct AnticipatoryEmbed {}

struct AudioCapture {}

struct BeatthisAnalyze {}

struct CasGet {}

struct CasInspect {}

struct CasStore {}

struct CasUploadFile {}

struct ClapAnalyze {}

struct Complete {}

struct ConfigGet {}

struct DemucsSeparate {}

struct GetToolHelp {}

struct LuaDescribe {}

struct LuaEval {}

struct MidiAnalyze {}

struct MidiAttach {}

struct MidiClassifyVoices {}

struct MidiDetach {}

struct MidiSend {}

struct MidiStemsExport {}

struct MidiUnderstand {}

struct MidiVoiceSeparate {}

struct RaveDecode {}

struct RaveEncode {}

struct RaveGenerate {}

struct RaveReconstruct {}

struct RaveStreamStart {}

struct RaveStreamStatus {}

struct RaveStreamStop {}

struct ReadResource {}

struct SampleLlm {}

struct ScriptSearch {}

struct ScriptStore {}

struct SoundfontInspect {}

struct SoundfontPresetInspect {}

struct TimeConvert {}
