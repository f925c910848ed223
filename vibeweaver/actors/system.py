"""ActorSystem: one isolated set of actors, their stable handles, restarts and dead letters.

Each logical actor (a name such as "store") has a long-lived mailbox, a stats record and an
`ActorHandle`; incarnations come and go underneath. Callers only ever hold handles, so a restart is
invisible to them: messages sent while an actor restarts wait in its mailbox and are handled by the
next incarnation. A message that can never be handled (the actor was stopped, or gave up after too
many restarts) is a *dead letter*: it is counted, logged, and an asker gets `ActorUnavailable`.

Nothing here uses pykka's process-global `ActorRegistry` for lookups, so two systems in one process
never see each other.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykka
import structlog
from pykka._envelope import Envelope  # the inbox protocol's item type (pinned pykka minor)

from vibeweaver.actors.base import ActorContext, WeaverActor
from vibeweaver.actors.mailbox import ActorStats, InstrumentedInbox, message_label
from vibeweaver.actors.messages import ChildFailed, Later, Ping
from vibeweaver.errors import ActorTimeout, ActorUnavailable, StartupError

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)

SUPERVISOR = "supervisor"
_ACCEPTING = frozenset({"starting", "alive", "restarting"})


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """How to build one logical actor; `kwargs` are passed to its constructor after the context."""

    name: str
    actor_class: type[WeaverActor]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_restarts: int = 5
    """Restarts allowed within `restart_window_s`; one more and the actor is given up on."""
    restart_window_s: float = 30.0


class ActorHandle:
    """The stable address of a logical actor: tell and ask without caring about restarts."""

    __slots__ = ("_system", "inbox", "name", "stats")

    def __init__(self, name: str, system: ActorSystem, inbox: InstrumentedInbox, stats: ActorStats):
        self.name = name
        self._system = system
        self.inbox = inbox
        self.stats = stats

    def __repr__(self) -> str:
        return f"<ActorHandle {self.name} ({self.stats.state})>"

    @property
    def accepting(self) -> bool:
        """True while messages sent now will be handled (alive, starting or restarting)."""
        return self.stats.state in _ACCEPTING

    def tell(self, message: Any) -> bool:
        """Send without waiting; False (and a dead letter recorded) if it can never be handled."""
        if not self.accepting:
            self._system.dead_letter(self.name, message, reason=self.stats.state)
            return False
        self.inbox.put(Envelope(message))
        return True

    def ask_future(self, message: Any) -> pykka.Future[Any]:
        """Send and return the reply future (use `.get(timeout=...)`; prefer `ask`)."""
        future: pykka.Future[Any] = pykka.ThreadingFuture()
        if not self.accepting:
            self._system.dead_letter(self.name, message, reason=self.stats.state)
            future.set_exception(exc_info=(ActorUnavailable, self._unavailable(message), None))
            return future
        self.inbox.put(Envelope(message, reply_to=future))
        return future

    def ask_then(self, message: Any, then: Callable[[Any, BaseException | None], None]) -> None:
        """Send, and call `then(value, error)` once the reply is set, on the thread that sets it
        (the actor's; the caller's at once if the actor is not accepting), without a thread
        waiting for it. `then` must be quick. A `Later` reply is not waited for."""
        future = _NotifyingFuture(then)
        if not self.accepting:
            self._system.dead_letter(self.name, message, reason=self.stats.state)
            then(None, self._unavailable(message))
            return
        self.inbox.put(Envelope(message, reply_to=future))

    def ask(self, message: Any, *, timeout: float) -> Any:
        """Send and wait for the reply; raises the handler's exception, ActorTimeout or
        ActorUnavailable."""
        started = time.monotonic()
        future = self.ask_future(message)
        try:
            reply = future.get(timeout=timeout)
        except pykka.Timeout:
            raise ActorTimeout(
                f"{self.name} did not answer {message_label(message)} within {timeout:g} s"
            ) from None
        except pykka.ActorDeadError:
            self._system.dead_letter(self.name, message, reason="stopped")
            raise self._unavailable(message) from None
        if isinstance(reply, Later):
            remaining = max(0.0, timeout - (time.monotonic() - started))
            try:
                value = reply.future.result(remaining)
            except concurrent.futures.TimeoutError:
                raise ActorTimeout(
                    f"{self.name} did not answer {message_label(message)} within {timeout:g} s"
                ) from None
            return value if reply.transform is None else reply.transform(value)
        return reply

    def _unavailable(self, message: Any) -> ActorUnavailable:
        return ActorUnavailable(
            f"{self.name} is {self.stats.state} and cannot handle {message_label(message)}"
        )


class _NotifyingFuture(pykka.ThreadingFuture[Any]):
    """A reply future that calls `then(value, error)` when it is set (`ActorHandle.ask_then`)."""

    def __init__(self, then: Callable[[Any, BaseException | None], None]) -> None:
        super().__init__()
        self._then = then

    def set(self, value: Any | None = None) -> None:
        super().set(value)
        self._notify(value, None)

    def set_exception(self, exc_info: Any = None) -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        super().set_exception(exc_info)
        error = exc_info[1] if exc_info[1] is not None else exc_info[0]()
        self._notify(None, error)

    def _notify(self, value: Any, error: BaseException | None) -> None:
        try:
            self._then(value, error)
        except Exception as exc:  # noqa: BLE001 - the actor that replied must not pay for it
            log.error("ask_then_callback_failed", error=repr(exc))


class ActorSystem:
    """A set of named actors started in declaration order and stopped in reverse."""

    def __init__(
        self, name: str = "vibeweaver", *, on_given_up: Callable[[str, str], None] | None = None
    ) -> None:
        """`on_given_up(actor, reason)` is called (on the restarting thread, outside the system's
        lock) when an actor exceeds its restart intensity: the escalation point of the system."""
        self.name = name
        self._on_given_up = on_given_up
        self._lock = threading.RLock()
        self._specs: dict[str, ActorSpec] = {}
        self._handles: dict[str, ActorHandle] = {}
        self._incarnations: dict[str, WeaverActor] = {}
        self._generations: dict[str, int] = {}
        self._restart_times: dict[str, deque[float]] = {}
        self._vaults: dict[str, dict[str, Any]] = {}
        self._dead_letters = 0
        self._dead_letters_by_actor: Counter[str] = Counter()
        self._recent_dead_letters: deque[dict[str, Any]] = deque(maxlen=100)
        self.started_at = time.time()
        self._starting = False

    # -- definition and lookup --------------------------------------------------------------------

    def define(self, spec: ActorSpec) -> ActorHandle:
        """Declare a logical actor; returns its handle (usable before it starts: mail waits)."""
        with self._lock:
            if spec.name in self._specs:
                raise ValueError(f"actor {spec.name!r} is already defined")
            inbox = InstrumentedInbox()
            stats = ActorStats(spec.name, inbox)
            self._specs[spec.name] = spec
            self._handles[spec.name] = ActorHandle(spec.name, self, inbox, stats)
            self._generations[spec.name] = 0
            self._restart_times[spec.name] = deque()
            self._vaults[spec.name] = {}
            return self._handles[spec.name]

    def handle(self, name: str) -> ActorHandle:
        """The handle of a defined actor."""
        try:
            return self._handles[name]
        except KeyError:
            raise KeyError(f"no actor named {name!r} in system {self.name!r}") from None

    @property
    def names(self) -> list[str]:
        """Actor names in start order."""
        return list(self._specs)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, *, timeout: float = 10.0) -> None:
        """Start the actors one by one in declaration order, each once the one before has
        finished `setup` (later actors read from earlier ones while they set up).

        Raises StartupError (after stopping what started) if an actor cannot be built or started;
        the actors after it are not started, so the failure is reported once, not echoed by each
        actor that needed it. No actor is restarted while the system starts: a failure then (a
        database that cannot be opened, say) would only fail again.
        """
        self._starting = True
        try:
            deadline = time.monotonic() + timeout
            for name, handle in self._handles.items():
                self._start_incarnation(name)
                remaining = max(0.1, deadline - time.monotonic())
                try:
                    handle.ask(Ping(), timeout=remaining)
                except (ActorTimeout, ActorUnavailable) as exc:
                    error = handle.stats.last_error or str(exc)
                    raise StartupError(f"actor {name} did not start: {error}") from exc
        except BaseException:
            self.stop(timeout=timeout)
            raise
        finally:
            self._starting = False

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop every actor in reverse start order; each finishes the messages already queued
        (its `interrupt` hook is called first, so the one running now can be cut short)."""
        for name in reversed(list(self._specs)):
            self._stop_one(name, timeout=timeout)

    def interrupt(self, name: str, reason: str | None = None) -> None:
        """Ask the current incarnation of `name` to cut its long work short, for `reason` (None:
        the system stops), without going through its mailbox (see `WeaverActor.interrupt`)."""
        actor = self._incarnations.get(name)
        if actor is None or self._handles[name].stats.state not in _ACCEPTING:
            return
        try:
            actor.interrupt(reason)
        except Exception as exc:  # noqa: BLE001 - a failing hook must not stop the caller's work
            log.error("actor_interrupt_failed", actor=name, error=f"{type(exc).__name__}: {exc}")

    def interrupt_all(self) -> None:
        """Ask every current incarnation to cut its long work short (the system is stopping)."""
        for name in reversed(list(self._specs)):
            self.interrupt(name)

    def _stop_one(self, name: str, *, timeout: float) -> None:
        handle = self._handles[name]
        with self._lock:
            previous = handle.stats.state
            if previous in ("stopped", "failed"):
                return
            handle.stats.state = "stopping"
            actor = self._incarnations.get(name)
        if actor is None:
            handle.stats.state = "stopped"
            return
        try:
            actor.interrupt()  # a long handler (a running cell) must not hold the stop up
        except Exception as exc:  # noqa: BLE001 - a failing hook must not stop the stopping
            log.error("actor_interrupt_failed", actor=name, error=f"{type(exc).__name__}: {exc}")
        # Wait for the incarnation to end rather than for an answer to the stop message: one that
        # crashes meanwhile (in a setup still running, say) ends without ever reading it.
        if actor.actor_ref.is_alive():
            actor.actor_ref.stop(block=False)
            if not actor.actor_stopped.wait(timeout):
                log.error("actor_stop_timed_out", actor=name, timeout_s=timeout)
        thread = _thread_of(handle.stats)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        handle.stats.state = "stopped"
        handle.stats.current_label = None
        handle.stats.current_started = None
        self.drain_as_dead_letters(name, handle.inbox)
        self._discard_vault(name)

    def _start_incarnation(self, name: str) -> WeaverActor:
        spec = self._specs[name]
        handle = self._handles[name]
        context = ActorContext(
            name=name,
            generation=self._generations[name],
            system=self,
            inbox=handle.inbox,
            stats=handle.stats,
            vault=self._vaults[name],
        )
        try:
            spec.actor_class.start(context, **spec.kwargs)
        except StartupError:
            raise
        except Exception as exc:
            handle.stats.record_error(exc)
            raise StartupError(f"actor {name} could not be built: {exc}") from exc
        # registered by WeaverActor.__init__ (a strong reference: an incarnation that crashes in
        # setup at once must still be found, to be stopped or replaced)
        return self._incarnations[name]

    def adopt(self, name: str, actor: WeaverActor) -> None:
        """Record `actor` as the current incarnation of `name` (called by its constructor)."""
        self._incarnations[name] = actor

    # -- failures and restarts --------------------------------------------------------------------

    def report_failure(self, name: str, generation: int, exc: BaseException) -> None:
        """Called from a crashing incarnation's own thread: route the failure to the supervisor."""
        error = f"{type(exc).__name__}: {exc}"
        supervisor = self._handles.get(SUPERVISOR)
        if name != SUPERVISOR and supervisor is not None and supervisor.accepting:
            supervisor.tell(ChildFailed(name=name, generation=generation, error=error))
            return
        # The supervisor itself (or a system without one): restart from a helper thread so the
        # crashing thread can finish unwinding.
        threading.Thread(
            target=self.restart,
            args=(name, generation, error),
            name=f"{self.name}-restart-{name}",
            daemon=True,
        ).start()

    def restart(self, name: str, generation: int, error: str) -> bool:
        """Start a new incarnation of `name` if `generation` is still current and the restart
        budget allows; otherwise give the actor up (state "failed", queued mail → dead letters)."""
        spec = self._specs[name]
        handle = self._handles[name]
        stats = handle.stats
        with self._lock:
            if self._generations[name] != generation or stats.state not in _ACCEPTING:
                return False
            if self._starting:
                stats.state = "failed"
                log.error("actor_failed_to_start", actor=name, error=error)
                self.drain_as_dead_letters(name, handle.inbox)
                return False
            times = self._restart_times[name]
            now = time.monotonic()
            while times and now - times[0] > spec.restart_window_s:
                times.popleft()
            if len(times) >= spec.max_restarts:
                stats.state = "failed"
                log.critical(
                    "actor_given_up",
                    actor=name,
                    restarts=len(times),
                    window_s=spec.restart_window_s,
                    error=error,
                )
                self.drain_as_dead_letters(name, handle.inbox)
                given_up: str | None = (
                    f"actor {name!r} was given up after {len(times)} restarts in "
                    f"{spec.restart_window_s:g} s; last error: {error}"
                )
            else:
                given_up = None
                times.append(now)
                stats.state = "restarting"
                stats.restarts += 1
                self._generations[name] += 1
                old_thread = _thread_of(stats)
        if given_up is not None:
            self._discard_vault(name)
            if self._on_given_up is not None:
                self._on_given_up(name, given_up)
            return False
        if old_thread is not None and old_thread is not threading.current_thread():
            old_thread.join(2.0)
        try:
            with self._lock:
                if stats.state != "restarting":
                    return False  # stopped meanwhile
                self._start_incarnation(name)
        except Exception as exc:  # noqa: BLE001 - a failed rebuild is one more failure
            log.error("actor_restart_failed", actor=name, error=f"{type(exc).__name__}: {exc}")
            return self.restart(name, self._generations[name], f"{type(exc).__name__}: {exc}")
        log.warning("actor_restarted", actor=name, generation=self._generations[name], error=error)
        return True

    def _discard_vault(self, name: str) -> None:
        """Close what a crashed incarnation handed on (values with a `discard()` method) when no
        next incarnation will take it: the actor was stopped meanwhile or given up."""
        vault = self._vaults[name]
        while vault:
            _, kept = vault.popitem()
            discard = getattr(kept, "discard", None)
            if not callable(discard):
                continue
            try:
                discard()
            except Exception as exc:  # noqa: BLE001 - one failing resource must not keep the rest
                log.error("vault_discard_failed", actor=name, error=f"{type(exc).__name__}: {exc}")

    # -- dead letters -----------------------------------------------------------------------------

    def dead_letter(self, name: str, message: Any, *, reason: str) -> None:
        """Count and log a message that no incarnation of `name` will ever handle."""
        label = message_label(message)
        with self._lock:
            self._dead_letters += 1
            self._dead_letters_by_actor[name] += 1
            self._recent_dead_letters.append(
                {"at": time.time(), "actor": name, "message": label, "reason": reason}
            )
        if name in self._handles:
            self._handles[name].stats.dead_letters += 1
        log.warning("dead_letter", actor=name, message=label, reason=reason)

    def drain_as_dead_letters(self, name: str, inbox: Any) -> None:
        """Empty a mailbox that nobody will read again: asks get ActorUnavailable, all counted."""
        while True:
            try:
                envelope = inbox.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty; nothing else can come out of get_nowait
                return
            message = getattr(envelope, "message", envelope)
            if isinstance(message, pykka.messages._ActorStop):
                if envelope.reply_to is not None:
                    envelope.reply_to.set(None)
                continue
            self.dead_letter(name, message, reason="stopped before handling")
            if envelope.reply_to is not None:
                error = ActorUnavailable(f"{name} stopped before handling {message_label(message)}")
                envelope.reply_to.set_exception(exc_info=(ActorUnavailable, error, None))

    # -- observation (never asks an actor) --------------------------------------------------------

    def actor_snapshots(self) -> list[dict[str, Any]]:
        """One plain dict per actor, in start order, read without touching any mailbox."""
        now = time.monotonic()
        return [self._handles[name].stats.snapshot(now=now) for name in self._specs]

    def actor_detail(self, name: str) -> dict[str, Any]:
        """The detail view of one actor (queued message types, recent messages, stack)."""
        return self.handle(name).stats.detail()

    def dead_letter_summary(self) -> dict[str, Any]:
        """Total, per-actor and recent dead letters."""
        with self._lock:
            return {
                "total": self._dead_letters,
                "by_actor": dict(self._dead_letters_by_actor),
                "recent": list(self._recent_dead_letters),
            }

    def threads(self) -> Iterable[threading.Thread]:
        """The live threads of this system's current incarnations."""
        for handle in self._handles.values():
            thread = _thread_of(handle.stats)
            if thread is not None and thread.is_alive():
                yield thread


def _thread_of(stats: ActorStats) -> threading.Thread | None:
    ident = stats.thread_ident
    if ident is None:
        return None
    for thread in threading.enumerate():
        if thread.ident == ident:
            return thread
    return None
