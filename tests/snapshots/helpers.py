"""Helpers of the kernel snapshot tests: a started Weaver with its ToolService (cells evaluated
as the front ends do) and its snapshot rows read back from the store."""

from __future__ import annotations

from dataclasses import dataclass

from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.service import ToolService
from vibeweaver.snapshots import decode
from vibeweaver.weaver import Weaver
from vibeweaver.wire.kernel_state import KernelState

EVAL_S = 10.0


@dataclass
class Running:
    """One started Weaver and the means to use it."""

    weaver: Weaver
    service: ToolService

    def run(self, code: str) -> EvalOutcome:
        return self.service.evaluate(code)

    def value(self, code: str) -> str:
        """The repr of the cell's last expression; fails the test on any error."""
        outcome = self.run(code)
        assert outcome.status == "ok", (outcome.error, outcome.stderr)
        assert outcome.result is not None, outcome
        return outcome.result

    def clock(self) -> sm.ClockSnapshot:
        clock = self.weaver.handle("scheduler").ask(sm.GetClock(), timeout=5)
        assert isinstance(clock, sm.ClockSnapshot)
        return clock

    def summary(self) -> str:
        return self.service.session().summary

    def snapshot(self) -> KernelState | None:
        """The current session's stored snapshot, decoded (None if there is none)."""
        session = self.weaver.session
        assert session is not None
        return self.stored(session.id)

    def stored(self, session_id: str) -> KernelState | None:
        record = self.weaver.store.get_snapshot(session_id)  # type: ignore[arg-type]
        return None if record is None else decode(record.state_capnp)
