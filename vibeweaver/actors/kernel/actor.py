"""KernelActor: owns the Python namespace and runs cells and rule callbacks in it.

State owned: a `vibeweaver.kernel.Kernel` (the namespace, its eval thread and asyncio loop, the
execution count) and the DSL context bound to that eval thread (current session, the callables of
callback rules). Messages accepted: `Evaluate`, `ResetKernel`, `GetKernelStatus` (asks) and
`RunCallback` (tell, from the RuleScheduler). The actor thread blocks while a cell runs on the eval
thread; the cell is interrupted at its timeout, so the actor is never stuck for longer than that,
and when the system stops, `interrupt` (called from the stopping thread) cuts it short at once.
User errors are results, never actor crashes.

In `setup` (and after a cell switches sessions) the callbacks of the session's callback rules are
queued for re-definition from their stored source in batches (`DefineCallbacks`, told to itself,
so start-up does not grow with the number of rules and evals run in between; a callback that fires
first is defined on the spot); a rule whose source no longer defines cleanly is disabled with the
reason, which the session summary shows. A callback that fails `FAILURE_LIMIT` (3) times in a row
(a success resets the count; `kernel.callback_failures`) is disabled the same way with its last
error; callbacks of it still queued are skipped, the history says so, and the next eval's stderr
starts with a line naming the rule. An internal crash of the actor keeps the Kernel (and so the
user's namespace) for the next incarnation.

Kernel snapshots (SPEC §4.6; the format and its decisions are in `vibeweaver.snapshots`). Python
globals are not persisted; the jobs, the last 100 artifacts and the session's transport clock are:

* Taken when the actor stops normally (in `release`, before the kernel stops; not when a crash
  hands the kernel to the next incarnation), after every eval that changed jobs/artifacts or moved
  the transport (synchronously, before the reply: an acknowledged eval's jobs survive `kill -9`),
  for the session being left when a cell switched sessions, and between evals at most every
  `SNAPSHOT_DEBOUNCE_S` seconds after a change (a broadcast, a job ending), so `kill -9` loses at
  most that window of what happened between evals. A transport move is captured when it is made:
  a DSL move (play/pause/stop/seek/tempo) before the call returns (`DslContext.transport_moved`),
  a rule's move or a state/tempo adopted from hootenanny as soon as the loop is free (the
  scheduler's `TransportMoved` on the hub). Every snapshot is taken on the kernel's loop,
  where LiveState lives, so they never interleave; the actor thread waits for it (at most
  `SNAPSHOT_WAIT_S`). One is ~10 µs of encoding plus a GetClock ask and a store write (~1 ms).
* Restored in `setup` (a fresh kernel) and for the session entered by a switch: jobs with their
  states and artifact ids and the artifacts go into LiveState as its oldest entries; the clock is
  put back paused (or stopped) at the captured position and tempo by `RestoreTransport`, unless
  something already set it in this process. Jobs still running at the snapshot stay pending,
  marked "unknown after restart" in their repr; `_Reconciler` asks hootenanny `jobStatus` for them
  once the link is connected (the gateway starts after this actor), and a `jobStateChanged`
  broadcast settles them too. Running jobs without a job id (hootenanny had not named them) come
  back failed, saying so: nobody can ask about them.
* The store's `jobs` and `artifacts` tables are the durable record of what was made (with space
  and prompt, which a snapshot cannot hold): the `Ledger` writes LiveState's changes to them as
  they happen (batched by the store, flushed before each eval's reply), and a restore merges the
  session's rows with the snapshot (`ledger.merge_restore`).
* An unreadable snapshot is logged, written to the session's history and the scheduler's notes
  (the session summary shows both), and ignored: the start goes on with empty jobs/artifacts, and
  the next snapshot replaces the row.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel import messages as m
from vibeweaver.actors.kernel.ledger import Ledger, MergedRestore, merge_restore
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.dsl import context as dsl_context
from vibeweaver.dsl.live import LiveState
from vibeweaver.errors import VibeweaverError
from vibeweaver.generation import artifact_of
from vibeweaver.kernel import CallbackDefinitionError, CallOutcome, EvalOutcome, Kernel
from vibeweaver.kernel.callback_failures import counts_as_failure, failure_text
from vibeweaver.persistence.disabled_reason import with_disabled_reason
from vibeweaver.persistence.records import (
    ArtifactRecord,
    GenerationJobRecord,
    RuleRecord,
    SessionRecord,
    SnapshotRecord,
)
from vibeweaver.snapshots import SnapshotUnreadable, capture, decode, encode, plan_restore
from vibeweaver.types import RuleId, SessionId
from vibeweaver.wire import tools as wire_tools
from vibeweaver.wire.envelope import ErrorReply
from vibeweaver.wire.errors import NOT_FOUND

HISTORY_CODE_CHARS = 120
CALLBACK_BATCH = 200
"""Stored callbacks defined per `DefineCallbacks` message (one batch is ~20-50 ms of work)."""
STOPPING_REASON = "the service is stopping"
SNAPSHOT_DEBOUNCE_S = 2.0
"""Between evals, a change of jobs/artifacts is snapshotted at most this long after it."""
SNAPSHOT_WAIT_S = 5.0
"""How long the actor waits for the kernel's loop to take (or restore) a snapshot."""
SNAPSHOT_STOP_WAIT_S = 2.0
"""The same when the actor stops (the system's stop must not wait long for a wedged loop)."""
SNAPSHOT_ASK_S = 2.0
"""The GetClock and store asks of one snapshot."""
RECONCILE_TICK_S = 1.0
"""How often restored jobs of unknown outcome are looked at (is the link up, is one due)."""
RECONCILE_REPEAT_S = 5.0
"""How often hootenanny is asked again about a restored job it says is still running."""
RECONCILE_LIMIT_S = 900.0
"""After this long (the default generation timeout) restored jobs are no longer asked about; a
broadcast can still settle them."""

T = TypeVar("T")


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
        self._transport_sink: Callable[[Any], None] = self._transport_moved
        self.extra_ports = dict(extra_ports or {})
        self.store = StoreClient(self.system.handle("store"))
        self.scheduler = self.system.handle("scheduler")
        self.kernel: Kernel | None = None
        self.dsl: dsl_context.DslContext | None = None
        self.last_outcome: EvalOutcome | None = None
        self._keeper: _SnapshotKeeper | None = None
        self._reconciler: _Reconciler | None = None
        self._ledger: Ledger | None = None
        self._undefined: list[tuple[RuleRecord, ...]] = []
        """Batches of stored callbacks still to define, the next one last."""
        self._notices: list[str] = []
        """Lines for the next eval's stderr (a callback rule disabled between cells)."""

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        status = self.scheduler.ask(scheduler_messages.GetSchedulerStatus(), timeout=10)
        session = None
        if status.session_id is not None:
            session = self.store.get_session(status.session_id)
        if session is None:
            session = self.store.start_session(self.config.session)
        kept = self.context.vault.pop("kernel", None)
        kept_dsl = self.context.vault.pop("dsl", None)
        fresh = False
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
            self.dsl.live = LiveState(_loop_of(self.kernel), session=lambda: dsl.session.id)
            self._restore_callbacks()
            fresh = True
        if isinstance(self.dsl.live, LiveState):
            self._setup_snapshots(self.dsl.live, restore=fresh)
        if self.hub is not None and isinstance(self.dsl.live, LiveState):
            # broadcasts update jobs/artifacts between evals, on the eval thread's loop
            self._live_sink = self.dsl.live.on_event
            self.hub.subscribe(f"{self.context.name}:live", self._live_sink)
            # moves by rules and adopted broadcasts: snapshotted on the loop as soon as it is free
            self.hub.subscribe(f"{self.context.name}:transport", self._transport_sink)
        self._publish()

    def interrupt(self, reason: str | None = None) -> None:
        """Cut the running cell or callback short (any thread, never blocks): the system stops,
        or a reset was asked for while it runs.

        Its outcome is status "error" with error type "Interrupted" saying `reason` (by default
        that the service is stopping); messages queued behind it still run (each within its own
        timeout)."""
        kernel = self.kernel
        reason = reason or STOPPING_REASON
        if kernel is not None and kernel.interrupt(reason):
            self.log.info("eval_interrupted", reason=reason)

    def release(self) -> None:
        if self.hub is not None and self._live_sink is not None:
            self.hub.unsubscribe(f"{self.context.name}:live", self._live_sink)
            self._live_sink = None
        if self.hub is not None:
            self.hub.unsubscribe(f"{self.context.name}:transport", self._transport_sink)
        if self._reconciler is not None:
            self._reconciler.close()
        if self._ledger is not None:
            if self.kernel is not None:
                self._write_ledger(wait=SNAPSHOT_STOP_WAIT_S)
            if self.crashed and self.kernel is not None and _running(self.kernel):
                # the kept LiveState's jobs keep their row keys in the next incarnation
                self.context.vault["ledger"] = self._ledger
            else:
                self._ledger.close()
        if self._keeper is not None:
            if not self.crashed and self.kernel is not None:
                # before the kernel (and its loop) stops
                self._keeper.save_now("stop", force=True, wait=SNAPSHOT_STOP_WAIT_S)
            self._keeper.close()
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
            # snapshots written by reason (eval, debounced, session switch, stop) and failures
            snapshots={} if self._keeper is None else dict(self._keeper.counters),
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
        """Queue the session's callbacks for definition in batches (`DefineCallbacks`, told to
        this actor): start-up does not grow with the number of rules, evals run in between, and
        a callback that fires before its batch is defined on the spot (`run_callback`)."""
        dsl = self._dsl
        dsl.callbacks.clear()
        stored = self.store.list_rules(dsl.session.id, enabled_callbacks=True)
        self._undefined = [
            tuple(stored[start : start + CALLBACK_BATCH])
            for start in range(0, len(stored), CALLBACK_BATCH)
        ]
        self._undefined.reverse()  # popped from the end: in creation order
        self._define_next_batch()

    def _define_next_batch(self) -> None:
        """One batch at a time: each asks for the next when it is done, so an eval that arrives
        meanwhile runs after at most one batch, not after all of them."""
        if self._undefined:
            batch = self._undefined.pop()
            self.system.handle(self.context.name).tell(
                m.DefineCallbacks(session_id=self._dsl.session.id, rules=batch)
            )

    @handles(m.DefineCallbacks)
    def define_callbacks(self, message: m.DefineCallbacks) -> None:
        dsl = self._dsl
        if message.session_id != dsl.session.id:
            return  # the session changed since: the new one's batches are queued
        for record in message.rules:
            if RuleId(record.id) in dsl.callbacks:
                continue  # defined when it fired first
            try:
                self._define(record)
            except CallbackDefinitionError as exc:
                self._disable_broken(record, str(exc))
        self._publish()
        self._define_next_batch()

    def _callback_params(self, record: RuleRecord) -> tuple[str, str]:
        params = json.loads(record.action_params)
        return str(params["name"]), str(params["source"])

    def _define(self, record: RuleRecord) -> Callable[..., Any]:
        try:
            name, source = self._callback_params(record)
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackDefinitionError(f"the stored callback is unreadable: {exc}") from None
        fn = self._kernel.define_callback(name, source)
        _mark_rule(fn, record.id)
        self._dsl.callbacks[record.id] = fn
        return fn

    def _disable_broken(self, record: RuleRecord, reason: str) -> None:
        """Keep the rule but disable it, with the reason stored for the session summary."""
        self._disable(record, f"callback no longer defines cleanly: {reason}")

    def _disable(self, record: RuleRecord, reason: str) -> RuleRecord:
        """Disable the rule in the store with `reason` (committed before this returns), tell the
        scheduler, and write it to the rule's session's history."""
        saved = self.store.save_rule(with_disabled_reason(replace(record, enabled=False), reason))
        self.scheduler.tell(scheduler_messages.RuleSaved(rule=saved))
        self.store.append_history(
            record.session_id, "callback_disabled", params=record.id, result=reason, success=False
        )
        self.log.warning("callback_disabled", rule_id=record.id, reason=reason)
        return saved

    def _count_outcome(self, message: m.RunCallback, outcome: CallOutcome) -> None:
        """Count the callback's failure streak; disable its rule at the limit (SPEC §4.3)."""
        failures = self._dsl.callback_failures
        rule_id = RuleId(message.rule_id)
        verdict = counts_as_failure(outcome)
        if verdict is None:
            return
        if not verdict:
            failures.succeeded(rule_id)
            return
        disabled = failures.failed(rule_id, failure_text(outcome) or outcome.status)
        if disabled is None:
            return
        try:
            record = self.store.get_rule(rule_id)
            if record is None or not record.enabled:
                return  # deleted or disabled meanwhile: nothing left to disable
            self._disable(record, disabled.reason)
        except VibeweaverError as exc:  # the disk refuses writes: count again, try again
            failures.forget(rule_id)
            self.log.error("callback_disable_not_saved", rule_id=rule_id, error=str(exc))
            return
        self._notices.append(
            f"[vibeweaver] rule {rule_id} (callback {message.name}) was disabled: "
            f"{disabled.reason}. Fix the cause, then rules().enable({str(rule_id)!r})\n"
        )

    # -- snapshots --------------------------------------------------------------------------------

    def _setup_snapshots(self, live: LiveState, *, restore: bool) -> None:
        assert self.kernel is not None
        loop = _loop_of(self.kernel)
        self._keeper = _SnapshotKeeper(
            live=live,
            dsl=self._dsl,
            store=self.store,
            scheduler=self.scheduler,
            loop=loop,
            log=self.log,
        )
        self._reconciler = _Reconciler(
            live=live, link=self.link, loop=loop, timeout=self.config.hootenanny_timeout
        )
        dsl = self._dsl
        kept = self.context.vault.pop("ledger", None)
        if not restore and isinstance(kept, Ledger) and kept.live is live:
            self._ledger = kept  # a crash kept the kernel: its jobs keep their row keys
        else:
            self._ledger = Ledger(live=live, store=self.store, session=lambda: dsl.session.id)
        live.on_change = _both(self._keeper.changed, self._ledger.changed)
        # (replaces a crashed incarnation's keeper)
        self._keeper.session_id = self._dsl.session.id
        keeper = self._keeper
        # a DSL transport move is snapshotted before the call returns (kill -9 right after)
        dsl.transport_moved = lambda: keeper.save("transport")
        if restore:
            self._restore_snapshot(self._dsl.session, leaving=None)
        else:
            live.post(self._keeper.changed)  # what the crashed incarnation had not saved yet
        self._reconciler.start()  # (a kept LiveState may hold restored jobs to ask about too)

    def _write_ledger(self, *, wait: float) -> None:
        """The ledger's pending rows to the store now, on the kernel's loop (waited for)."""
        ledger = self._ledger
        if ledger is None or self.kernel is None:
            return
        try:
            _on_loop(_loop_of(self.kernel), ledger.write, wait)
        except Exception as exc:  # noqa: BLE001 - the next change writes them
            self.log.warning("ledger_not_written", error=repr(exc))

    def _transport_moved(self, event: Any) -> None:
        """Hub sink (the scheduler's thread): snapshot a moved transport on the kernel's loop."""
        keeper, dsl = self._keeper, self.dsl
        if not isinstance(event, scheduler_messages.TransportMoved) or keeper is None:
            return
        live = None if dsl is None else dsl.live
        if isinstance(live, LiveState) and event.session_id == keeper.session_id:
            live.post(keeper.save, "transport")

    def _switch_snapshots(self, left: SessionRecord) -> None:
        """A cell switched sessions: snapshot the session left, restore the one entered."""
        if self._keeper is None:
            return
        self._keeper.save_now("session switch", session=left, force=True)
        self._restore_snapshot(self._dsl.session, leaving=left.id)
        self._keeper.session_id = self._dsl.session.id
        if self._reconciler is not None:
            self._reconciler.start()

    def _restore_snapshot(self, session: SessionRecord, *, leaving: str | None) -> None:
        """Restore `session`'s last snapshot (jobs, artifacts, transport); see the module
        docstring. On a switch (`leaving`) LiveState is handed over even without a snapshot."""
        live = self._dsl.live
        if not isinstance(live, LiveState) or self.kernel is None:
            return
        record: SnapshotRecord | None = None
        try:
            record = self.store.get_snapshot(session.id)
        except Exception as exc:  # noqa: BLE001 - a start never fails for a snapshot
            self.log.error("snapshot_not_read", session_id=session.id, error=repr(exc))
        plan = None
        if record is not None:
            try:
                plan = plan_restore(decode(record.state_capnp, session_id=session.id))
            except SnapshotUnreadable as exc:
                self._report_unreadable(session, record, str(exc))
        rows: tuple[GenerationJobRecord, ...] = ()
        artifact_rows: tuple[ArtifactRecord, ...] = ()
        try:  # the durable record of what was made, with space and prompt (SPEC §4.6)
            rows = self.store.list_jobs(session.id, live.max_jobs)
            artifact_rows = self.store.list_artifacts(session.id, live.max_artifacts)
        except Exception as exc:  # noqa: BLE001 - a start never fails for a restore
            self.log.error("made_not_read", session_id=session.id, error=repr(exc))
        if plan is None and leaving is None and not rows and not artifact_rows:
            return
        snapshot_jobs = () if plan is None else plan.jobs
        snapshot_artifacts = () if plan is None else plan.artifacts
        ledger = self._ledger

        def restore() -> tuple[Any, MergedRestore]:
            merged = merge_restore(
                snapshot_jobs,
                snapshot_artifacts,
                rows,
                artifact_rows,
                skip=set() if ledger is None else ledger.live_keys(),
                at_start=leaving is None,
            )
            if ledger is not None:
                ledger.adopt(merged.adopted)
            report = live.restore(
                merged.jobs, merged.artifacts, session_id=session.id, leaving=leaving
            )
            return report, merged

        try:
            report, merged = _on_loop(_loop_of(self.kernel), restore, SNAPSHOT_WAIT_S)
        except Exception as exc:  # noqa: BLE001 - a start never fails for a snapshot
            self.log.error("snapshot_restore_failed", session_id=session.id, error=repr(exc))
            return
        if merged.lost:
            self.store.record_made(jobs=merged.lost)
        if plan is None:
            return
        transport = plan.transport
        restored: Any = None
        try:
            restored = self.scheduler.ask(
                scheduler_messages.RestoreTransport(
                    session_id=session.id,
                    state=transport.state,
                    beat=transport.beat,
                    tempo_bpm=transport.tempo_bpm,
                ),
                timeout=10,
            )
        except Exception as exc:  # noqa: BLE001 - the jobs are back even if the clock is not
            self.log.error("transport_restore_failed", session_id=session.id, error=repr(exc))
        self.log.info(
            "snapshot_restored",
            session_id=session.id,
            captured_at=record.captured_at if record is not None else None,
            jobs=report.jobs,
            artifacts=report.artifacts,
            unknown_jobs=len(report.unknown),
            lost_jobs=report.lost,
            transport=f"{transport.state} at beat {transport.beat:g}, {transport.tempo_bpm:g} BPM",
            transport_applied=getattr(restored, "applied", False),
            transport_skipped=getattr(restored, "reason", None),
        )

    def _report_unreadable(
        self, session: SessionRecord, record: SnapshotRecord, error: str
    ) -> None:
        text = (
            f"the kernel snapshot of session {session.name!r} (taken {record.captured_at}) is "
            f"unreadable and was ignored: jobs and artifacts start empty ({error})"
        )
        self.log.error(
            "snapshot_unreadable",
            session_id=session.id,
            captured_at=record.captured_at,
            size=len(record.state_capnp),
            error=error,
        )
        try:
            self._dsl.record(
                "snapshot_unreadable",
                {"captured_at": record.captured_at, "bytes": len(record.state_capnp)},
                f"ignored: {error}",
                success=False,
            )
            self.scheduler.tell(scheduler_messages.AddNote(text=text, session_id=session.id))
        except Exception as exc:  # noqa: BLE001 - reporting must not stop the start
            self.log.error("snapshot_report_failed", error=repr(exc))

    # -- messages ---------------------------------------------------------------------------------

    @handles(m.Evaluate)
    def evaluate(self, message: m.Evaluate) -> EvalOutcome:
        left = self._dsl.session
        outcome = self._kernel.evaluate(message.code, timeout=message.timeout_s)
        if self._notices:
            # what happened between cells comes first: the agent sees it in this reply
            notices, self._notices = "".join(self._notices), []
            outcome = replace(outcome, stderr=notices + outcome.stderr)
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
        if self._dsl.session.id != left.id:
            self._restore_callbacks()  # the cell switched sessions: define the new one's callbacks
            self._switch_snapshots(left)
        # the eval's history (and the DSL actions it recorded) is written before the reply, and so
        # is its snapshot when it changed jobs, artifacts or the transport: an acknowledged eval
        # is in the database even if the process is killed right after
        if self._ledger is not None and self._ledger.dirty:
            self._write_ledger(wait=SNAPSHOT_WAIT_S)  # its rows go out with the flush below
        if self._keeper is not None:
            if self._keeper.changed_since_saved():
                self._keeper.save_now("eval")
            if self._reconciler is not None:
                self._reconciler.ensure()  # (a wedged eval thread was replaced: a new loop)
        try:
            self.store.flush()
        except VibeweaverError as exc:
            # the cell ran: its outcome is the reply; the history waits in the store's batch
            self.log.error("eval_history_not_saved", error=str(exc))
            outcome = replace(
                outcome,
                stderr=outcome.stderr
                + f"[vibeweaver] the cell ran, but its history is not saved yet: {exc}\n",
            )
            self.last_outcome = outcome
        self._publish()
        return outcome

    @handles(m.RunCallback)
    def run_callback(self, message: m.RunCallback) -> None:
        dsl = self._dsl
        rule_id = RuleId(message.rule_id)
        if dsl.callback_failures.is_disabled(rule_id):
            return  # queued before its rule was disabled for failing
        fn = dsl.callbacks.get(rule_id)
        if fn is None:
            try:
                fn = self._kernel.define_callback(message.name, message.source)
            except CallbackDefinitionError as exc:
                record = self.store.get_rule(rule_id)
                if record is not None:
                    self._disable_broken(record, str(exc))
                return
            _mark_rule(fn, rule_id)
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
        self._count_outcome(message, outcome)

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


class _SnapshotKeeper:
    """Takes the kernel's snapshots, always on the kernel's loop (see the module docstring).

    `changed` is LiveState's `on_change` hook (on the loop): it arms one timer per loop, which
    takes a snapshot `SNAPSHOT_DEBOUNCE_S` later. `save_now` (the actor thread) runs `save` on the
    loop and waits. A snapshot is written only when something changed since the last one: the
    session, LiveState's version, or the clock (state, tempo, or the playhead's phase: a seek moves
    it, playing does not). `changed_since_saved` tells that without leaving the actor thread (two
    plain reads: the live version and the scheduler's published `clock_epoch`), so an eval that
    changed nothing costs no snapshot work at all.
    """

    def __init__(
        self,
        *,
        live: LiveState,
        dsl: dsl_context.DslContext,
        store: StoreClient,
        scheduler: Any,
        loop: Callable[[], Any],
        log: Any,
    ) -> None:
        self.live = live
        self.dsl = dsl
        self.store = store
        self.scheduler = scheduler
        self.loop = loop
        self.log = log
        self.closed = False
        self.counters: Counter[str] = Counter()
        self._armed: Any = None
        """The loop a debounce timer is armed on (a replaced loop drops its timers)."""
        self._saved: tuple[str, int, tuple[object, ...]] | None = None
        self._saved_marks: tuple[str, int, object] | None = None
        """(session id, live version, clock epoch) of the last snapshot written."""
        self._clocks: dict[str, scheduler_messages.ClockSnapshot] = {}
        """The last clock read per session (used when the scheduler does not answer)."""
        self.session_id: str | None = None
        """The session whose entries LiveState holds (set by the actor after each restore). A
        cell that switched sessions leaves it behind until the eval ends and the actor hands
        LiveState over; meanwhile no snapshot of the new session is taken (it would overwrite
        that session's stored snapshot with only the entries made since the switch)."""

    def close(self) -> None:
        self.closed = True

    # -- the loop -------------------------------------------------------------------------------

    def changed(self) -> None:
        if self.closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # an update run without a loop (the kernel is stopping): release saves
        if self._armed is loop:
            return
        self._armed = loop
        loop.call_later(SNAPSHOT_DEBOUNCE_S, self._due, loop)

    def _due(self, loop: Any) -> None:
        if self._armed is loop:
            self._armed = None
        if not self.closed:
            self.save("debounced")

    def save(
        self, reason: str, *, session: SessionRecord | None = None, force: bool = False
    ) -> bool:
        """Take and store a snapshot of `session` (default: the current one) if anything changed
        since the last (always with `force`). On the loop; False when nothing was written."""
        session = session or self.dsl.session
        if session.id != self.session_id:
            return False  # mid-switch: the actor saves both sessions when the cell has ended
        started = time.perf_counter()
        epoch = self._epoch()  # read before the clock: a move in between only costs a re-save
        export = self.live.export(session.id)
        clock = self._clock(session.id)
        key = (session.id, export.version, _fingerprint(clock))
        if not force and key == self._saved:
            return False
        state = capture(session, export, clock, captured_at_nanos=time.time_ns())
        body = encode(state)
        try:
            self.store.save_snapshot(session.id, body)
        except Exception as exc:  # noqa: BLE001 - a failed snapshot is retried at the next change
            self.counters["failed"] += 1
            self.log.warning("snapshot_not_saved", reason=reason, error=repr(exc))
            return False
        self._saved = key
        self._saved_marks = (session.id, export.version, epoch)
        self.counters[reason] += 1
        self.log.debug(
            "snapshot_saved",
            reason=reason,
            session_id=session.id,
            jobs=len(state.jobs),
            artifacts=len(state.recent_artifacts),
            transport=state.transport,
            beat=round(state.beat.current, 3),
            size=len(body),
            ms=round((time.perf_counter() - started) * 1000.0, 3),
        )
        return True

    def _clock(self, session_id: str) -> scheduler_messages.ClockSnapshot | None:
        try:
            ask = scheduler_messages.GetClock(session_id=SessionId(session_id))
            clock = self.scheduler.ask(ask, timeout=SNAPSHOT_ASK_S)
        except Exception as exc:  # noqa: BLE001 - fall back to the last clock read
            self.log.warning("snapshot_clock_unread", session_id=session_id, error=repr(exc))
            return self._clocks.get(session_id)
        if isinstance(clock, scheduler_messages.ClockSnapshot):
            self._clocks[session_id] = clock
            return clock
        return self._clocks.get(session_id)

    def _epoch(self) -> object:
        published = getattr(getattr(self.scheduler, "stats", None), "published", None) or {}
        return published.get("clock_epoch")

    # -- the actor thread -----------------------------------------------------------------------

    def changed_since_saved(self) -> bool:
        """Did the current session's jobs, artifacts or clock change since the last snapshot?
        (Any thread: plain reads. True when the scheduler publishes no epoch.)"""
        epoch = self._epoch()
        if epoch is None:
            return True
        return self._saved_marks != (self.dsl.session.id, self.live.version, epoch)

    def save_now(
        self,
        reason: str,
        *,
        session: SessionRecord | None = None,
        force: bool = False,
        wait: float = SNAPSHOT_WAIT_S,
    ) -> bool:
        """`save` on the kernel's loop, waited for (here when the kernel has no loop)."""
        try:
            return _on_loop(
                self.loop, lambda: self.save(reason, session=session, force=force), wait
            )
        except Exception as exc:  # noqa: BLE001 - a snapshot never fails an eval or a stop
            self.counters["failed"] += 1
            self.log.warning("snapshot_not_taken", reason=reason, error=repr(exc))
            return False


def _fingerprint(clock: scheduler_messages.ClockSnapshot | None) -> tuple[object, ...]:
    """What of the clock a snapshot must follow: state, tempo and where the playhead stands (when
    playing: its phase, the beat it would have been at at time 0, which only a move changes)."""
    if clock is None:
        return ()
    beat = clock.anchor_beat
    if clock.state == "playing":
        beat -= clock.anchor_time * clock.tempo_bpm / 60.0
    return (clock.state, round(clock.tempo_bpm, 6), round(beat, 2) if math.isfinite(beat) else 0)


class _Reconciler:
    """Asks hootenanny how restored jobs that were running at the snapshot ended (on the loop).

    Every `RECONCILE_TICK_S` while such jobs exist (and for at most `RECONCILE_LIMIT_S`): when the
    link is connected, a `jobStatus` for each job not asked within `RECONCILE_REPEAT_S`. Complete
    and failed (cancelled counts as failed) settle the job; running keeps it pending with a note;
    `not_found` fails it (hootenanny forgot it, e.g. it restarted too); anything else (not
    connected, a timeout) is asked again later.
    """

    def __init__(
        self, *, live: LiveState, link: HootenannyLink, loop: Callable[[], Any], timeout: float
    ) -> None:
        self.live = live
        self.link = link
        self.loop = loop
        self.timeout = timeout
        self.closed = False
        self.started = time.monotonic()
        self.active = False
        """True from `start` until a look finds no restored job of unknown outcome."""
        self._running_on: Any = None
        self._asked: dict[str, float] = {}
        self._in_flight: set[str] = set()
        self.counters: Counter[str] = Counter()

    def close(self) -> None:
        self.closed = True

    def start(self) -> None:
        """Look for restored jobs of unknown outcome (any thread; after a restore)."""
        self.started = time.monotonic()
        self.active = True
        self.ensure()

    def ensure(self) -> None:
        """Keep looking (any thread): restart the look-up chain if the kernel's loop was replaced
        (a wedged eval thread) while there is something to look for."""
        if self.closed or not self.active:
            return
        try:
            loop = self.loop()
        except RuntimeError:
            return
        if self._running_on is loop:
            return
        self._running_on = loop
        try:
            loop.call_soon_threadsafe(self._check)
        except RuntimeError:  # a closed loop
            self._running_on = None

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        if self.closed or self._running_on is not loop:
            return
        unknown = self.live.restored_unknown()
        if not unknown or time.monotonic() - self.started > RECONCILE_LIMIT_S:
            self._running_on = None
            self.active = False
            return
        if self.link.connected:
            now = time.monotonic()
            for job_id in unknown:
                if job_id in self._in_flight or now - self._asked.get(job_id, -math.inf) < (
                    RECONCILE_REPEAT_S
                ):
                    continue
                self._in_flight.add(job_id)
                self._asked[job_id] = now
                self.counters["asked"] += 1
                self.link.call(
                    wire_tools.JobStatus(job_id=job_id),
                    timeout=self.timeout,
                    callback=self._on_reply(job_id),
                )
        loop.call_later(RECONCILE_TICK_S, self._check)

    def _on_reply(self, job_id: str) -> Callable[[Any], None]:
        """The link callback (the gateway's IO thread, or here): hand the answer to the loop."""

        def on_reply(reply: Any) -> None:
            self.live.post(self._answered, job_id, reply)

        return on_reply

    def _answered(self, job_id: str, reply: Any) -> None:
        """On the loop: what hootenanny said about a restored job."""
        self._in_flight.discard(job_id)
        live = self.live
        if isinstance(reply, wire_tools.JobStatusReply):
            self.counters[f"status_{reply.status}"] += 1
            if reply.status == "complete":
                live.settle_restored(job_id, "complete", artifact_id=artifact_of(reply.result))
            elif reply.status == "failed":
                live.settle_restored(job_id, "failed", error=reply.error or "no reason given")
            elif reply.status == "cancelled":
                live.settle_restored(job_id, "failed", error="cancelled")
            else:
                live.settle_restored(job_id, "running")
        elif isinstance(reply, ErrorReply) and reply.code == NOT_FOUND:
            self.counters["not_found"] += 1
            live.settle_restored(
                job_id,
                "failed",
                error=f"hootenanny no longer knows job {job_id} ({reply.message})",
            )
        else:
            self.counters["unanswered"] += 1  # asked again at the next interval


def _on_loop(loop_of: Callable[[], Any], fn: Callable[[], T], timeout: float) -> T:
    """Run `fn` on the kernel's loop and wait for its result (TimeoutError after `timeout`; the
    call is then dropped if it has not started). Without a loop, run it here: nobody else then
    touches the kernel's state."""
    try:
        loop = loop_of()
    except RuntimeError:
        return fn()
    if loop.is_closed():
        return fn()
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            future.set_exception(exc)

    loop.call_soon_threadsafe(run)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise


def _loop_of(kernel: Kernel) -> Callable[[], Any]:
    """The kernel's current loop, read afresh (a wedged eval thread gets a new one); raises
    RuntimeError when there is none (it never starts a thread from the caller's thread)."""

    def loop() -> Any:
        if kernel.eval_thread is None:
            raise RuntimeError("the kernel has no eval thread")
        return kernel.loop

    return loop


def _mark_rule(fn: Callable[..., Any], rule_id: RuleId) -> None:
    """A callback defined again from its source carries its rule's id, as the decorated function
    did (so `rules().enable(fn)` works after a restart)."""
    with contextlib.suppress(AttributeError):
        fn.rule_id = rule_id  # type: ignore[attr-defined]


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    """One change hook calling two (the snapshot keeper's and the ledger's)."""

    def hook() -> None:
        try:
            first()
        finally:
            second()

    return hook


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
