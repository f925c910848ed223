"""LogThrottle: at most one log line per kind of event per interval, with a count of the rest.

A burst of garbage on a socket used to write one warning per message (5,476 lines from one
burst). Events are still counted where they happen (the admin view shows the counters); the log
gets the first of a burst at once and then one line per interval saying how many were held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

DEFAULT_INTERVAL_S = 10.0


@dataclass(slots=True)
class _Window:
    last_logged: float
    held_back: int = 0


class LogThrottle:
    """Not thread-safe: one owner thread (the gateway's IO thread) uses it."""

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._windows: dict[Hashable, _Window] = {}

    def allow(self, kind: Hashable) -> int | None:
        """None: do not log this one (it is counted). A number: log it now, saying that many
        of the same kind were held back since the last line."""
        now = self.clock()
        window = self._windows.get(kind)
        if window is None:
            self._windows[kind] = _Window(last_logged=now)
            return 0
        if now - window.last_logged < self.interval_s:
            window.held_back += 1
            return None
        held_back, window.held_back, window.last_logged = window.held_back, 0, now
        return held_back
