"""FakeHootenanny: a small in-process hootenanny speaking the real HOOT01 wire over loopback."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Final, NamedTuple, TypeAlias, TypeVar

import zmq

from vibeweaver.wire import (
    CAPNP_PARSE_ERROR,
    INTERNAL_ERROR,
    JOB_STATES,
    NOT_FOUND,
    UNHANDLED_PAYLOAD,
    UNSUPPORTED_CONTENT_TYPE,
    AbcToMidi,
    AbcToMidiResult,
    Ack,
    AnticipatoryContinue,
    AnticipatoryGenerate,
    AnticipatoryGenerated,
    ArtifactGet,
    ArtifactInfo,
    ArtifactList,
    ArtifactListing,
    ArtifactMetadata,
    AudioGenerated,
    Audioldm2Generate,
    BroadcastEvent,
    Command,
    ContentType,
    ConvertMidiToWav,
    ErrorReply,
    FrameError,
    GardenClearRegions,
    GardenCreateRegion,
    GardenDeleteRegion,
    GardenEmergencyPause,
    GardenGetRegions,
    GardenMoveRegion,
    GardenPause,
    GardenPlay,
    GardenRegionCreated,
    GardenRegionInfo,
    GardenRegions,
    GardenSeek,
    GardenSetTempo,
    GardenStatus,
    GardenStop,
    HootFrame,
    JobCancel,
    JobCancelReply,
    JobCounts,
    JobList,
    JobListReply,
    JobPoll,
    JobPollReply,
    JobStarted,
    JobStateChanged,
    JobStateName,
    JobStatus,
    JobStatusReply,
    LinkBRequest,
    MidiToWavResult,
    MusicgenGenerate,
    OrpheusBridge,
    OrpheusContinue,
    OrpheusGenerate,
    OrpheusGenerated,
    OrpheusGenerateSeeded,
    OrpheusLoops,
    OtherToolCall,
    PingRequest,
    PongReply,
    ToolCall,
    ToolReply,
    ToolResponseReply,
    TransportStateName,
    TransportStatus,
    UnifiedStatus,
    WireDecodeError,
    YueGenerate,
    build_multipart,
    decode_tool_request,
    encode_broadcast,
    encode_tool_reply,
    heartbeat_reply,
    parse_multipart,
    reply_frame,
    tool_name,
)

__all__ = ["FakeHootenanny", "FakeJob", "Received", "iter_calls"]

_Orpheus: TypeAlias = (
    OrpheusGenerate | OrpheusGenerateSeeded | OrpheusContinue | OrpheusLoops | OrpheusBridge
)

SERVICE_NAME: Final = "hootenanny"
_COMMAND_TIMEOUT: Final = 5.0
_POLL_CAP_MS: Final = 30_000

# Members hootenanny's own decoder rejects: it answers capnp_parse_error (sheet §1.7).
_REJECTED_KINDS: Final = frozenset(
    {
        "register",
        "toolCall",
        "removedGardenQuery",
        "toolRequest.removedGardenQuery",
        "toolRequest.removedGraphQuery",
        "toolRequest.removedGraphBind",
        "toolRequest.removedGraphTag",
        "toolRequest.removedGraphConnect",
        "toolRequest.removedGraphFind",
        "toolRequest.removedGraphContext",
        "toolRequest.luaEval",
        "toolRequest.luaDescribe",
        "toolRequest.scriptStore",
        "toolRequest.scriptSearch",
        "toolRequest.jobExecute",
    }
)
_FINISHED: Final = frozenset({"complete", "failed", "cancelled"})

T = TypeVar("T")


class Received(NamedTuple):
    """One HOOT01 frame set the fake received: identity frames, the frame, the decoded call.

    `call` is None for non-Request commands, non-CapnProto bodies and undecodable bodies.
    """

    identity: tuple[bytes, ...]
    frame: HootFrame
    call: LinkBRequest | None


@dataclass(slots=True)
class FakeJob:
    """A job in the fake's job store (mutated only on the fake's thread)."""

    job_id: str
    source: str
    call: ToolCall
    status: JobStateName = "running"
    result: ToolResponseReply | None = None
    error: str = ""
    created_at: int = 0
    started_at: int = 0
    completed_at: int = 0

    def snapshot(self) -> JobStatusReply:
        return JobStatusReply(
            job_id=self.job_id,
            status=self.status,
            source=self.source,
            result=self.result if self.status == "complete" else None,
            error=self.error,
            created_at=self.created_at,
            started_at=self.started_at,
            completed_at=self.completed_at,
        )


@dataclass(slots=True)
class _PendingPoll:
    identity: tuple[bytes, ...]
    frame: HootFrame
    call: JobPoll
    started: float
    deadline: float


@dataclass(slots=True)
class _Garden:
    state: TransportStateName = "stopped"
    position: float = 0.0
    tempo: float = 120.0
    regions: dict[str, GardenRegionInfo] = field(default_factory=dict)


def _rust_float(value: float) -> str:
    """Rust's default f64 Display for the usual cases: 16.0 -> "16", 16.5 -> "16.5"."""
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _new_content() -> tuple[str, str]:
    content_hash = uuid.uuid4().hex
    return f"artifact_{content_hash[:12]}", content_hash


def _now() -> int:
    return int(time.time())


class FakeHootenanny:
    """A fake hootenanny: ROUTER (tool calls) and PUB (broadcasts) bound on loopback.

    Behaviour follows the wire sheet §1.7 and §3: heartbeats are echoed with the same id; `ping`
    gets `pong`; garden commands reply `jobStarted`, complete at once and publish
    `jobStateChanged{complete, ""}`; orpheus*/abcToMidi/convertMidiToWav reply directly with a
    fresh artifact; musicgen/yue/audioldm2/anticipatory reply `jobStarted` and complete either at
    once (auto_complete=True) or when the test calls complete_job()/fail_job(); jobStatus,
    jobPoll (blocking like the real one), jobCancel, jobList, artifactGet/artifactList are served
    from its tables; other decodable requests get `unhandled_payload`, undecodable ones
    `capnp_parse_error`. Malformed frame sets are dropped, as hootenanny does.
    `broadcast_before_reply=True` publishes a job's `jobStateChanged` before its `jobStarted`
    reply (garden jobs, and auto-completed generation jobs): the race of sheet §3.3. Since the
    broadcast and the reply travel on different sockets, a subscriber may still see them in either
    order; `hold_job_replies=True` makes the overtaking certain: every `jobStarted` reply is kept
    back until the test calls release_job_replies() (after it saw the broadcast arrive).

    The PUB side is an XPUB (the same wire for subscribers) so tests can wait for a subscription
    with wait_for_subscribers() instead of sleeping. All sockets live on the fake's own thread;
    other threads hand it work through a queue and a wake-up socketpair.
    """

    def __init__(
        self,
        *,
        router_port: int | None = None,
        pub_port: int | None = None,
        auto_complete: bool = True,
        broadcast_before_reply: bool = False,
        hold_job_replies: bool = False,
        refuse: dict[type, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.auto_complete = auto_complete
        self.broadcast_before_reply = broadcast_before_reply or hold_job_replies
        self.hold_job_replies = hold_job_replies
        self.refuse = dict(refuse or {})
        """Request types answered with `invalid_params` and this message, as a failing tool."""
        self._held_replies: list[tuple[tuple[bytes, ...], HootFrame, ToolReply]] = []
        self._host = host
        self._router_port = router_port
        self._pub_port = pub_port
        self.router_endpoint = ""
        self.pub_endpoint = ""
        self._cond = threading.Condition()
        self._received: list[Received] = []
        self._subscriptions = 0
        self._dropped = 0
        self._jobs: dict[str, FakeJob] = {}
        self._artifacts: dict[str, ArtifactInfo] = {}
        self._garden = _Garden()
        self._polls: list[_PendingPoll] = []
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue()
        )
        # The wake-up socketpair is created by start() and closed by stop().
        self._wake_r: socket.socket
        self._wake_w: socket.socket
        self._used = False
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._started_at = time.monotonic()
        self._worker_id = uuid.uuid4().bytes
        # Sockets: created, used and closed on the fake's thread only.
        self._router: Any = None
        self._pub: Any = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeHootenanny:
        """Start the thread, bind both sockets and return once the endpoints are known."""
        if self._used:
            raise RuntimeError("a FakeHootenanny can be started only once")
        self._used = True
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="fake-hootenanny", daemon=True)
        self._thread.start()
        self._ready.wait(_COMMAND_TIMEOUT)
        if self._thread_error is not None or not self._ready.is_set():
            error = self._thread_error
            self.stop_quietly()
            if error is not None:
                raise error
            raise TimeoutError("FakeHootenanny did not bind in time")
        return self

    def stop(self) -> None:
        """Stop the thread and close its sockets (LINGER 0). Safe to call twice.

        Raises RuntimeError if the fake's thread died of an unexpected exception meanwhile, so a
        broken fake fails the test instead of silently not answering.
        """
        self.stop_quietly()
        if self._thread_error is not None:
            raise RuntimeError("the FakeHootenanny thread failed") from self._thread_error

    def stop_quietly(self) -> None:
        """Stop without reporting a thread failure."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake()
        thread.join(_COMMAND_TIMEOUT)
        if thread.is_alive():
            raise TimeoutError("the FakeHootenanny thread did not stop")
        self._thread = None
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FakeHootenanny:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- observation (any thread) ---------------------------------------------------------------

    def requests(self) -> list[Received]:
        """Every HOOT01 frame set received so far, in arrival order."""
        with self._cond:
            return list(self._received)

    def wait_for_request(
        self,
        predicate: Callable[[Received], bool] | None = None,
        timeout: float = 5.0,
        *,
        start: int = 0,
    ) -> Received:
        """The first received frame set (from index `start`) matching `predicate`.

        Waits on a condition; raises TimeoutError if none arrives within `timeout` seconds.
        """
        match = predicate or (lambda _r: True)
        found: list[Received] = []

        def check() -> bool:
            for item in self._received[start:]:
                if match(item):
                    found.append(item)
                    return True
            return False

        with self._cond:
            if not self._cond.wait_for(check, timeout):
                raise TimeoutError(f"no matching request within {timeout}s")
        return found[0]

    def wait_for_subscribers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until `count` SUB subscriptions reached the PUB socket (no slow-joiner sleeps)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._subscriptions >= count, timeout):
                raise TimeoutError(f"{self._subscriptions} of {count} subscriptions in {timeout}s")

    def dropped(self) -> int:
        """How many malformed multiparts were dropped without reply."""
        with self._cond:
            return self._dropped

    def job(self, job_id: str) -> JobStatusReply | None:
        """A snapshot of one job, or None if unknown."""
        with self._cond:
            job = self._jobs.get(job_id)
            return job.snapshot() if job is not None else None

    def jobs(self) -> list[JobStatusReply]:
        """Snapshots of every job, in creation order."""
        with self._cond:
            return [j.snapshot() for j in self._jobs.values()]

    def uptime_secs(self) -> int:
        """Seconds since this fake was created (what `pong.uptimeSecs` reports)."""
        return int(time.monotonic() - self._started_at)

    # -- control (any thread; executed on the fake's thread) ------------------------------------

    def publish(self, event: BroadcastEvent) -> None:
        """Publish one Broadcast event (one frame, no topic)."""
        self._call(lambda: self._pub.send(encode_broadcast(event)))

    def publish_raw(self, data: bytes) -> None:
        """Publish arbitrary bytes as one frame (to test subscribers against garbage)."""
        self._call(lambda: self._pub.send(bytes(data)))

    def complete_job(self, job_id: str, artifact_id: str | None = None) -> str:
        """Complete a running job with an artifact (fresh id when None) and publish it.

        Returns the artifact id. Raises KeyError for an unknown job, ValueError if it is final.
        """
        return self._call(lambda: self._complete_job(job_id, artifact_id))

    def release_job_replies(self) -> int:
        """Send the `jobStarted` replies held back by hold_job_replies=True; returns how many."""
        return self._call(self._release_job_replies)

    def held_job_replies(self) -> int:
        """How many `jobStarted` replies are being held back."""
        with self._cond:
            return len(self._held_replies)

    def fail_job(self, job_id: str, error: str) -> None:
        """Fail a running job and publish `jobStateChanged{failed, {"error": ...}}`."""
        self._call(lambda: self._fail_job(job_id, error))

    def _call(self, fn: Callable[[], T]) -> T:
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("FakeHootenanny is not running")
        fut: Future[T] = Future()
        self._commands.put((fn, fut))
        self._wake()
        return fut.result(_COMMAND_TIMEOUT)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\x00")

    # -- the fake's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        ctx = zmq.Context()
        try:
            self._router = ctx.socket(zmq.ROUTER)
            self._router.setsockopt(zmq.LINGER, 0)
            self._router.setsockopt(zmq.RECONNECT_IVL, 1000)
            self._router.setsockopt(zmq.RECONNECT_IVL_MAX, 60_000)
            self._pub = ctx.socket(zmq.XPUB)
            self._pub.setsockopt(zmq.LINGER, 0)
            self._pub.setsockopt(zmq.XPUB_VERBOSE, 1)
            self.router_endpoint = self._bind(self._router, self._router_port)
            self.pub_endpoint = self._bind(self._pub, self._pub_port)
        except BaseException as exc:  # noqa: BLE001 - start() re-raises it in the test's thread
            self._thread_error = exc
            self._close(ctx)
            self._ready.set()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._pub, zmq.POLLIN)
        poller.register(self._wake_r.fileno(), zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                events = dict(poller.poll(self._poll_timeout_ms()))
                if self._wake_r.fileno() in events:
                    self._drain_wake()
                self._run_commands()
                if self._router in events:
                    self._drain_router()
                if self._pub in events:
                    self._drain_subscriptions()
                self._service_polls()
        except BaseException as exc:  # noqa: BLE001 - kept for the test to see (stop() re-raises)
            self._thread_error = exc
        finally:
            self._fail_pending_commands()
            self._close(ctx)

    def _bind(self, sock: Any, port: int | None) -> str:
        if port is None:
            sock.bind(f"tcp://{self._host}:*")
        else:
            sock.bind(f"tcp://{self._host}:{port}")
        endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
        return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)

    def _close(self, ctx: Any) -> None:
        for sock in (self._router, self._pub):
            if sock is not None:
                sock.close(linger=0)
        ctx.term()

    def _poll_timeout_ms(self) -> int | None:
        if not self._polls:
            return None
        soonest = min(p.deadline for p in self._polls)
        return max(0, int((soonest - time.monotonic()) * 1000) + 1)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _run_commands(self) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller through its future
                fut.set_exception(exc)

    def _fail_pending_commands(self) -> None:
        while True:
            try:
                _fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                fut.set_exception(RuntimeError("FakeHootenanny stopped"))

    def _drain_subscriptions(self) -> None:
        while True:
            try:
                msg = self._pub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if msg[:1] == b"\x01":
                with self._cond:
                    self._subscriptions += 1
                    self._cond.notify_all()

    def _drain_router(self) -> None:
        while True:
            try:
                frames = self._router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._handle_multipart(frames)

    def _handle_multipart(self, frames: Sequence[bytes]) -> None:
        try:
            identity, frame = parse_multipart(frames)
        except FrameError:
            with self._cond:
                self._dropped += 1
                self._cond.notify_all()
            return
        call: LinkBRequest | None = None
        decode_error: str | None = None
        if frame.command is Command.REQUEST and frame.content_type is ContentType.CAPNPROTO:
            try:
                call = decode_tool_request(frame.body)
            except WireDecodeError as exc:
                decode_error = exc.message
        with self._cond:
            self._received.append(Received(identity, frame, call))
            self._cond.notify_all()
        if frame.command is Command.HEARTBEAT:
            self._send(identity, heartbeat_reply(frame, service=SERVICE_NAME))
            return
        if frame.command is not Command.REQUEST:
            return  # Ready / Reply / Disconnect: nothing to answer
        if frame.content_type is not ContentType.CAPNPROTO:
            self._reply(
                identity,
                frame,
                ErrorReply(
                    code=UNSUPPORTED_CONTENT_TYPE,
                    message=f"content type {frame.content_type.name} is not supported",
                ),
            )
            return
        if call is None:
            self._reply(
                identity,
                frame,
                ErrorReply(code=CAPNP_PARSE_ERROR, message=decode_error or "undecodable body"),
            )
            return
        try:
            self._dispatch(identity, frame, call)
        except Exception as exc:  # noqa: BLE001 - a bug in a handler is an internal_error reply
            self._reply(identity, frame, ErrorReply(code=INTERNAL_ERROR, message=repr(exc)))

    def _send(self, identity: tuple[bytes, ...], frame: HootFrame) -> None:
        self._router.send_multipart(build_multipart(identity, frame))

    def _job_reply(self, identity: tuple[bytes, ...], request: HootFrame, reply: ToolReply) -> None:
        if self.hold_job_replies:
            with self._cond:
                self._held_replies.append((identity, request, reply))
                self._cond.notify_all()
            return
        self._reply(identity, request, reply)

    def _release_job_replies(self) -> int:
        with self._cond:
            held, self._held_replies = self._held_replies, []
        for identity, request, reply in held:
            self._reply(identity, request, reply)
        return len(held)

    def _reply(self, identity: tuple[bytes, ...], request: HootFrame, reply: ToolReply) -> None:
        body = encode_tool_reply(request.request_id, reply)
        self._send(identity, reply_frame(request, body, service=SERVICE_NAME))

    # -- request handling -----------------------------------------------------------------------

    def _dispatch(self, identity: tuple[bytes, ...], frame: HootFrame, call: LinkBRequest) -> None:
        if isinstance(call, PingRequest):
            reply: ToolReply = PongReply(worker_id=self._worker_id, uptime_secs=self.uptime_secs())
            self._reply(identity, frame, reply)
            return
        refused = self.refuse.get(type(call))
        if refused is not None:
            self._reply(identity, frame, ErrorReply(code="invalid_params", message=refused))
            return
        if isinstance(call, OtherToolCall):
            if call.kind in _REJECTED_KINDS:
                error = ErrorReply(
                    code=CAPNP_PARSE_ERROR, message=f"hootenanny rejects {call.kind}"
                )
            else:
                error = ErrorReply(
                    code=UNHANDLED_PAYLOAD, message=f"Unhandled payload type: {call.kind}"
                )
            self._reply(identity, frame, error)
            return
        if isinstance(call, JobPoll):
            now = time.monotonic()
            timeout = min(call.timeout_ms, _POLL_CAP_MS) / 1000.0
            self._polls.append(_PendingPoll(identity, frame, call, now, now + timeout))
            return
        garden = self._garden_job(call)
        if garden is not None:
            self._start_finished_job(identity, frame, call, *garden)
            return
        if isinstance(
            call,
            MusicgenGenerate
            | YueGenerate
            | Audioldm2Generate
            | AnticipatoryGenerate
            | AnticipatoryContinue,
        ):
            job = self._new_job(call)
            if self.auto_complete and self.broadcast_before_reply:
                # the race of sheet §3.3: the jobStateChanged overtakes the jobStarted reply
                self._complete_job(job.job_id, None)
                self._job_reply(identity, frame, JobStarted(job_id=job.job_id, tool=job.source))
                return
            self._reply(identity, frame, JobStarted(job_id=job.job_id, tool=job.source))
            if self.auto_complete:
                self._complete_job(job.job_id, None)
            return
        self._reply(identity, frame, self._direct(call))

    def _direct(self, call: ToolCall) -> ToolReply:
        if isinstance(call, GardenStatus):
            g = self._garden
            transport = TransportStatus(
                state=g.state,
                position_beats=g.position,
                tempo_bpm=g.tempo,
                region_count=len(g.regions),
            )
            return UnifiedStatus(transport=transport)
        if isinstance(call, GardenGetRegions):
            regions = tuple(self._garden.regions.values())
            if call.start != 0.0 and call.end != 0.0:
                regions = tuple(r for r in regions if call.start <= r.position < call.end)
            return GardenRegions(regions=regions, count=len(regions))
        if isinstance(call, JobStatus):
            with self._cond:
                job = self._jobs.get(call.job_id)
            if job is None:
                return ErrorReply(
                    code=NOT_FOUND, message=f"job not found: Job not found: {call.job_id}"
                )
            return job.snapshot()
        if isinstance(call, JobCancel):
            with self._cond:
                job = self._jobs.get(call.job_id)
                if job is not None and job.status not in _FINISHED:
                    job.status = "cancelled"
                    job.completed_at = _now()
            return JobCancelReply(job_id=call.job_id, cancelled=True)
        if isinstance(call, JobList):
            with self._cond:
                jobs = [j for j in self._jobs.values() if call.status in ("", j.status)]
                snaps = tuple(replace(j.snapshot(), result=None) for j in jobs)
            counts = {s: sum(1 for j in jobs if j.status == s) for s in JOB_STATES}
            return JobListReply(jobs=snaps, total=len(snaps), by_status=JobCounts(**counts))
        if isinstance(call, ArtifactGet):
            info = self._artifacts.get(call.artifact_id)
            if info is None:
                return ErrorReply(code=NOT_FOUND, message=f"artifact not found: {call.artifact_id}")
            return info
        if isinstance(call, ArtifactList):
            arts = tuple(
                a
                for a in self._artifacts.values()
                if (not call.tag or call.tag in a.tags)
                and (not call.creator or call.creator == a.creator)
            )
            return ArtifactListing(artifacts=arts, count=len(arts))
        if isinstance(call, _Orpheus):
            return self._orpheus(call)
        if isinstance(call, AbcToMidi):
            artifact_id, content_hash = self._new_artifact(
                call.metadata, ("type:midi", "source:abc")
            )
            return AbcToMidiResult(artifact_id=artifact_id, content_hash=content_hash)
        if isinstance(call, ConvertMidiToWav):
            artifact_id, content_hash = self._new_artifact(
                call.metadata, ("type:audio", "source:render")
            )
            return MidiToWavResult(
                artifact_id=artifact_id,
                content_hash=content_hash,
                sample_rate=call.sample_rate,
                duration_secs=1.0,
            )
        return ErrorReply(code=UNHANDLED_PAYLOAD, message=f"Unhandled tool: {type(call).__name__}")

    def _orpheus(self, call: _Orpheus) -> OrpheusGenerated:
        count = 1 if isinstance(call, OrpheusBridge) else max(1, call.num_variations)
        made = [
            self._new_artifact(call.metadata, ("type:midi", "source:orpheus")) for _ in range(count)
        ]
        tokens = tuple(call.max_tokens for _ in made)
        return OrpheusGenerated(
            output_hashes=tuple(h for _a, h in made),
            artifact_ids=tuple(a for a, _h in made),
            tokens_per_variation=tokens,
            total_tokens=sum(tokens),
            variation_set_id=call.metadata.variation_set_id,
            summary=f"generated {count} variation(s)",
        )

    def _new_artifact(self, meta: ArtifactMetadata, tags: tuple[str, ...]) -> tuple[str, str]:
        artifact_id, content_hash = _new_content()
        self._register_artifact(artifact_id, content_hash, meta, tags)
        return artifact_id, content_hash

    def _register_artifact(
        self, artifact_id: str, content_hash: str, meta: ArtifactMetadata, tags: tuple[str, ...]
    ) -> None:
        self._artifacts[artifact_id] = ArtifactInfo(
            artifact_id=artifact_id,
            content_hash=content_hash,
            mime_type="application/octet-stream",
            tags=(*meta.tags, *tags),
            creator=meta.creator,
            created_at=_now(),
            parent_id=meta.parent_id,
            variation_set_id=meta.variation_set_id,
        )

    def _garden_job(self, call: ToolCall) -> tuple[ToolResponseReply | None, str] | None:
        """Apply a fire-and-forget garden command: (result, error) or None if not one."""
        g = self._garden
        if isinstance(call, GardenPlay):
            g.state = "playing"
            return Ack(message="play"), ""
        if isinstance(call, GardenPause):
            g.state = "paused"
            return Ack(message="pause"), ""
        if isinstance(call, GardenStop):
            g.state, g.position = "stopped", 0.0
            return Ack(message="stop"), ""
        if isinstance(call, GardenEmergencyPause):
            g.state = "paused"
            return Ack(message="emergency pause"), ""
        if isinstance(call, GardenSeek):
            g.position = call.beat
            return Ack(message=f"seek to beat {_rust_float(call.beat)}"), ""
        if isinstance(call, GardenSetTempo):
            g.tempo = call.bpm
            return Ack(message=f"set tempo to {_rust_float(call.bpm)} bpm"), ""
        if isinstance(call, GardenCreateRegion):
            region_id = str(uuid.uuid4())
            behavior = "latent" if call.behavior_type == "latent" else "content"
            g.regions[region_id] = GardenRegionInfo(
                region_id=region_id,
                position=call.position,
                duration=call.duration,
                behavior_type=behavior,
                content_id=call.content_id,
            )
            created = GardenRegionCreated(
                region_id=region_id, position=call.position, duration=call.duration
            )
            return created, ""
        if isinstance(call, GardenDeleteRegion):
            if not _is_uuid(call.region_id):
                return None, f"invalid_uuid: {call.region_id}"
            g.regions.pop(call.region_id, None)
            return Ack(message=f"deleted region {call.region_id}"), ""
        if isinstance(call, GardenMoveRegion):
            if not _is_uuid(call.region_id):
                return None, f"invalid_uuid: {call.region_id}"
            region = g.regions.get(call.region_id)
            if region is not None:
                g.regions[call.region_id] = replace(region, position=call.new_position)
            message = f"moved region {call.region_id} to position {_rust_float(call.new_position)}"
            return Ack(message=message), ""
        if isinstance(call, GardenClearRegions):
            count = len(g.regions)
            g.regions.clear()
            return Ack(message=f"cleared {count} regions"), ""
        return None

    def _new_job(self, call: ToolCall) -> FakeJob:
        now = _now()
        job = FakeJob(
            job_id=str(uuid.uuid4()),
            source=tool_name(call),
            call=call,
            created_at=now,
            started_at=now,
        )
        with self._cond:
            self._jobs[job.job_id] = job
            self._cond.notify_all()
        return job

    def _start_finished_job(
        self,
        identity: tuple[bytes, ...],
        frame: HootFrame,
        call: ToolCall,
        result: ToolResponseReply | None,
        error: str,
    ) -> None:
        """A garden job: final before the reply (sheet §3.2), then jobStarted and the broadcast."""
        job = self._new_job(call)
        with self._cond:
            job.completed_at = _now()
            if error:
                job.status, job.error = "failed", error
            else:
                job.status, job.result = "complete", result
        event = JobStateChanged(
            job_id=job.job_id,
            state=job.status,
            result=json.dumps({"error": error}, separators=(",", ":")) if error else "",
        )
        if self.broadcast_before_reply:
            self._pub.send(encode_broadcast(event))
        self._job_reply(identity, frame, JobStarted(job_id=job.job_id, tool=job.source))
        if not self.broadcast_before_reply:
            self._pub.send(encode_broadcast(event))
        self._service_polls()

    def _running_job(self, job_id: str) -> FakeJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        if job.status in _FINISHED:
            raise ValueError(f"job {job_id} is already {job.status}")
        return job

    def _complete_job(self, job_id: str, artifact_id: str | None) -> str:
        job = self._running_job(job_id)
        fresh_id, content_hash = _new_content()
        artifact_id = artifact_id or fresh_id
        call = job.call
        result: ToolResponseReply
        if isinstance(call, AnticipatoryGenerate | AnticipatoryContinue):
            result = AnticipatoryGenerated(
                artifact_id=artifact_id,
                content_hash=content_hash,
                duration_seconds=float(call.length_seconds),
                model_size=call.model_size,
            )
            self._register_artifact(
                artifact_id, content_hash, call.metadata, ("type:midi", "source:anticipatory")
            )
        else:
            duration = float(getattr(call, "duration", 30.0))
            genre = call.genre if isinstance(call, YueGenerate) else ""
            result = AudioGenerated(
                artifact_id=artifact_id,
                content_hash=content_hash,
                duration_seconds=duration,
                sample_rate=32_000,
                format="wav",
                genre=genre,
            )
            meta = getattr(call, "metadata", ArtifactMetadata())
            self._register_artifact(
                artifact_id, content_hash, meta, ("type:audio", f"source:{job.source}")
            )
        with self._cond:
            job.status, job.result, job.completed_at = "complete", result, _now()
        payload = json.dumps({"artifact_id": artifact_id}, separators=(",", ":"))
        self._pub.send(
            encode_broadcast(JobStateChanged(job_id=job_id, state="complete", result=payload))
        )
        self._service_polls()
        return artifact_id

    def _fail_job(self, job_id: str, error: str) -> None:
        job = self._running_job(job_id)
        with self._cond:
            job.status, job.error, job.completed_at = "failed", error, _now()
        payload = json.dumps({"error": error}, separators=(",", ":"))
        self._pub.send(
            encode_broadcast(JobStateChanged(job_id=job_id, state="failed", result=payload))
        )
        self._service_polls()

    def _service_polls(self) -> None:
        """Answer every pending jobPoll whose condition holds or whose deadline passed."""
        if not self._polls:
            return
        now = time.monotonic()
        keep: list[_PendingPoll] = []
        for poll in self._polls:
            completed, failed, pending = self._classify(poll.call.job_ids)
            done = bool(completed or failed) if poll.call.mode == "any" else not pending
            if done or now >= poll.deadline:
                reply = JobPollReply(
                    completed=completed,
                    failed=failed,
                    pending=pending,
                    reason="job_complete" if completed or failed else "timeout",
                    elapsed_ms=int((now - poll.started) * 1000),
                )
                self._reply(poll.identity, poll.frame, reply)
            else:
                keep.append(poll)
        self._polls = keep

    def _classify(
        self, job_ids: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        completed: list[str] = []
        failed: list[str] = []
        pending: list[str] = []
        for job_id in job_ids:
            job = self._jobs.get(job_id)
            if job is None or job.status in ("failed", "cancelled"):
                failed.append(job_id)
            elif job.status == "complete":
                completed.append(job_id)
            else:
                pending.append(job_id)
        return tuple(completed), tuple(failed), tuple(pending)


def iter_calls(fake: FakeHootenanny) -> Iterator[LinkBRequest]:
    """The decoded calls received so far (heartbeats and undecodable bodies left out)."""
    for item in fake.requests():
        if item.call is not None:
            yield item.call
