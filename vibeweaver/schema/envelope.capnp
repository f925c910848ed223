# envelope.capnp — Envelope: the HOOT01 body root and the top-level Payload union.
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xd9c43dd35faffe92;

using Common = import "common.capnp";
using Garden = import "garden.capnp";
using Responses = import "responses.capnp";
using Streams = import "streams.capnp";
using Tools = import "tools.capnp";

struct Envelope {
  id @0 :Common.Uuid;
  traceparent @1 :Text;
  payload @2 :Payload;
}

struct Payload {
  union {
    register @0 :Common.WorkerRegistration;
    ping @1 :Void;
    pong @2 :Pong;
    shutdown @3 :ShutdownRequest;
    toolRequest @4 :Tools.ToolRequest;
    gardenStatus @5 :Void;
    gardenPlay @6 :Void;
    gardenPause @7 :Void;
    gardenStop @8 :Void;
    gardenSeek @9 :Garden.Seek;
    gardenSetTempo @10 :Garden.SetTempo;
    removedGardenQuery @11 :Void;
    gardenEmergencyPause @12 :Void;
    gardenCreateRegion @13 :Garden.CreateRegion;
    gardenDeleteRegion @14 :Garden.DeleteRegion;
    gardenMoveRegion @15 :Garden.MoveRegion;
    gardenGetRegions @16 :Garden.GetRegions;
    transportPlay @17 :Void;
    transportStop @18 :Void;
    transportSeek @19 :Garden.TransportSeek;
    transportStatus @20 :Void;
    timelineQuery @21 :Garden.TimelineQuery;
    timelineAddMarker @22 :Garden.TimelineAddMarker;
    timelineEvent @23 :Garden.TimelineEvent;
    toolResponse @24 :Responses.ToolResponse;
    error @25 :Common.Error;
    streamStart @26 :Streams.StreamStart;
    streamSwitchChunk @27 :Streams.StreamSwitchChunk;
    streamStop @28 :Streams.StreamStop;
    toolCall @29 :ToolCall;
  }
}

struct Pong {
  workerId @0 :Common.Uuid;
  uptimeSecs @1 :UInt64;
}

struct ShutdownRequest {
  reason @0 :Text;
}

struct ToolCall {
  name @0 :Text;
  args @1 :Text;
}
