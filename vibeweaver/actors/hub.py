"""EventHub: fan-out of broadcast events to named subscribers, shared by one system's actors.

The gateway's IO thread publishes decoded hootenanny broadcasts here; subscribers register a sink
under a stable name (re-registering after a restart replaces the old sink). A sink must not block:
it hands the event to its owner's mailbox (`handle.tell`) or event loop (`call_soon_threadsafe`).
A failing sink is logged and counted; it never stops delivery to the others.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Sink = Callable[[Any], None]


class EventHub:
    """Named, thread-safe subscriptions; `publish` costs one dict read plus one call per sink."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: MappingProxyType[str, Sink] = MappingProxyType({})
        self.published: Counter[str] = Counter()
        self.sink_errors: Counter[str] = Counter()

    def subscribe(self, name: str, sink: Sink) -> None:
        """Deliver every later event to `sink` (replacing an earlier sink of the same name)."""
        with self._lock:
            self._sinks = MappingProxyType({**self._sinks, name: sink})

    def unsubscribe(self, name: str, sink: Sink | None = None) -> None:
        """Stop delivering to `name` (only if it is still `sink`, when one is given)."""
        with self._lock:
            if name in self._sinks and (sink is None or self._sinks[name] is sink):
                self._sinks = MappingProxyType({k: v for k, v in self._sinks.items() if k != name})

    def publish(self, event: Any) -> None:
        """Hand `event` to every subscriber."""
        self.published[type(event).__name__] += 1
        for name, sink in self._sinks.items():
            self._deliver(name, sink, event)

    def publish_many(self, events: Sequence[Any]) -> None:
        """Hand a burst of events, in order, to every subscriber: at once to a sink with a
        `many(events)` method, one by one to the others."""
        self.published.update(type(event).__name__ for event in events)
        for name, sink in self._sinks.items():
            many = getattr(sink, "many", None)
            if many is not None:
                self._deliver(name, many, events)
            else:
                for event in events:
                    self._deliver(name, sink, event)

    def _deliver(self, name: str, sink: Callable[[Any], None], payload: Any) -> None:
        try:
            sink(payload)
        except Exception as exc:  # noqa: BLE001 - one bad subscriber must not stop the others
            self.sink_errors[name] += 1
            log.error(
                "event_sink_failed",
                subscriber=name,
                event_type=type(payload).__name__,
                error=f"{type(exc).__name__}: {exc}",
            )

    @property
    def subscribers(self) -> list[str]:
        return sorted(self._sinks)
