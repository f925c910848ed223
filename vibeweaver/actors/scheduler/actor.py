"""RuleScheduler: the current session's rules and its logical transport clock (SPEC 4.3, 4.4).

State owned:

* the current session, its rules in a `RuleIndex` (bucketed by trigger type, priority order, ties
  by creation order) and its markers, re-read from the store in `setup` and on `SwitchSession`;
* one logical clock per session seen (a `BeatTracker`: anchor + exactly-once beat cursor), moved by
  `MoveTransport` (the DSL's play/pause/stop/seek/tempo) and by rule actions, re-anchored by the
  hub's `transportStateChanged`/`beatTick`, and put where a kernel snapshot left it by
  `RestoreTransport` (only while nothing has moved it in this process);
* the lateness of beat firings (p50/p99 over a window) and the notes the session summary shows
  (Notify messages, deadline reports, unreadable rules), both per session: another session's
  never show in a summary, and a note that stopped being true (an at-risk latent that finished on
  time) is removed (`notes.SessionNotes`).

Threads: the actor's own thread does everything; a `WakeTimer` thread sleeps until the next due
beat (or local marker) of the enabled rules and tells `Tick`; the hub sink (on the gateway's IO
thread) tells `HubEvent`; generation and tool-call callbacks tell `ActionDone`. The scheduler asks
only the store (which never asks back) and only tells the kernel and the planner, which both ask
the scheduler.

Firing: every handler first catches the clock up to "now" and fires what became due, so a rule
added, changed or deleted at t only sees events after t. Rules matching one event run critical →
idle, ties in creation order. One-shot rules leave the index at once and are deleted in the store
(batched with the fired_count/last_fired_at writes). Transport moves made by rule actions can make
more events due at the same instant (a seek landing on a beat); those run in the same handler, but
within one instant each rule fires at most once, so `@on_beat(16) → seek(0)` loops instead of
spinning on beat 0.

Deadline rules are not fired here: pending ones (enabled, never fired, a Sample or
SampleAndSchedule action) are handed to the DeadlinePlanner, which decides when their generation
starts and reports back with `LatentFinished`; the rule then counts as fired.

Parts (plain code this actor owns and calls): `session_clock` (a session's clock and marker pass,
transport validation), `events` (the hub sink, broadcasts as rule events, callback arguments),
`actions` (callbacks, generations, regions, auditions and transport forwarding), `lateness`, and
the wake `timer`.

Crash: the clocks, lateness and notes are handed to the next incarnation through the vault (they
are not in the store); the rules and markers are re-read from the store.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.planner import messages as pm
from vibeweaver.actors.scheduler import events
from vibeweaver.actors.scheduler import messages as m
from vibeweaver.actors.scheduler.actions import (
    DEFAULT_REGION_BEATS,
    ActionFailed,
    Actions,
    call_label,
)
from vibeweaver.actors.scheduler.events import HUB_SUBSCRIBER
from vibeweaver.actors.scheduler.lateness import LatenessRecorder
from vibeweaver.actors.scheduler.markers import MarkerTable
from vibeweaver.actors.scheduler.notes import SessionNotes, latent_note_key
from vibeweaver.actors.scheduler.notifications import NotificationBox
from vibeweaver.actors.scheduler.ports import GenerationPort
from vibeweaver.actors.scheduler.session_clock import (
    Item,
    SessionClock,
    TransportError,
    check_move,
    check_restore,
)
from vibeweaver.actors.scheduler.timer import ThreadWakeTimer, TimerFactory, WakeTimer
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.errors import StoreError
from vibeweaver.scheduling.rule_index import RuleIndex
from vibeweaver.scheduling.rules import (
    AuditionAction,
    BeatCrossed,
    CallbackAction,
    DeadlineTrigger,
    Event,
    MarkerHit,
    NotifyAction,
    PauseAction,
    PlayAction,
    Rule,
    RuleRecordError,
    SampleAction,
    SampleAndScheduleAction,
    ScheduleAction,
    SeekAction,
    StopAction,
    describe_rule,
    rule_from_record,
)
from vibeweaver.types import RuleId, SessionId, TransportState, TriggerType
from vibeweaver.wire.broadcasts import BeatTick, TransportStateChanged

__all__ = [
    "CALLBACK_TIMEOUT_S",
    "DEFAULT_REGION_BEATS",
    "HUB_SUBSCRIBER",
    "MAX_CASCADE_EVENTS",
    "MAX_NOTES",
    "RuleScheduler",
    "TransportError",
]

CALLBACK_TIMEOUT_S = 5.0
"""How long a callback rule may run in the kernel."""
MAX_NOTES = 20
"""Notifications kept for the session summary (newest last)."""
PUBLISH_INTERVAL_S = 0.1
"""Stats other than the clock's epoch are published at most this often (see `_publish`)."""
LOAD_BATCH = 2000
"""Stored rules indexed per `LoadRules` message (~50 ms of parsing)."""
MAX_CASCADE_EVENTS = 256
"""Events one handler may process; a rule set that keeps moving the transport is stopped there."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Kept:
    """What a crashed incarnation hands to the next through the vault."""

    session_id: SessionId | None
    clocks: dict[SessionId, SessionClock]
    lateness: dict[SessionId, LatenessRecorder]
    notes: SessionNotes


class RuleScheduler(WeaverActor):
    """Owns the session's rules and clock; see the module docstring."""

    def __init__(
        self,
        context: ActorContext,
        *,
        config: Config,
        hub: EventHub | None = None,
        link: HootenannyLink | None = None,
        generation: GenerationPort | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        timer_factory: TimerFactory = ThreadWakeTimer,
        kernel: str = "kernel",
        planner: str = "planner",
        callback_timeout_s: float = CALLBACK_TIMEOUT_S,
        notifications: NotificationBox | None = None,
    ) -> None:
        super().__init__(context)
        self.config = config
        self.hub = hub
        self.clock = clock
        self.wall_clock = wall_clock
        self._timer_factory = timer_factory
        self.store = StoreClient(self.system.handle("store"))
        self.kernel = self.system.handle(kernel)
        self.planner = self.system.handle(planner)
        self.me = self.system.handle(context.name)
        self.actions = Actions(
            reply_to=self.me,
            kernel=self.kernel,
            generation=generation,
            link=link,
            timeout_s=config.hootenanny_timeout,
            callback_timeout_s=callback_timeout_s,
            log=self.log,
        )
        self.session_id: SessionId | None = None
        self.session_name: str | None = None
        self.index = RuleIndex()
        self.markers = MarkerTable()
        self.clocks: dict[SessionId, SessionClock] = {}
        self.lateness = LatenessRecorder()
        """The current session's (each session has its own, in `_lateness`)."""
        self._lateness: dict[SessionId, LatenessRecorder] = {}
        self.notes = SessionNotes(MAX_NOTES)
        self.notifications = notifications if notifications is not None else NotificationBox()
        """Notify messages not yet carried by a weave_eval result (the newest kept)."""
        self.timer: WakeTimer | None = None
        self._sink: Callable[[Any], None] | None = None
        self._unsupported_reported: set[RuleId] = set()
        self._loaded = False
        self._loading = False
        """True while the session's stored rules are being indexed, page by page."""
        self._load_after: tuple[int, str] | None = None
        """Where the next page starts: after the rule with this (seq, id) (None: the first)."""
        self._held: list[Item] = []
        """Events that came while rules were still loading: fired, late not lost, once loaded."""
        self._not_to_load: set[RuleId] = set()
        """Rules deleted while their batch was still waiting."""
        """True once this incarnation loaded a session (so `session_id`'s rules are indexed)."""
        self._clock_print: tuple[object, ...] = ()
        self._clock_epoch = 0
        self._published_at = -math.inf
        self._published_epoch: tuple[int, int] | None = None
        self._publish_pending = False

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        kept = self.context.vault.pop("kept", None)
        session_id: SessionId | None = None
        if isinstance(kept, _Kept):
            self.clocks = kept.clocks
            self._lateness = kept.lateness
            self.notes = kept.notes
            session_id = kept.session_id
        if session_id is None or self.store.get_session(session_id) is None:
            session_id = self.store.start_session(self.config.session).id
        self.timer = self._timer_factory(f"{self.context.name}-timer", self.clock, self._knock)
        self.timer.start()
        self._load(session_id)
        if self.hub is not None:
            self._sink = events.make_sink(self.me, self.clock)
            self.hub.subscribe(HUB_SUBSCRIBER, self._sink)

    def release(self) -> None:
        # After a crash the sink stays: it only tells the stable handle, so broadcasts arriving
        # during the restart wait in the mailbox; the next incarnation's sink replaces it.
        if self.hub is not None and self._sink is not None and not self.crashed:
            self.hub.unsubscribe(HUB_SUBSCRIBER, self._sink)
        if self.timer is not None:
            self.timer.stop()
        if self.crashed:
            self.context.vault["kept"] = _Kept(
                session_id=self.session_id,
                clocks=self.clocks,
                lateness=self._lateness,
                notes=self.notes,
            )

    def _knock(self) -> None:
        """The timer's callback (timer thread): only a tell."""
        if self.me.accepting:  # not while stopping: a late knock would only be a dead letter
            self.me.tell(m.Tick())

    # -- loading ----------------------------------------------------------------------------------

    def _load(self, session_id: SessionId) -> None:
        """(Re-)read the session's rules and markers; the session's clock is kept if known."""
        session = self.store.get_session(session_id)
        if session is None:
            raise StoreError(f"no session with id {session_id!r}")
        now = self.clock()
        previous = self.session_id if self._loaded else None
        if previous is not None:
            self._run(self._catch_up(now), now)  # fire what is due under the old rules first
        self._held = []  # events of the session left, held while its rules loaded: dropped
        self.session_id = session.id
        self.session_name = session.name
        self.notifications.switch(session.id)
        self.lateness = self._lateness.setdefault(session.id, LatenessRecorder())
        self._loading, self._load_after = True, None
        self._not_to_load = set()
        self.index = RuleIndex()
        self._load_markers()
        missed: list[Item] = []
        if session.id not in self.clocks:
            self.clocks[session.id] = SessionClock.new(session.tempo_bpm or 120.0, now)
        elif not self._loaded:
            # A restarted incarnation: what passed during the restart fires now (late, not lost).
            missed = self._catch_up(now)
        elif previous != session.id:
            self._catch_up(now)  # beats passed while another session was current do not fire
        self._loaded = True
        self._index_next_batch()  # the first batch now; the others as LoadRules messages
        self._run(missed, now)
        self._after(now)

    def _index_next_batch(self) -> None:
        """Index one page of stored rules; ask for the next, or finish the load: run the events
        held meanwhile (late, not lost) and hand the deadline rules to the planner."""
        assert self.session_id is not None
        if not self._loading:
            return
        records = self.store.list_rules(self.session_id, after=self._load_after, limit=LOAD_BATCH)
        self._loading = len(records) == LOAD_BATCH
        if records:
            self._load_after = (records[-1].seq, records[-1].id)
        for record in records:
            rule_id = RuleId(record.id)
            if rule_id in self.index or rule_id in self._not_to_load:
                continue  # saved again (newer) or deleted while the batch waited
            try:
                self.index.add(rule_from_record(record))
            except (RuleRecordError, ValueError) as exc:
                self._note(f"rule {record.id} cannot be read and does not fire: {exc}")
                self.log.warning("rule_unreadable", rule_id=record.id, error=str(exc))
        if self._loading:
            self.me.tell(m.LoadRules(session_id=self.session_id))
            return
        now = self.clock()
        held, self._held = self._held, []
        self._run(held, now)
        self.log.info("rules_loaded", session_id=self.session_id, rules=len(self.index))
        self._sync_planner(now)

    @handles(m.LoadRules)
    def load_rules(self, message: m.LoadRules) -> None:
        if message.session_id != self.session_id:
            return  # a batch of a session left meanwhile
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._index_next_batch()
        self._after(now)

    def _load_markers(self) -> None:
        assert self.session_id is not None
        self.markers = MarkerTable(
            (record.beat, record.name) for record in self.store.list_markers(self.session_id)
        )

    @property
    def _sc(self) -> SessionClock:
        assert self.session_id is not None, "scheduler used before setup"
        return self.clocks[self.session_id]

    # -- messages: rules and session --------------------------------------------------------------

    @handles(m.SwitchSession)
    def switch_session(self, message: m.SwitchSession) -> None:
        # own it before running its rules: on PostgreSQL another process may (StoreError naming it)
        self.store.claim_session(message.session_id)
        self._load(message.session_id)

    @handles(m.MarkersChanged)
    def markers_changed(self, message: m.MarkersChanged) -> None:
        if message.session_id != self.session_id:
            return
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._load_markers()
        self._after(now)

    @handles(m.MarkerPlaced)
    def marker_placed(self, message: m.MarkerPlaced) -> None:
        if message.session_id != self.session_id:
            return
        now = self.clock()
        self._run(self._catch_up(now), now)
        self.markers.place(message.name, message.beat)
        self._after(now)

    @handles(m.RuleSaved)
    def rule_saved(self, message: m.RuleSaved) -> None:
        record = message.rule
        if record.session_id != self.session_id:
            return
        now = self.clock()
        self._run(self._catch_up(now), now)
        old = self.index.find(record.id)
        try:
            rule = rule_from_record(record)
        except (RuleRecordError, ValueError) as exc:
            self._note(f"rule {record.id} cannot be read and does not fire: {exc}")
            if old is not None:
                self.index.remove(old.id)
                self._cancel_latent(old, "rule unreadable")
            self._after(now)
            return
        if old is None:
            self.index.add(rule)
        else:
            # The record may lag the firings recorded in memory (the store batches them).
            newer = old.last_fired_at
            if rule.last_fired_at is not None and (newer is None or rule.last_fired_at > newer):
                newer = rule.last_fired_at
            rule = replace(
                rule, fired_count=max(rule.fired_count, old.fired_count), last_fired_at=newer
            )
            self.index.replace(rule)
        spec = self._latent_spec(rule)
        if spec is not None:
            self.planner.tell(pm.PlanLatent(latent=spec))
        elif old is not None and self._latent_spec(old) is not None:
            self._cancel_latent(old, "rule disabled")
        self._after(now)

    @handles(m.RuleDeleted)
    def rule_deleted(self, message: m.RuleDeleted) -> None:
        now = self.clock()
        self._run(self._catch_up(now), now)
        old = self.index.find(message.rule_id)
        if old is not None:
            self.index.remove(old.id)
            self._cancel_latent(old, "rule deleted")
        if self._loading:
            self._not_to_load.add(RuleId(message.rule_id))
        self._after(now)

    # -- messages: clock --------------------------------------------------------------------------

    @handles(m.MoveTransport)
    def move_transport(self, message: m.MoveTransport) -> m.ClockSnapshot:
        action, beat, bpm = message.action, message.beat, message.bpm
        check_move(action, beat, bpm)
        now = self.clock()
        items = self._catch_up(now)
        items.extend(self._move(action, now, beat=beat, bpm=bpm, cascade=False))
        self._run(items, now)
        self._after(now)
        return self._snapshot(now)

    @handles(m.GetClock)
    def get_clock(self, message: m.GetClock) -> m.ClockSnapshot:
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._after(now)
        other = None if message.session_id is None else self.clocks.get(message.session_id)
        return self._snapshot(now, other)

    @handles(m.RestoreTransport)
    def restore_transport(self, message: m.RestoreTransport) -> m.TransportRestored:
        now = self.clock()
        self._run(self._catch_up(now), now)
        sc = self.clocks.get(message.session_id)
        reason: str | None = None
        if sc is None:
            reason = "the session's clock is not loaded"
        elif sc.moved:
            reason = "the clock was already set in this process (it knows better than a snapshot)"
        else:
            state, beat, bpm = check_restore(message.state, message.beat, message.tempo_bpm)
            sc.restore(state, beat, bpm, now)
            self.log.info(
                "transport_restored",
                session_id=message.session_id,
                state=state.value,
                beat=beat,
                tempo_bpm=bpm,
            )
            if message.session_id == self.session_id:
                self._clock_moved(now)
        self._after(now)
        return m.TransportRestored(
            applied=reason is None,
            reason=reason,
            clock=None if sc is None else self._snapshot(now, sc),
        )

    @handles(m.Tick)
    def tick(self, message: m.Tick) -> None:
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._after(now)

    @handles(m.HubEvent)
    def hub_event(self, message: m.HubEvent) -> None:
        now = self.clock()
        self._hub_event(message.event, message.received_at, now)
        self._after(now)

    @handles(m.HubEvents)
    def hub_events(self, message: m.HubEvents) -> None:
        now = self.clock()
        for event in message.events:
            self._hub_event(event, message.received_at, now)
        self._after(now)

    def _hub_event(self, event: Any, received_at: float, now: float) -> None:
        at = min(received_at, now)
        moved = False
        if isinstance(event, TransportStateChanged | BeatTick):
            # The position was observed at arrival: catch up to then, adopt it, then to now.
            items = self._catch_up(at)
            state = events.transport_state(event, self.log)
            if state is not None:
                before = (self._sc.tracker.clock.state, self._sc.tracker.clock.tempo_bpm)
                items.extend(self._reanchor(event.position_beats, event.tempo_bpm, state, at))
                moved = True
                self._adopted(*before)
            items.extend(self._catch_up(now))
        else:
            items = self._catch_up(now)
        seen = events.rule_event(event)
        if isinstance(seen, MarkerHit) and not self._sc.first_hit(seen.name):
            seen = None  # the local crossing of the marker already fired it in this pass
        if seen is not None:
            items.append((seen, None, False))
        self._run(items, now)
        if moved:
            self._clock_moved(now)

    # -- messages: results and reports ------------------------------------------------------------

    @handles(m.ActionDone)
    def action_done(self, message: m.ActionDone) -> None:
        result = message.detail if message.ok and message.artifact_id is not None else None
        self._history(message.action, result if message.ok else message.detail, message.ok)
        if not message.ok:
            self._note(f"{message.action} (rule {message.rule_id}) failed: {message.detail}")
            return
        if message.schedule_at is not None and message.artifact_id is not None:
            self._schedule(
                message.rule_id, message.artifact_id, message.schedule_at, message.schedule_duration
            )

    @handles(m.LatentFinished)
    def latent_finished(self, message: m.LatentFinished) -> None:
        latent = message.latent
        now = self.clock()
        self._run(self._catch_up(now), now)
        label = f"latent {latent.space} for beat {latent.deadline_beat:g}"
        rule = self.index.find(latent.rule_id)
        if latent.state in ("complete", "failed"):
            result = latent.artifact_id if latent.ok else latent.error
            entry = call_label(
                "latent_result", latent.space, latent.prompt, f"deadline={latent.deadline_beat:g}"
            )
            self._history(entry, result, latent.ok, session_id=latent.session_id)
            if rule is not None:
                self._record_fired(rule)
            else:  # a rule of another session (switched meanwhile): still done, in the store
                self.store.record_rule_fired(latent.rule_id, self.wall_clock().isoformat())
        key = latent_note_key(latent.rule_id)
        if latent.state == "failed":
            self._note(f"{label} failed: {latent.error}", session_id=latent.session_id, key=key)
        elif latent.ok and latent.late and not latent.started_late:
            where = "" if latent.finished_beat is None else f" at beat {latent.finished_beat:.1f}"
            self._note(
                f"{label} finished after its deadline{where}",
                session_id=latent.session_id,
                key=key,
            )
        elif latent.ok and not latent.late:
            self.notes.resolve(key)  # an at-risk report that did not come true: gone
        if (
            latent.ok
            and latent.artifact_id is not None
            and rule is not None
            and isinstance(rule.action, SampleAndScheduleAction)
        ):
            action = rule.action
            self._schedule(rule.id, latent.artifact_id, action.at, action.duration)
        self._after(now)

    @handles(m.AddNote)
    def add_note(self, message: m.AddNote) -> None:
        self._note(message.text, session_id=message.session_id, key=message.key)
        self._after(self.clock())

    @handles(m.PlannerStarted)
    def planner_started(self, message: m.PlannerStarted) -> None:
        self._sync_planner(self.clock())

    @handles(pm.WatchLatent, pm.MaterializeLatent)
    def relay_to_planner(self, message: pm.WatchLatent | pm.MaterializeLatent) -> None:
        """The DSL sends these here, behind the `RuleSaved` of the latent they name, so the
        planner gets them after that latent's `PlanLatent` (one sender, one mailbox: in order)."""
        if self.planner.tell(message) or not isinstance(message, pm.WatchLatent):
            return
        gone = pm.LatentCompleted.unknown(
            message.rule_id, self.session_id, "the deadline planner is not running"
        )
        try:
            message.callback(gone)
        except Exception as exc:  # noqa: BLE001 - a watcher's failure is its own
            self.log.warning("latent_watcher_failed", rule_id=message.rule_id, error=repr(exc))

    @handles(m.TakeNotifications)
    def take_notifications(self, message: m.TakeNotifications) -> tuple[str, ...]:
        return self.notifications.take()

    @handles(m.GetSchedulerStatus)
    def status(self, message: m.GetSchedulerStatus) -> m.SchedulerStatus:
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._after(now)
        counts = self.index.counts()
        summary = self.lateness.summary()
        clock = self._sc.tracker.clock
        return m.SchedulerStatus(
            session_id=self.session_id,
            rules=len(self.index),
            enabled_rules=counts["enabled"],
            rules_by_trigger=tuple(sorted(counts["by_trigger"].items())),
            clock_state=clock.state.value,
            clock_beat=self._sc.tracker.position(now),
            notes=self.notes.of(self.session_id),
            lateness=None if summary is None else summary.line(),
            tempo_bpm=clock.tempo_bpm,
            lateness_count=0 if summary is None else summary.count,
            lateness_p50_ms=None if summary is None else summary.p50_ms,
            lateness_p99_ms=None if summary is None else summary.p99_ms,
        )

    # -- the clock --------------------------------------------------------------------------------

    def _snapshot(self, now: float, sc: SessionClock | None = None) -> m.ClockSnapshot:
        return (sc or self._sc).snapshot(now)

    def _catch_up(self, now: float) -> list[Item]:
        """The beats and local markers the playhead passed up to `now`, in order."""
        return self._sc.catch_up(now, self.markers)

    def _move(
        self,
        action: str,
        now: float,
        *,
        beat: float | None = None,
        bpm: float | None = None,
        cascade: bool,
    ) -> list[Item]:
        """Apply a transport move at `now` (already caught up), forward it to hootenanny and tell
        the planner; returns what it makes due (see `SessionClock.move`)."""
        items = self._sc.move(action, now, self.markers, beat=beat, bpm=bpm, cascade=cascade)
        self.actions.forward_transport(action, beat=beat, bpm=bpm)
        self._announce(action)
        self._clock_moved(now)  # last: the planner's thread wakes up to replan
        return items

    def _reanchor(
        self, beat: float, tempo_bpm: float, state: TransportState, at: float
    ) -> list[Item]:
        """Adopt a position observed by hootenanny (a broadcast); never forwarded back."""
        items = self._sc.reanchor(beat, tempo_bpm, state, at, self.markers)
        if items is None:
            self.log.warning("broadcast_position_invalid", beat=beat, tempo_bpm=tempo_bpm)
            return []
        return items

    def _clock_moved(self, now: float) -> None:
        self.planner.tell(pm.ClockMoved(clock=self._snapshot(now)))

    def _announce(self, action: str) -> None:
        """Tell the kernel (through the hub) that the transport moved: it snapshots it at once."""
        if self.hub is not None and self.session_id is not None:
            self.hub.publish(m.TransportMoved(session_id=self.session_id, action=action))

    def _adopted(self, state: TransportState, tempo_bpm: float) -> None:
        """After a broadcast re-anchored the clock: a new tempo becomes the session's (so the
        summary and `tempo()` agree with the clock), and a new state or tempo is snapshotted."""
        clock = self._sc.tracker.clock
        if clock.state == state and clock.tempo_bpm == tempo_bpm:
            return  # the playhead only (drift): the next snapshot takes it
        if clock.tempo_bpm != tempo_bpm and self.session_id is not None:
            try:
                self.store.update_session(self.session_id, tempo_bpm=clock.tempo_bpm)
            except StoreError as exc:
                self.log.error("session_tempo_not_saved", error=str(exc))
        self._announce("broadcast")

    # -- firing -----------------------------------------------------------------------------------

    def _run(self, items: Iterable[Item], now: float) -> None:
        """Fire the rules of each event in order, including events caused by rule actions.
        While the session's rules are still loading, the events wait (`_held`)."""
        if self._loading:
            self._held.extend(items)
            return
        queue: deque[Item] = deque(items)
        fired_now: set[RuleId] = set()
        processed = 0
        while queue:
            event, target, cascade = queue.popleft()
            processed += 1
            if processed > MAX_CASCADE_EVENTS:
                self._note(
                    f"rules kept moving the transport: stopped after {MAX_CASCADE_EVENTS} events "
                    "in one instant"
                )
                return
            for rule in self.index.match(event):
                if cascade and rule.id in fired_now:
                    continue
                current = self.index.find(rule.id)
                if current is None or not current.enabled:
                    continue  # removed or disabled by an earlier action of this instant
                fired_now.add(rule.id)
                if target is not None and isinstance(event, BeatCrossed | MarkerHit):
                    self.lateness.record(now - target)
                try:
                    caused = self._execute(current, event, now)
                except Exception as exc:  # noqa: BLE001 - one failing action never stops the rest
                    self.log.error("rule_action_failed", rule_id=rule.id, error=repr(exc))
                    self._note(f"rule {describe_rule(current)} failed: {exc}")
                    caused = []
                self._record_fired(current)
                queue.extend(caused)

    def _record_fired(self, rule: Rule) -> None:
        at = self.wall_clock()
        if rule.id in self.index:
            self.index.record_fired(rule.id, at)
        self.store.record_rule_fired(rule.id, at.isoformat(), delete=rule.one_shot)

    def _execute(self, rule: Rule, event: Event, now: float) -> list[Item]:
        """Start the rule's action; returns the events a transport move made due."""
        action = rule.action
        failed: ActionFailed | None = None
        match action:
            case CallbackAction():
                self.actions.callback(rule.id, action, event)
            case NotifyAction():
                self._note(action.message)
                if self.session_id is not None:
                    self.notifications.post(self.session_id, action.message)
                self._history(f"notify({json.dumps(action.message, ensure_ascii=False)})", None)
            case PlayAction():
                return self._move("play", now, cascade=True)
            case PauseAction():
                return self._move("pause", now, cascade=True)
            case StopAction():
                return self._move("stop", now, cascade=True)
            case SeekAction():
                return self._move("seek", now, beat=action.beat, cascade=True)
            case SampleAction():
                failed = self.actions.sample(rule.id, action.space, action.prompt, action.inference)
            case SampleAndScheduleAction():
                failed = self.actions.sample(
                    rule.id,
                    action.space,
                    action.prompt,
                    action.inference,
                    schedule_at=action.at,
                    schedule_duration=action.duration,
                )
            case ScheduleAction():
                failed = self.actions.schedule(rule.id, action.content, action.at, action.duration)
            case AuditionAction():
                failed = self.actions.audition(rule.id, action)
        if failed is not None:
            self._action_failed(rule.id, failed)
        return []

    def _schedule(self, rule_id: RuleId, content: str, at: float, duration: float | None) -> None:
        """Place `content` in hootenanny's timeline (SampleAndSchedule's second step)."""
        failed = self.actions.schedule(rule_id, content, at, duration)
        if failed is not None:
            self._action_failed(rule_id, failed)

    def _action_failed(self, rule_id: RuleId, failed: ActionFailed) -> None:
        self._history(failed.label, failed.error, False)
        self._note(f"{failed.label} (rule {rule_id}) failed: {failed.error}")

    # -- deadlines --------------------------------------------------------------------------------

    def _latent_spec(self, rule: Rule) -> pm.LatentSpec | None:
        """The planner's view of a pending Deadline rule (None for other rules)."""
        if not isinstance(rule.trigger, DeadlineTrigger) or not rule.enabled:
            return None
        if rule.fired_count > 0:
            return None
        action = rule.action
        if not isinstance(action, SampleAction | SampleAndScheduleAction):
            if rule.id not in self._unsupported_reported:
                self._unsupported_reported.add(rule.id)
                self._note(
                    f"{describe_rule(rule)}: a Deadline rule needs a Sample or SampleAndSchedule "
                    "action; it is not planned"
                )
            return None
        return pm.LatentSpec(
            rule_id=rule.id,
            session_id=rule.session_id,
            space=action.space,
            prompt=action.prompt,
            deadline_beat=rule.trigger.beat,
            priority=rule.priority,
            inference=action.inference,
            order=rule.seq,
        )

    def _cancel_latent(self, rule: Rule, reason: str) -> None:
        if isinstance(rule.trigger, DeadlineTrigger):
            self.planner.tell(pm.CancelLatent(rule_id=rule.id, reason=reason))

    def _sync_planner(self, now: float) -> None:
        assert self.session_id is not None
        specs = [self._latent_spec(rule) for rule in self.index.bucket(TriggerType.DEADLINE)]
        self.planner.tell(
            pm.SyncLatents(
                session_id=self.session_id,
                latents=tuple(spec for spec in specs if spec is not None),
                clock=self._snapshot(now),
            )
        )

    # -- reporting --------------------------------------------------------------------------------

    def _note(
        self, text: str, *, session_id: SessionId | None = None, key: str | None = None
    ) -> None:
        """A note for the summary of `session_id` (default: the current session's)."""
        session = session_id or self.session_id
        self.notes.add(session, text, key)
        self.log.info("scheduler_note", note=text, session_id=session)

    def _history(
        self,
        label: str,
        result: str | None,
        success: bool = True,
        *,
        session_id: SessionId | None = None,
    ) -> None:
        """One history entry; `label` is `name(params)` as the summary shows it."""
        session = session_id or self.session_id
        if session is None:
            return
        action, _, rest = label.partition("(")
        params = rest[:-1] if rest.endswith(")") else None
        self.store.append_history(session, action, params=params, result=result, success=success)

    def _after(self, now: float) -> None:
        """After every handler: publish (at most every PUBLISH_INTERVAL_S, at once when the clock
        changed) and arm the timer for the next due moment (a held-back publish included)."""
        self._publish(now)
        self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        if self.timer is None or self.session_id is None:
            return
        sc = self._sc
        tracker = sc.tracker
        candidates: list[float] = []
        due = tracker.next_due(self.index.beat_divisors(), now)
        if due is not None:
            candidates.append(now + due[1])
        if tracker.clock.is_playing and self.markers:
            marker_at = sc.next_marker_time(self.markers, self.index.marker_names(), now)
            if marker_at is not None:
                candidates.append(marker_at)
        if self._publish_pending:
            candidates.append(self._published_at + PUBLISH_INTERVAL_S)
        self.timer.wake_at(min(candidates) if candidates else None)

    def _publish(self, now: float) -> None:
        """The stats the admin view and the kernel read. A change of the clock (its epoch, which
        decides the kernel's snapshots) is published at once; anything else at most every
        PUBLISH_INTERVAL_S, so a burst of broadcasts does not sort the lateness window and
        rebuild these dicts once per event."""
        if self.session_id is None:
            return
        epoch = self._epoch()
        if epoch == self._published_epoch and now - self._published_at < PUBLISH_INTERVAL_S:
            self._publish_pending = True
            return
        if epoch != self._published_epoch and self.hub is not None:
            # before the stats: whoever reads the new epoch there has been sent this already
            self.hub.publish(
                m.ClockChanged(session_id=self.session_id, epoch=epoch, clock=self._snapshot(now))
            )
        self._published_epoch, self._published_at, self._publish_pending = epoch, now, False
        tracker = self._sc.tracker
        summary = self.lateness.summary()
        lateness = None if summary is None else {**summary.as_dict(), "line": summary.line()}
        self.publish(
            session={"id": self.session_id, "name": self.session_name},
            rules=self.index.counts(),
            clock={
                "state": tracker.clock.state.value,
                "beat": round(tracker.position(now), 3),
                "tempo_bpm": tracker.clock.tempo_bpm,
                "lateness": lateness,  # /admin/system shows the clock, so lateness shows there
            },
            lateness=lateness,
            notes=len(self.notes),
            clock_epoch=epoch,
        )

    def _epoch(self) -> tuple[int, int]:
        """(incarnation, count) of the changes of the current clock a kernel snapshot follows:
        the session, state, tempo, and the playhead's phase (the beat it would be at at time 0;
        playing does not change it, a seek or a re-anchor beyond drift does). The kernel reads it
        from the published stats after an eval: unchanged means no snapshot needed for the clock.
        """
        fingerprint = (self.session_id, *self._sc.fingerprint())
        if fingerprint != self._clock_print:
            self._clock_print = fingerprint
            self._clock_epoch += 1
        return (self.context.generation, self._clock_epoch)
