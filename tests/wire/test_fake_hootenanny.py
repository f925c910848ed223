"""FakeHootenanny driven over real loopback sockets by a raw zmq DEALER and SUB."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from tests.doubles import FakeHootenanny, Received
from vibeweaver.wire import (
    CAPNP_PARSE_ERROR,
    NOT_FOUND,
    UNHANDLED_PAYLOAD,
    UNSUPPORTED_CONTENT_TYPE,
    Ack,
    ArtifactGet,
    ArtifactInfo,
    ArtifactMetadata,
    AudioGenerated,
    BroadcastEvent,
    Command,
    ContentType,
    ErrorReply,
    GardenCreateRegion,
    GardenDeleteRegion,
    GardenGetRegions,
    GardenPlay,
    GardenRegionCreated,
    GardenRegions,
    GardenSeek,
    GardenSetTempo,
    GardenStatus,
    HootFrame,
    JobCancel,
    JobCancelReply,
    JobPoll,
    JobPollReply,
    JobStarted,
    JobStateChanged,
    JobStatus,
    JobStatusReply,
    Log,
    MusicgenGenerate,
    OrpheusGenerate,
    OrpheusGenerated,
    OtherToolCall,
    PingRequest,
    PongReply,
    ToolReply,
    UnifiedStatus,
    UnknownBroadcast,
    WireDecodeError,
    build_multipart,
    decode_broadcast,
    decode_tool_reply,
    encode_request,
    encode_tool_request,
    heartbeat_frame,
    new_request_id,
    parse_multipart,
    request_frame,
)
from vibeweaver.wire import WeaveEvalRequest as WeaveEval

TIMEOUT_MS = 5000
DEALER_ID = b"vibeweaver-test"


class Peer:
    """A raw DEALER (tool calls) and SUB (broadcasts) connected to a fake, used on one thread."""

    def __init__(self, fake: FakeHootenanny) -> None:
        self.ctx = zmq.Context()
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 0)
        self.dealer.setsockopt(zmq.ROUTING_ID, DEALER_ID)
        self.dealer.connect(fake.router_endpoint)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(fake.pub_endpoint)
        fake.wait_for_subscribers(1)

    def close(self) -> None:
        self.dealer.close(linger=0)
        self.sub.close(linger=0)
        self.ctx.term()

    def send(self, frame: HootFrame) -> None:
        self.dealer.send_multipart(build_multipart((), frame))

    def send_call(self, call: Any) -> bytes:
        rid = new_request_id()
        self.send(request_frame(rid, encode_tool_request(rid, call), service="vibeweaver"))
        return rid

    def receive(self) -> HootFrame:
        assert self.dealer.poll(TIMEOUT_MS), "no reply from the fake"
        identity, frame = parse_multipart(self.dealer.recv_multipart())
        assert identity == ()
        return frame

    def call(self, call: Any) -> ToolReply:
        rid = self.send_call(call)
        frame = self.receive()
        assert frame.request_id == rid
        assert (frame.command, frame.content_type) == (Command.REPLY, ContentType.CAPNPROTO)
        assert frame.service == "hootenanny"
        return decode_tool_reply(frame.body)

    def broadcast_bytes(self) -> bytes:
        assert self.sub.poll(TIMEOUT_MS), "no broadcast from the fake"
        parts = self.sub.recv_multipart()
        assert len(parts) == 1, "a broadcast is exactly one frame"
        return bytes(parts[0])

    def broadcast(self) -> BroadcastEvent:
        return decode_broadcast(self.broadcast_bytes())


@pytest.fixture
def fake() -> Iterator[FakeHootenanny]:
    with FakeHootenanny() as running:
        yield running


@pytest.fixture
def manual_fake() -> Iterator[FakeHootenanny]:
    with FakeHootenanny(auto_complete=False) as running:
        yield running


@pytest.fixture
def peer(fake: FakeHootenanny) -> Iterator[Peer]:
    p = Peer(fake)
    yield p
    p.close()


@pytest.fixture
def manual_peer(manual_fake: FakeHootenanny) -> Iterator[Peer]:
    p = Peer(manual_fake)
    yield p
    p.close()


def started(reply: ToolReply) -> JobStarted:
    assert isinstance(reply, JobStarted), reply
    return reply


# -- basics ---------------------------------------------------------------------------------------


def test_the_fake_binds_loopback_endpoints_on_free_ports(fake: FakeHootenanny) -> None:
    assert fake.router_endpoint.startswith("tcp://127.0.0.1:")
    assert fake.pub_endpoint.startswith("tcp://127.0.0.1:")
    assert fake.router_endpoint != fake.pub_endpoint


def test_the_fake_binds_a_given_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeHootenanny(router_port=port) as fake:
        assert fake.router_endpoint == f"tcp://127.0.0.1:{port}"


def test_starting_on_a_port_in_use_raises_the_bind_error(fake: FakeHootenanny) -> None:
    port = int(fake.router_endpoint.rsplit(":", 1)[1])
    with pytest.raises(zmq.ZMQError):
        FakeHootenanny(router_port=port).start()


def test_a_fake_is_started_only_once(fake: FakeHootenanny) -> None:
    with pytest.raises(RuntimeError, match="only once"):
        fake.start()


def test_a_stopped_fake_refuses_work() -> None:
    fake = FakeHootenanny().start()
    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError):
        fake.publish(Log(level="info", message="late"))


def test_heartbeats_are_echoed_with_the_same_id(fake: FakeHootenanny, peer: Peer) -> None:
    rid = new_request_id()
    peer.send(heartbeat_frame(rid, service="vibeweaver"))
    reply = peer.receive()
    assert reply == HootFrame(Command.HEARTBEAT, ContentType.EMPTY, rid, "hootenanny", "", b"")
    seen = fake.wait_for_request(lambda r: r.frame.command is Command.HEARTBEAT)
    assert seen.identity == (DEALER_ID,)
    assert seen.call is None


def test_ping_is_answered_with_pong(peer: Peer) -> None:
    reply = peer.call(PingRequest())
    assert isinstance(reply, PongReply)
    assert len(reply.worker_id) == 16
    assert reply.uptime_secs >= 0


def test_requests_are_recorded_with_identity_frame_and_decoded_call(
    fake: FakeHootenanny, peer: Peer
) -> None:
    rid = peer.send_call(GardenSeek(beat=4.0))
    peer.receive()
    received = fake.wait_for_request(lambda r: r.frame.request_id == rid)
    assert received == Received(
        (DEALER_ID,),
        HootFrame(
            Command.REQUEST,
            ContentType.CAPNPROTO,
            rid,
            "vibeweaver",
            "",
            encode_tool_request(rid, GardenSeek(beat=4.0)),
        ),
        GardenSeek(beat=4.0),
    )
    assert fake.requests()[-1] == received


def test_wait_for_request_times_out_when_nothing_matches(fake: FakeHootenanny) -> None:
    with pytest.raises(TimeoutError):
        fake.wait_for_request(lambda r: False, timeout=0.05)


def test_wait_for_request_wakes_up_when_another_thread_delivers(
    fake: FakeHootenanny, peer: Peer
) -> None:
    result: list[Received] = []
    waiter = threading.Thread(
        target=lambda: result.append(
            fake.wait_for_request(lambda r: isinstance(r.call, GardenPlay))
        )
    )
    waiter.start()
    peer.call(GardenPlay())
    waiter.join(TIMEOUT_MS / 1000)
    assert isinstance(result[0].call, GardenPlay)


def test_many_requests_in_flight_are_each_answered_with_their_own_id(peer: Peer) -> None:
    sent = {peer.send_call(PingRequest()) for _ in range(20)}
    answered = {peer.receive().request_id for _ in range(20)}
    assert answered == sent


# -- garden jobs ----------------------------------------------------------------------------------


def test_a_garden_command_starts_a_final_job_and_publishes_its_completion(
    fake: FakeHootenanny, peer: Peer
) -> None:
    job = started(peer.call(GardenPlay()))
    assert job.tool == "garden_play"
    assert uuid.UUID(job.job_id)
    assert peer.broadcast() == JobStateChanged(job_id=job.job_id, state="complete", result="")
    status = peer.call(JobStatus(job_id=job.job_id))
    assert isinstance(status, JobStatusReply)
    assert (status.status, status.source, status.result) == (
        "complete",
        "garden_play",
        Ack(message="play"),
    )


def test_garden_ack_texts_use_rust_float_formatting(peer: Peer) -> None:
    seek = started(peer.call(GardenSeek(beat=16.0)))
    tempo = started(peer.call(GardenSetTempo(bpm=120.5)))
    seek_status = peer.call(JobStatus(job_id=seek.job_id))
    tempo_status = peer.call(JobStatus(job_id=tempo.job_id))
    assert isinstance(seek_status, JobStatusReply)
    assert isinstance(tempo_status, JobStatusReply)
    assert seek_status.result == Ack(message="seek to beat 16")
    assert tempo_status.result == Ack(message="set tempo to 120.5 bpm")


def test_garden_status_reports_the_transport(peer: Peer) -> None:
    started(peer.call(GardenSetTempo(bpm=97.0)))
    started(peer.call(GardenPlay()))
    status = peer.call(GardenStatus())
    assert isinstance(status, UnifiedStatus)
    assert (status.transport.state, status.transport.tempo_bpm) == ("playing", 97.0)


def test_a_created_region_appears_in_the_job_result_and_the_region_list(peer: Peer) -> None:
    create = GardenCreateRegion(position=4.0, duration=8.0, content_id="artifact_0123456789ab")
    job = started(peer.call(create))
    assert peer.broadcast() == JobStateChanged(job_id=job.job_id, state="complete", result="")
    status = peer.call(JobStatus(job_id=job.job_id))
    assert isinstance(status, JobStatusReply)
    assert isinstance(status.result, GardenRegionCreated)
    assert (status.result.position, status.result.duration) == (4.0, 8.0)
    regions = peer.call(GardenGetRegions())
    assert isinstance(regions, GardenRegions)
    assert regions.count == 1
    assert regions.regions[0].region_id == status.result.region_id
    assert regions.regions[0].behavior_type == "content"


def test_deleting_a_region_with_a_non_uuid_id_fails_the_job(peer: Peer) -> None:
    job = started(peer.call(GardenDeleteRegion(region_id="not-a-uuid")))
    event = peer.broadcast()
    assert isinstance(event, JobStateChanged)
    assert (event.job_id, event.state) == (job.job_id, "failed")
    assert json.loads(event.result) == {"error": "invalid_uuid: not-a-uuid"}


# -- generation -----------------------------------------------------------------------------------


def test_orpheus_replies_directly_with_fresh_artifacts_and_publishes_nothing(
    fake: FakeHootenanny, peer: Peer
) -> None:
    reply = peer.call(OrpheusGenerate(num_variations=2))
    assert isinstance(reply, OrpheusGenerated)
    assert len(reply.artifact_ids) == 2
    assert len(set(reply.artifact_ids)) == 2
    assert all(a.startswith("artifact_") for a in reply.artifact_ids)
    info = peer.call(ArtifactGet(artifact_id=reply.artifact_ids[0]))
    assert isinstance(info, ArtifactInfo)
    assert info.creator == "vibeweaver"
    assert "source:orpheus" in info.tags
    # Nothing was published for the direct call: the next broadcast is our own marker.
    fake.publish(Log(level="info", message="marker"))
    assert peer.broadcast() == Log(level="info", message="marker")


def test_an_auto_completed_generation_job_publishes_its_artifact(peer: Peer) -> None:
    job = started(peer.call(MusicgenGenerate(prompt="dusty drums")))
    assert job.tool == "musicgen_generate"
    event = peer.broadcast()
    assert isinstance(event, JobStateChanged)
    assert (event.job_id, event.state) == (job.job_id, "complete")
    artifact_id = json.loads(event.result)["artifact_id"]
    status = peer.call(JobStatus(job_id=job.job_id))
    assert isinstance(status, JobStatusReply)
    assert isinstance(status.result, AudioGenerated)
    assert status.result.artifact_id == artifact_id


def test_a_manual_job_stays_running_until_the_test_completes_it(
    manual_fake: FakeHootenanny, manual_peer: Peer
) -> None:
    job = started(manual_peer.call(MusicgenGenerate(prompt="x")))
    running = manual_peer.call(JobStatus(job_id=job.job_id))
    assert isinstance(running, JobStatusReply)
    assert (running.status, running.result) == ("running", None)
    assert manual_fake.complete_job(job.job_id, artifact_id="artifact_feedfacecafe") == (
        "artifact_feedfacecafe"
    )
    assert manual_peer.broadcast() == JobStateChanged(
        job_id=job.job_id, state="complete", result='{"artifact_id":"artifact_feedfacecafe"}'
    )
    done = manual_fake.job(job.job_id)
    assert done is not None
    assert done.status == "complete"
    with pytest.raises(ValueError, match="already complete"):
        manual_fake.complete_job(job.job_id)
    with pytest.raises(KeyError):
        manual_fake.complete_job("no-such-job")


def test_a_failed_job_publishes_the_error(manual_fake: FakeHootenanny, manual_peer: Peer) -> None:
    job = started(manual_peer.call(MusicgenGenerate(prompt="x")))
    manual_fake.fail_job(job.job_id, "boom")
    assert manual_peer.broadcast() == JobStateChanged(
        job_id=job.job_id, state="failed", result='{"error":"boom"}'
    )
    status = manual_peer.call(JobStatus(job_id=job.job_id))
    assert isinstance(status, JobStatusReply)
    assert (status.status, status.error, status.result) == ("failed", "boom", None)


def test_job_poll_blocks_until_a_job_finishes(
    manual_fake: FakeHootenanny, manual_peer: Peer
) -> None:
    job = started(manual_peer.call(MusicgenGenerate(prompt="x")))
    rid = manual_peer.send_call(JobPoll(job_ids=(job.job_id,), timeout_ms=30_000))
    manual_fake.wait_for_request(lambda r: r.frame.request_id == rid)
    assert manual_peer.dealer.poll(0) == 0  # still waiting
    manual_fake.complete_job(job.job_id)
    frame = manual_peer.receive()
    assert frame.request_id == rid
    reply = decode_tool_reply(frame.body)
    assert isinstance(reply, JobPollReply)
    assert (reply.completed, reply.failed, reply.pending, reply.reason) == (
        (job.job_id,),
        (),
        (),
        "job_complete",
    )


def test_job_poll_times_out_with_the_pending_ids(manual_peer: Peer) -> None:
    job = started(manual_peer.call(MusicgenGenerate(prompt="x")))
    reply = manual_peer.call(JobPoll(job_ids=(job.job_id, "unknown"), timeout_ms=1, mode="all"))
    assert isinstance(reply, JobPollReply)
    assert (reply.completed, reply.failed, reply.pending, reply.reason) == (
        (),
        ("unknown",),
        (job.job_id,),
        "job_complete",
    )
    reply = manual_peer.call(JobPoll(job_ids=(job.job_id,), timeout_ms=1))
    assert isinstance(reply, JobPollReply)
    assert (reply.pending, reply.reason) == ((job.job_id,), "timeout")


def test_job_cancel_cancels_without_a_broadcast(
    manual_fake: FakeHootenanny, manual_peer: Peer
) -> None:
    job = started(manual_peer.call(MusicgenGenerate(prompt="x")))
    assert manual_peer.call(JobCancel(job_id=job.job_id)) == JobCancelReply(
        job_id=job.job_id, cancelled=True
    )
    cancelled = manual_fake.job(job.job_id)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    manual_fake.publish(Log(level="info", message="marker"))
    assert manual_peer.broadcast() == Log(level="info", message="marker")


# -- errors ---------------------------------------------------------------------------------------


def test_an_unknown_job_id_is_not_found(peer: Peer) -> None:
    reply = peer.call(JobStatus(job_id="nope"))
    assert isinstance(reply, ErrorReply)
    assert reply.code == NOT_FOUND
    assert reply.message == "job not found: Job not found: nope"


def test_an_unknown_artifact_is_not_found(peer: Peer) -> None:
    reply = peer.call(ArtifactGet(artifact_id="artifact_000000000000"))
    assert isinstance(reply, ErrorReply)
    assert reply.code == NOT_FOUND


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (OtherToolCall(kind="toolRequest.midiInfo"), UNHANDLED_PAYLOAD),
        (OtherToolCall(kind="shutdown"), UNHANDLED_PAYLOAD),
        (OtherToolCall(kind="toolRequest.removedGardenQuery"), CAPNP_PARSE_ERROR),
        (OtherToolCall(kind="toolRequest.jobExecute"), CAPNP_PARSE_ERROR),
        (OtherToolCall(kind="register"), CAPNP_PARSE_ERROR),
    ],
)
def test_requests_the_fake_does_not_serve_get_an_error_payload(
    peer: Peer, call: Any, code: str
) -> None:
    reply = peer.call(call)
    assert isinstance(reply, ErrorReply)
    assert reply.code == code


def test_a_weave_request_sent_to_hootenanny_is_unhandled(peer: Peer) -> None:
    rid = new_request_id()
    peer.send(request_frame(rid, encode_request(rid, WeaveEval(code="1"))))
    reply = decode_tool_reply(peer.receive().body)
    assert isinstance(reply, ErrorReply)
    assert reply.code == UNHANDLED_PAYLOAD


def test_an_undecodable_body_gets_capnp_parse_error(fake: FakeHootenanny, peer: Peer) -> None:
    rid = new_request_id()
    peer.send(request_frame(rid, b"\x01\x02\x03"))
    frame = peer.receive()
    assert frame.request_id == rid
    reply = decode_tool_reply(frame.body)
    assert isinstance(reply, ErrorReply)
    assert reply.code == CAPNP_PARSE_ERROR
    recorded = fake.wait_for_request(lambda r: r.frame.request_id == rid)
    assert recorded.call is None


def test_a_non_capnp_request_gets_unsupported_content_type(peer: Peer) -> None:
    rid = new_request_id()
    peer.send(HootFrame(Command.REQUEST, ContentType.JSON, rid, "vibeweaver", "", b"{}"))
    reply = decode_tool_reply(peer.receive().body)
    assert isinstance(reply, ErrorReply)
    assert reply.code == UNSUPPORTED_CONTENT_TYPE


def test_malformed_frame_sets_are_dropped_without_reply(fake: FakeHootenanny, peer: Peer) -> None:
    peer.dealer.send_multipart([b"not", b"hoot"])
    peer.dealer.send_multipart([b"HOOT01", b"\x00\x02", b"\x00\x01", b"short-id"])
    # Frames from one DEALER are handled in order: once the ping is answered, both were seen.
    assert isinstance(peer.call(PingRequest()), PongReply)
    assert fake.dropped() == 2
    assert peer.dealer.poll(0) == 0


def test_ready_and_disconnect_are_recorded_but_not_answered(
    fake: FakeHootenanny, peer: Peer
) -> None:
    peer.send(HootFrame(Command.READY, ContentType.EMPTY, new_request_id(), "v", "", b""))
    assert isinstance(peer.call(PingRequest()), PongReply)
    assert fake.requests()[0].frame.command is Command.READY
    assert peer.dealer.poll(0) == 0


# -- broadcasts -----------------------------------------------------------------------------------


def test_published_events_reach_a_subscriber_as_single_frames(
    fake: FakeHootenanny, peer: Peer
) -> None:
    fake.publish(UnknownBroadcast(tag=77))
    fake.publish_raw(b"garbage!")
    fake.publish(JobStateChanged(job_id="j", state="complete", result=""))
    assert peer.broadcast() == UnknownBroadcast(tag=77)
    with pytest.raises(WireDecodeError):
        decode_broadcast(peer.broadcast_bytes())
    assert peer.broadcast() == JobStateChanged(job_id="j", state="complete", result="")


def test_artifacts_are_registered_with_the_request_metadata(peer: Peer) -> None:
    meta = ArtifactMetadata(tags=("mood:calm",), creator="agent-7", parent_id="artifact_parent")
    reply = peer.call(OrpheusGenerate(metadata=meta))
    assert isinstance(reply, OrpheusGenerated)
    info = peer.call(ArtifactGet(artifact_id=reply.artifact_ids[0]))
    assert isinstance(info, ArtifactInfo)
    assert (info.creator, info.parent_id) == ("agent-7", "artifact_parent")
    assert info.tags[0] == "mood:calm"
