# common.capnp — Shared types of the hootenanny wire (Uuid, Error, ArtifactMetadata, enums).
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xf8721cef9bc45e2a;

enum PollMode {
  any @0;
  all @1;
}

enum WorkerType {
  hootenanny @0;
  chaosgarden @1;
  vibeweaver @2;
}

enum TimelineEventType {
  sectionChange @0;
  beatMarker @1;
  cuePoint @2;
  generateTransition @3;
}

struct Uuid {
  low @0 :UInt64;
  high @1 :UInt64;
}

struct Error {
  code @0 :Text;
  message @1 :Text;
  details @2 :Text;
}

struct Timestamp {
  nanos @0 :UInt64;
}

struct ArtifactMetadata {
  variationSetId @0 :Text;
  parentId @1 :Text;
  tags @2 :List(Text);
  creator @3 :Text;
}

struct WorkerRegistration {
  workerId @0 :Uuid;
  workerType @1 :WorkerType;
  workerName @2 :Text;
  capabilities @3 :List(Text);
  hostname @4 :Text;
  version @5 :Text;
}
