"""DslContext: the ports a kernel gives the DSL, bound to the kernel's eval thread.

DSL functions (`tempo`, `marker`, `@on_beat`, ...) are plain module functions so agents can
`import vibeweaver`; they find the kernel they run in through a context variable that the
KernelActor sets on its eval thread (asyncio tasks inherit it). Two kernels in one process each
see their own context. Outside a kernel the DSL raises a clear error.

The context is used only on the eval thread while a cell or callback runs, and by the KernelActor
thread between evaluations (never both at once: the actor waits for the eval thread).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibeweaver.errors import VibeweaverError
from vibeweaver.kernel.callback_failures import CallbackFailures

if TYPE_CHECKING:
    from vibeweaver.actors.gateway.link import HootenannyLink
    from vibeweaver.actors.store import StoreClient
    from vibeweaver.actors.system import ActorHandle
    from vibeweaver.generation import GenerationClient
    from vibeweaver.persistence.records import SessionRecord
    from vibeweaver.types import RuleId

ASK_TIMEOUT_S = 5.0


class DslError(VibeweaverError):
    """A DSL call was used wrongly (bad argument, unknown session, outside a kernel)."""


@dataclass(slots=True, kw_only=True)
class DslContext:
    """What one kernel's DSL talks to; see the module docstring."""

    store: StoreClient
    scheduler: ActorHandle
    planner: ActorHandle
    link: HootenannyLink
    session: SessionRecord
    hootenanny_timeout: float = 10.0
    callbacks: dict[RuleId, Callable[..., Any]] = field(default_factory=dict)
    callback_failures: CallbackFailures = field(default_factory=CallbackFailures)
    """Failures in a row per callback rule; the KernelActor disables a rule at the limit."""
    live: Any = None
    """The LiveState (jobs, artifacts) kept on the eval thread's loop; see dsl.live."""
    generation: GenerationClient | None = None
    """Starts generation jobs for sample(); None when the kernel runs without one."""
    transport_moved: Callable[[], object] | None = None
    """Called (on the eval thread) right after a DSL call moved the transport: the KernelActor
    takes a kernel snapshot there and then, so a `kill -9` right after keeps the move."""

    def captured_transport(self) -> None:
        """Run the `transport_moved` hook; a failure is logged by the hook's owner, never raised."""
        hook = self.transport_moved
        if hook is not None:
            hook()

    def record(
        self, action: str, params: Any = None, result: Any = None, *, success: bool = True
    ) -> None:
        """Append a history entry for the current session (batched by the store)."""
        self.store.append_history(
            self.session.id,
            action,
            params=_text(params),
            result=_text(result),
            success=success,
        )

    def ask_scheduler(self, message: Any) -> Any:
        return self.scheduler.ask(message, timeout=ASK_TIMEOUT_S)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(value)


_CURRENT: ContextVar[DslContext | None] = ContextVar("vibeweaver_dsl_context", default=None)


def current() -> DslContext:
    """The context of the kernel this code runs in."""
    context = _CURRENT.get()
    if context is None:
        raise DslError(
            "vibeweaver DSL functions run inside a vibeweaver kernel (send the code with "
            "weave_eval); there is no kernel in this thread"
        )
    return context


def bind(context: DslContext) -> None:
    """Make `context` current for this thread (called on the eval thread before its loop runs)."""
    _CURRENT.set(context)
