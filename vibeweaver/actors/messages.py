"""Messages every actor understands, and the supervisor's failure report."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """Liveness probe; every actor answers with `Pong` once its `setup` has finished."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """Answer to `Ping`: which logical actor and which incarnation answered."""

    name: str
    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildFailed:
    """Told to the supervisor when an actor incarnation crashed (in a handler or in setup)."""

    name: str
    generation: int
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectFault:
    """Make the receiving actor raise inside its handler (like Erlang's `exit(Pid, kill)`).

    An operator's and a test's way to exercise supervision: the actor crashes, the supervisor
    restarts it on the same mailbox, and the restart is counted.
    """

    reason: str = "fault injected"


@dataclass(frozen=True, slots=True)
class Later:
    """A handler's reply that is not ready yet: `ActorHandle.ask` waits for `future` (within the
    ask's own timeout) and returns `transform` of its value. The handler returns at once, so its
    actor serves other messages meanwhile (the KernelActor while its kernel runs a cell)."""

    future: concurrent.futures.Future[Any]
    transform: Callable[[Any], Any] | None = None

    def when_done(self, then: Callable[[Any, BaseException | None], None]) -> None:
        """Call `then(value, error)` once, on the thread that completes the future: its
        transformed value, or its error (a cancellation, or a failing transform, included)."""
        self.future.add_done_callback(partial(_later_done, self.transform, then))


def _later_done(
    transform: Callable[[Any], Any] | None,
    then: Callable[[Any, BaseException | None], None],
    future: concurrent.futures.Future[Any],
) -> None:
    if future.cancelled():
        then(None, concurrent.futures.CancelledError())
        return
    error = future.exception()
    if error is not None:
        then(None, error)
        return
    try:
        value = future.result()
        value = value if transform is None else transform(value)
    except Exception as exc:  # noqa: BLE001 - a failing transform is the asker's error
        then(None, exc)
        return
    then(value, None)
