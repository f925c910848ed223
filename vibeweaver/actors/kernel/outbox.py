"""KernelOutbox: everything the service sends one kernel process, in one order.

The kernel follows some of the service's events (the scheduler's `ClockChanged` and
`TransportMoved`, hootenanny's `ArtifactCreated` and `JobStateChanged`). The threads that publish
them are on latency-critical paths: the gateway's IO thread receiving a burst, the scheduler
executing a rule's `Play()`. So publishing one here is a deque append; a thread of the outbox's
own encodes, signs and sends whatever has queued up meanwhile, as one message (a burst crosses in
few messages). It does not linger: the kernel handles an event (a new artifact, say) in parallel
with the service's work on it, so a callback for it that follows finds it done.

Nothing that must see those events can overtake them: `send` and `request` (an eval, a callback
batch, the reply to the kernel's ask) first send whatever events are still queued, on the
caller's thread, under the same lock. So after `play()` returns in a cell, the kernel already has
the clock it moved; a callback for an artifact runs after the kernel learnt of the artifact.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from vibeweaver.channel.codec import CodecError
from vibeweaver.channel.messages import Event, Events
from vibeweaver.channel.peer import ChannelClosed, Peer

MAX_EVENTS_PER_MESSAGE = 1000
"""A burst is cut into messages of at most this many events (each encoded in one go)."""


class KernelOutbox:
    """See the module docstring. `send`/`request` raise ChannelClosed like the peer's."""

    def __init__(self, peer: Peer, *, name: str) -> None:
        self._peer = peer
        self._events: deque[Any] = deque()
        self._order = threading.Lock()
        self._in_flight = False
        """Set (under `_order`) while events taken from `_events` are not sent yet."""
        self._wake: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._closed = False
        self.events_sent = 0
        self.messages_sent = 0
        self._thread = threading.Thread(target=self._run, name=f"{name}-outbox", daemon=True)
        self._thread.start()

    # -- any thread -----------------------------------------------------------------------------

    def post(self, events: Iterable[Any]) -> None:
        """Queue events for the kernel (never blocks, never encodes)."""
        self._events.extend(events)
        if not self._closed:
            self._wake.put(True)

    def send(self, message: Any) -> None:
        """Send `message` after every event posted before it."""
        if not self._events and not self._in_flight:
            self._peer.send(message)  # nothing posted before it is unsent: no lock to wait for
            return
        with self._order:
            self._send_events()
            self._peer.send(message)

    def request(self, make: Callable[[int], Any]) -> concurrent.futures.Future[Any]:
        """`Peer.request`, after every event posted before it."""
        if not self._events and not self._in_flight:
            return self._peer.request(make)
        with self._order:
            self._send_events()
            return self._peer.request(make)

    def close(self) -> None:
        """Stop the outbox's thread; what is still queued goes with the next `send` (if any)."""
        self._closed = True
        self._wake.put(False)

    # -- internals ------------------------------------------------------------------------------

    def _run(self) -> None:
        wake = self._wake
        while wake.get():
            with contextlib.suppress(queue.Empty):
                while wake.get_nowait():  # one round for every post made by now
                    pass
            if self._closed:
                return
            with self._order:
                self._send_events()

    def _send_events(self) -> None:
        """Send what is queued (the caller holds `_order`). Events of a kernel that is gone, or
        that cannot be encoded, are dropped: they only ever update the kernel's views."""
        events = self._events
        while events:
            self._in_flight = True
            try:
                batch: list[Any] = []
                with contextlib.suppress(IndexError):
                    while len(batch) < MAX_EVENTS_PER_MESSAGE:
                        batch.append(events.popleft())
                with contextlib.suppress(ChannelClosed, CodecError):
                    if len(batch) == 1:
                        self._peer.send(Event(event=batch[0]))
                    else:
                        self._peer.send(Events(events=tuple(batch)))
                    self.events_sent += len(batch)
                    self.messages_sent += 1
            finally:
                self._in_flight = False
