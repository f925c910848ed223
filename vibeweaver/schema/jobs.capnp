# jobs.capnp — Job request structs referenced from ToolRequest.
# Written from /work/shared/protocol/HOOTENANNY-WIRE.md §2; ordinals and types are the wire contract.
# No field declares a default. Empty structs are placeholders never built or read on these links.

@0xe73698fcef0e99f0;

using Common = import "common.capnp";

struct JobExecute {
  scriptHash @0 :Text;
  params @1 :Text;
  tags @2 :List(Text);
}

struct JobStatusRequest {
  jobId @0 :Text;
}

struct JobPoll {
  jobIds @0 :List(Text);
  timeoutMs @1 :UInt64;
  mode @2 :Common.PollMode;
}

struct JobCancel {
  jobId @0 :Text;
}

struct JobList {
  status @0 :Text;
}
