"""KernelHost: the kernel process's side of the service: the namespace, the DSL and its state.

The service's KernelActor starts one kernel process (`python -m vibeweaver.kernel`) and speaks to
it over the kernel channel (`vibeweaver.channel`). In here:

* the `Kernel` (the namespace on its eval thread and asyncio loop), with the DSL bound to it
  through a `DslContext` whose ports are stand-ins for the service's actors and hootenanny link
  (`vibeweaver.kernel.remote`);
* what the DSL reads locally: LiveState (jobs, artifacts), fed by the service's hub events, and a
  GenerationClient of its own on a local EventHub;
* the session state kept across restarts: snapshots and the reconciler
  (`vibeweaver.kernel.session_keeping`), the ledger of what was made (`vibeweaver.kernel.ledger`);
* the session's callbacks, defined from their stored source in batches between requests, run
  beside a running cell (`Kernel.call_beside`, on a thread of their own, so a cell awaiting
  `sample()` does not freeze the rules), counted, and disabled after failing 3 times in a row.

Threads: the main thread serves requests one at a time (`EvalRequest`, `StatusRequest`,
`Shutdown`, and the callback batches); the channel's IO thread hands messages on (`Interrupt`
interrupts the running cell at once, `Event`s go to the local hub, `RunCallback`s to the
callback thread). The host never exits on its own for a user's error; agent code that kills the
process is the service's to notice.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel import messages as m
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.channel.messages import (
    EvalReply,
    EvalRequest,
    Event,
    Events,
    Interrupt,
    Published,
    Setup,
    Shutdown,
    StackReply,
    StackRequest,
    StatusReply,
    StatusRequest,
)
from vibeweaver.channel.peer import Peer
from vibeweaver.dsl import context as dsl_context
from vibeweaver.dsl.live import LiveState
from vibeweaver.errors import VibeweaverError
from vibeweaver.generation import GenerationClient
from vibeweaver.kernel import CallbackDefinitionError, CallOutcome, EvalOutcome, Kernel
from vibeweaver.kernel.callback_failures import counts_as_failure, failure_text
from vibeweaver.kernel.ledger import Ledger, MergedRestore, merge_restore
from vibeweaver.kernel.remote import KernelStoreClient, RemoteHandle, RemoteLink, SchedulerPort
from vibeweaver.kernel.session_keeping import (
    SNAPSHOT_STOP_WAIT_S,
    SNAPSHOT_WAIT_S,
    Reconciler,
    SnapshotKeeper,
    loop_of,
    on_loop,
)
from vibeweaver.kernel.stack import eval_thread_detail
from vibeweaver.persistence.disabled_reason import with_disabled_reason
from vibeweaver.persistence.records import (
    ArtifactRecord,
    GenerationJobRecord,
    RuleRecord,
    SessionRecord,
    SnapshotRecord,
)
from vibeweaver.snapshots import SnapshotUnreadable, decode, plan_restore
from vibeweaver.types import RuleId, SessionId

log = structlog.get_logger(__name__)

HISTORY_CODE_CHARS = 120
CALLBACK_BATCH = 200
"""Stored callbacks defined per batch (one batch is ~20-50 ms of work), between requests."""
PUBLISH_INTERVAL_S = 1.0
"""How often the callback figures (count, lateness) are sent to the service at most."""
LATENESS_WINDOW = 512


class KernelHost:
    """See the module docstring."""

    def __init__(self, peer: Peer, setup: Setup, *, execution_count: int) -> None:
        self.peer = peer
        self.setup = setup
        self.requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.callbacks_in: queue.SimpleQueue[m.RunCallback | None] = queue.SimpleQueue()
        self.store = KernelStoreClient(RemoteHandle(peer, "store"))
        self.scheduler = SchedulerPort(peer, "scheduler")
        self.link = RemoteLink(peer, setup.hootenanny_endpoint)
        self.hub = EventHub()
        self.generation = GenerationClient(
            self.link,  # type: ignore[arg-type]
            self.hub,
            timeout=setup.generation_timeout,
            request_timeout=setup.generation_request_timeout,
        )
        self.dsl = dsl_context.DslContext(
            store=self.store,
            scheduler=self.scheduler,  # type: ignore[arg-type]
            planner=RemoteHandle(peer, "planner"),  # type: ignore[arg-type]
            link=self.link,  # type: ignore[arg-type]
            session=setup.session,
            hootenanny_timeout=setup.hootenanny_timeout,
            generation=self.generation,
        )
        dsl = self.dsl
        from vibeweaver.dsl import prelude  # the DSL imports actor messages: import it late

        self.kernel = Kernel(
            workspace=Path(setup.workspace) if setup.workspace else None,
            prelude=prelude(),
            on_thread_start=lambda: dsl_context.bind(dsl),
            name="kernel",
            execution_count=execution_count,
        )
        self.live: LiveState | None = None
        self.keeper: SnapshotKeeper | None = None
        self.reconciler: Reconciler | None = None
        self.ledger: Ledger | None = None
        self.last_outcome: EvalOutcome | None = None
        self._next_page: tuple[SessionId, tuple[int, str] | None] | None = None
        """Where the next batch of the session's stored callbacks starts (None: all defined)."""
        self._notices: list[str] = []
        self._notices_lock = threading.Lock()
        self._lateness: deque[float] = deque(maxlen=LATENESS_WINDOW)
        self._callbacks_run = 0
        self._published_at = 0.0
        self._callback_thread = threading.Thread(
            target=self._serve_callbacks, name="kernel-callbacks", daemon=True
        )
        self._stopping = False
        self._builtins = dict(vars(builtins))
        """The interpreter's builtins as the kernel started: a cell that replaces one (say
        `builtins.len`) would break the kernel's own code, so they are put back after it."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.kernel.start()
        dsl = self.dsl
        self.live = LiveState(loop_of(self.kernel), session=lambda: dsl.session.id)
        dsl.live = self.live
        self._setup_snapshots(self.live)
        self.hub.subscribe("live", self.live.on_event)
        self.hub.subscribe("transport", self._transport_moved)
        if self.setup.define_callbacks:
            self._restore_callbacks()
        if self._next_page is not None:
            self._define_next_batch()  # the first batch before any cell: as it was before a restart
        self._callback_thread.start()

    def on_message(self, message: Any) -> None:
        """The channel's IO thread: hand each message to whoever serves it."""
        if isinstance(message, Interrupt):
            self.kernel.interrupt(message.reason)
        elif isinstance(message, Event):
            self._follow((message.event,))
        elif isinstance(message, Events):
            self._follow(message.events)
        elif isinstance(message, m.RunCallback):
            self.callbacks_in.put(message)
        elif isinstance(message, Published):
            self.scheduler.stats.published.update(message.values)
        elif isinstance(message, StackRequest):
            thread = self.kernel.eval_thread
            detail = eval_thread_detail(
                None if thread is None else thread.ident,
                Path(self.setup.workspace) if self.setup.workspace else None,
            )
            self._reply(StackReply(id=message.id, detail=detail))
        else:
            self.requests.put(message)

    def _follow(self, events: tuple[Any, ...]) -> None:
        """Events the service pushed (the channel's thread): the clock to the scheduler's port,
        everything to the local hub (LiveState, the GenerationClient, snapshots)."""
        for event in events:
            if isinstance(event, scheduler_messages.ClockChanged):
                self.scheduler.clock_changed(event)
        if len(events) == 1:
            self.hub.publish(events[0])
        else:
            self.hub.publish_many(events)

    def serve(self) -> None:
        """Serve requests until `Shutdown` (or the channel closes)."""
        while True:
            if self._next_page is not None and not self._stopping:
                try:
                    message = self.requests.get_nowait()
                except queue.Empty:
                    self._define_next_batch()
                    continue
            else:
                try:
                    message = self.requests.get(timeout=1.0)
                except queue.Empty:
                    if self.peer.closed:
                        return
                    continue
            if isinstance(message, Shutdown):
                self._stopping = True
                self.release()
                return
            if isinstance(message, EvalRequest):
                self._reply(self.evaluate(message))
            elif isinstance(message, StatusRequest):
                self._reply(self.status(message))

    def _reply(self, reply: Any) -> None:
        with contextlib.suppress(ConnectionError):
            self.peer.send(reply)

    def release(self) -> None:
        """Save the snapshot and the ledger, stop the kernel (the process exits after)."""
        self.callbacks_in.put(None)
        self.hub.unsubscribe("transport", self._transport_moved)
        if self.reconciler is not None:
            self.reconciler.close()
        if self.ledger is not None:
            self._write_ledger(wait=SNAPSHOT_STOP_WAIT_S)
            self.ledger.close()
        if self.keeper is not None:
            self.keeper.save_now("stop", force=True, wait=SNAPSHOT_STOP_WAIT_S)
            self.keeper.close()
        with contextlib.suppress(Exception):
            self.store.flush()
        self.generation.close()
        self.kernel.stop(timeout=1.0)

    # -- requests -------------------------------------------------------------------------------

    def evaluate(self, message: EvalRequest) -> EvalReply:
        dsl = self.dsl
        left = dsl.session
        self.scheduler.epoch_seen(message.clock_epoch)
        outcome = self.kernel.evaluate(message.code, timeout=message.timeout_s)
        restored = _restore_builtins(self._builtins)
        if restored:
            outcome = replace(
                outcome,
                stderr=outcome.stderr
                + f"[vibeweaver] the cell replaced builtins.{', builtins.'.join(restored)}; "
                "the kernel needs the real ones, so they were put back (bind your own names in "
                "the namespace instead)\n",
            )
        if outcome.error is not None and outcome.error.type == "MemoryError":
            limit = self.setup.memory_limit
            if limit is not None:
                note = f"the kernel's memory limit is {limit / 2**30:g} GiB (--kernel-memory)"
                outcome = replace(
                    outcome,
                    error=replace(
                        outcome.error,
                        message=f"{outcome.error.message} ({note})"
                        if outcome.error.message
                        else note,
                    ),
                )
        notices = self._take_notices()
        if notices:
            # what happened between cells comes first: the agent sees it in this reply
            outcome = replace(outcome, stderr=notices + outcome.stderr)
        self.last_outcome = outcome
        dsl.record(
            "eval", _clip(message.code), _eval_result(outcome), success=outcome.status == "ok"
        )
        if dsl.session.id != left.id:
            self._restore_callbacks()  # the cell switched sessions: define the new one's callbacks
            if self._next_page is not None:
                self._define_next_batch()  # the first batch before the next cell, as at a start
            self._switch_snapshots(left)
        # the eval's history (and the DSL actions it recorded) is written before the service
        # answers (it flushes the store once the kernel's calls before this reply are made), and
        # so is its snapshot when it changed jobs, artifacts or the transport: an acknowledged
        # eval is in the database even if the process is killed right after
        if self.ledger is not None and self.ledger.dirty:
            self._write_ledger(wait=SNAPSHOT_WAIT_S)
        if self.keeper is not None:
            if self.keeper.changed_since_saved():
                self.keeper.save_now("eval")
            if self.reconciler is not None:
                self.reconciler.ensure()  # (a wedged eval thread was replaced: a new loop)
        self._publish()
        return EvalReply(
            id=message.id, outcome=outcome, session=dsl.session, callbacks=len(dsl.callbacks)
        )

    def status(self, message: StatusRequest) -> StatusReply:
        namespace = self.kernel.namespace
        return StatusReply(
            id=message.id,
            execution_count=self.kernel.execution_count,
            user_names=sum(1 for name in namespace if not name.startswith("__")),
            callbacks=len(self.dsl.callbacks),
            last_outcome=self.last_outcome,
        )

    def _take_notices(self) -> str:
        with self._notices_lock:
            notices, self._notices = "".join(self._notices), []
        return notices

    def _publish(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._published_at < PUBLISH_INTERVAL_S:
            return
        self._published_at = now
        late = sorted(self._lateness)
        values: dict[str, Any] = {
            "execution_count": self.kernel.execution_count,
            "session": self.dsl.session.name,
            "callbacks": len(self.dsl.callbacks),
            "callbacks_run": self._callbacks_run,
            "snapshots": {} if self.keeper is None else dict(self.keeper.counters),
        }
        if late:
            values["callback_lateness_ms"] = {
                "p50": round(late[len(late) // 2] * 1000.0, 2),
                "p99": round(late[min(len(late) - 1, int(len(late) * 0.99))] * 1000.0, 2),
                "max": round(late[-1] * 1000.0, 2),
                "n": len(late),
            }
        self._reply(Published(values=values))

    # -- callbacks stored as source -------------------------------------------------------------

    def _restore_callbacks(self) -> None:
        """Define the session's stored callbacks in batches between requests, each batch read
        as a page of the store (in creation order): start-up does not grow with the number of
        rules, and a callback that fires before its batch is defined on the spot."""
        self.dsl.callbacks.clear()
        self._next_page = (self.dsl.session.id, None)

    def _define_next_batch(self) -> None:
        dsl = self.dsl
        page, self._next_page = self._next_page, None
        if page is None or page[0] != dsl.session.id:
            return
        try:
            batch = self.store.list_rules(
                page[0], enabled_callbacks=True, after=page[1], limit=CALLBACK_BATCH
            )
        except Exception as exc:  # noqa: BLE001 - they are defined when they fire instead
            log.warning("callbacks_not_listed", session_id=page[0], error=repr(exc))
            return
        if len(batch) == CALLBACK_BATCH:
            self._next_page = (page[0], (batch[-1].seq, batch[-1].id))
        for record in batch:
            if record.session_id != dsl.session.id or RuleId(record.id) in dsl.callbacks:
                continue  # defined when it fired first, or the session changed since
            try:
                self._define(record)
            except CallbackDefinitionError as exc:
                self._disable_broken(record, str(exc))
        self._publish()

    def _define(self, record: RuleRecord) -> Callable[..., Any]:
        try:
            params = json.loads(record.action_params)
            name, source = str(params["name"]), str(params["source"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackDefinitionError(f"the stored callback is unreadable: {exc}") from None
        fn = self.kernel.define_callback(name, source)
        _mark_rule(fn, record.id)
        self.dsl.callbacks[record.id] = fn
        return fn

    def _disable_broken(self, record: RuleRecord, reason: str) -> None:
        self._disable(record, f"callback no longer defines cleanly: {reason}")

    def _disable(self, record: RuleRecord, reason: str) -> RuleRecord:
        """Disable the rule in the store with `reason` and write it to the rule's session's
        history (both committed before this returns), then tell the scheduler.

        The history line is told first: the store writes its batch before the rule, so whoever
        sees the rule disabled finds the line too. If the rule cannot be saved, a second line says
        so (the caller counts the failures again and retries)."""
        self.store.append_history(
            record.session_id, "callback_disabled", params=record.id, result=reason, success=False
        )
        try:
            saved = self.store.save_rule(
                with_disabled_reason(replace(record, enabled=False), reason)
            )
        except VibeweaverError as exc:
            self.store.append_history(
                record.session_id,
                "callback_disable_not_saved",
                params=record.id,
                result=str(exc),
                success=False,
            )
            raise
        self.scheduler.tell(scheduler_messages.RuleSaved(rule=saved))
        log.warning("callback_disabled", rule_id=record.id, reason=reason)
        return saved

    def _serve_callbacks(self) -> None:
        """The callback thread: one callback at a time, each beside whatever cell runs."""
        while True:
            message = self.callbacks_in.get()
            if message is None:
                return
            try:
                self.run_callback(message)
            except Exception as exc:  # noqa: BLE001 - one callback never stops the others
                log.error("callback_run_failed", rule_id=message.rule_id, error=repr(exc))
            self._publish()

    def run_callback(self, message: m.RunCallback) -> None:
        dsl = self.dsl
        rule_id = RuleId(message.rule_id)
        if dsl.callback_failures.is_disabled(rule_id):
            return  # queued before its rule was disabled for failing
        fn = dsl.callbacks.get(rule_id)
        if fn is None:
            try:
                fn = self.kernel.define_callback(message.name, message.source)
            except CallbackDefinitionError as exc:
                record = self.store.get_rule(rule_id)
                if record is not None:
                    self._disable_broken(record, str(exc))
                return
            _mark_rule(fn, rule_id)
            dsl.callbacks[rule_id] = fn
        self._lateness.append(max(0.0, time.monotonic() - message.sent_at))
        self._callbacks_run += 1
        outcome = self.kernel.call_beside(fn, *message.args, timeout=message.timeout_s)
        if outcome.status != "ok":
            error = outcome.error
            text = f"{error.type}: {error.message}" if error else outcome.status
            dsl.record(f"callback {message.name}", list(message.args), text, success=False)
            log.warning("callback_failed", rule_id=message.rule_id, error=text)
        elif outcome.stdout or outcome.stderr:
            dsl.record(
                f"callback {message.name}",
                list(message.args),
                _clip(outcome.stdout + outcome.stderr),
            )
        self._count_outcome(message, outcome)

    def _count_outcome(self, message: m.RunCallback, outcome: CallOutcome) -> None:
        """Count the callback's failure streak; disable its rule at the limit (SPEC §4.3)."""
        failures = self.dsl.callback_failures
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
            log.error("callback_disable_not_saved", rule_id=rule_id, error=str(exc))
            return
        with self._notices_lock:
            self._notices.append(
                f"[vibeweaver] rule {rule_id} (callback {message.name}) was disabled: "
                f"{disabled.reason}. Fix the cause, then rules().enable({str(rule_id)!r})\n"
            )

    # -- snapshots ------------------------------------------------------------------------------

    def _setup_snapshots(self, live: LiveState) -> None:
        loop = loop_of(self.kernel)
        dsl = self.dsl
        self.keeper = SnapshotKeeper(
            live=live,
            dsl=dsl,
            store=self.store,
            scheduler=self.scheduler,
            loop=loop,
            log=log,
            debounce_s=self.setup.snapshot_debounce_s,
        )
        self.reconciler = Reconciler(
            live=live, link=self.link, loop=loop, timeout=self.setup.hootenanny_timeout
        )
        self.ledger = Ledger(live=live, store=self.store, session=lambda: dsl.session.id)
        live.on_change = _both(self.keeper.changed, self.ledger.changed)
        self.keeper.session_id = dsl.session.id
        keeper = self.keeper
        # a DSL transport move is snapshotted before the call returns (kill -9 right after)
        dsl.transport_moved = lambda: keeper.save("transport")
        self._restore_snapshot(dsl.session, leaving=None)
        self.reconciler.start()

    def _write_ledger(self, *, wait: float) -> None:
        ledger = self.ledger
        if ledger is None:
            return
        try:
            on_loop(loop_of(self.kernel), ledger.write, wait)
        except Exception as exc:  # noqa: BLE001 - the next change writes them
            log.warning("ledger_not_written", error=repr(exc))

    def _transport_moved(self, event: Any) -> None:
        """Hub sink: snapshot a moved transport on the kernel's loop."""
        keeper, live = self.keeper, self.live
        if not isinstance(event, scheduler_messages.TransportMoved) or keeper is None:
            return
        if live is not None and event.session_id == keeper.session_id:
            live.post(keeper.save_soon, "transport")

    def _switch_snapshots(self, left: SessionRecord) -> None:
        """A cell switched sessions: snapshot the session left, restore the one entered."""
        if self.keeper is None:
            return
        self.keeper.save_now("session switch", session=left, force=True)
        self._restore_snapshot(self.dsl.session, leaving=left.id)
        self.keeper.session_id = self.dsl.session.id
        if self.reconciler is not None:
            self.reconciler.start()

    def _restore_snapshot(self, session: SessionRecord, *, leaving: str | None) -> None:
        """Restore `session`'s last snapshot (jobs, artifacts, transport) merged with the rows
        of what was made; on a switch (`leaving`) LiveState is handed over even without one."""
        live = self.live
        if live is None:
            return
        record: SnapshotRecord | None = None
        try:
            record = self.store.get_snapshot(session.id)
        except Exception as exc:  # noqa: BLE001 - a start never fails for a snapshot
            log.error("snapshot_not_read", session_id=session.id, error=repr(exc))
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
            log.error("made_not_read", session_id=session.id, error=repr(exc))
        if plan is None and leaving is None and not rows and not artifact_rows:
            return
        snapshot_jobs = () if plan is None else plan.jobs
        snapshot_artifacts = () if plan is None else plan.artifacts
        ledger = self.ledger

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
            report, merged = on_loop(loop_of(self.kernel), restore, SNAPSHOT_WAIT_S)
        except Exception as exc:  # noqa: BLE001 - a start never fails for a snapshot
            log.error("snapshot_restore_failed", session_id=session.id, error=repr(exc))
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
            log.error("transport_restore_failed", session_id=session.id, error=repr(exc))
        log.info(
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
        log.error(
            "snapshot_unreadable",
            session_id=session.id,
            captured_at=record.captured_at,
            size=len(record.state_capnp),
            error=error,
        )
        try:
            self.dsl.record(
                "snapshot_unreadable",
                {"captured_at": record.captured_at, "bytes": len(record.state_capnp)},
                f"ignored: {error}",
                success=False,
            )
            self.scheduler.tell(scheduler_messages.AddNote(text=text, session_id=session.id))
        except Exception as exc:  # noqa: BLE001 - reporting must not stop the start
            log.error("snapshot_report_failed", error=repr(exc))


def _restore_builtins(original: dict[str, Any]) -> list[str]:
    """Put back the builtins a cell replaced or deleted; their names."""
    table = vars(builtins)
    changed = [name for name, value in original.items() if table.get(name, _GONE) is not value]
    for name in changed:
        setattr(builtins, name, original[name])
    return changed


_GONE = object()


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


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= HISTORY_CODE_CHARS else text[: HISTORY_CODE_CHARS - 1] + "…"


def _eval_result(outcome: EvalOutcome) -> str:
    if outcome.status == "ok":
        return outcome.result if outcome.result is not None else "ok"
    if outcome.error is not None:
        return f"{outcome.error.type}: {outcome.error.message}"
    return outcome.status
