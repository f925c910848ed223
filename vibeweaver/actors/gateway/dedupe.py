"""RetryCache: answer hootenanny's retries of a weaveEval from the one execution they repeat.

hootenanny re-sends a slow request with a new request id (and the MCP gateway in front of it
retries too), so the same code can arrive several times. A weaveEval whose (peer, code) matches
one still running, or one finished within `window_s`, joins that execution instead of running
again. Pure bookkeeping with an injectable clock; the gateway actor owns one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[tuple[bytes, ...], str]


@dataclass(slots=True)
class Execution:
    """One run of a cell and the requests waiting for (or already given) its result."""

    key: Key
    waiting: list[Any] = field(default_factory=list)
    outcome: Any = None
    finished_at: float | None = None


class RetryCache:
    """Executions keyed by (peer identity, code)."""

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._executions: dict[Key, Execution] = {}
        self.joined = 0

    def begin(self, key: Key, request: Any) -> tuple[Execution, bool]:
        """Register `request`; returns (execution, is_new). A finished execution within the
        window is returned with is_new False and `outcome` set: answer from it at once."""
        self._expire()
        execution = self._executions.get(key)
        if execution is not None:
            self.joined += 1
            if execution.finished_at is None:
                execution.waiting.append(request)
            return execution, False
        execution = Execution(key=key, waiting=[request])
        self._executions[key] = execution
        return execution, True

    def finish(self, key: Key, outcome: Any) -> list[Any]:
        """Record the outcome; return the requests that were waiting for it."""
        execution = self._executions.get(key)
        if execution is None:
            return []
        execution.outcome = outcome
        execution.finished_at = self.clock()
        waiting, execution.waiting = execution.waiting, []
        return waiting

    def forget(self, key: Key) -> None:
        """Drop an execution (e.g. a failure that must not be replayed)."""
        self._executions.pop(key, None)

    def _expire(self) -> None:
        now = self.clock()
        stale = [
            key
            for key, execution in self._executions.items()
            if execution.finished_at is not None and now - execution.finished_at > self.window_s
        ]
        for key in stale:
            del self._executions[key]

    def __len__(self) -> int:
        return len(self._executions)
