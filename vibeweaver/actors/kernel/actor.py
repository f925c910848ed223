"""KernelActor: owns the Python namespace and runs cells and rule callbacks in it.

State owned: a `vibeweaver.kernel.Kernel` (the namespace, its eval thread and asyncio loop, the
execution count). Messages accepted: `Evaluate`, `ResetKernel`, `GetKernelStatus` (asks). The
actor thread blocks while a cell runs on the eval thread; the cell is interrupted at its timeout,
so the actor is never stuck for longer than that. User errors are results, never actor crashes.
"""

from __future__ import annotations

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.kernel import messages as m
from vibeweaver.config import Config
from vibeweaver.kernel import EvalOutcome, Kernel


class KernelActor(WeaverActor):
    """Owns the namespace; see the module docstring."""

    def __init__(self, context: ActorContext, *, config: Config) -> None:
        super().__init__(context)
        self.config = config
        self.kernel: Kernel | None = None
        self.last_outcome: EvalOutcome | None = None

    def setup(self) -> None:
        kept = self.context.vault.pop("kernel", None)
        if isinstance(kept, Kernel) and _running(kept):
            self.kernel = kept  # an internal crash of the actor does not cost the user's namespace
            self.log.info("namespace_kept_across_restart", execution_count=kept.execution_count)
        else:
            self.kernel = Kernel(workspace=self.config.workspace_dir, name=f"{self.context.name}-eval")
            self.kernel.start()
        self._publish()

    def release(self) -> None:
        if self.kernel is None:
            return
        if self.crashed and _running(self.kernel):
            self.context.vault["kernel"] = self.kernel
        else:
            self.kernel.stop()
        self.kernel = None

    def _publish(self) -> None:
        kernel = self.kernel
        self.publish(execution_count=0 if kernel is None else kernel.execution_count)

    @property
    def _kernel(self) -> Kernel:
        assert self.kernel is not None, "kernel used before setup"
        return self.kernel

    @handles(m.Evaluate)
    def evaluate(self, message: m.Evaluate) -> EvalOutcome:
        outcome = self._kernel.evaluate(message.code, timeout=message.timeout_s)
        self.last_outcome = outcome
        self.log.info(
            "eval_finished",
            execution_count=outcome.execution_count,
            status=outcome.status,
            duration_ms=round(outcome.duration_ms, 1),
        )
        self._publish()
        return outcome

    @handles(m.ResetKernel)
    def reset(self, message: m.ResetKernel) -> m.ResetResult:
        self._kernel.reset()
        return m.ResetResult(reset=True, message="Kernel reset successfully")

    @handles(m.GetKernelStatus)
    def status(self, message: m.GetKernelStatus) -> m.KernelStatus:
        kernel = self._kernel
        return m.KernelStatus(
            execution_count=kernel.execution_count,
            user_names=sum(1 for name in kernel.namespace if not name.startswith("__")),
            last_outcome=self.last_outcome,
        )


def _running(kernel: Kernel) -> bool:
    thread = kernel.eval_thread
    return thread is not None and thread.is_alive()
