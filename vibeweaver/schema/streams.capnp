# streams.capnp — Stream-event structs referenced from Broadcast and Payload.
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xf6c97ca6e0cdcd69;

using Common = import "common.capnp";

struct StreamHeadPosition {
  streamUri @0 :Text;
  samplePosition @1 :UInt64;
  bytePosition @2 :UInt64;
  wallClock @3 :Common.Timestamp;
}

struct StreamChunkFull {
  streamUri @0 :Text;
  path @1 :Text;
  bytesWritten @2 :UInt64;
  samplesWritten @3 :UInt64;
  wallClock @4 :Common.Timestamp;
}

struct StreamError {
  streamUri @0 :Text;
  error @1 :Text;
  recoverable @2 :Bool;
}

struct StreamStart {}

struct StreamStop {}

struct StreamSwitchChunk {}
