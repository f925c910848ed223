"""KernelActor: owns the Python namespace and runs cells and rule callbacks in it.

State owned: a `vibeweaver.kernel.Kernel` (the namespace, its eval thread and asyncio loop, the
execution count) and the DSL context bound to that eval thread (current session, the callables of
callback rules). Messages accepted: `Evaluate`, `ResetKernel`, `GetKernelStatus` (asks) and
`RunCallback` (tell, from the RuleScheduler). The actor thread blocks while a cell runs on the eval
thread; the cell is interrupted at its timeout, so the actor is never stuck for longer than that,
and when the system stops, `interrupt` (called from the stopping thread) cuts it short at once.
User errors are results, never actor crashes.

In `setup` the callbacks of the session's callback rules are re-defined from their stored source;
a rule whose source no longer defines cleanly is disabled with the reason, which the session
summary shows. An internal crash of the actor keeps the Kernel (and so the user's namespace) for
the next incarnation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel import messages as m
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.dsl import context as dsl_context
from vibeweaver.dsl.live import LiveState
from vibeweaver.kernel import CallbackDefinitionError, EvalOutcome, Kernel
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.types import ActionType, RuleId

HISTORY_CODE_CHARS = 120
STOPPING_REASON = "the service is stopping"


class KernelActor(WeaverActor):
    """Owns the namespace; see the module docstring."""

    def __init__(
        self,
        context: ActorContext,
        *,
        config: Config,
        link: HootenannyLink | None = None,
        hub: EventHub | None = None,
        extra_ports: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(context)
        self.config = config
        self.link = link or HootenannyLink(None)
        self.hub = hub
        self._live_sink: Callable[[Any], None] | None = None
        self.extra_ports = dict(extra_ports or {})
        self.store = StoreClient(self.system.handle("store"))
        self.scheduler = self.system.handle("scheduler")
        self.kernel: Kernel | None = None
        self.dsl: dsl_context.DslContext | None = None
        self.last_outcome: EvalOutcome | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        status = self.scheduler.ask(scheduler_messages.GetSchedulerStatus(), timeout=10)
        session = None
        if status.session_id is not None:
            session = self.store.get_session(status.session_id)
        if session is None:
            session = self.store.open_session(self.config.session)
        kept = self.context.vault.pop("kernel", None)
        kept_dsl = self.context.vault.pop("dsl", None)
        if (
            isinstance(kept, Kernel)
            and _running(kept)
            and isinstance(kept_dsl, dsl_context.DslContext)
        ):
            # an internal crash of the actor does not cost the user's namespace
            self.kernel, self.dsl = kept, kept_dsl
            self.dsl.session = session
            self.log.info("namespace_kept_across_restart", execution_count=kept.execution_count)
        else:
            self.dsl = dsl_context.DslContext(
                store=self.store,
                scheduler=self.scheduler,
                planner=self.system.handle("planner"),
                link=self.link,
                session=session,
                hootenanny_timeout=self.config.hootenanny_timeout,
                **self.extra_ports,
            )
            dsl = self.dsl
            from vibeweaver.dsl import prelude  # the DSL imports actor messages: import it late

            self.kernel = Kernel(
                workspace=self.config.workspace_dir,
                prelude=prelude(),
                on_thread_start=lambda: dsl_context.bind(dsl),
                name=self.context.name,
            )
            self.kernel.start()
            self.dsl.live = LiveState(_loop_of(self.kernel))
            self._restore_callbacks()
        if self.hub is not None and isinstance(self.dsl.live, LiveState):
            # broadcasts update jobs/artifacts between evals, on the eval thread's loop
            self._live_sink = self.dsl.live.on_event
            self.hub.subscribe(f"{self.context.name}:live", self._live_sink)
        self._publish()

    def interrupt(self) -> None:
        """The system stops: cut the running cell or callback short (any thread, never blocks).

        Its outcome is status "error" with error type "Interrupted" saying the service is
        stopping; messages queued behind it still run (each within its own timeout)."""
        kernel = self.kernel
        if kernel is not None and kernel.interrupt(STOPPING_REASON):
            self.log.info("eval_interrupted", reason=STOPPING_REASON)

    def release(self) -> None:
        if self.hub is not None and self._live_sink is not None:
            self.hub.unsubscribe(f"{self.context.name}:live", self._live_sink)
            self._live_sink = None
        if self.kernel is None:
            return
        if self.crashed and _running(self.kernel):
            self.context.vault["kernel"] = self.kernel
            self.context.vault["dsl"] = self.dsl
        else:
            self.kernel.stop()
        self.kernel = None

    def _publish(self) -> None:
        kernel, dsl = self.kernel, self.dsl
        thread = None if kernel is None else kernel.eval_thread
        self.publish(
            execution_count=0 if kernel is None else kernel.execution_count,
            session=None if dsl is None else dsl.session.name,
            callbacks=0 if dsl is None else len(dsl.callbacks),
            # the admin detail view shows this thread's stack: where the running cell is
            eval_thread_ident=None if thread is None else thread.ident,
        )

    @property
    def _kernel(self) -> Kernel:
        assert self.kernel is not None, "kernel used before setup"
        return self.kernel

    @property
    def _dsl(self) -> dsl_context.DslContext:
        assert self.dsl is not None, "DSL context used before setup"
        return self.dsl

    # -- callbacks stored as source ---------------------------------------------------------------

    def _restore_callbacks(self) -> None:
        dsl = self._dsl
        dsl.callbacks.clear()
        for record in self.store.list_rules(dsl.session.id):
            if record.action_type != ActionType.CALLBACK.value or not record.enabled:
                continue
            try:
                self._define(record)
            except CallbackDefinitionError as exc:
                self._disable_broken(record, str(exc))

    def _callback_params(self, record: RuleRecord) -> tuple[str, str]:
        params = json.loads(record.action_params)
        return str(params["name"]), str(params["source"])

    def _define(self, record: RuleRecord) -> Callable[..., Any]:
        try:
            name, source = self._callback_params(record)
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackDefinitionError(f"the stored callback is unreadable: {exc}") from None
        fn = self._kernel.define_callback(name, source)
        self._dsl.callbacks[record.id] = fn
        return fn

    def _disable_broken(self, record: RuleRecord, reason: str) -> None:
        """Keep the rule but disable it, with the reason stored for the session summary."""
        try:
            params = json.loads(record.action_params)
            if not isinstance(params, dict):
                params = {"raw": record.action_params}
        except ValueError:
            params = {"raw": record.action_params}
        params["disabled_reason"] = f"callback no longer defines cleanly: {reason}"
        saved = self.store.save_rule(
            replace(record, enabled=False, action_params=json.dumps(params, separators=(",", ":")))
        )
        self.scheduler.tell(scheduler_messages.RuleSaved(rule=saved))
        self._dsl.record("callback_disabled", record.id, reason, success=False)
        self.log.warning("callback_disabled", rule_id=record.id, reason=reason)

    # -- messages ---------------------------------------------------------------------------------

    @handles(m.Evaluate)
    def evaluate(self, message: m.Evaluate) -> EvalOutcome:
        session_before = self._dsl.session.id
        outcome = self._kernel.evaluate(message.code, timeout=message.timeout_s)
        self.last_outcome = outcome
        self.log.info(
            "eval_finished",
            execution_count=outcome.execution_count,
            status=outcome.status,
            duration_ms=round(outcome.duration_ms, 1),
        )
        self._dsl.record(
            "eval",
            _clip(message.code),
            _eval_result(outcome),
            success=outcome.status == "ok",
        )
        if self._dsl.session.id != session_before:
            self._restore_callbacks()  # the cell switched sessions: define the new one's callbacks
        # the eval's history (and the DSL actions it recorded) is written before the reply, so an
        # acknowledged eval is in the database even if the process is killed right after
        self.store.flush()
        self._publish()
        return outcome

    @handles(m.RunCallback)
    def run_callback(self, message: m.RunCallback) -> None:
        dsl = self._dsl
        rule_id = RuleId(message.rule_id)
        fn = dsl.callbacks.get(rule_id)
        if fn is None:
            try:
                fn = self._kernel.define_callback(message.name, message.source)
            except CallbackDefinitionError as exc:
                record = self.store.get_rule(rule_id)
                if record is not None:
                    self._disable_broken(record, str(exc))
                return
            dsl.callbacks[rule_id] = fn
        outcome = self._kernel.call(fn, *message.args, timeout=message.timeout_s)
        if outcome.status != "ok":
            error = outcome.error
            text = f"{error.type}: {error.message}" if error else outcome.status
            dsl.record(f"callback {message.name}", list(message.args), text, success=False)
            self.log.warning("callback_failed", rule_id=message.rule_id, error=text)
        elif outcome.stdout or outcome.stderr:
            dsl.record(
                f"callback {message.name}",
                list(message.args),
                _clip(outcome.stdout + outcome.stderr),
            )

    @handles(m.ResetKernel)
    def reset(self, message: m.ResetKernel) -> m.ResetResult:
        dsl = self._dsl
        self._kernel.reset()
        dsl.callbacks.clear()
        text = "Kernel reset successfully"
        if message.clear_session:
            cleared = self.store.clear_session(dsl.session.id)
            self.scheduler.ask(
                scheduler_messages.SwitchSession(session_id=dsl.session.id), timeout=10
            )
            text += (
                f"; session {dsl.session.name!r} cleared ({cleared.rules} rules, "
                f"{cleared.markers} markers, {cleared.history} history entries)"
            )
        # callbacks of rules that stay stored are re-defined from their source when they next fire
        self._publish()
        return m.ResetResult(reset=True, message=text)

    @handles(m.GetKernelStatus)
    def status(self, message: m.GetKernelStatus) -> m.KernelStatus:
        kernel = self._kernel
        return m.KernelStatus(
            execution_count=kernel.execution_count,
            user_names=sum(1 for name in kernel.namespace if not name.startswith("__")),
            last_outcome=self.last_outcome,
        )


def _loop_of(kernel: Kernel) -> Callable[[], Any]:
    """The kernel's current loop, read afresh (a wedged eval thread gets a new one); raises
    RuntimeError when there is none (it never starts a thread from the caller's thread)."""

    def loop() -> Any:
        if kernel.eval_thread is None:
            raise RuntimeError("the kernel has no eval thread")
        return kernel.loop

    return loop


def _running(kernel: Kernel) -> bool:
    thread = kernel.eval_thread
    return thread is not None and thread.is_alive()


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= HISTORY_CODE_CHARS else text[: HISTORY_CODE_CHARS - 1] + "…"


def _eval_result(outcome: EvalOutcome) -> str:
    if outcome.status == "ok":
        return outcome.result if outcome.result is not None else "ok"
    if outcome.error is not None:
        return f"{outcome.error.type}: {outcome.error.message}"
    return outcome.status
