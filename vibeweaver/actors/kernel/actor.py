"""KernelActor: owns the kernel process (SPEC §2.1): starts, feeds, interrupts and restarts it.

Agent code runs in a kernel process of its own (`python -m vibeweaver.kernel`, see
`vibeweaver.kernel.host`), so nothing it does (patching builtins, `os._exit`, a segfault, an
allocation past `--kernel-memory`, a thread printing forever) can stall or kill the service. The
actor owns one `KernelConnection`: the process (`process.KernelProcess`), its output pipes
(`output.KernelOutput`), the signed channel (`vibeweaver.channel`) and the bridge that makes the
DSL's port calls on the service's actors (`bridge.PortBridge`).

Messages: `Evaluate`, `ResetKernel`, `GetKernelStatus` (asks), `RunCallback` (a tell from the
RuleScheduler, forwarded at once: the kernel runs callbacks beside a running cell). An eval is
answered `Later`: the handler sends the cell and returns, so the actor forwards callbacks and
notices deaths while the cell runs; `EvalDone` (told by the channel when the reply arrives)
completes it with the output the kernel wrote to its pipes meanwhile, and what it wrote between
cells is mentioned first.

Death: the process's waiter tells `KernelExited` at once. A running eval is answered with status
"error", type `KernelDied` and the cause (exit code, signal, memory limit); the death is written
to the session's history and the scheduler's notes (the summary shows it), and a new kernel is
started with the same execution count; it defines the session's callbacks again and restores the
kernel snapshot. After `MAX_RESTARTS` deaths within `RESTART_WINDOW_S`, evals are answered with
an error until `weave_reset`.

Interrupts: the service interrupts a running cell through `interrupt` (a reset, the system
stopping). The kernel interrupts in-process; if the cell has not ended `KILL_GRACE_S` after its
timeout (or after a reset asked), the process is killed and restarted. `weave_reset` always
starts a fresh kernel process: whatever the agent patched in the interpreter is gone.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel import messages as m
from vibeweaver.actors.kernel.bridge import PortBridge
from vibeweaver.actors.kernel.connection import (
    START_TIMEOUT_S,
    EvalDone,
    KernelConnection,
    KernelExited,
    KernelFigures,
    PendingEval,
)
from vibeweaver.actors.kernel.early import EarlyKernel
from vibeweaver.actors.kernel.output import KernelOutput
from vibeweaver.actors.kernel.probe import KernelProbe
from vibeweaver.actors.kernel.process import KernelExit
from vibeweaver.actors.messages import Later
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.actors.scheduler.notifications import NotificationBox
from vibeweaver.actors.store import StoreClient
from vibeweaver.actors.store import messages as store_messages
from vibeweaver.channel.messages import (
    EvalReply,
    EvalRequest,
    Interrupt,
    Setup,
    StatusReply,
    StatusRequest,
)
from vibeweaver.config import Config
from vibeweaver.kernel.outcome import ErrorInfo, EvalOutcome
from vibeweaver.persistence.records import SessionRecord
from vibeweaver.sizes import format_bytes

STOPPING_REASON = "the service is stopping"
KERNEL_DIED = "KernelDied"
KILL_GRACE_S = 2.0
"""How long after its timeout (plus the kernel's own escalation) a cell may still run before the
kernel process is killed."""
ESCALATION_S = 1.5
"""The kernel's own interrupt escalation after a timeout (cancel, inject, give the thread up)."""
SHUTDOWN_WAIT_S = 1.5
"""How long a stopping kernel may take to save its snapshot and exit before it is killed."""
RESET_WAIT_S = 2.0
"""How long a reset waits for an interrupted cell before killing the kernel."""
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


class KernelActor(WeaverActor):
    """Owns the kernel process; see the module docstring."""

    def __init__(
        self,
        context: ActorContext,
        *,
        config: Config,
        link: HootenannyLink | None = None,
        hub: EventHub | None = None,
        probe: KernelProbe | None = None,
        early: EarlyKernel | None = None,
        notifications: NotificationBox | None = None,
    ) -> None:
        super().__init__(context)
        self.config = config
        self.early = early
        self.notifications = notifications
        """The scheduler's box of Notify messages (taken straight from it), or None: asked."""
        self.link = link or HootenannyLink(None)
        self.hub = hub
        self.probe = probe or KernelProbe(context.name)
        self.store_handle = self.system.handle("store")
        self.store = StoreClient(self.store_handle)
        self.scheduler = self.system.handle("scheduler")
        self.me = self.system.handle(self.context.name)
        self.session: SessionRecord | None = None
        self.connection: KernelConnection | None = None
        self.bridge: PortBridge | None = None
        self.pending: dict[int, PendingEval] = {}
        self.execution_count = 0
        self.incarnations = 0
        self.restarts = 0
        self.deaths: deque[float] = deque()
        self.last_death: KernelExit | None = None
        self.given_up: str | None = None
        self.last_outcome: EvalOutcome | None = None
        self.figures: dict[str, Any] = {}
        self._notices: list[str] = []
        self._forward_sink: Any = None
        self._eval_ids = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------------

    def setup(self) -> None:
        status = self.scheduler.ask(scheduler_messages.GetSchedulerStatus(), timeout=10)
        session = None
        if status.session_id is not None:
            session = self.store.get_session(status.session_id)
        if session is None:
            session = self.store.start_session(self.config.session)
        self.session = session
        kept = self.context.vault.pop("kernel", None)
        if isinstance(kept, KernelConnection) and kept.process.alive:
            # an internal crash of the actor does not cost the user's kernel
            self.connection, self.bridge = kept, kept.bridge
            kept.actor = self.me
            self.probe.peer = kept.peer
            kept_state = self.context.vault.pop("kernel_state", {})
            self.execution_count = int(kept_state.get("execution_count", 0))
            self.incarnations = int(kept_state.get("incarnations", kept.incarnation))
            # evals the crashed incarnation handed to the kernel: their replies come here
            self.pending = dict(kept_state.get("pending", {}))
            self._eval_ids = kept_state.get("eval_ids", self._eval_ids)
            self._track()
            self.log.info("kernel_kept_across_restart", pid=kept.pid)
        else:
            early = None if self.early is None else self.early.take(START_TIMEOUT_S)
            if early is not None:  # started while the other actors started: only Setup is left
                self.bridge = early.bridge
                self._spawn(after=None, started=early)
            else:
                self.bridge = self._new_bridge()
                self._spawn(after=None)
        self._subscribe()
        self._publish()

    def _new_bridge(self) -> PortBridge:
        bridge = PortBridge(
            handles={
                "store": self.system.handle("store"),
                "scheduler": self.scheduler,
                "planner": self.system.handle("planner"),
            },
            link=self.link,
            name=self.context.name,
        )
        bridge.start()
        return bridge

    def _subscribe(self) -> None:
        connection = self.connection
        if self.hub is None or connection is None:
            return
        self._forward_sink = connection  # a sink with `many`: a burst is one message
        self.hub.subscribe(f"{self.context.name}:forward", self._forward_sink)

    def interrupt(self, reason: str | None = None) -> None:
        """Interrupt the running cell (any thread, never blocks): a reset, or the system stops."""
        connection = self.connection
        if connection is not None and self.pending:
            connection.send(Interrupt(reason=reason or STOPPING_REASON))
            self.log.info("eval_interrupted", reason=reason or STOPPING_REASON)

    def release(self) -> None:
        if self.hub is not None and self._forward_sink is not None:
            self.hub.unsubscribe(f"{self.context.name}:forward", self._forward_sink)
        connection = self.connection
        self.connection = None
        if connection is None:
            return
        if self.crashed and connection.process.alive:
            self.context.vault["kernel"] = connection
            self.context.vault["kernel_state"] = {
                "execution_count": self.execution_count,
                "incarnations": self.incarnations,
                "pending": self.pending,
                "eval_ids": self._eval_ids,
            }
            return
        connection.close(reason=STOPPING_REASON, wait=SHUTDOWN_WAIT_S)
        self._fail_pending(STOPPING_REASON, error_type="Interrupted")
        if self.bridge is not None:
            self.bridge.close()

    # -- the process ----------------------------------------------------------------------------

    def _spawn(
        self,
        *,
        after: str | None,
        define_callbacks: bool = True,
        started: KernelConnection | None = None,
    ) -> None:
        """Start a kernel process (or set up `started`, one already running) and wait until it
        is ready."""
        assert self.bridge is not None
        assert self.session is not None
        self.incarnations += 1
        since = time.monotonic()
        if started is not None:
            connection = started
            self.incarnations = max(self.incarnations, connection.incarnation)
        else:
            connection = KernelConnection(
                incarnation=self.incarnations,
                actor=self.me,
                config=self.config,
                bridge=self.bridge,
                execution_count=self.execution_count,
                log=self.log,
            )
            connection.start()
        connection.send(
            Setup(
                session=self.session,
                hootenanny_endpoint=self.link.endpoint,
                hootenanny_timeout=self.config.hootenanny_timeout,
                generation_timeout=self.config.generation_timeout,
                generation_request_timeout=self.config.hootenanny_timeout,
                workspace=str(self.config.workspace_dir),
                restored_after=after,
                define_callbacks=define_callbacks,
                snapshot_debounce_s=self.config.snapshot_debounce_s,
                memory_limit=self.config.kernel_memory,
            )
        )
        # ready once the kernel has restored the session's snapshot and defined the first batch
        # of its callbacks: the status request is served only after that
        try:
            connection.outbox.request(lambda i: StatusRequest(id=i)).result(START_TIMEOUT_S)
        except Exception:
            connection.close(reason="it did not get ready", wait=0.0)
            raise
        self.connection = connection
        self.probe.peer = connection.peer
        if self.hub is not None and self._forward_sink is not None:
            self._subscribe()
        self.log.info(
            "kernel_started",
            pid=connection.pid,
            incarnation=connection.incarnation,
            ms=round((time.monotonic() - since) * 1000.0, 1),
            early=started is not None,
            after=after,
        )

    @handles(KernelExited)
    def kernel_exited(self, message: KernelExited) -> None:
        connection = self.connection
        if connection is None or message.incarnation != connection.incarnation:
            return  # an earlier kernel (stopped on purpose) ended
        exit_ = message.exit
        self.connection = None
        output: tuple[str, str] = ("", "")
        with contextlib.suppress(Exception):
            connection.output.wait_eof(0.5)  # the last lines may say why (a fatal error)
            if connection.output.in_cell:
                output = connection.output.end_cell()
        connection.close(reason="it died", wait=0.0)
        self.last_death = exit_
        cause = exit_.cause if connection.overdue is None else connection.overdue
        self.log.warning("kernel_died", pid=exit_.pid, cause=cause)
        died_in = self._fail_pending(
            f"the kernel process died ({cause}); a new kernel was started: Python names "
            "were lost, the session's rules are defined again",
            error_type=KERNEL_DIED,
            output=output,
        )
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths and now - self.deaths[0] > RESTART_WINDOW_S:
            self.deaths.popleft()
        self._record_death(exit_, during_eval=died_in)
        if len(self.deaths) > MAX_RESTARTS:
            self.given_up = (
                f"the kernel died {len(self.deaths)} times within {RESTART_WINDOW_S:g} s (last: "
                f"{cause}); it is not restarted again until weave_reset"
            )
            self.log.error("kernel_given_up", reason=self.given_up)
            self._publish()
            return
        self.restarts += 1
        try:
            self._spawn(after=cause)
        except Exception as exc:  # noqa: BLE001 - evals answer the error until a reset
            self.given_up = f"the kernel died ({cause}) and could not be started again: {exc}"
            self.log.error("kernel_restart_failed", error=str(exc))
        else:
            if not died_in:
                self._notices.append(
                    f"[vibeweaver] the kernel process died between cells ({cause}) and was "
                    "restarted: Python names were lost; the session's rules are defined again\n"
                )
        self._publish()

    def _record_death(self, exit_: KernelExit, *, during_eval: bool) -> None:
        session = self.session
        if session is None:
            return
        at = time.strftime("%H:%M", time.localtime(exit_.at))
        text = f"kernel restarted at {at}: {_plain_cause(exit_)}; Python names were lost"
        with contextlib.suppress(Exception):
            self.store.append_history(
                session.id,
                "kernel_restarted",
                params=exit_.cause,
                result="during a cell" if during_eval else "between cells",
                success=False,
            )
            self.scheduler.tell(scheduler_messages.AddNote(text=text, session_id=session.id))

    def _fail_pending(
        self, text: str, *, error_type: str, output: tuple[str, str] = ("", "")
    ) -> bool:
        """Answer every eval still waiting with an error (the running one, the first, with the
        output it wrote to the kernel's pipes); True if there was one."""
        pending, self.pending = self.pending, {}
        self._track()
        for item in sorted(pending.values(), key=lambda p: p.request_id):
            if self.connection is not None:
                self.connection.unwatch(item)
            if item.reply.done() and not item.reply.exception():
                self._complete(item)  # its reply made it before the end
                continue
            stdout, stderr = output
            output = ("", "")
            outcome = _error_outcome(
                item.execution_count,
                error_type,
                text,
                stdout=stdout,
                stderr=stderr,
                duration_ms=(time.monotonic() - item.started) * 1000.0,
            )
            self.last_outcome = outcome
            if not item.answer.done():
                item.answer.set_result(outcome)
        return bool(pending)

    # -- messages -------------------------------------------------------------------------------

    @handles(m.Evaluate)
    def evaluate(self, message: m.Evaluate) -> Later:
        self.execution_count += 1
        count = self.execution_count
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        connection = self.connection
        if self.given_up is not None or connection is None:
            why = self.given_up or "the kernel process is not running"
            answer.set_result(_error_outcome(count, KERNEL_DIED, why))
            return Later(answer)
        epoch = self.scheduler.stats.published.get("clock_epoch")
        reply = connection.outbox.request(
            lambda i: EvalRequest(
                id=i, code=message.code, timeout_s=message.timeout_s, clock_epoch=epoch
            )
        )
        request_id = next(self._eval_ids)
        after = _AfterReply(answer, take_notifications=message.take_notifications, log=self.log)
        item = PendingEval(
            request_id=request_id,
            code=message.code,
            timeout_s=message.timeout_s,
            reply=reply,
            answer=answer,
            execution_count=count,
            after=after,
        )
        self.pending[request_id] = item
        if len(self.pending) == 1:
            self._arm(item, connection)
        self._track()
        reply.add_done_callback(self._when_replied(request_id, after))
        return Later(answer)

    def _when_replied(
        self, request_id: int, after: _AfterReply
    ) -> Callable[[concurrent.futures.Future[Any]], None]:
        """The channel's thread, when the reply arrives: the history lines the kernel sent before
        it are in the store's mailbox by now (`PortBridge.make_now`); the answer to the cell's
        own line (asked by the bridge, usually in by now) says they are written, else a flush
        asked now writes them. The Notify messages are taken from the scheduler's box at once,
        without waking the scheduler (a rule fired by what the cell asked, `play()` say, has
        posted by now; one that fires later comes with the next eval). The outcome, with what
        the kernel's pipes carried, is built here too when the cell was running (it is not when
        it waited behind another: the actor builds it then); the last of the three answers the
        eval (`_AfterReply`), and only then is the actor told (`EvalDone`), so its bookkeeping
        does not hold the answer up. An answered eval is in the database, and no thread waits
        for anything."""
        me, store, scheduler, box = self.me, self.store_handle, self.scheduler, self.notifications
        bridge = self.bridge

        def replied(reply: concurrent.futures.Future[Any]) -> None:
            if reply.exception() is not None:
                me.tell(EvalDone(request_id=request_id))
                return
            line = None if bridge is None else bridge.take_eval_line()
            if line is not None:
                line.add_done_callback(lambda done: after.flushed(None, done.exception()))
            else:
                store.ask_then(store_messages.Flush(), after.flushed)
            if after.take_notifications:
                if box is not None:
                    after.taken(box.take(), None)
                else:
                    scheduler.ask_then(scheduler_messages.TakeNotifications(), after.taken)
            after.complete_here(reply.result())
            # after the answer's own work: the actor's bookkeeping does not hold it up
            me.tell(EvalDone(request_id=request_id))

        return replied

    def _track(self) -> None:
        """Show the evals handed to the kernel as this actor's work (the admin view, console)."""
        stats = self.context.stats
        if not self.pending:
            stats.in_hand = None
            return
        head = self.pending[min(self.pending)]
        stats.in_hand = ("Evaluate", head.started, len(self.pending))

    def _arm(self, item: PendingEval, connection: KernelConnection) -> None:
        """The head eval runs now: its output is its own, and a kernel that does not answer
        KILL_GRACE_S after the cell's timeout is killed (and restarted)."""
        connection.output.begin_cell()
        item.started = time.monotonic()
        connection.watch(item, item.timeout_s + ESCALATION_S + KILL_GRACE_S)
        notes, self._notices = "".join(self._notices), []
        item.after.arm(connection.output, notes)

    @handles(EvalDone)
    def eval_done(self, message: EvalDone) -> None:
        item = self.pending.pop(message.request_id, None)
        if item is None:
            return  # answered when the kernel died
        if self.connection is not None:
            self.connection.unwatch(item)
        if item.reply.exception() is not None:
            # the channel closed under it: the death (told separately) answers; keep it for that
            self.pending[message.request_id] = item
            return
        self._complete(item)
        connection = self.connection
        if self.pending and connection is not None:
            self._arm(self.pending[min(self.pending)], connection)
        self._track()
        self._publish()

    def _complete(self, item: PendingEval) -> None:
        """A replied eval's effect on this actor's state. Its outcome (with the output its pipes
        carried) was built on the channel's thread as the reply came in, unless the eval was
        not running yet then (queued behind another): then it is built here. It is the answer
        once the store wrote the cell's history (and the notifications are taken): see
        `_AfterReply`."""
        reply = item.reply.result()
        assert isinstance(reply, EvalReply)
        outcome = item.after.outcome
        if outcome is None:
            output = None if self.connection is None else self.connection.output
            outcome = _with_output(reply.outcome, output, item.after.notes)
            item.after.ready(outcome)
        self.session = reply.session
        self.execution_count = max(self.execution_count, outcome.execution_count)
        self.figures["callbacks"] = reply.callbacks
        self.last_outcome = outcome
        self.log.info(
            "eval_finished",
            execution_count=outcome.execution_count,
            status=outcome.status,
            duration_ms=round(outcome.duration_ms, 1),
        )

    @handles(m.RunCallback)
    def run_callback(self, message: m.RunCallback) -> None:
        connection = self.connection
        if connection is None or not connection.send(message):
            self.log.warning("callback_dropped", rule_id=message.rule_id, reason="no kernel")

    @handles(KernelFigures)
    def kernel_figures(self, message: KernelFigures) -> None:
        self.figures.update(message.values)
        self._publish()

    @handles(m.ResetKernel)
    def reset(self, message: m.ResetKernel) -> m.ResetResult:
        """A fresh kernel process (the cell running now was interrupted by the service first)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            # the interrupted cell answers with its own reply, or is killed after the grace
            deadline = time.monotonic() + RESET_WAIT_S
            for item in list(self.pending.values()):
                with contextlib.suppress(Exception):
                    item.reply.result(max(0.0, deadline - time.monotonic()))
            connection.close(reason="weave_reset", wait=SHUTDOWN_WAIT_S)
        self._fail_pending(
            "the code was interrupted before it finished because weave_reset was called",
            error_type="Interrupted",
        )
        assert self.session is not None
        text = "Kernel reset successfully"
        if message.clear_session:
            cleared = self.store.clear_session(self.session.id)
            self.scheduler.ask(
                scheduler_messages.SwitchSession(session_id=self.session.id), timeout=10
            )
            text += (
                f"; session {self.session.name!r} cleared ({cleared.rules} rules, "
                f"{cleared.markers} markers, {cleared.history} history entries)"
            )
        self.given_up = None
        self.deaths.clear()
        self._notices = []
        self._spawn(after=None, define_callbacks=False)
        self._publish()
        return m.ResetResult(reset=True, message=text)

    @handles(m.GetKernelStatus)
    def status(self, message: m.GetKernelStatus) -> Any:
        connection = self.connection
        if connection is None:
            return m.KernelStatus(
                execution_count=self.execution_count, user_names=0, last_outcome=self.last_outcome
            )
        reply = connection.outbox.request(lambda i: StatusRequest(id=i))

        def kernel_status(value: Any) -> m.KernelStatus:
            assert isinstance(value, StatusReply)
            return m.KernelStatus(
                execution_count=value.execution_count,
                user_names=value.user_names,
                last_outcome=self.last_outcome,
            )

        return Later(reply, kernel_status)

    def _publish(self) -> None:
        connection = self.connection
        death = self.last_death
        background = None if connection is None else connection.output.pending_background
        self.publish(
            **{k: v for k, v in self.figures.items() if k not in ("execution_count", "session")},
            execution_count=self.execution_count,
            session=None if self.session is None else self.session.name,
            kernel_pid=None if connection is None else connection.pid,
            kernel_restarts=self.restarts,
            kernel_last_death=None
            if death is None
            else f"{time.strftime('%H:%M:%S', time.localtime(death.at))} {death.cause}",
            kernel_given_up=self.given_up,
            kernel_memory_limit=None
            if self.config.kernel_memory is None
            else format_bytes(self.config.kernel_memory),
            background_output_bytes=0 if background is None else background.total_bytes,
        )


def _error_outcome(
    count: int,
    error_type: str,
    text: str,
    *,
    stdout: str = "",
    stderr: str = "",
    duration_ms: float = 0.0,
) -> EvalOutcome:
    """An eval the kernel did not answer (it died, or the service is stopping), as an error."""
    return EvalOutcome(
        status="error",
        execution_count=count,
        result=None,
        has_expression=False,
        stdout=stdout,
        stderr=stderr,
        error=ErrorInfo(type=error_type, message=text, traceback=f"{error_type}: {text}"),
        duration_ms=duration_ms,
    )


def _with_output(outcome: EvalOutcome, output: KernelOutput | None, notes: str) -> EvalOutcome:
    """A replied cell's outcome with what the kernel's pipes carried while it ran, and before
    its stderr the notes for the agent and the background output since the last cell."""
    stdout, stderr = "", ""
    background = None
    if output is not None:
        with contextlib.suppress(Exception):
            stdout, stderr = output.end_cell()
        background = output.take_background()
    if background is not None:
        # what threads and C libraries of the kernel wrote between cells, kept capped
        text = background.text if background.text.endswith("\n") else background.text + "\n"
        notes += f"[vibeweaver] {background.summary()}:\n{text}"
    return replace(
        outcome,
        stdout=outcome.stdout + stdout,
        stderr=notes + outcome.stderr + stderr,
    )


def _plain_cause(exit_: KernelExit) -> str:
    """The death in words for the summary ("segfault" rather than "signal 11 (SIGSEGV)")."""
    names = {
        "SIGSEGV": "segfault",
        "SIGKILL": "killed",
        "SIGABRT": "aborted",
        "SIGBUS": "bus error",
    }
    if exit_.signal_name in names:
        return f"{names[exit_.signal_name]} ({exit_.cause})"
    return exit_.cause


class _AfterReply:
    """What a replied eval's answer waits for (any threads): the KernelActor's outcome (`ready`),
    the store's flush (`flushed`) and, when asked, the scheduler's notifications (`taken`); the
    last of them answers the eval."""

    __slots__ = (
        "_answer",
        "_lock",
        "_log",
        "_output",
        "_parts",
        "history_error",
        "notes",
        "notifications",
        "outcome",
        "take_notifications",
    )

    def __init__(
        self, answer: concurrent.futures.Future[Any], *, take_notifications: bool, log: Any
    ) -> None:
        self._answer = answer
        self._lock = threading.Lock()
        self._log = log
        self._parts = 3 if take_notifications else 2
        self.take_notifications = take_notifications
        self.outcome: EvalOutcome | None = None
        self.history_error: str | None = None
        self.notifications: tuple[str, ...] = ()
        self.notes = ""
        """The actor's notices for the agent, taken when the cell started running."""
        self._output: KernelOutput | None = None
        """The kernel's pipes, once the cell runs (`arm`); None until then."""

    def arm(self, output: KernelOutput, notes: str) -> None:
        """The actor: the cell runs now; `notes` go before its stderr."""
        with self._lock:
            self.notes = notes
            self._output = output

    def complete_here(self, reply: EvalReply) -> None:
        """The channel's thread, as the reply arrives: build the outcome now if the cell was
        running (armed); otherwise the actor does when it arms and completes it in turn."""
        with self._lock:
            output, self._output = self._output, None
        if output is not None:
            self.ready(_with_output(reply.outcome, output, self.notes))

    def ready(self, outcome: EvalOutcome) -> None:
        self.outcome = outcome
        self._done()

    def flushed(self, _value: Any, error: BaseException | None) -> None:
        if error is not None:
            self.history_error = str(error) or type(error).__name__
        self._done()

    def taken(self, value: Any, error: BaseException | None) -> None:
        # an unavailable scheduler gives none: they stay in history and the summary
        if error is None and isinstance(value, tuple):
            self.notifications = value
        self._done()

    def _done(self) -> None:
        with self._lock:
            self._parts -= 1
            if self._parts:
                return
        outcome = self.outcome
        assert outcome is not None
        if self.history_error is not None:
            # the cell ran: its outcome is the reply; the history waits in the store's batch
            self._log.error("eval_history_not_saved", error=self.history_error)
            outcome = replace(
                outcome,
                stderr=outcome.stderr + "[vibeweaver] the cell ran, but its history is not "
                f"saved yet: {self.history_error}\n",
            )
        if self.notifications:
            outcome = replace(outcome, notifications=self.notifications)
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # a death answered it
            self._answer.set_result(outcome)
