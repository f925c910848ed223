"""Instrumented actor mailboxes and the per-actor statistics the admin endpoint reads.

An `InstrumentedInbox` is a `queue.Queue` that stamps every envelope with its enqueue time, so the
depth, the high-water mark and the age of the oldest queued message can be read from any thread
without asking the actor. `ActorStats` is written only by the actor's own thread (receive
middleware) and by the supervisor; other threads read it through `snapshot()`, which copies plain
values. Both outlive a single actor instance: a restarted actor gets the same inbox (so queued
messages are not lost) and the same stats (so counts accumulate across restarts).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pykka.messages import ProxyCall

RECENT_HANDLED = 50
"""How many recently handled messages each actor remembers (label, duration)."""

DURATION_WINDOW = 256
"""How many recent durations per message type feed the processing-time percentiles."""


def message_label(message: Any) -> str:
    """A short, stable name for a message: its type, or the method path of a proxy call."""
    if isinstance(message, ProxyCall):
        return ".".join(message.attr_path)
    return type(message).__name__


class InstrumentedInbox(queue.Queue[Any]):
    """A mailbox that records enqueue times, depth and high-water mark.

    Items are stored as `(enqueue_monotonic, envelope)` pairs; `get()` unwraps them, so pykka sees
    an ordinary inbox. The only extra cost on `put` is one clock read and two integer updates.
    """

    def __init__(self) -> None:
        super().__init__()
        self.enqueued = 0
        self.high_water = 0
        self.last_wait_s = 0.0

    def _put(self, item: Any) -> None:
        self.queue.append((time.monotonic(), item))
        self.enqueued += 1
        depth = len(self.queue)
        if depth > self.high_water:
            self.high_water = depth

    def _get(self) -> Any:
        stamped_at, item = self.queue.popleft()
        self.last_wait_s = time.monotonic() - stamped_at
        return item

    def depth(self) -> int:
        """Messages waiting now (exact: read under the queue's own lock)."""
        with self.mutex:
            return len(self.queue)

    def oldest_age_s(self, now: float | None = None) -> float | None:
        """Seconds the oldest queued message has waited, or None when the mailbox is empty."""
        with self.mutex:
            if not self.queue:
                return None
            stamped_at = self.queue[0][0]
        return (time.monotonic() if now is None else now) - stamped_at

    def queued_labels(self, limit: int = 50) -> list[str]:
        """Labels of the first `limit` queued messages, oldest first (copied under the lock)."""
        with self.mutex:
            items = [envelope for _, envelope in list(self.queue)[:limit]]
        return [message_label(getattr(envelope, "message", envelope)) for envelope in items]


@dataclass(slots=True)
class _TypeStats:
    count: int = 0
    failed: int = 0
    durations_ms: deque[float] = field(default_factory=lambda: deque(maxlen=DURATION_WINDOW))


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class ActorStats:
    """Live counters of one logical actor, shared by all its incarnations.

    Writers: the actor thread (`begin`/`end`), the supervisor (`state`, `restarts`) and the actor
    system (`dead_letters`). Readers take `snapshot()`. Plain attribute writes are atomic under the
    GIL; the small lock only guards the per-type table and the recent list against torn reads.
    """

    def __init__(self, name: str, inbox: InstrumentedInbox) -> None:
        self.name = name
        self.inbox = inbox
        self.state = "starting"
        self.actor_class = ""
        self.thread_ident: int | None = None
        self.thread_name: str | None = None
        self.current_label: str | None = None
        self.current_started: float | None = None
        self.handled = 0
        self.failed = 0
        self.restarts = 0
        self.dead_letters = 0
        self.last_error: str | None = None
        self.last_error_traceback: str | None = None
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self.published: Mapping[str, Any] = MappingProxyType({})
        """Domain state the actor chose to show (rule counts, socket counters...), replaced whole."""
        self._lock = threading.Lock()
        self._by_type: dict[str, _TypeStats] = {}
        self._recent: deque[tuple[str, float, float, bool]] = deque(maxlen=RECENT_HANDLED)

    def begin(self, message: Any) -> float:
        """Mark `message` as being handled now; return the start time for `end`."""
        started = time.monotonic()
        self.current_label = message_label(message)
        self.current_started = started
        return started

    def end(self, started: float, *, ok: bool) -> None:
        """Record the outcome of the message begun at `started`."""
        label = self.current_label or "?"
        duration_ms = (time.monotonic() - started) * 1000.0
        with self._lock:
            per_type = self._by_type.get(label)
            if per_type is None:
                per_type = self._by_type[label] = _TypeStats()
            per_type.count += 1
            per_type.durations_ms.append(duration_ms)
            if not ok:
                per_type.failed += 1
            self._recent.append((label, time.time(), duration_ms, ok))
        self.handled += 1
        if not ok:
            self.failed += 1
        self.current_label = None
        self.current_started = None

    def record_error(self, exc: BaseException) -> None:
        """Remember the last error with its traceback."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_traceback = "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)
        )
        self.last_error_at = time.time()

    def publish(self, **values: Any) -> None:
        """Replace the published domain state (called by the actor; read by the admin view)."""
        self.published = MappingProxyType(dict(values))

    def snapshot(self, *, now: float | None = None) -> dict[str, Any]:
        """Everything the admin table shows, as plain JSON-able values."""
        now = time.monotonic() if now is None else now
        started = self.current_started
        oldest = self.inbox.oldest_age_s(now)
        return {
            "name": self.name,
            "actor_class": self.actor_class,
            "state": self.state,
            "mailbox_depth": self.inbox.depth(),
            "mailbox_high_water": self.inbox.high_water,
            "enqueued": self.inbox.enqueued,
            "oldest_message_age_ms": None if oldest is None else round(oldest * 1000.0, 1),
            "current_message": self.current_label,
            "current_message_ms": None if started is None else round((now - started) * 1000.0, 1),
            "handled": self.handled,
            "failed": self.failed,
            "restarts": self.restarts,
            "dead_letters": self.dead_letters,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "thread": self.thread_name,
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def detail(self, *, queued_limit: int = 50) -> dict[str, Any]:
        """The detail view: queued message types, recent messages, per-type timings, stack."""
        with self._lock:
            by_type = {
                label: (stats.count, stats.failed, sorted(stats.durations_ms))
                for label, stats in self._by_type.items()
            }
            recent = list(self._recent)
        return {
            **self.snapshot(),
            "last_error_traceback": self.last_error_traceback,
            "queued_messages": self.inbox.queued_labels(queued_limit),
            "recent_messages": [
                {"type": label, "at": at, "duration_ms": round(duration, 3), "ok": ok}
                for label, at, duration, ok in reversed(recent)
            ],
            "message_types": {
                label: {
                    "count": count,
                    "failed": failed,
                    "p50_ms": _rounded(_percentile(durations, 0.50)),
                    "p95_ms": _rounded(_percentile(durations, 0.95)),
                    "max_ms": _rounded(durations[-1] if durations else None),
                }
                for label, (count, failed, durations) in sorted(by_type.items())
            },
            "stack": self.thread_stack(),
        }

    def thread_stack(self) -> list[str]:
        """The actor thread's current stack, innermost frame last (empty if not running)."""
        ident = self.thread_ident
        if ident is None:
            return []
        frame = sys._current_frames().get(ident)
        if frame is None:
            return []
        return [line.rstrip("\n") for line in traceback.format_stack(frame)]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
