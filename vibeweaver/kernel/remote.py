"""The DSL's ports inside the kernel process: stand-ins that turn calls into channel messages.

The DSL was written against the service's actor handles (`ask`/`tell` of typed messages), the
`StoreClient` (which wraps the store's handle) and the `HootenannyLink`. In the kernel process the
same code gets `RemoteHandle`s and a `RemoteLink`: each call becomes a `Call` to the service's
bridge (`vibeweaver.actors.kernel.bridge`), which makes it on the real object and replies. Errors
come back as the same exception classes (see `vibeweaver.channel.codec`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from vibeweaver.actors.scheduler.messages import ClockChanged, GetClock
from vibeweaver.actors.store.client import StoreClient
from vibeweaver.channel.peer import Peer
from vibeweaver.persistence.records import MarkerRecord
from vibeweaver.scheduling.clock import ClockSnapshot
from vibeweaver.types import SessionId

CALL_MARGIN_S = 2.0
"""How much longer than the service's own timeout the kernel waits for a port's answer."""
STORE_TIMEOUT_S = 30.0
"""The longest a store call may take (the service's store client has its own, shorter, limit)."""


class RemoteStats:
    """What the service publishes about an actor that the DSL reads (`clock_epoch`)."""

    def __init__(self) -> None:
        self.published: dict[str, Any] = {}


class RemoteHandle:
    """Stands in for an `ActorHandle` of the service: `ask` waits for the actor's reply."""

    def __init__(self, peer: Peer, target: str) -> None:
        self._peer = peer
        self.name = target
        self.stats = RemoteStats()

    def __repr__(self) -> str:
        return f"<RemoteHandle {self.name}>"

    @property
    def accepting(self) -> bool:
        return bool(self._peer.call(self.name, "accepting", timeout=CALL_MARGIN_S * 2))

    def ask(self, message: Any, *, timeout: float) -> Any:
        timeout = min(float(timeout), STORE_TIMEOUT_S)
        return self._peer.call(self.name, "ask", message, timeout, timeout=timeout + CALL_MARGIN_S)

    def tell(self, message: Any) -> bool:
        """Sent without waiting; True (the service counts a dead letter if it cannot deliver)."""
        self._peer.tell(self.name, "tell", message)
        return True


class SchedulerPort(RemoteHandle):
    """The scheduler's stand-in, which answers `GetClock()` (the current session's clock: what
    `beat` and `transport` read, and what a snapshot keeps) from the clock the service pushes,
    without a round trip; also `GetClock(session_id=S)` while S is the current session.

    The scheduler publishes a `ClockChanged` on the hub at every change of its clock's epoch,
    before the stats that show that epoch, and the service posts it to the kernel's outbox,
    which sends it before anything sent to the kernel after it (`KernelOutbox`); every eval
    request carries the epoch the service saw last. So the kept clock is the
    current one exactly when its epoch is the newest known; otherwise (a kernel that started since
    the last change) the scheduler is asked, and its answer is kept when no change came meanwhile
    (a change is always pushed before the scheduler's answer to an ask made after it).
    """

    def __init__(self, peer: Peer, target: str) -> None:
        super().__init__(peer, target)
        self._lock = threading.Lock()
        self._known: tuple[int, int] | None = None
        self._kept: tuple[tuple[int, int], ClockSnapshot, SessionId | None] | None = None
        """(epoch, clock, its session) of the newest clock known."""
        self._changes = 0
        self.local_reads = 0

    def clock_changed(self, event: ClockChanged) -> None:
        """The channel's thread: the scheduler's clock moved to `event.epoch`."""
        epoch = tuple(event.epoch)
        with self._lock:
            self._changes += 1
            if self._known is None or epoch >= self._known:
                self._known = epoch  # type: ignore[assignment]
                self._kept = (epoch, event.clock, event.session_id)  # type: ignore[assignment]
                self.stats.published["clock_epoch"] = epoch

    def epoch_seen(self, epoch: Any) -> None:
        """An eval request's `clock_epoch`: the newest epoch the service had published."""
        if epoch is None:
            return
        epoch = tuple(epoch)
        with self._lock:
            if self._known is None or epoch > self._known:
                self._known = epoch
            self.stats.published["clock_epoch"] = self._known

    def ask(self, message: Any, *, timeout: float) -> Any:
        if type(message) is not GetClock:
            return super().ask(message, timeout=timeout)
        with self._lock:
            known, kept, changes = self._known, self._kept, self._changes
        if kept is not None and kept[0] == known and message.session_id in (None, kept[2]):
            self.local_reads += 1
            return kept[1].at(time.monotonic())
        answer = super().ask(message, timeout=timeout)
        if message.session_id is not None:
            return answer  # another session's clock: not the one kept
        with self._lock:
            if known is not None and self._changes == changes and self._known == known:
                self._kept = (known, answer, None)
        return answer


class KernelStoreClient(StoreClient):
    """The store as the kernel's DSL sees it, with each session's markers kept after the first
    read: `marker()` in this kernel is the only writer of its sessions' markers (a session is
    owned by one service, which has one kernel), so `timeline.markers` and the `on_marker` hint
    read them locally, in the store's order (beat, then name)."""

    def __init__(self, handle: Any, **kwargs: Any) -> None:
        super().__init__(handle, **kwargs)
        self._lock = threading.Lock()
        self._markers: dict[SessionId, dict[str, MarkerRecord]] = {}
        self._writes: dict[SessionId, int] = {}

    def list_markers(self, session_id: SessionId) -> tuple[MarkerRecord, ...]:
        with self._lock:
            kept = self._markers.get(session_id)
            writes = self._writes.get(session_id, 0)
            if kept is not None:
                return tuple(sorted(kept.values(), key=lambda r: (r.beat, r.name)))
        records = super().list_markers(session_id)
        with self._lock:
            if self._writes.get(session_id, 0) == writes:  # no marker written meanwhile
                self._markers[session_id] = {record.name: record for record in records}
        return records

    def save_marker(
        self, session_id: SessionId, name: str, beat: float, metadata: str | None = None
    ) -> MarkerRecord:
        record = super().save_marker(session_id, name, beat, metadata)
        with self._lock:
            self._writes[session_id] = self._writes.get(session_id, 0) + 1
            kept = self._markers.get(session_id)
            if kept is not None:
                kept[record.name] = record
        return record

    def delete_marker(self, session_id: SessionId, name: str) -> bool:
        deleted = super().delete_marker(session_id, name)
        with self._lock:
            self._writes[session_id] = self._writes.get(session_id, 0) + 1
            self._markers.get(session_id, {}).pop(name, None)
        return deleted


class RemoteLink:
    """Stands in for the service's `HootenannyLink` (same methods)."""

    def __init__(self, peer: Peer, endpoint: str | None) -> None:
        self._peer = peer
        self.endpoint = endpoint

    @property
    def connected(self) -> bool:
        return bool(self._peer.call("link", "connected", timeout=CALL_MARGIN_S * 2))

    def require_reachable(self, what: str, timeout: float) -> None:
        self._peer.call("link", "require_reachable", what, timeout, timeout=timeout + CALL_MARGIN_S)

    def call(self, call: Any, *, timeout: float, callback: Callable[[Any], None]) -> None:
        """`callback` receives the reply (or the exception) on the channel's thread, as the real
        link's callback does on the gateway's IO thread."""
        self._peer.tell("link", "call", call, timeout=timeout, callback=callback)
