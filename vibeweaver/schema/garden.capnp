# garden.capnp — Garden (chaosgarden) request structs referenced from ToolRequest and Payload.
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xb55d10399d53fbb9;

using Common = import "common.capnp";

struct Seek {
  beat @0 :Float64;
}

struct SetTempo {
  bpm @0 :Float64;
}

struct CreateRegion {
  position @0 :Float64;
  duration @1 :Float64;
  behaviorType @2 :Text;
  contentId @3 :Text;
}

struct DeleteRegion {
  regionId @0 :Text;
}

struct MoveRegion {
  regionId @0 :Text;
  newPosition @1 :Float64;
}

struct GetRegions {
  start @0 :Float64;
  end @1 :Float64;
}

struct TransportSeek {
  positionBeats @0 :Float64;
}

struct TimelineQuery {
  fromBeats @0 :Float64;
  toBeats @1 :Float64;
}

struct TimelineAddMarker {
  positionBeats @0 :Float64;
  markerType @1 :Text;
  metadata @2 :Text;
}

struct TimelineEvent {
  eventType @0 :Common.TimelineEventType;
  positionBeats @1 :Float64;
  tempo @2 :Float64;
  metadata @3 :Text;
}

struct AttachAudio {}

struct AttachInput {}

struct GetAudioSnapshot {}

struct SetMonitor {}
