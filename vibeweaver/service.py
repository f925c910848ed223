"""ToolService: the four agent tools (eval, session, reset, help), shared by the MCP and ZeroMQ
front ends so both answer the same way.

Every call is a bounded ask to an actor: an eval waits its own timeout plus a grace period (the
kernel interrupts the cell at the timeout), the others wait a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from vibeweaver.actors import async_ask
from vibeweaver.actors.kernel import messages as kernel_messages
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.actors.store import StoreClient
from vibeweaver.actors.system import ActorSystem
from vibeweaver.dsl.help import help_text
from vibeweaver.errors import StoreError, VibeweaverError
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.persistence.records import SessionRecord
from vibeweaver.persistence.summary import ClockLine, render_summary

EVAL_GRACE_S = 5.0
"""How much longer than the eval timeout a caller waits for the kernel's answer."""

QUICK_TIMEOUT_S = 10.0
RESET_REASON = "weave_reset was called while it ran"
"""Completes "the code was interrupted before it finished because ..."."""
MAX_EVAL_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionView:
    """What `weave_session` returns."""

    session: SessionRecord
    summary: str


class ToolService:
    """Bound to one actor system; see the module docstring."""

    def __init__(self, system: ActorSystem, *, eval_timeout: float) -> None:
        self._system = system
        self.kernel = system.handle("kernel")
        self.scheduler = system.handle("scheduler")
        self.store = StoreClient(system.handle("store"))
        self.eval_timeout = eval_timeout

    def evaluate(
        self, code: str, timeout_s: float | None = None, *, take_notifications: bool = False
    ) -> EvalOutcome:
        """Run a cell; raises ValueError for a bad timeout, ActorTimeout if the kernel is wedged.
        `take_notifications`: the outcome also carries the session's Notify messages since the
        last take (see `kernel.messages.Evaluate`)."""
        message = self._evaluate(code, timeout_s, take_notifications)
        outcome = self.kernel.ask(message, timeout=message.timeout_s + EVAL_GRACE_S)
        assert isinstance(outcome, EvalOutcome)
        return outcome

    async def evaluate_async(
        self, code: str, timeout_s: float | None = None, *, take_notifications: bool = False
    ) -> EvalOutcome:
        """`evaluate` from an event loop, without a thread waiting for the kernel."""
        message = self._evaluate(code, timeout_s, take_notifications)
        outcome = await async_ask.ask(
            self.kernel, message, timeout=message.timeout_s + EVAL_GRACE_S
        )
        assert isinstance(outcome, EvalOutcome)
        return outcome

    def _evaluate(
        self, code: str, timeout_s: float | None, take_notifications: bool
    ) -> kernel_messages.Evaluate:
        timeout = self.eval_timeout if timeout_s is None else float(timeout_s)
        if not 0 < timeout <= MAX_EVAL_TIMEOUT_S:
            raise ValueError(f"timeout_s must be between 0 and {MAX_EVAL_TIMEOUT_S:g} seconds")
        return kernel_messages.Evaluate(
            code=code, timeout_s=timeout, take_notifications=take_notifications
        )

    def take_notifications(self) -> tuple[str, ...]:
        """The current session's Notify messages since the last call (for an eval result); an
        unavailable scheduler gives none (they stay in history and the summary), never an error
        for an eval that already ran."""
        try:
            taken = self.scheduler.ask(
                scheduler_messages.TakeNotifications(), timeout=QUICK_TIMEOUT_S
            )
        except VibeweaverError:
            return ()
        return taken if isinstance(taken, tuple) else ()

    def session(self) -> SessionView:
        """The current session and its context-restoration summary."""
        status = self.scheduler.ask(
            scheduler_messages.GetSchedulerStatus(), timeout=QUICK_TIMEOUT_S
        )
        assert isinstance(status, scheduler_messages.SchedulerStatus)
        if status.session_id is None:
            raise StoreError("no session is open")
        try:
            data = self.store.summary_data(status.session_id)
        except StoreError as exc:
            raise StoreError(f"the current session {status.session_id}: {exc}") from None
        clock = None
        if status.clock_state is not None:
            clock = ClockLine(state=status.clock_state, beat=status.clock_beat)
        summary = render_summary(data, clock=clock, notes=status.notes, lateness=status.lateness)
        return SessionView(session=data.session, summary=summary)

    def reset(self, clear_session: bool = False) -> kernel_messages.ResetResult:
        """Clear the namespace (and, with clear_session, the session's rules/markers/history).

        A cell (or callback) running now is interrupted first, so the reset does not wait behind
        it: its own reply says it was interrupted by weave_reset, and an await it was stuck in
        is released."""
        self._system.interrupt("kernel", RESET_REASON)
        result = self.kernel.ask(
            kernel_messages.ResetKernel(clear_session=clear_session), timeout=QUICK_TIMEOUT_S
        )
        assert isinstance(result, kernel_messages.ResetResult)
        return result

    def help(self, topic: str = "") -> tuple[str, str]:
        """(topic shown, text)."""
        return help_text(topic)
