"""Keeping the kernel's session state across restarts: snapshots and the reconciler.

`SnapshotKeeper` takes the kernel's snapshots (jobs, the last artifacts, the session's transport
clock; the format is in `vibeweaver.snapshots`), always on the kernel's loop where LiveState
lives, and writes them in order on a thread of its own. `Reconciler` asks hootenanny how restored
jobs that were running at the snapshot ended. Both run in the kernel process and reach the service
through the DSL's ports; the KernelHost (`vibeweaver.kernel.host`) decides when to save and what
to restore.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.actors.store import StoreClient
from vibeweaver.dsl import context as dsl_context
from vibeweaver.dsl.live import LiveState
from vibeweaver.generation import artifact_of
from vibeweaver.kernel import Kernel
from vibeweaver.persistence.records import SessionRecord
from vibeweaver.snapshots import capture, encode
from vibeweaver.types import SessionId
from vibeweaver.wire import tools as wire_tools
from vibeweaver.wire.envelope import ErrorReply
from vibeweaver.wire.errors import NOT_FOUND

SNAPSHOT_DEBOUNCE_S = 2.0
"""Between evals, a change of jobs/artifacts is snapshotted at most this long after it."""
SNAPSHOT_WAIT_S = 5.0
"""How long the host waits for the kernel's loop to take (or restore) a snapshot."""
SNAPSHOT_STOP_WAIT_S = 2.0
"""The same when the kernel stops (a stop must not wait long for a wedged loop)."""
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


class SnapshotKeeper:
    """Takes the kernel's snapshots, always on the kernel's loop (see the module docstring).

    Taking one is quick (LiveState's export, the clock the kernel keeps); writing it is a round
    trip to the service's store and a commit, so writes go to the keeper's writer thread, one at a
    time, in the order taken. `save_soon` (a debounced change, a move made by a rule or by
    hootenanny) does not wait for its write: the loop stays free for callbacks. `save` (a move
    the cell made: `play()` returns once it is stored) waits on the loop, and `save_now` (the
    actor thread, at the end of an eval or a stop) waits for it from outside.

    `changed` is LiveState's `on_change` hook (on the loop): it arms one timer per loop, which
    takes a snapshot `SNAPSHOT_DEBOUNCE_S` later. A snapshot is written only when something changed
    since the last one: the session, LiveState's version, or the clock (state, tempo, or the
    playhead's phase: a seek moves it, playing does not). `changed_since_saved` tells that without
    leaving the actor thread (two plain reads: the live version and the scheduler's published
    `clock_epoch`), so an eval that changed nothing costs no snapshot work at all.
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
        debounce_s: float = SNAPSHOT_DEBOUNCE_S,
    ) -> None:
        self.debounce_s = debounce_s
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
        self._writer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="snapshot-writer"
        )
        self._clocks: dict[str, scheduler_messages.ClockSnapshot] = {}
        """The last clock read per session (used when the scheduler does not answer)."""
        self.session_id: str | None = None
        """The session whose entries LiveState holds (set by the actor after each restore). A
        cell that switched sessions leaves it behind until the eval ends and the actor hands
        LiveState over; meanwhile no snapshot of the new session is taken (it would overwrite
        that session's stored snapshot with only the entries made since the switch)."""

    def close(self) -> None:
        """No more snapshots; a write already handed to the writer still happens."""
        self.closed = True
        self._writer.shutdown(wait=False)

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
        loop.call_later(self.debounce_s, self._due, loop)

    def _due(self, loop: Any) -> None:
        if self._armed is loop:
            self._armed = None
        if not self.closed:
            self.save_soon("debounced")

    def save(
        self, reason: str, *, session: SessionRecord | None = None, force: bool = False
    ) -> bool:
        """`save_soon`, waiting for the write (on the loop); False when nothing was written."""
        write = self.save_soon(reason, session=session, force=force)
        return False if write is None else write.result()

    def save_soon(
        self, reason: str, *, session: SessionRecord | None = None, force: bool = False
    ) -> concurrent.futures.Future[bool] | None:
        """Take a snapshot of `session` (default: the current one) if anything changed since the
        last (always with `force`), and hand its write to the writer thread. On the loop; the
        write's future (True once stored), or None when there was nothing to write."""
        session = session or self.dsl.session
        if session.id != self.session_id or self.closed:
            return None  # mid-switch: the actor saves both sessions when the cell has ended
        started = time.perf_counter()
        epoch = self._epoch()  # read before the clock: a move in between only costs a re-save
        export = self.live.export(session.id)
        clock = self._clock(session.id)
        key = (session.id, export.version, _fingerprint(clock))
        if not force and key == self._saved:
            return None
        state = capture(session, export, clock, captured_at_nanos=time.time_ns())
        marks = (session.id, export.version, epoch)
        try:
            return self._writer.submit(self._write, reason, state, key, marks, started)
        except RuntimeError:  # closed meanwhile
            return None

    def _write(
        self,
        reason: str,
        state: Any,
        key: tuple[str, int, tuple[object, ...]],
        marks: tuple[str, int, object],
        started: float,
    ) -> bool:
        """The writer thread: store one snapshot."""
        body = encode(state)
        try:
            self.store.save_snapshot(SessionId(key[0]), body)
        except Exception as exc:  # noqa: BLE001 - a failed snapshot is retried at the next change
            self.counters["failed"] += 1
            self.log.warning("snapshot_not_saved", reason=reason, error=repr(exc))
            return False
        self._saved = key
        self._saved_marks = marks
        self.counters[reason] += 1
        self.log.debug(
            "snapshot_saved",
            reason=reason,
            session_id=key[0],
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
        """`save_soon` on the kernel's loop (here when the kernel has no loop), and its write
        waited for from here: the loop is not held while the snapshot is stored."""
        started = time.monotonic()
        try:
            write = on_loop(
                self.loop, lambda: self.save_soon(reason, session=session, force=force), wait
            )
            if write is None:
                return False
            return write.result(max(0.0, wait - (time.monotonic() - started)))
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


class Reconciler:
    """Asks hootenanny how restored jobs that were running at the snapshot ended (on the loop).

    Every `RECONCILE_TICK_S` while such jobs exist (and for at most `RECONCILE_LIMIT_S`): when the
    link is connected, a `jobStatus` for each job not asked within `RECONCILE_REPEAT_S`. Complete
    and failed (cancelled counts as failed) settle the job; running keeps it pending with a note;
    `not_found` fails it (hootenanny forgot it, e.g. it restarted too); anything else (not
    connected, a timeout) is asked again later.
    """

    def __init__(
        self, *, live: LiveState, link: Any, loop: Callable[[], Any], timeout: float
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


def on_loop(loop_of: Callable[[], Any], fn: Callable[[], T], timeout: float) -> T:
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


def loop_of(kernel: Kernel) -> Callable[[], Any]:
    """The kernel's current loop, read afresh (a wedged eval thread gets a new one); raises
    RuntimeError when there is none (it never starts a thread from the caller's thread)."""

    def loop() -> Any:
        if kernel.eval_thread is None:
            raise RuntimeError("the kernel has no eval thread")
        return kernel.loop

    return loop
