"""RetryCache: answer hootenanny's retries of a slow weaveEval from the one execution they repeat.

hootenanny re-sends a request only after its 30 s per-attempt timeout (wire sheet §1.6), with a
new request id, from the same DEALER identity it sends everything else from. So identical code
from one peer is a retry only in two cases (SPEC §3.3, v2):

* the identical execution is still running: the duplicate joins it;
* it finished, ran longer than `replay_min_run_s` (a run that outlived an attempt, so the peer
  may have given up on it) and the duplicate arrives within `replay_window_s` of its end: the
  duplicate is answered from its outcome.

Anything else runs again: `play()`, `stop()`, `play()` in a row all happen, and polling
`beat.current` gets fresh values. (The v1 rule replayed anything finished within 60 s, which
answered new requests from old executions.) Pure bookkeeping with an injectable clock; the
gateway actor owns one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[tuple[bytes, ...], str]

REPLAY_MIN_RUN_S = 25.0
REPLAY_WINDOW_S = 10.0


@dataclass(slots=True)
class Execution:
    """One run of a cell and the requests waiting for (or already given) its result."""

    key: Key
    started_at: float
    waiting: list[Any] = field(default_factory=list)
    outcome: Any = None
    finished_at: float | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None


class RetryCache:
    """Executions keyed by (peer identity, code): running ones, and long runs for a while after."""

    def __init__(
        self,
        *,
        replay_min_run_s: float = REPLAY_MIN_RUN_S,
        replay_window_s: float = REPLAY_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replay_min_run_s = replay_min_run_s
        self.replay_window_s = replay_window_s
        self.clock = clock
        self._executions: dict[Key, Execution] = {}
        self.joined = 0
        self.replayed = 0
        self.started = 0

    def begin(self, key: Key, request: Any) -> tuple[Execution, bool]:
        """Register `request`; returns (execution, is_new).

        Not new and running: the request waits for that execution's `finish`. Not new and
        finished: answer the request from `execution.outcome` at once. New: run it.
        """
        self._expire()
        execution = self._executions.get(key)
        if execution is not None:
            if execution.running:
                self.joined += 1
                execution.waiting.append(request)
                return execution, False
            if self._replayable(execution):
                self.replayed += 1
                return execution, False
        execution = Execution(key=key, started_at=self.clock(), waiting=[request])
        self._executions[key] = execution
        self.started += 1
        return execution, True

    def finish(self, key: Key, outcome: Any) -> list[Any]:
        """Record the outcome; return the requests that were waiting for it.

        A finished execution is kept only while a late duplicate may still be answered from it.
        """
        execution = self._executions.get(key)
        if execution is None or not execution.running:
            return []
        execution.outcome = outcome
        execution.finished_at = self.clock()
        waiting, execution.waiting = execution.waiting, []
        if not self._replayable(execution):
            del self._executions[key]
        return waiting

    def forget(self, key: Key) -> None:
        """Drop an execution (e.g. a failure that must not be replayed)."""
        self._executions.pop(key, None)

    def _replayable(self, execution: Execution) -> bool:
        finished_at = execution.finished_at
        if finished_at is None:
            return False
        ran_for = finished_at - execution.started_at
        return (
            ran_for > self.replay_min_run_s and self.clock() - finished_at <= self.replay_window_s
        )

    def _expire(self) -> None:
        stale = [
            key
            for key, execution in self._executions.items()
            if not execution.running and not self._replayable(execution)
        ]
        for key in stale:
            del self._executions[key]

    def __len__(self) -> int:
        return len(self._executions)
