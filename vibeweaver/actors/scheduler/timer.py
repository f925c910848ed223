"""WakeTimer: the small thread that wakes an actor at a computed moment, instead of polling.

The actor owns all the state; the timer only knows *when* to knock. After each message the actor
computes its next due moment (the next beat a rule fires on, the next latent start) and calls
`wake_at(t)`; at `t` the timer calls `on_due` once (which tells the actor a `Tick`) and then waits,
without any timeout, until the actor sets the next moment. Setting a new moment wakes the thread
early, so a clock move or a new rule takes effect at once.

`t` is in the units of the actor's time source (monotonic seconds by default). `ThreadWakeTimer`
sleeps real seconds, so it is only meaningful with a real clock; tests on simulated time use
`ManualWakeTimer`, which just records the moment asked for.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

__all__ = ["ManualWakeTimer", "ThreadWakeTimer", "TimerFactory", "WakeTimer"]


class WakeTimer(Protocol):
    """What an actor needs from its timer."""

    def start(self) -> None:
        """Start waiting (no wake-up is armed until `wake_at`)."""

    def stop(self) -> None:
        """Stop for good; a pending wake-up is dropped. Safe to call twice."""

    def wake_at(self, when: float | None) -> None:
        """Call `on_due` once at `when` (time-source units); None disarms."""


TimerFactory = Callable[[str, Callable[[], float], Callable[[], None]], WakeTimer]
"""(name, time source, on_due) -> a WakeTimer; the actors' `timer_factory` kwarg."""


class ThreadWakeTimer:
    """A daemon thread that sleeps on a condition until the armed moment (see module docstring)."""

    def __init__(self, name: str, clock: Callable[[], float], on_due: Callable[[], None]) -> None:
        self.name = name
        self._clock = clock
        self._on_due = on_due
        self._cond = threading.Condition()
        self._due: float | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.fired = 0
        """How many times `on_due` was called (diagnostics)."""

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._due = None
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def wake_at(self, when: float | None) -> None:
        if when is not None and not math.isfinite(when):
            when = None
        with self._cond:
            if when == self._due:
                return
            self._due = when
            self._cond.notify_all()

    @property
    def due(self) -> float | None:
        """The armed moment (None when disarmed)."""
        return self._due

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    due = self._due
                    if due is None:
                        self._cond.wait()
                        continue
                    remaining = due - self._clock()
                    if remaining <= 0:
                        self._due = None
                        break
                    self._cond.wait(remaining)
            self.fired += 1
            try:
                self._on_due()
            except Exception as exc:  # noqa: BLE001 - the timer must survive a failing knock
                log.error("wake_timer_callback_failed", timer=self.name, error=f"{exc!r}")


class ManualWakeTimer:
    """A timer that never fires by itself: tests read `due` and fire it on simulated time."""

    def __init__(
        self,
        name: str = "manual",
        clock: Callable[[], float] = time.monotonic,
        on_due: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.on_due = on_due
        self.due: float | None = None
        self.started = False
        self.stopped = False
        self.armed: list[float | None] = []
        """Every moment asked for, in order (for assertions)."""

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True
        self.due = None

    def wake_at(self, when: float | None) -> None:
        self.due = when
        self.armed.append(when)

    def fire(self) -> None:
        """Knock now (what the thread would do at `due`)."""
        self.due = None
        if self.on_due is not None and not self.stopped:
            self.on_due()
