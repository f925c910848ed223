"""Instrumented actor mailboxes and the per-actor statistics the admin endpoint reads.

An `InstrumentedInbox` is a `queue.Queue` that stamps every envelope with its enqueue time, so the
depth, the high-water mark and the age of the oldest queued message can be read from any thread
without asking the actor. `ActorStats` is written only by the actor's own thread (receive
middleware) and by the supervisor; other threads read it through `snapshot()`, which copies plain
values. Both outlive a single actor instance: a restarted actor gets the same inbox (so queued
messages are not lost) and the same stats (so counts accumulate across restarts).

Cost on the hot path (measured by `ops/bench/bench_actors.py`): `put` adds one clock read and a few
integer updates; `get` one clock read and one bounded-deque append (the mailbox wait); the receive
middleware two clock reads, one label and two bounded-deque appends, no lock. Everything
else (percentiles, labels of queued messages, the thread's stack) is computed when someone reads.
"""

from __future__ import annotations

import itertools
import queue
import sys
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

WAIT_WINDOW = 256
"""How many recent mailbox waits (enqueue to dequeue) feed the mailbox-wait percentiles."""


def message_label(message: Any) -> str:
    """A short, stable name for a message: its type, or the method path of a proxy call."""
    if isinstance(message, ProxyCall):
        return ".".join(message.attr_path)
    return type(message).__name__


class InstrumentedInbox(queue.Queue[Any]):
    """A mailbox that records enqueue times, depth, high-water mark, asks and mailbox waits.

    Items are stored as `(enqueue_monotonic, envelope, is_ask)`; `get()` unwraps them, so pykka sees
    an ordinary inbox. `_put` and `_get` run under the queue's own mutex, so the counters they
    update are consistent with the queue's contents. An envelope with a `reply_to` future is an
    *ask* (someone is waiting for the answer); one without is a *tell*.
    """

    def __init__(self) -> None:
        super().__init__()
        self.enqueued = 0
        self.asks_queued = 0
        """Asks waiting in the mailbox now (each has a caller blocked on its future)."""
        self.high_water = 0
        self.last_wait_s = 0.0
        self.last_was_ask = False
        """Whether the envelope most recently taken out was an ask (read by the actor thread)."""
        self.waits_s: deque[float] = deque(maxlen=WAIT_WINDOW)

    def _put(self, item: Any) -> None:
        is_ask = getattr(item, "reply_to", None) is not None
        self.queue.append((time.monotonic(), item, is_ask))
        self.enqueued += 1
        if is_ask:
            self.asks_queued += 1
        depth = len(self.queue)
        if depth > self.high_water:
            self.high_water = depth

    def _get(self) -> Any:
        stamped_at, item, is_ask = self.queue.popleft()
        wait_s = time.monotonic() - stamped_at
        self.last_wait_s = wait_s
        self.waits_s.append(wait_s)
        self.last_was_ask = is_ask
        if is_ask:
            self.asks_queued -= 1
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
            stamped_at: float = self.queue[0][0]
        return (time.monotonic() if now is None else now) - stamped_at

    def queued_labels(self, limit: int = 50) -> list[str]:
        """Labels of the first `limit` queued messages, oldest first (copied under the lock)."""
        return [item["type"] for item in self.queued_items(limit)]

    def queued_items(self, limit: int = 50, now: float | None = None) -> list[dict[str, Any]]:
        """The first `limit` queued messages, oldest first: type, ask or tell, age in ms.

        Only the (timestamp, envelope) pairs are copied under the lock; labels are made after.
        """
        with self.mutex:
            items = list(itertools.islice(self.queue, limit))
        now = time.monotonic() if now is None else now
        return [
            {
                "type": message_label(getattr(envelope, "message", envelope)),
                "kind": "ask" if is_ask else "tell",
                "age_ms": round((now - stamped_at) * 1000.0, 1),
            }
            for stamped_at, envelope, is_ask in items
        ]

    def wait_percentiles_ms(self) -> dict[str, float | None]:
        """p50/p95/max of the recent mailbox waits (time from enqueue to being taken out)."""
        with self.mutex:
            waits = [wait * 1000.0 for wait in sorted(self.waits_s)]
        return {
            "p50_ms": _rounded(_percentile(waits, 0.50)),
            "p95_ms": _rounded(_percentile(waits, 0.95)),
            "max_ms": _rounded(waits[-1] if waits else None),
            "samples": len(waits),
        }


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
    system (`dead_letters`). Readers take `snapshot()`. There is no lock on the hot path: plain
    attribute writes are atomic under the GIL; the message being handled is one tuple, replaced
    whole, so a reader never sees the label of one message with the start time of another; and
    readers copy the per-type table and the deques with single C-level calls (`dict(...)`,
    `list(...)`, `sorted(...)`), which no other thread can interleave with.
    """

    def __init__(self, name: str, inbox: InstrumentedInbox) -> None:
        self.name = name
        self.inbox = inbox
        self.state = "starting"
        self.actor_class = ""
        self.thread_ident: int | None = None
        self.thread_name: str | None = None
        self._current: tuple[str, float, bool] | None = None
        """(label, monotonic start, is_ask) of the message being handled, or None when idle."""
        self.handled = 0
        self.handled_asks = 0
        self.failed = 0
        self.restarts = 0
        self.dead_letters = 0
        self.last_error: str | None = None
        self.last_error_traceback: str | None = None
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self._wall_offset = time.time() - time.monotonic()
        self.published: Mapping[str, Any] = MappingProxyType({})
        """Domain state the actor chose to show (rule counts, socket counters), replaced whole."""
        self.in_hand: tuple[str, float, int] | None = None
        """(label, monotonic start, how many) of asks answered `Later` and not answered yet: the
        work an actor hands off (the KernelActor's cells in its kernel process). The admin view
        shows it as the current message while no message is being handled."""
        self._by_type: dict[str, _TypeStats] = {}
        self._recent: deque[tuple[str, float, float, bool]] = deque(maxlen=RECENT_HANDLED)

    # -- the message being handled (kept as attributes for the code that clears them) -----------

    @property
    def current_label(self) -> str | None:
        """Label of the message being handled, or None when idle."""
        current = self._current
        return None if current is None else current[0]

    @current_label.setter
    def current_label(self, value: str | None) -> None:
        if value is None:
            self._current = None
        else:
            current = self._current
            self._current = (value, time.monotonic() if current is None else current[1], False)

    @property
    def current_started(self) -> float | None:
        """Monotonic time at which the current message started, or None when idle."""
        current = self._current
        return None if current is None else current[1]

    @current_started.setter
    def current_started(self, value: float | None) -> None:
        if value is None:
            self._current = None
        elif self._current is not None:
            self._current = (self._current[0], value, self._current[2])

    # -- recording (actor thread) ----------------------------------------------------------------

    def begin(self, message: Any) -> float:
        """Mark `message` as being handled now; return the start time for `end`."""
        started = time.monotonic()
        kind = type(message)
        label = ".".join(message.attr_path) if kind is ProxyCall else kind.__name__
        self._current = (label, started, self.inbox.last_was_ask)
        return started

    def end(self, started: float, *, ok: bool) -> None:
        """Record the outcome of the message begun at `started`."""
        current = self._current
        label, is_ask = ("?", False) if current is None else (current[0], current[2])
        finished = time.monotonic()
        duration_ms = (finished - started) * 1000.0
        per_type = self._by_type.get(label)
        if per_type is None:
            per_type = self._by_type[label] = _TypeStats()
        per_type.count += 1
        per_type.durations_ms.append(duration_ms)
        if not ok:
            per_type.failed += 1
        self._recent.append((label, finished, duration_ms, ok))
        self.handled += 1
        if is_ask:
            self.handled_asks += 1
        if not ok:
            self.failed += 1
        self._current = None

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

    # -- reading (any thread; never touches the actor) ---------------------------------------------

    def snapshot(self, *, now: float | None = None) -> dict[str, Any]:
        """Everything the admin table shows, as plain JSON-able values."""
        now = time.monotonic() if now is None else now
        current = self._current
        in_hand = self.in_hand
        if current is None and in_hand is not None:
            current = (in_hand[0], in_hand[1], True)
        oldest = self.inbox.oldest_age_s(now)
        return {
            "name": self.name,
            "actor_class": self.actor_class,
            "state": self.state,
            "mailbox_depth": self.inbox.depth(),
            "mailbox_high_water": self.inbox.high_water,
            "queued_asks": self.inbox.asks_queued,
            "enqueued": self.inbox.enqueued,
            "oldest_message_age_ms": None if oldest is None else round(oldest * 1000.0, 1),
            "current_message": None if current is None else current[0],
            "current_message_kind": None if current is None else ("ask" if current[2] else "tell"),
            "current_message_ms": (
                None if current is None else round(max(0.0, now - current[1]) * 1000.0, 1)
            ),
            "in_hand": 0 if in_hand is None else in_hand[2],
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
        """The detail view: queued messages, recent messages, per-type timings, waits, stack."""
        now = time.monotonic()
        by_type = {
            label: (stats.count, stats.failed, sorted(stats.durations_ms))
            for label, stats in dict(self._by_type).items()
        }
        recent = list(self._recent)
        offset = self._wall_offset
        return {
            **self.snapshot(now=now),
            "handled_asks": self.handled_asks,
            "handled_tells": self.handled - self.handled_asks,
            "last_error_traceback": self.last_error_traceback,
            "queued_messages": self.inbox.queued_items(queued_limit, now=now),
            "mailbox_wait": self.inbox.wait_percentiles_ms(),
            "recent_messages": [
                {
                    "type": label,
                    "at": round(offset + finished, 3),
                    "ago_s": round(now - finished, 3),
                    "duration_ms": round(duration, 3),
                    "ok": ok,
                }
                for label, finished, duration, ok in reversed(recent)
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
