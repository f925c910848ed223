"""One end of the kernel channel: a Unix stream socket, an IO thread, signed messages.

The service's end (`bind=True`) listens at `path` (inside the service's private data directory,
mode 0700; the socket file is made 0600 and removed on close); the kernel's end connects to it,
retrying every RECONNECT_IVL_S while nothing listens there yet. Every frame is the body's length
(4 bytes, big-endian), `HMAC-SHA256(key, body)` and the body (the codec's JSON). A connection
must open with a handshake frame (the signed HANDSHAKE body) or it is closed at its first frame;
the listening end sends on the first connection that did. A frame whose signature does not match
is dropped and counted, never decoded, so nothing but the kernel the service started (it reads
the key from a 0600 file) can speak on the channel. A frame longer than MAX_MESSAGE_BYTES ends
its connection. When the connection in use ends (the other process exited or died), the channel
is closed.

Why a plain socket and not ZeroMQ (the channel's transport until v2's last round): libzmq moves
every message through an I/O thread of its own on each end, four more thread wake-ups per round
trip; between two processes idle a few ms (as between an agent's calls) a PUSH/PULL round trip over
`ipc://` took ~220-270 µs on the 2-core reference machine, a Unix socket ~50 µs
(`ops/bench/bench_channel.py` measures both next to the channel).

Threads: `send`, `request` and `call` may be used from any thread: the message is encoded and
written there, under a lock, straight to the socket (non-blocking; what the socket does not take
at once, and whatever is sent before the connection is up, waits in an out-buffer the IO thread
writes as soon as it can), so a sender never waits for the other end and no thread hop is paid per
message. The IO thread owns connecting, accepting and reading: incoming messages are decoded
there; replies resolve the futures of `request`, `Invoke` runs the callable the other side sent (it
must be quick: hand work on), everything else goes to `on_message`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import hmac
import itertools
import os
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog

from vibeweaver.channel import codec
from vibeweaver.channel.messages import (
    Call,
    EvalReply,
    Invoke,
    Reply,
    StackReply,
    StatusReply,
)

log = structlog.get_logger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""A longer frame ends its connection (a kernel cannot exhaust the service's memory)."""
HANDSHAKE = b"vibeweaver-kernel-channel/2"
"""The body of a connection's first frame."""
RECONNECT_IVL_S = 0.01
"""How soon the connecting end retries an end not listening yet (a service still binding)."""
RECV_BYTES = 256 * 1024
_LENGTH = 4
_MAC = 32
_HEADER = _LENGTH + _MAC
_REPLIES = (Reply, EvalReply, StatusReply, StackReply)
_IN = select.POLLIN | select.POLLPRI
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class ChannelClosed(ConnectionError):
    """The channel is closed: its peer died or it was shut down."""


class _Connection:
    """One accepted or made connection and what it has received but not yet framed."""

    __slots__ = ("buffer", "sock", "trusted")

    def __init__(self, sock: socket.socket, *, trusted: bool) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.buffer = bytearray()
        self.trusted = trusted
        """Opened with a valid handshake (or made by this end)."""


class Peer:
    """One end of the channel; see the module docstring."""

    def __init__(
        self,
        *,
        path: str,
        key: bytes,
        bind: bool,
        on_message: Callable[[Any], None],
        name: str,
        on_closed_error: Callable[[], BaseException] | None = None,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the channel key must have at least 16 bytes")
        self.path = path
        self.name = name
        self._key = key
        self._bind = bind
        self._on_message = on_message
        self._closed_error = on_closed_error or (lambda: ChannelClosed(f"{name}: channel closed"))
        self._listener: socket.socket | None = None
        self._connections: dict[int, _Connection] = {}
        """The IO thread's: every open connection by file descriptor."""
        self._current: _Connection | None = None
        """The connection messages are sent on (under `_send_lock`)."""
        self._out = bytearray()
        """Frames not written yet (under `_send_lock`)."""
        self._send_lock = threading.Lock()
        self._chunk = bytearray(RECV_BYTES)
        """The IO thread's receive buffer, reused: a fresh 256 KiB per recv costs an mmap."""
        self._chunk_view = memoryview(self._chunk)
        self._linger_until = 0.0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=f"{name}-channel", daemon=True)
        self._ids = itertools.count(1)
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._refs: dict[int, Callable[..., Any]] = {}
        self._ref_ids = itertools.count(1)
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.closed = False
        self.counters: Counter[str] = Counter()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self.name}: the channel did not start within {timeout} s")
        if self._start_error is not None:
            raise self._start_error

    def close(self, *, linger_s: float = 0.0) -> None:
        """Stop the IO thread; pending requests fail with the closed error. Idempotent.
        `linger_s`: how long what was sent may still take to leave (the kernel's last words)."""
        if self.closed:
            return
        self._linger_until = time.monotonic() + linger_s
        self.closed = True
        with self._send_lock:
            self._wake()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(2.0 + linger_s)
        self._fail_pending()

    # -- sending (any thread) -------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Send `message` (written now, or kept until the socket takes it: never blocking);
        ChannelClosed after `close`, CodecError for what may not cross."""
        if self.closed:
            raise self._closed_error()
        frame = self._frame(codec.encode(message, self))
        with self._send_lock:
            if self.closed:
                raise self._closed_error()
            self.counters["sent"] += 1
            current = self._current
            if current is None or self._out:
                self._out += frame
                return
            try:
                written = current.sock.send(frame)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError:
                written = 0  # the connection is ending: the IO thread finds out and closes
            if written == len(frame):
                return
            self._out += memoryview(frame)[written:]
            self._wake()  # the IO thread writes the rest when the socket takes it

    def _frame(self, body: bytes) -> bytes:
        return b"".join(
            (len(body).to_bytes(_LENGTH, "big"), hmac.digest(self._key, body, hashlib.sha256), body)
        )

    def next_id(self) -> int:
        return next(self._ids)

    def request(self, make: Callable[[int], Any]) -> concurrent.futures.Future[Any]:
        """Send `make(id)` and return the future its reply (a message with that id) resolves."""
        request_id = self.next_id()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._pending_lock:
            if self.closed:
                future.set_exception(self._closed_error())
                return future
            self._pending[request_id] = future
        try:
            self.send(make(request_id))
        except BaseException:
            with self._pending_lock:
                self._pending.pop(request_id, None)
            raise
        return future

    def forget(self, future: concurrent.futures.Future[Any]) -> None:
        """Stop waiting for a request's reply (its caller gave up)."""
        with self._pending_lock:
            for key, value in list(self._pending.items()):
                if value is future:
                    del self._pending[key]

    def call(self, target: str, method: str, *args: Any, timeout: float, **kwargs: Any) -> Any:
        """Call `method` of the other side's port `target` and wait for its value (its error is
        raised here; TimeoutError after `timeout`)."""
        future = self.request(
            lambda i: Call(id=i, target=target, method=method, args=args, kwargs=kwargs)
        )
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            self.forget(future)
            raise TimeoutError(
                f"the service did not answer {target}.{method} within {timeout:g} s"
            ) from None

    def tell(self, target: str, method: str, *args: Any, **kwargs: Any) -> None:
        """Call `method` of `target` without waiting (id 0: no reply comes)."""
        self.send(Call(id=0, target=target, method=method, args=args, kwargs=kwargs))

    # -- codec.Refs -----------------------------------------------------------------------------

    def keep(self, fn: Callable[..., Any]) -> int:
        ref = next(self._ref_ids)
        self._refs[ref] = fn
        return ref

    def stub(self, ref: int) -> Callable[..., Any]:
        def call_back(*args: Any) -> None:
            with contextlib.suppress(ChannelClosed):
                self.send(Invoke(ref=ref, args=args))

        return call_back

    # -- the IO thread --------------------------------------------------------------------------

    def _wake(self) -> None:
        """Under `_send_lock` (the IO thread closes the pipe under it: never a stale fd)."""
        if self._wake_w < 0:
            return
        with contextlib.suppress(OSError):  # a full pipe wakes the thread all the same
            os.write(self._wake_w, b"\0")

    def _run(self) -> None:
        try:
            if self._bind:
                self._listen()
        except BaseException as exc:  # noqa: BLE001 - raised by start() in the caller
            self._start_error = exc
            self._ready.set()
            self._release()
            return
        self._ready.set()
        poller = select.poll()
        try:
            self._serve(poller)
        except Exception as exc:  # noqa: BLE001 - logged; the channel is then closed
            log.error("channel_failed", channel=self.name, error=repr(exc))
        finally:
            self.closed = True
            self._release()
            self._fail_pending()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.path)
            os.chmod(self.path, 0o600)
            listener.listen(8)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener

    def _serve(self, poller: select.poll) -> None:
        poller.register(self._wake_r, _IN)
        if self._listener is not None:
            poller.register(self._listener.fileno(), _IN)
        next_connect = 0.0
        while True:
            if self.closed:
                self._linger(poller)
                return
            if not self._bind and not self._connections:
                next_connect = self._connect(poller, next_connect)
            self._watch_writable(poller)
            timeout_ms = None
            if not self._bind and not self._connections:
                timeout_ms = max(0, int((next_connect - time.monotonic()) * 1000) + 1)
            for fd, events in poller.poll(timeout_ms):
                if fd == self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                elif self._listener is not None and fd == self._listener.fileno():
                    self._accept(poller)
                else:
                    self._service(poller, fd, events)

    def _connect(self, poller: select.poll, next_connect: float) -> float:
        """The connecting end: (re)try to connect; the time of the next try."""
        now = time.monotonic()
        if now < next_connect:
            return next_connect
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(1.0)
            sock.connect(self.path)
        except OSError:
            sock.close()
            return now + RECONNECT_IVL_S
        connection = _Connection(sock, trusted=True)
        self._connections[sock.fileno()] = connection
        poller.register(sock.fileno(), _IN)
        with self._send_lock:
            # the handshake first, then whatever was sent before the connection was up
            self._out[:0] = self._frame(HANDSHAKE)
            self._current = connection
        return now

    def _accept(self, poller: select.poll) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            connection = _Connection(sock, trusted=False)
            self._connections[sock.fileno()] = connection
            poller.register(sock.fileno(), _IN)

    def _watch_writable(self, poller: select.poll) -> None:
        """Ask the poll for the connection in use to be writable while frames wait for it."""
        with self._send_lock:
            current, waiting = self._current, bool(self._out)
        if current is not None and current.sock.fileno() in self._connections:
            poller.modify(current.sock.fileno(), _IN | (select.POLLOUT if waiting else 0))

    def _service(self, poller: select.poll, fd: int, events: int) -> None:
        connection = self._connections.get(fd)
        if connection is None:
            return
        if events & select.POLLOUT:
            self._write_out(connection)
        if events & (_IN | _GONE):
            try:
                size = connection.sock.recv_into(self._chunk)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                size = 0
            if not size:
                self._drop(poller, connection, why="ended")
                return
            connection.buffer += self._chunk_view[:size]
            self._frames(poller, connection)

    def _write_out(self, connection: _Connection) -> None:
        with self._send_lock:
            if self._current is not connection or not self._out:
                return
            try:
                written = connection.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # the read side sees the end and drops the connection
            del self._out[:written]

    def _frames(self, poller: select.poll, connection: _Connection) -> None:
        buffer = connection.buffer
        start = 0
        while len(buffer) - start >= _HEADER:
            length = int.from_bytes(buffer[start : start + _LENGTH], "big")
            if length > MAX_MESSAGE_BYTES:
                self.counters["refused_oversized"] += 1
                log.warning("channel_frame_too_long", channel=self.name, length=length)
                self._drop(poller, connection, why="a frame too long")
                return
            end = start + _HEADER + length
            if len(buffer) < end:
                break
            mac = bytes(buffer[start + _LENGTH : start + _HEADER])
            body = bytes(buffer[start + _HEADER : end])
            start = end
            signed = hmac.compare_digest(mac, hmac.digest(self._key, body, hashlib.sha256))
            if not connection.trusted:
                if not signed or body != HANDSHAKE:
                    self.counters["refused_unsigned"] += 1
                    self._drop(poller, connection, why="no valid handshake")
                    return
                connection.trusted = True
                with self._send_lock:
                    if self._current is None:  # the first trusted connection is the one in use
                        self._current = connection
                continue
            if not signed:
                self.counters["refused_unsigned"] += 1
                continue
            self._receive(body)
        del buffer[:start]

    def _drop(self, poller: select.poll, connection: _Connection, *, why: str) -> None:
        fd = connection.sock.fileno()
        self._connections.pop(fd, None)
        with contextlib.suppress(KeyError, ValueError):
            poller.unregister(fd)
        with self._send_lock:
            in_use = self._current is connection
            if in_use:
                self._current = None
        connection.sock.close()
        if in_use:
            log.info("channel_connection_ended", channel=self.name, why=why)
            self.closed = True  # the other end is gone: so is the channel

    def _linger(self, poller: select.poll) -> None:
        """Closing: let what waits in the out-buffer leave until the linger time is up."""
        while time.monotonic() < self._linger_until:
            with self._send_lock:
                current, waiting = self._current, bool(self._out)
            if current is None or not waiting:
                return
            try:
                ready = select.select([], [current.sock], [], self._linger_until - time.monotonic())
            except (OSError, ValueError):
                return
            if ready[1]:
                self._write_out(current)

    def _release(self) -> None:
        with self._send_lock:
            self._current = None
            connections = list(self._connections.values())
            self._connections.clear()
            wake_fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for connection in connections:
            connection.sock.close()
        if self._listener is not None:
            self._listener.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        for fd in wake_fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _receive(self, body: bytes) -> None:
        try:
            message = codec.decode(body, self)
        except codec.CodecError as exc:
            self.counters["refused_undecodable"] += 1
            log.warning("channel_message_refused", channel=self.name, error=str(exc)[:200])
            return
        self.counters["received"] += 1
        if isinstance(message, _REPLIES):
            with self._pending_lock:
                future = self._pending.pop(message.id, None)
            if future is not None and not future.done():
                if isinstance(message, Reply) and message.error is not None:
                    future.set_exception(message.error)
                elif isinstance(message, Reply):
                    future.set_result(message.value)
                else:
                    future.set_result(message)
            return
        if isinstance(message, Invoke):
            fn = self._refs.pop(message.ref, None) if message.once else self._refs.get(message.ref)
            if fn is not None:
                try:
                    fn(*message.args)
                except Exception as exc:  # noqa: BLE001 - a failing callback is the owner's
                    log.error("channel_invoke_failed", channel=self.name, error=repr(exc))
            return
        try:
            self._on_message(message)
        except Exception as exc:  # noqa: BLE001 - the channel keeps serving
            log.error(
                "channel_handler_failed",
                channel=self.name,
                message=type(message).__name__,
                error=repr(exc),
            )

    def _fail_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(self._closed_error())
