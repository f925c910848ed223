"""One end of the kernel channel: ZeroMQ PULL/PUSH sockets and an IO thread, signed messages.

Each end binds a PULL socket of its own and connects a PUSH socket to the other end's: the service
(`bind=True`) at `<endpoint>.s`, the kernel process at `<endpoint>.k`, both `ipc://` sockets inside
the service's private data directory (mode 0700; the socket files are made 0600). Every message
is two frames, `HMAC-SHA256(key, body)` and the body (the codec's JSON); a message whose
signature does not match is dropped and counted, never decoded, so nothing but the kernel the
service started (it reads the key from a 0600 file) can speak on the channel.

Threads: `send`, `request` and `call` may be used from any thread: the message is encoded and
sent there, under a lock on the PUSH socket (a connecting PUSH queues without blocking, so a
sender never waits for the other end, and no thread hop is paid per message). The IO thread owns
the PULL socket: incoming messages are decoded there; replies resolve the futures of `request`,
`Invoke` runs the callable the other side sent (it must be quick: hand work on), everything else
goes to `on_message`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import hmac
import itertools
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
import zmq

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
"""Larger messages are refused by libzmq (a kernel cannot exhaust the service's memory)."""
_REPLIES = (Reply, EvalReply, StatusReply, StackReply)


RECONNECT_IVL_MS = 10
"""How soon a PUSH retries a peer not listening yet (a kernel still starting); libzmq's 100 ms
default would add that much to every kernel start."""


def _ipc_path(endpoint: str) -> str | None:
    return endpoint[len("ipc://") :] if endpoint.startswith("ipc://") else None


def _private_socket_file(endpoint: str) -> None:
    path = _ipc_path(endpoint)
    if path is not None:
        os.chmod(path, 0o600)


def _remove_socket_file(endpoint: str) -> None:
    path = _ipc_path(endpoint)
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)


class ChannelClosed(ConnectionError):
    """The channel is closed: its peer died or it was shut down."""


class Peer:
    """One end of the channel; see the module docstring."""

    def __init__(
        self,
        *,
        endpoint: str,
        key: bytes,
        bind: bool,
        on_message: Callable[[Any], None],
        name: str,
        on_closed_error: Callable[[], BaseException] | None = None,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the channel key must have at least 16 bytes")
        self.endpoint = endpoint
        self.name = name
        self._key = key
        self._bind = bind
        self._on_message = on_message
        self._closed_error = on_closed_error or (lambda: ChannelClosed(f"{name}: channel closed"))
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        own, other = (".s", ".k") if bind else (".k", ".s")
        self._listen_at = endpoint + own
        self._send_to = endpoint + other
        self._push: zmq.Socket[bytes] | None = None
        self._send_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
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
        self.closed = True
        with self._send_lock:
            push, self._push = self._push, None
            if push is not None:
                push.close(int(linger_s * 1000))
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(2.0)
        self._fail_pending()

    # -- sending (any thread) -------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Send `message` (queued by libzmq, never blocking); ChannelClosed after `close`,
        CodecError for what may not cross."""
        if self.closed:
            raise self._closed_error()
        body = codec.encode(message, self)
        frames = [hmac.digest(self._key, body, hashlib.sha256), body]
        with self._send_lock:
            push = self._push
            if push is None:
                raise self._closed_error()
            try:
                push.send_multipart(frames, zmq.NOBLOCK, copy=False)
            except zmq.ZMQError as exc:  # no queue space (never with SNDHWM 0) or torn down
                raise ChannelClosed(f"{self.name}: message not queued: {exc}") from None
            self.counters["sent"] += 1

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
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    def _run(self) -> None:
        socket = self._context.socket(zmq.PULL)
        try:
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            socket.setsockopt(zmq.RCVHWM, 0)
            socket.bind(self._listen_at)
            _private_socket_file(self._listen_at)
            push = self._context.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 0)
            push.setsockopt(zmq.SNDHWM, 0)
            push.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
            push.connect(self._send_to)
            self._push = push
        except BaseException as exc:  # noqa: BLE001 - raised by start() in the caller
            socket.close(0)
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        try:
            while True:
                events = dict(poller.poll())
                if self._wake_r in events:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                    if self.closed:
                        return
                if socket in events:
                    self._receive_all(socket)
        except Exception as exc:  # noqa: BLE001 - logged; the channel is then closed
            log.error("channel_failed", channel=self.name, error=repr(exc))
        finally:
            socket.close(0)
            _remove_socket_file(self._listen_at)
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.closed = True
            with self._send_lock:
                push, self._push = self._push, None
            if push is not None:
                push.close(0)
            self._fail_pending()

    def _receive_all(self, socket: zmq.Socket[bytes]) -> None:
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._receive(frames)

    def _receive(self, frames: list[bytes]) -> None:
        if len(frames) != 2 or not hmac.compare_digest(
            frames[0], hmac.digest(self._key, frames[1], hashlib.sha256)
        ):
            self.counters["refused_unsigned"] += 1
            return
        try:
            message = codec.decode(frames[1], self)
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
