"""WeaverActor: the base of every vibeweaver actor (dispatch, receive middleware, crash hand-off).

What it adds to `pykka.ThreadingActor`:

* **Typed dispatch.** Handlers are methods decorated with `@handles(MessageType)`; `on_receive`
  looks the message's type up in a table built once per class. A message nobody handles is answered
  with `UnknownMessage` (it does not crash the actor).
* **Receive middleware.** Every message is timed and counted in the logical actor's `ActorStats`
  (cheap: two clock reads and a few integer updates).
* **Crash hand-off.** An unexpected exception in a handler (from a tell *or* an ask) stops this
  incarnation *without draining its mailbox*, and reports the failure; the supervisor then starts a
  new incarnation on the same mailbox, which re-reads its state in `on_start`. Deliberate errors
  (`VibeweaverError` subclasses) are replies, not crashes: they go back to the asker and the actor
  keeps running. `BaseException`s (a stray `SystemExit`) are turned into crashes, so pykka never
  calls its process-wide `ActorRegistry.stop_all()`, which would also stop other embedded systems.

Threading: `__init__` runs in the thread that starts the actor (the Weaver or the supervisor);
`on_start`, the handlers, `on_stop` and `release` run in the actor's own thread; `interrupt` runs
in the thread stopping the system.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pykka
import structlog
from pykka import messages as pykka_messages

from vibeweaver.actors.messages import InjectFault, Ping, Pong
from vibeweaver.errors import VibeweaverError

if TYPE_CHECKING:
    from types import TracebackType

    from vibeweaver.actors.mailbox import ActorStats, InstrumentedInbox
    from vibeweaver.actors.system import ActorSystem

log = structlog.get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class UnknownMessage(VibeweaverError):
    """The actor has no handler for this message type."""


class InjectedFault(RuntimeError):
    """Raised by an actor on purpose when told `InjectFault`."""


class ActorCrashed(RuntimeError):
    """A BaseException (SystemExit, KeyboardInterrupt) escaped a handler; wrapped to contain it."""


def handles(*message_types: type) -> Callable[[F], F]:
    """Mark a method as the handler of the given message types."""

    def mark(method: F) -> F:
        method.__dict__.setdefault("_handles", ())
        method.__dict__["_handles"] = (*method.__dict__["_handles"], *message_types)
        return method

    return mark


@dataclass(frozen=True, slots=True)
class ActorContext:
    """What an actor incarnation is given by the system: its identity and its shared parts."""

    name: str
    generation: int
    system: ActorSystem
    inbox: InstrumentedInbox
    stats: ActorStats
    vault: dict[str, Any]
    """Resources the logical actor hands from a crashed incarnation to the next (its own only)."""


class WeaverActor(pykka.ThreadingActor):
    """Base class of vibeweaver's actors; see the module docstring."""

    _dispatch: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for message_type in getattr(value, "_handles", ()):
                    table[message_type] = attr
        cls._dispatch = table

    def __init__(self, context: ActorContext) -> None:
        super().__init__()
        # Adopt the logical actor's long-lived mailbox so that a restarted incarnation handles
        # whatever was queued for the one that crashed.
        self.actor_inbox = context.inbox
        self._actor_ref = pykka.ActorRef(self)
        self.context = context
        self.system = context.system
        self.log = log.bind(actor=context.name)
        self._handing_over = False
        self._released = False
        context.stats.actor_class = type(self).__name__
        context.system.adopt(context.name, self)

    # -- lifecycle hooks for subclasses --------------------------------------------------------

    def setup(self) -> None:
        """Acquire resources and load state (actor thread). Override; raising counts as a crash."""

    def release(self) -> None:
        """Release resources (actor thread). Override; called once, on stop and on crash."""

    def interrupt(self, reason: str | None = None) -> None:
        """Cut short whatever long work the actor is doing right now.

        The control channel beside the mailbox (like a Jupyter kernel's control socket): called
        from another thread when the system stops (`reason` None), right before the stop is
        queued behind the messages already in the mailbox, or through `ActorSystem.interrupt`
        (a `weave_reset` while a cell runs); must be thread-safe and must not block. The default
        does nothing; an actor whose handlers can run long (the kernel's cells) overrides it so
        neither a stop nor a reset waits for them.
        """

    @property
    def crashed(self) -> bool:
        """True inside `release` when this incarnation is being replaced after a crash."""
        return self._handing_over

    def publish(self, **values: Any) -> None:
        """Show domain state in the admin view (replaces what was published before)."""
        self.context.stats.publish(**values)

    # -- pykka plumbing --------------------------------------------------------------------------

    def on_start(self) -> None:
        stats = self.context.stats
        thread = threading.current_thread()
        stats.thread_ident = thread.ident
        stats.thread_name = thread.name
        structlog.contextvars.bind_contextvars(actor=self.context.name)
        self.setup()
        stats.state = "alive"

    def _actor_loop_setup(self) -> None:
        try:
            self.on_start()
        except BaseException as exc:  # noqa: BLE001 - every start failure is reported, never lost
            self.context.stats.record_error(exc)
            self._crash(exc, during="start")

    def on_stop(self) -> None:
        self.context.stats.current_label = None
        self._release_once()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The crash was already reported by the middleware; only make sure resources are freed.
        self._release_once()

    def _actor_loop_teardown(self) -> None:
        if self._handing_over:
            return  # the queued messages belong to the next incarnation
        self.system.drain_as_dead_letters(self.context.name, self.actor_inbox)

    def _handle_receive(self, message: Any) -> Any:
        if isinstance(message, pykka_messages._ActorStop):
            return super()._handle_receive(message)
        stats = self.context.stats
        started = stats.begin(message)
        try:
            result = super()._handle_receive(message)
        except VibeweaverError as exc:
            stats.end(started, ok=False)
            stats.record_error(exc)
            if self._is_tell():
                # Nobody waits for a reply, and pykka would kill the actor for an exception from
                # a tell: a deliberate refusal is logged and counted instead.
                self.log.warning("message_refused", message=stats_label(message), error=str(exc))
                return None
            raise
        except Exception as exc:
            stats.end(started, ok=False)
            stats.record_error(exc)
            self._crash(exc, during=stats_label(message))
            raise
        except BaseException as exc:
            stats.end(started, ok=False)
            stats.record_error(exc)
            self._crash(exc, during=stats_label(message))
            raise ActorCrashed(f"{type(exc).__name__} escaped a handler: {exc}") from exc
        stats.end(started, ok=True)
        return result

    def on_receive(self, message: Any) -> Any:
        attr = self._dispatch.get(type(message))
        if attr is None:
            raise UnknownMessage(
                f"{self.context.name} does not handle {type(message).__name__} messages"
            )
        return getattr(self, attr)(message)

    @handles(Ping)
    def _on_ping(self, message: Ping) -> Pong:
        return Pong(name=self.context.name, generation=self.context.generation)

    @handles(InjectFault)
    def _on_inject_fault(self, message: InjectFault) -> None:
        raise InjectedFault(message.reason)

    def _is_tell(self) -> bool:
        """Whether the message being handled came without a reply future (set by the inbox)."""
        return not getattr(self.actor_inbox, "last_was_ask", True)

    # -- internals -------------------------------------------------------------------------------

    def _crash(self, exc: BaseException, *, during: str) -> None:
        """Stop this incarnation, keep the mailbox, and ask for a restart."""
        self.log.error(
            "actor_crashed",
            during=during,
            error=f"{type(exc).__name__}: {exc}",
            generation=self.context.generation,
            exc_info=exc,
        )
        self._handing_over = True
        self.actor_stopped.set()
        pykka.ActorRegistry.unregister(self.actor_ref)  # lifecycle hygiene, never used for lookups
        self._release_once()
        self.system.report_failure(self.context.name, self.context.generation, exc)

    def _release_once(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            self.release()
        except Exception as exc:  # noqa: BLE001 - a failing release must not mask the real error
            self.log.error("actor_release_failed", error=f"{type(exc).__name__}: {exc}")


def stats_label(message: Any) -> str:
    """The label under which a message is counted."""
    from vibeweaver.actors.mailbox import message_label

    return message_label(message)
