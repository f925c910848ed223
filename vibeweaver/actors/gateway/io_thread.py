"""GatewayIO: the one thread that owns the ZeroMQ sockets (ROUTER, DEALER, SUB) of a gateway.

Other threads never touch a socket. They hand work to this thread through a deque plus a wake-up
pipe registered in the poller (`send_reply`, `call`), and receive results through callbacks run on
this thread, which must only hand them on (`handle.tell`, `loop.call_soon_threadsafe`).

On the ROUTER every frame set gets exactly one reply when its request id can be recovered (an error
payload for anything malformed or unhandled); only frame sets that cannot be correlated are
dropped, and those are counted. Heartbeats and pings are answered right here, so liveness never
waits behind a long eval. Broadcasts are decoded here (the consuming thread) into plain objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
import zmq
from zmq.utils.monitor import recv_monitor_message

from vibeweaver.actors.gateway.zap import Network, ZapAllowList
from vibeweaver.errors import NotConnected, StartupError
from vibeweaver.limits import (
    MAX_CODE_CHARS,
    MAX_REQUEST_BYTES,
    ROUTER_MAX_MESSAGE_BYTES,
    SUB_MAX_MESSAGE_BYTES,
)
from vibeweaver.log_throttle import LogThrottle
from vibeweaver.wire import broadcasts as wire_broadcasts
from vibeweaver.wire import envelope as wire_envelope
from vibeweaver.wire import tools as wire_tools
from vibeweaver.wire.errors import FrameError, WireDecodeError
from vibeweaver.wire.frames import (
    Command,
    ContentType,
    HootFrame,
    build_multipart,
    heartbeat_reply,
    new_request_id,
    parse_multipart,
    reply_frame,
    request_frame,
)

log = structlog.get_logger(__name__)

SERVICE_NAME = "vibeweaver"
RECONNECT_IVL_MS = 1000
RECONNECT_IVL_MAX_MS = 60000
KICK_INTERVAL_S = 1.0
"""At most this often a call made while there is no connection restarts the DEALER's connection
attempt at once (instead of waiting out zmq's reconnect backoff, up to RECONNECT_IVL_MAX_MS), so a
hootenanny that came back is picked up by the next call. Only when zmq is waiting to retry (its
last attempt failed): an attempt in progress is never cut short."""
MAX_BATCH = 256
"""Messages drained from one socket per poll round, so no socket can starve the others."""


RequestSink = Callable[[tuple[bytes, ...], HootFrame, Any], None]
BroadcastSink = Callable[[Any], None]
ReplyCallback = Callable[[Any], None]


@dataclass(slots=True)
class SocketStats:
    """Counters of one socket, written by the IO thread only."""

    name: str
    endpoint: str
    kind: str
    received: int = 0
    sent: int = 0
    dropped: int = 0
    errors: int = 0
    last_seen: float | None = None
    connected: bool | None = None
    """For a connecting socket that is watched: whether a peer is connected now."""

    def as_dict(self) -> dict[str, Any]:
        # the admin view turns last_seen_monotonic into last_seen_age_s when it is read
        values = {
            "name": self.name,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "received": self.received,
            "sent": self.sent,
            "dropped": self.dropped,
            "errors": self.errors,
            "last_seen_monotonic": self.last_seen,
        }
        if self.connected is not None:
            values["connected"] = self.connected
        return values


@dataclass(slots=True)
class _PendingCall:
    deadline: float
    callback: ReplyCallback
    label: str


@dataclass(slots=True)
class _HeldCall:
    """A call waiting for the DEALER's connection to hootenanny (not handed to zmq yet, so a
    call given up on is never delivered later)."""

    call: Any
    deadline: float
    callback: ReplyCallback
    held_at: float


class GatewayIO:
    """Sockets and their poll loop; see the module docstring."""

    def __init__(
        self,
        *,
        router: str | None,
        hootenanny: str | None,
        broadcasts: str | None,
        on_request: RequestSink,
        on_broadcast: BroadcastSink,
        publish_stats: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
        name: str = "gateway-io",
        connect_timeout: float | None = None,
        router_allow: tuple[Network, ...] | None = None,
        on_broadcasts: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.router_endpoint = router
        self.hootenanny_endpoint = hootenanny
        self.broadcasts_endpoint = broadcasts
        self.on_request = on_request
        self.on_broadcast = on_broadcast
        self.on_broadcasts = on_broadcasts
        """With it, the broadcasts of one poll round go out together (EventHub.publish_many);
        without it, one by one to `on_broadcast`."""
        self._broadcast_batch: list[Any] = []
        self.publish_stats = publish_stats
        self.name = name
        self.connect_timeout = connect_timeout
        self.zap = ZapAllowList(router_allow) if router_allow is not None else None
        """With an allow-list, only peers at those addresses may connect to the ROUTER."""
        self._throttle = LogThrottle()
        """How long a call waits for a connection to hootenanny before it fails (None: until
        its own deadline)."""
        self.started_monotonic = time.monotonic()
        self.worker_id = uuid.uuid4().bytes
        self.dealer_identity = f"vibeweaver-{uuid.uuid4().hex[:12]}".encode()
        self._outbox: deque[tuple[str, Any]] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._startup_error: str | None = None
        self._thread: threading.Thread | None = None
        self._pending: dict[bytes, _PendingCall] = {}
        self._held: deque[_HeldCall] = deque()
        self._dealer_up = False
        self._dealer_monitor: zmq.Socket[bytes] | None = None
        self._connected = threading.Event()
        """Set while the DEALER has a connection to hootenanny (its monitor's handshake/disconnect
        events), so other threads can wait for it without touching a socket."""
        self._last_kick = 0.0
        self._retry_waiting = False
        """The DEALER's last connection attempt failed and zmq waits to retry (monitor event)."""
        self._sub_dropped_at: float | None = None
        """When the SUB lost its connection with no retry following: libzmq ends a connection
        for good on a protocol error (a broadcast over ZMQ_MAXMSGSIZE), so this thread connects
        again itself (`_revive_sub`)."""
        self.stats: dict[str, SocketStats] = {}
        self.counters: Counter[str] = Counter()
        self._broadcast_kinds: Counter[type] = Counter()
        """Broadcasts decoded, by event type (published as `broadcast_<Kind>` counters)."""

    # -- lifecycle (caller's thread) --------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> None:
        """Start the thread and wait until every socket is bound/connected (StartupError if not)."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise StartupError("the ZeroMQ gateway did not start in time")
        if self._startup_error is not None:
            self._thread.join(timeout)
            self._close_pipe()
            raise StartupError(self._startup_error)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop, fail pending calls, close every socket."""
        self._stopping.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._close_pipe()

    def _close_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the DEALER's connection to hootenanny (any thread but this
        one); when there is none, the connection attempt is restarted at once. True if connected."""
        if self._connected.is_set():
            return True
        if self.hootenanny_endpoint is None or not self.alive:
            return False
        self._outbox.append(("kick", None))
        self._wake()
        return self._connected.wait(timeout)

    # -- thread-safe entry points ----------------------------------------------------------------

    def send_reply(self, identity: tuple[bytes, ...], frame: HootFrame) -> None:
        """Queue a reply for the ROUTER."""
        self._outbox.append(("reply", (identity, frame)))
        self._wake()

    def call(self, call: Any, *, timeout: float, callback: ReplyCallback) -> None:
        """Send a ToolRequest to hootenanny; `callback` gets the decoded reply or an exception
        (NotConnected, TimeoutError, WireDecodeError), on this IO thread."""
        if self.hootenanny_endpoint is None:
            callback(NotConnected("hootenanny is not configured (--hootenanny none)"))
            return
        if not self.alive:
            callback(NotConnected("the ZeroMQ gateway is not running"))
            return
        self._outbox.append(("call", (call, time.monotonic() + timeout, callback)))
        self._wake()

    def _wake(self) -> None:
        # pipe full (BlockingIOError: a wake-up is pending anyway) or closed (stopping)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    # -- the loop (IO thread) ---------------------------------------------------------------------

    def _run(self) -> None:
        context = zmq.Context()
        sockets: dict[str, zmq.Socket[bytes]] = {}
        try:
            try:
                sockets = self._open_sockets(context)
            except zmq.ZMQError as exc:
                self._startup_error = str(exc)
                return
            finally:
                self._ready.set()
            self._loop(sockets)
        except Exception as exc:  # the loop must report (logged with its traceback), not vanish
            log.error("gateway_io_crashed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            self.counters["io_crashes"] += 1
        finally:
            self._connected.clear()
            self._fail_pending(NotConnected("the ZeroMQ gateway stopped"))
            _close_all(sockets)
            context.term()

    def _open_sockets(
        self, context: zmq.Context[zmq.Socket[bytes]]
    ) -> dict[str, zmq.Socket[bytes]]:
        sockets: dict[str, zmq.Socket[bytes]] = {}
        try:
            if self.router_endpoint is not None:
                if self.zap is not None:
                    sockets["zap"] = self.zap.bind(context)  # before the ROUTER accepts anyone
                router = context.socket(zmq.ROUTER)
                sockets["router"] = router
                router.setsockopt(zmq.LINGER, 0)
                router.setsockopt(zmq.ROUTER_MANDATORY, 1)
                # a peer reconnecting with its identity (hootenanny restarted, its old TCP
                # connection not noticed dead yet) takes the identity over; by default the ROUTER
                # would ignore the new connection and its requests would go unanswered
                router.setsockopt(zmq.ROUTER_HANDOVER, 1)
                router.setsockopt(zmq.MAXMSGSIZE, ROUTER_MAX_MESSAGE_BYTES)
                if self.zap is not None:
                    ZapAllowList.protect(router)
                try:
                    router.bind(self.router_endpoint)
                except zmq.ZMQError as exc:
                    raise zmq.ZMQError(
                        exc.errno, f"cannot bind --router {self.router_endpoint}: {exc.strerror}"
                    ) from None
                self.stats["router"] = SocketStats("router", self.router_endpoint, "ROUTER bind")
            if self.hootenanny_endpoint is not None:
                dealer = context.socket(zmq.DEALER)
                sockets["dealer"] = dealer
                dealer.setsockopt(zmq.LINGER, 0)
                dealer.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
                dealer.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
                dealer.setsockopt(zmq.ROUTING_ID, self.dealer_identity)
                monitor = dealer.get_monitor_socket(
                    zmq.EVENT_HANDSHAKE_SUCCEEDED
                    | zmq.EVENT_DISCONNECTED
                    | zmq.EVENT_CONNECT_RETRIED
                )
                sockets["dealer_monitor"] = monitor
                try:
                    dealer.connect(self.hootenanny_endpoint)
                except zmq.ZMQError as exc:
                    raise zmq.ZMQError(
                        exc.errno,
                        f"cannot connect --hootenanny {self.hootenanny_endpoint}: {exc.strerror}",
                    ) from None
                self.stats["dealer"] = SocketStats(
                    "dealer", self.hootenanny_endpoint, "DEALER connect", connected=False
                )
            if self.broadcasts_endpoint is not None:
                sub = context.socket(zmq.SUB)
                sockets["sub"] = sub
                sub.setsockopt(zmq.LINGER, 0)
                sub.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
                sub.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
                sub.setsockopt(zmq.SUBSCRIBE, b"")
                sub.setsockopt(zmq.MAXMSGSIZE, SUB_MAX_MESSAGE_BYTES)
                sockets["sub_monitor"] = sub.get_monitor_socket(
                    zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_CONNECTED
                )
                try:
                    sub.connect(self.broadcasts_endpoint)
                except zmq.ZMQError as exc:
                    raise zmq.ZMQError(
                        exc.errno,
                        f"cannot connect --broadcasts {self.broadcasts_endpoint}: {exc.strerror}",
                    ) from None
                self.stats["sub"] = SocketStats("sub", self.broadcasts_endpoint, "SUB connect")
        except zmq.ZMQError:
            _close_all(sockets)
            raise
        return sockets

    def _loop(self, sockets: dict[str, zmq.Socket[bytes]]) -> None:
        poller = zmq.Poller()
        for sock in sockets.values():
            poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        router, dealer, sub = sockets.get("router"), sockets.get("dealer"), sockets.get("sub")
        monitor = sockets.get("dealer_monitor")
        sub_monitor = sockets.get("sub_monitor")
        zap = sockets.get("zap")
        last_publish = 0.0
        while not self._stopping.is_set():
            timeout_ms = self._poll_timeout_ms()
            events = dict(poller.poll(timeout_ms))
            if zap is not None and zap in events:
                self._on_zap_request()
            if router is not None and router in events:
                self._drain(router, self._on_router_frames, "router")
            if dealer is not None and dealer in events:
                self._drain(dealer, self._on_dealer_frames, "dealer")
            if sub is not None and sub in events:
                self._drain_sub(sub)
                self._hand_on_broadcasts()
            if monitor is not None and monitor in events:
                self._on_dealer_events(monitor)
            if sub_monitor is not None and sub_monitor in events:
                self._on_sub_events(sub_monitor)
            if sub is not None and self._sub_dropped_at is not None:
                self._revive_sub(sub)
            if self._wake_r in events:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            self._flush_outbox(router, dealer)
            now = time.monotonic()
            self._expire_calls(now)
            if now - last_publish >= 0.5:
                last_publish = now
                self._publish(now)
        self._publish(time.monotonic())

    def _poll_timeout_ms(self) -> int:
        if not self._pending and not self._held:
            return 250
        deadlines = [call.deadline for call in self._pending.values()]
        deadlines += [held.deadline for held in self._held]
        if self.connect_timeout is not None:
            deadlines += [held.held_at + self.connect_timeout for held in self._held]
        nearest = min(deadlines)
        return max(0, min(250, int((nearest - time.monotonic()) * 1000) + 1))

    def _drain(
        self, sock: zmq.Socket[bytes], handler: Callable[[list[bytes]], None], name: str
    ) -> None:
        stats = self.stats[name]
        for _ in range(MAX_BATCH):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            stats.received += 1
            stats.last_seen = time.monotonic()
            try:
                handler(frames)
            except Exception as exc:  # one bad message (logged) never stops the loop
                stats.errors += 1
                log.error(
                    "gateway_message_failed",
                    socket=name,
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=exc,
                )

    def _warn(self, event: str, **fields: Any) -> None:
        """A warning that a burst could repeat: at most one line per event kind per interval."""
        held_back = self._throttle.allow(event)
        if held_back is not None:
            log.warning(event, **fields, **({"held_back": held_back} if held_back else {}))

    # -- ROUTER: requests from hootenanny ---------------------------------------------------------

    def _on_zap_request(self) -> None:
        assert self.zap is not None
        denied = self.zap.denied
        self.zap.handle_one()
        if self.zap.denied > denied:
            self.counters["router_peers_denied"] += 1
            self._warn("router_peer_denied", address=self.zap.last_denied)
        else:
            self.counters["router_peers_allowed"] += 1

    def _on_router_frames(self, frames: list[bytes]) -> None:
        try:
            identity, frame = parse_multipart(frames)
        except FrameError as exc:
            self._on_bad_frames(exc)
            return
        if frame.command is Command.HEARTBEAT:
            self.counters["heartbeats"] += 1
            self._send_router(identity, heartbeat_reply(frame, SERVICE_NAME))
            return
        if frame.command is not Command.REQUEST:
            self.counters[f"ignored_{frame.command.name.lower()}"] += 1
            return
        if len(frame.body) > MAX_REQUEST_BYTES:
            self._reply_error(
                identity,
                frame,
                "request_too_large",
                f"the request is {len(frame.body):,} bytes; a weaveEval's code may have at most "
                f"{MAX_CODE_CHARS:,} characters",
            )
            return
        if frame.content_type is not ContentType.CAPNPROTO:
            self._reply_error(
                identity,
                frame,
                "unsupported_content_type",
                f"content type {frame.content_type.name} is not supported; send CapnProto",
            )
            return
        try:
            request = wire_envelope.decode_request(frame.body)
        except WireDecodeError as exc:
            self._reply_error(identity, frame, "capnp_parse_error", str(exc))
            return
        if isinstance(request, wire_envelope.PingRequest):
            uptime = int(time.monotonic() - self.started_monotonic)
            body = wire_envelope.encode_pong(
                frame.request_id, worker_id=self.worker_id, uptime_secs=uptime
            )
            self._send_router(identity, reply_frame(frame, body, SERVICE_NAME))
            return
        if (
            isinstance(request, wire_envelope.WeaveEvalRequest)
            and len(request.code) > MAX_CODE_CHARS
        ):
            self._reply_error(
                identity,
                frame,
                "code_too_long",
                f"code has {len(request.code):,} characters; the limit is {MAX_CODE_CHARS:,}",
            )
            return
        if isinstance(request, wire_envelope.UnhandledRequest):
            self._reply_error(
                identity,
                frame,
                "unhandled_payload",
                "Vibeweaver does not handle this payload type",
                details=json.dumps({"kind": request.kind}),
            )
            return
        self.counters["requests"] += 1
        self.on_request(identity, frame, request)

    def _on_bad_frames(self, exc: FrameError) -> None:
        request_id = getattr(exc, "request_id", None)
        identity = tuple(getattr(exc, "identity", ()) or ())
        if request_id is None or not identity:
            self.stats["router"].dropped += 1
            self.counters["dropped_uncorrelated"] += 1
            self._warn("frames_dropped", reason=str(exc))
            return
        self.counters["bad_frames_answered"] += 1
        body = wire_envelope.encode_error(request_id, code="invalid_frame", message=str(exc))
        frame = HootFrame(Command.REPLY, ContentType.CAPNPROTO, request_id, SERVICE_NAME, "", body)
        self._send_router(identity, frame)

    def _reply_error(
        self,
        identity: tuple[bytes, ...],
        request: HootFrame,
        code: str,
        message: str,
        details: str = "",
    ) -> None:
        self.counters[f"error_{code}"] += 1
        body = wire_envelope.encode_error(
            request.request_id, code=code, message=message, details=details
        )
        self._send_router(identity, reply_frame(request, body, SERVICE_NAME))

    def _send_router(self, identity: tuple[bytes, ...], frame: HootFrame) -> None:
        self._outbox.append(("reply", (identity, frame)))

    # -- DEALER: our calls to hootenanny ----------------------------------------------------------

    def _on_dealer_frames(self, frames: list[bytes]) -> None:
        try:
            _, frame = parse_multipart(frames)
        except FrameError as exc:
            self.stats["dealer"].dropped += 1
            self._warn("reply_frames_dropped", reason=str(exc))
            return
        if frame.command is Command.HEARTBEAT:
            return
        pending = self._pending.pop(frame.request_id, None)
        if pending is None:
            self.counters["orphan_replies"] += 1
            return
        try:
            reply: Any = wire_tools.decode_tool_reply(frame.body)
        except WireDecodeError as exc:
            reply = exc
        self._resolve(pending, reply)

    def _resolve(self, pending: _PendingCall, result: Any) -> None:
        try:
            pending.callback(result)
        except Exception as exc:  # noqa: BLE001 - a broken callback must not kill the loop
            log.error(
                "call_callback_failed", call=pending.label, error=f"{type(exc).__name__}: {exc}"
            )

    def _expire_calls(self, now: float) -> None:
        if self._held:
            self._expire_held(now)
        if not self._pending:
            return
        expired = [rid for rid, call in self._pending.items() if call.deadline <= now]
        for request_id in expired:
            pending = self._pending.pop(request_id)
            self.counters["call_timeouts"] += 1
            where = f"hootenanny at {self.hootenanny_endpoint}"
            self._resolve(pending, TimeoutError(f"{where} did not answer {pending.label} in time"))

    def _expire_held(self, now: float) -> None:
        keep: deque[_HeldCall] = deque()
        for held in self._held:
            label = _label(held.call)
            waited = now - held.held_at
            if self.connect_timeout is not None and waited >= self.connect_timeout:
                self.counters["calls_not_connected"] += 1
                error: Exception = NotConnected(
                    f"hootenanny at {self.hootenanny_endpoint} is not reachable: no connection "
                    f"for {waited:.1f} s, so {label} was not sent (is hootenanny running?)"
                )
            elif held.deadline <= now:
                self.counters["call_timeouts"] += 1
                error = TimeoutError(
                    f"hootenanny at {self.hootenanny_endpoint} did not answer {label} in time "
                    f"(no connection)"
                )
            else:
                keep.append(held)
                continue
            self._resolve(_PendingCall(held.deadline, held.callback, label), error)
        self._held = keep

    def _on_dealer_events(self, monitor: zmq.Socket[bytes]) -> None:
        for _ in range(MAX_BATCH):
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_CONNECT_RETRIED:
                self._retry_waiting = True
                continue
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._dealer_up = True
                self._retry_waiting = False
                self._connected.set()
                self.counters["hootenanny_connects"] += 1
                log.info("hootenanny_connected", endpoint=self.hootenanny_endpoint)
                # calls held while there was no connection go out now, in order
                while self._held:
                    held = self._held.pop()
                    self._outbox.appendleft(("call", (held.call, held.deadline, held.callback)))
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self._dealer_up = False
                self._connected.clear()
                self.counters["hootenanny_disconnects"] += 1
                log.warning("hootenanny_disconnected", endpoint=self.hootenanny_endpoint)
            if "dealer" in self.stats:
                self.stats["dealer"].connected = self._dealer_up

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for call in pending.values():
            self._resolve(call, error)
        held, self._held = self._held, deque()
        for item in held:
            self._resolve(_PendingCall(item.deadline, item.callback, "call"), error)
        while self._outbox:
            kind, item = self._outbox.popleft()
            if kind == "call":
                _, _, callback = item
                with contextlib.suppress(Exception):  # nothing more can be done at shutdown
                    callback(error)

    # -- SUB: broadcasts --------------------------------------------------------------------------

    def _drain_sub(self, sub: zmq.Socket[bytes]) -> None:
        """Receive and decode up to MAX_BATCH broadcasts into the batch `_hand_on_broadcasts`
        hands on. The hot path of ingest: per broadcast only the receive, the decode and an
        append; the socket's stats and the per-kind counts are updated once per batch."""
        stats = self.stats["sub"]
        batch = self._broadcast_batch
        start = len(batch)
        decode = wire_broadcasts.decode_broadcast
        received = 0
        for _ in range(MAX_BATCH):
            try:
                frame = sub.recv(zmq.NOBLOCK, copy=False)  # `.more` is cheaper than RCVMORE
            except zmq.Again:
                break
            received += 1
            try:
                # one frame per broadcast (sheet §1.9); of a multipart, the last frame counts
                body = sub.recv_multipart(zmq.NOBLOCK)[-1] if frame.more else frame.bytes
                batch.append(decode(body))
            except WireDecodeError as exc:
                self.counters["broadcasts_undecodable"] += 1
                self._warn("broadcast_undecodable", error=str(exc))
            except Exception as exc:  # one bad message (logged) never stops the loop
                stats.errors += 1
                log.error(
                    "gateway_message_failed",
                    socket="sub",
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=exc,
                )
        if not received:
            return
        stats.received += received
        stats.last_seen = time.monotonic()
        kinds = Counter(map(type, batch[start:]))
        self._broadcast_kinds.update(kinds)
        unknown = kinds.get(wire_broadcasts.UnknownBroadcast)
        if unknown:  # skipped (a newer publisher's kind), counted
            self.counters["broadcasts_unknown"] += unknown
            batch[start:] = [
                event
                for event in batch[start:]
                if not isinstance(event, wire_broadcasts.UnknownBroadcast)
            ]

    def _hand_on_broadcasts(self) -> None:
        batch, self._broadcast_batch = self._broadcast_batch, []
        if len(batch) > 1 and self.on_broadcasts is not None:
            self.on_broadcasts(batch)
            return
        for event in batch:
            self.on_broadcast(event)

    def _on_sub_events(self, monitor: zmq.Socket[bytes]) -> None:
        for _ in range(MAX_BATCH):
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self._sub_dropped_at = time.monotonic()
            else:  # zmq retries (or reconnected) by itself
                self._sub_dropped_at = None

    def _revive_sub(self, sub: zmq.Socket[bytes]) -> None:
        """Connect the SUB again when libzmq dropped its connection without retrying (after
        waiting one reconnect interval for a retry, which an ordinary disconnect gets at once)."""
        dropped_at = self._sub_dropped_at
        if dropped_at is None or time.monotonic() - dropped_at < RECONNECT_IVL_MS / 1000:
            return
        self._sub_dropped_at = None
        endpoint = self.broadcasts_endpoint
        assert endpoint is not None
        try:
            with contextlib.suppress(zmq.ZMQError):  # already gone with the failed connection
                sub.disconnect(endpoint)
            sub.connect(endpoint)
        except zmq.ZMQError as exc:
            log.warning("broadcasts_reconnect_failed", endpoint=endpoint, error=exc.strerror)
            return
        self.counters["sub_reconnects"] += 1
        self._warn(
            "broadcasts_reconnected",
            endpoint=endpoint,
            reason="the connection was closed without a retry (a broadcast over "
            f"{SUB_MAX_MESSAGE_BYTES:,} bytes?)",
        )

    # -- outbox -----------------------------------------------------------------------------------

    def _flush_outbox(
        self, router: zmq.Socket[bytes] | None, dealer: zmq.Socket[bytes] | None
    ) -> None:
        while self._outbox:
            kind, item = self._outbox.popleft()
            if kind == "reply":
                identity, frame = item
                if router is None:
                    continue
                try:
                    # never block: with ROUTER_MANDATORY a blocking send to a peer whose queue
                    # is full would stall this thread (and every other peer) until it reads
                    router.send_multipart(build_multipart(identity, frame), zmq.NOBLOCK)
                    self.stats["router"].sent += 1
                except zmq.Again:
                    self.stats["router"].dropped += 1
                    self.counters["replies_dropped_peer_full"] += 1
                except zmq.ZMQError as exc:
                    self.stats["router"].dropped += 1
                    self.counters["replies_undeliverable"] += 1
                    self._warn("reply_undeliverable", error=exc.strerror)
            elif kind == "kick":
                self._kick(dealer)
            elif kind == "call":
                call, deadline, callback = item
                if dealer is None:
                    callback(NotConnected("hootenanny is not configured (--hootenanny none)"))
                    continue
                if not self._dealer_up:
                    self._held.append(_HeldCall(call, deadline, callback, time.monotonic()))
                    self._kick(dealer)
                    continue
                request_id = new_request_id()
                label = wire_tools.tool_name(call)
                try:
                    body = wire_tools.encode_tool_request(request_id, call)
                except Exception as exc:  # noqa: BLE001 - report an unencodable call to its caller
                    callback(exc)
                    continue
                self._pending[request_id] = _PendingCall(deadline, callback, label)
                try:
                    dealer.send_multipart(
                        build_multipart((), request_frame(request_id, body, SERVICE_NAME)),
                        zmq.NOBLOCK,
                    )
                    self.stats["dealer"].sent += 1
                except zmq.ZMQError as exc:
                    pending = self._pending.pop(request_id)
                    where = f"hootenanny at {self.hootenanny_endpoint}"
                    error = NotConnected(f"cannot send {label} to {where}: {exc.strerror}")
                    self._resolve(pending, error)

    def _kick(self, dealer: zmq.Socket[bytes] | None) -> None:
        """Restart the DEALER's connection attempt now, if it has no connection (rate-limited)."""
        now = time.monotonic()
        if dealer is None or self._dealer_up or not self._retry_waiting:
            return
        if now - self._last_kick < KICK_INTERVAL_S:
            return
        self._last_kick = now
        self._retry_waiting = False
        endpoint = self.hootenanny_endpoint
        assert endpoint is not None
        try:
            # nothing is queued on a DEALER without a connection (calls are held): nothing is lost
            with contextlib.suppress(zmq.ZMQError):  # not connected at the moment: nothing to undo
                dealer.disconnect(endpoint)
            dealer.connect(endpoint)
            self.counters["hootenanny_reconnect_kicks"] += 1
        except zmq.ZMQError as exc:
            log.warning("hootenanny_reconnect_failed", endpoint=endpoint, error=exc.strerror)

    def _publish(self, now: float) -> None:
        if self.publish_stats is None:
            return
        self.publish_stats(
            [stats.as_dict() for stats in self.stats.values()],
            {
                **self.counters,
                **{f"broadcast_{kind.__name__}": n for kind, n in self._broadcast_kinds.items()},
                "pending_calls": len(self._pending),
                "held_calls": len(self._held),
            },
        )


def _close_all(sockets: dict[str, zmq.Socket[bytes]]) -> None:
    for name in ("dealer", "sub"):
        monitored = sockets.get(name)
        if monitored is not None and f"{name}_monitor" in sockets:
            with contextlib.suppress(zmq.ZMQError):
                monitored.disable_monitor()
    for sock in sockets.values():
        sock.close(linger=0)


def _label(call: Any) -> str:
    try:
        return wire_tools.tool_name(call)
    except (KeyError, TypeError):
        return type(call).__name__
