"""RuleScheduler: the current session's rules and its logical transport clock (SPEC 4.3, 4.4).

State owned:

* the current session, its rules in a `RuleIndex` (bucketed by trigger type, priority order, ties
  by creation order) and its markers, re-read from the store in `setup` and on `SwitchSession`;
* one logical clock per session seen (a `BeatTracker`: anchor + exactly-once beat cursor), moved by
  `MoveTransport` (the DSL's play/pause/stop/seek/tempo) and by rule actions, re-anchored by the
  hub's `transportStateChanged`/`beatTick`, and put where a kernel snapshot left it by
  `RestoreTransport` (only while nothing has moved it in this process);
* the lateness of beat firings (p50/p99 over a window) and the notes the session summary shows
  (Notify messages, deadline reports, unreadable rules).

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

Crash: the clocks, lateness and notes are handed to the next incarnation through the vault (they
are not in the store); the rules and markers are re-read from the store.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel.messages import RunCallback
from vibeweaver.actors.planner import messages as pm
from vibeweaver.actors.scheduler import messages as m
from vibeweaver.actors.scheduler.lateness import LatenessRecorder
from vibeweaver.actors.scheduler.ports import MISSING_GENERATION, GenerationPort
from vibeweaver.actors.scheduler.timer import ThreadWakeTimer, TimerFactory, WakeTimer
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.errors import StoreError, VibeweaverError
from vibeweaver.scheduling.clock import (
    BEAT_EPSILON,
    DEFAULT_JUMP_TOLERANCE_BEATS,
    MAX_TEMPO_BPM,
    MIN_TEMPO_BPM,
    BeatTracker,
    TransportClock,
)
from vibeweaver.scheduling.rules import (
    ArtifactSeen,
    AuditionAction,
    BeatCrossed,
    CallbackAction,
    DeadlineTrigger,
    Event,
    JobFinished,
    MarkerHit,
    MarkerTrigger,
    NotifyAction,
    PauseAction,
    PlayAction,
    Rule,
    RuleIndex,
    RuleRecordError,
    SampleAction,
    SampleAndScheduleAction,
    ScheduleAction,
    SeekAction,
    StopAction,
    TransportChanged,
    describe_rule,
    rule_from_record,
)
from vibeweaver.types import ArtifactId, JobId, RuleId, SessionId, TransportState, TriggerType
from vibeweaver.wire.broadcasts import (
    ArtifactCreated,
    BeatTick,
    JobStateChanged,
    MarkerReached,
    TransportStateChanged,
)
from vibeweaver.wire.envelope import ErrorReply
from vibeweaver.wire.tools import (
    GardenCreateRegion,
    GardenPause,
    GardenPlay,
    GardenSeek,
    GardenSetTempo,
    GardenStop,
)

__all__ = [
    "CALLBACK_TIMEOUT_S",
    "DEFAULT_REGION_BEATS",
    "HUB_SUBSCRIBER",
    "MAX_CASCADE_EVENTS",
    "MAX_NOTES",
    "RuleScheduler",
    "TransportError",
]

HUB_SUBSCRIBER = "scheduler"
"""The scheduler's stable hub subscription name (a restarted incarnation replaces the sink)."""
CALLBACK_TIMEOUT_S = 5.0
"""How long a callback rule may run in the kernel."""
DEFAULT_REGION_BEATS = 16.0
"""Region length when a Schedule action gives no duration (hootenanny needs one)."""
MAX_NOTES = 20
"""Notifications kept for the session summary (newest last)."""
MAX_CASCADE_EVENTS = 256
"""Events one handler may process; a rule set that keeps moving the transport is stopped there."""
TRANSPORT_ACTIONS = ("play", "pause", "stop", "seek", "tempo")
FINAL_JOB_STATES = frozenset({"complete", "failed", "cancelled"})
_HUB_EVENTS = (TransportStateChanged, BeatTick, MarkerReached, ArtifactCreated, JobStateChanged)
_MARKER_EPSILON = 1e-9


class TransportError(VibeweaverError, ValueError):
    """A MoveTransport with an unknown action or a bad beat/tempo (the reply names it)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _SessionClock:
    """One session's logical clock plus the local-marker pass state."""

    tracker: BeatTracker
    marker_from: float
    """Markers at beats > marker_from may still fire in the current pass of the playhead."""
    markers_fired: set[str] = field(default_factory=set)
    """Marker names fired in the current pass (a broadcast and a local crossing fire once)."""
    moved: bool = False
    """Something set this clock in this process (a move, a broadcast, a snapshot restore); a
    kernel snapshot is then no longer restored into it."""

    def jump(self, beat: float) -> None:
        """A new pass starts at `beat` (a marker exactly there fires once playback reaches it)."""
        self.marker_from = beat - _MARKER_EPSILON
        self.markers_fired.clear()


@dataclass(slots=True)
class _Kept:
    """What a crashed incarnation hands to the next through the vault."""

    session_id: SessionId | None
    clocks: dict[SessionId, _SessionClock]
    lateness: LatenessRecorder
    notes: deque[str]


# An event to run, the ideal monotonic time of the moment it stands for (lateness), and whether a
# rule action caused it in this handler (then each rule fires at most once more).
_Item = tuple[Event, float | None, bool]


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
    ) -> None:
        super().__init__(context)
        self.config = config
        self.hub = hub
        self.link = link
        self.generation = generation
        self.clock = clock
        self.wall_clock = wall_clock
        self.callback_timeout_s = callback_timeout_s
        self._timer_factory = timer_factory
        self.store = StoreClient(self.system.handle("store"))
        self.kernel = self.system.handle(kernel)
        self.planner = self.system.handle(planner)
        self.me = self.system.handle(context.name)
        self.session_id: SessionId | None = None
        self.session_name: str | None = None
        self.index = RuleIndex()
        self.markers: list[tuple[float, str]] = []
        self.clocks: dict[SessionId, _SessionClock] = {}
        self.lateness = LatenessRecorder()
        self.notes: deque[str] = deque(maxlen=MAX_NOTES)
        self.timer: WakeTimer | None = None
        self._sink: Callable[[Any], None] | None = None
        self._unsupported_reported: set[RuleId] = set()
        self._loaded = False
        """True once this incarnation loaded a session (so `session_id`'s rules are indexed)."""
        self._clock_print: tuple[object, ...] = ()
        self._clock_epoch = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self) -> None:
        kept = self.context.vault.pop("kept", None)
        session_id: SessionId | None = None
        if isinstance(kept, _Kept):
            self.clocks = kept.clocks
            self.lateness = kept.lateness
            self.notes = kept.notes
            session_id = kept.session_id
        if session_id is None or self.store.get_session(session_id) is None:
            session_id = self.store.open_session(self.config.session).id
        self.timer = self._timer_factory(f"{self.context.name}-timer", self.clock, self._knock)
        self.timer.start()
        self._load(session_id)
        if self.hub is not None:
            self._sink = self._make_sink()
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
                lateness=self.lateness,
                notes=self.notes,
            )

    def _knock(self) -> None:
        """The timer's callback (timer thread): only a tell."""
        if self.me.accepting:  # not while stopping: a late knock would only be a dead letter
            self.me.tell(m.Tick())

    def _make_sink(self) -> Callable[[Any], None]:
        """The hub sink (gateway IO thread): stamp the arrival, tell, never block."""
        me, clock = self.me, self.clock

        def sink(event: Any) -> None:
            if isinstance(event, _HUB_EVENTS):
                me.tell(m.HubEvent(event=event, received_at=clock()))

        return sink

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
        self.session_id = session.id
        self.session_name = session.name
        index = RuleIndex()
        for record in self.store.list_rules(session.id):
            try:
                index.add(rule_from_record(record))
            except (RuleRecordError, ValueError) as exc:
                self._note(f"rule {record.id} cannot be read and does not fire: {exc}")
                self.log.warning("rule_unreadable", rule_id=record.id, error=str(exc))
        self.index = index
        self._load_markers()
        missed: list[_Item] = []
        if session.id not in self.clocks:
            tempo = min(max(session.tempo_bpm or 120.0, MIN_TEMPO_BPM), MAX_TEMPO_BPM)
            tracker = BeatTracker(
                TransportClock(tempo_bpm=tempo, t=now),
                jump_tolerance_beats=DEFAULT_JUMP_TOLERANCE_BEATS,
            )
            self.clocks[session.id] = _SessionClock(tracker=tracker, marker_from=-_MARKER_EPSILON)
        elif not self._loaded:
            # A restarted incarnation: what passed during the restart fires now (late, not lost).
            missed = self._catch_up(now)
        elif previous != session.id:
            self._catch_up(now)  # beats passed while another session was current do not fire
        self._loaded = True
        self._run(missed, now)
        self.log.info("rules_loaded", session_id=session.id, rules=len(self.index))
        self._sync_planner(now)
        self._after(now)

    def _load_markers(self) -> None:
        assert self.session_id is not None
        self.markers = sorted(
            (record.beat, record.name) for record in self.store.list_markers(self.session_id)
        )

    @property
    def _sc(self) -> _SessionClock:
        assert self.session_id is not None, "scheduler used before setup"
        return self.clocks[self.session_id]

    # -- messages: rules and session --------------------------------------------------------------

    @handles(m.SwitchSession)
    def switch_session(self, message: m.SwitchSession) -> None:
        self._load(message.session_id)

    @handles(m.MarkersChanged)
    def markers_changed(self, message: m.MarkersChanged) -> None:
        if message.session_id != self.session_id:
            return
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._load_markers()
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
        self._after(now)

    # -- messages: clock --------------------------------------------------------------------------

    @handles(m.MoveTransport)
    def move_transport(self, message: m.MoveTransport) -> m.ClockSnapshot:
        action = message.action
        if action not in TRANSPORT_ACTIONS:
            raise TransportError(
                f"unknown transport action {action!r}; use one of {', '.join(TRANSPORT_ACTIONS)}"
            )
        beat, bpm = message.beat, message.bpm
        if action == "seek" and (
            beat is None or not isinstance(beat, int | float) or not math.isfinite(beat) or beat < 0
        ):
            raise TransportError(f"seek needs a beat >= 0, got {beat!r}")
        if action == "tempo" and (
            bpm is None
            or not isinstance(bpm, int | float)
            or not math.isfinite(bpm)
            or not MIN_TEMPO_BPM <= bpm <= MAX_TEMPO_BPM
        ):
            raise TransportError(
                f"tempo needs a BPM between {MIN_TEMPO_BPM:g} and {MAX_TEMPO_BPM:g}, got {bpm!r}"
            )
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
            try:
                state = TransportState.parse(message.state)
            except ValueError as exc:
                raise TransportError(str(exc)) from None
            if state is TransportState.PLAYING:
                raise TransportError("a restored clock is paused or stopped, never playing")
            beat, bpm = float(message.beat), float(message.tempo_bpm)
            if not math.isfinite(beat) or beat < 0:
                raise TransportError(f"a restored position must be a beat >= 0, got {beat!r}")
            if not (math.isfinite(bpm) and MIN_TEMPO_BPM <= bpm <= MAX_TEMPO_BPM):
                raise TransportError(
                    f"a restored tempo must be between {MIN_TEMPO_BPM:g} and {MAX_TEMPO_BPM:g} "
                    f"BPM, got {bpm!r}"
                )
            sc.tracker = BeatTracker(
                TransportClock(tempo_bpm=bpm, beat=beat, state=state, t=now),
                jump_tolerance_beats=DEFAULT_JUMP_TOLERANCE_BEATS,
            )
            sc.jump(beat)
            sc.moved = True
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
        event = message.event
        now = self.clock()
        at = min(message.received_at, now)
        moved = False
        match event:
            case TransportStateChanged() | BeatTick():
                # The position was observed at arrival: catch up to then, adopt it, then to now.
                items = self._catch_up(at)
                if isinstance(event, BeatTick):
                    state: TransportState | None = TransportState.PLAYING
                else:
                    try:
                        state = TransportState.parse(event.state)
                    except ValueError:
                        self.log.warning("transport_state_unknown", state=event.state)
                        state = None
                if state is not None:
                    items.extend(self._reanchor(event.position_beats, event.tempo_bpm, state, at))
                    moved = True
                items.extend(self._catch_up(now))
            case _:
                items = self._catch_up(now)
        match event:
            case MarkerReached():
                sc = self._sc
                if event.marker_type not in sc.markers_fired:
                    sc.markers_fired.add(event.marker_type)
                    hit = MarkerHit(name=event.marker_type, beat=event.position_beats)
                    items.append((hit, None, False))
            case ArtifactCreated():
                seen = ArtifactSeen(
                    artifact_id=ArtifactId(event.artifact_id), tags=tuple(event.tags)
                )
                items.append((seen, None, False))
            case JobStateChanged():
                if event.state in FINAL_JOB_STATES:
                    finished = JobFinished(job_id=JobId(event.job_id), state=event.state)
                    items.append((finished, None, False))
            case _:
                pass
        self._run(items, now)
        if moved:
            self._clock_moved(now)
        self._after(now)

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
            entry = _call_label(
                "latent_result", latent.space, latent.prompt, f"deadline={latent.deadline_beat:g}"
            )
            self._history(entry, result, latent.ok, session_id=latent.session_id)
            if rule is not None:
                self._record_fired(rule)
            else:  # a rule of another session (switched meanwhile): still done, in the store
                self.store.record_rule_fired(latent.rule_id, self.wall_clock().isoformat())
        if latent.state == "failed":
            self._note(f"{label} failed: {latent.error}")
        elif latent.ok and latent.late and not latent.started_late:
            where = "" if latent.finished_beat is None else f" at beat {latent.finished_beat:.1f}"
            self._note(f"{label} finished after its deadline{where}")
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
        self._note(message.text)
        self._publish(self.clock())

    @handles(m.PlannerStarted)
    def planner_started(self, message: m.PlannerStarted) -> None:
        self._sync_planner(self.clock())

    @handles(m.GetSchedulerStatus)
    def status(self, message: m.GetSchedulerStatus) -> m.SchedulerStatus:
        now = self.clock()
        self._run(self._catch_up(now), now)
        self._after(now)
        rules = self.index.all()
        by_trigger = Counter(rule.trigger_type.value for rule in rules)
        summary = self.lateness.summary()
        clock = self._sc.tracker.clock
        return m.SchedulerStatus(
            session_id=self.session_id,
            rules=len(rules),
            enabled_rules=sum(1 for rule in rules if rule.enabled),
            rules_by_trigger=tuple(sorted(by_trigger.items())),
            clock_state=clock.state.value,
            clock_beat=self._sc.tracker.position(now),
            notes=tuple(self.notes),
            lateness=None if summary is None else summary.line(),
            tempo_bpm=clock.tempo_bpm,
            lateness_count=0 if summary is None else summary.count,
            lateness_p50_ms=None if summary is None else summary.p50_ms,
            lateness_p99_ms=None if summary is None else summary.p99_ms,
        )

    # -- the clock --------------------------------------------------------------------------------

    def _snapshot(self, now: float, sc: _SessionClock | None = None) -> m.ClockSnapshot:
        tracker = (sc or self._sc).tracker
        anchor = tracker.clock.anchor
        return m.ClockSnapshot(
            state=anchor.state.value,
            tempo_bpm=anchor.tempo_bpm,
            anchor_time=anchor.time,
            anchor_beat=anchor.beat,
            taken_at=now,
            position=tracker.position(now),
        )

    def _catch_up(self, now: float) -> list[_Item]:
        """The beats and local markers the playhead passed up to `now`, in order."""
        sc = self._sc
        beats = [(event, event.target_time) for event in sc.tracker.tick(now)]
        return self._with_markers(beats, now)

    def _with_markers(self, beats: list[tuple[BeatCrossed, float]], now: float) -> list[_Item]:
        """Merge the passed beats with the local markers passed up to `now` (by position)."""
        sc = self._sc
        clock = sc.tracker.clock
        items: list[tuple[float, int, Event, float | None]] = [
            (float(event.beat), 0, event, target) for event, target in beats
        ]
        if clock.is_playing and self.markers:
            position = sc.tracker.position(now)
            if position > sc.marker_from:
                for beat, name in self.markers:
                    if sc.marker_from < beat <= position + BEAT_EPSILON and (
                        name not in sc.markers_fired
                    ):
                        sc.markers_fired.add(name)
                        hit = MarkerHit(name=name, beat=beat)
                        items.append((beat, 1, hit, clock.time_of(beat)))
                sc.marker_from = position
        items.sort(key=lambda item: (item[0], item[1]))
        return [(event, target, False) for _, _, event, target in items]

    def _move(
        self,
        action: str,
        now: float,
        *,
        beat: float | None = None,
        bpm: float | None = None,
        cascade: bool,
        forward: bool = True,
    ) -> list[_Item]:
        """Apply a transport move at `now` (already caught up); returns what it makes due: the
        beat/marker it lands on when playing, and the transport change."""
        sc = self._sc
        sc.moved = True
        tracker = sc.tracker
        before = tracker.clock.state
        match action:
            case "play":
                landed = tracker.play(now)
            case "pause":
                landed = tracker.pause(now)
            case "stop":
                landed = tracker.stop(now)
                sc.jump(0.0)
            case "seek":
                assert beat is not None
                landed = tracker.seek(float(beat), now)
                sc.jump(float(beat))
            case "tempo":
                assert bpm is not None
                landed = tracker.set_tempo(float(bpm), now)
            case _:  # pragma: no cover - validated by the callers
                raise TransportError(f"unknown transport action {action!r}")
        items = self._with_markers([(event, event.target_time) for event in landed], now)
        items = [(event, target, cascade) for event, target, _ in items]
        after = tracker.clock.state
        if after is not before:
            items.insert(0, (TransportChanged(state=after), None, cascade))
        if forward:
            self._forward(action, beat=beat, bpm=bpm)
        self._clock_moved(now)
        return items

    def _reanchor(
        self, beat: float, tempo_bpm: float, state: TransportState, at: float
    ) -> list[_Item]:
        """Adopt a position observed by hootenanny (a broadcast); never forwarded back."""
        sc = self._sc
        tracker = sc.tracker
        if not (math.isfinite(beat) and math.isfinite(tempo_bpm)):
            self.log.warning("broadcast_position_invalid", beat=beat, tempo_bpm=tempo_bpm)
            return []
        tempo = min(max(tempo_bpm, MIN_TEMPO_BPM), MAX_TEMPO_BPM)
        sc.moved = True
        before = tracker.clock.state
        predicted = tracker.position(at)
        crossed = tracker.reanchor(beat=beat, tempo_bpm=tempo, state=state, t=at)
        if abs(beat - predicted) > DEFAULT_JUMP_TOLERANCE_BEATS:
            sc.jump(beat)
        items = self._with_markers([(event, event.target_time) for event in crossed], at)
        if tracker.clock.state is not before:
            items.insert(0, (TransportChanged(state=tracker.clock.state), None, False))
        return items

    def _clock_moved(self, now: float) -> None:
        self.planner.tell(pm.ClockMoved(clock=self._snapshot(now)))

    def _forward(self, action: str, *, beat: float | None, bpm: float | None) -> None:
        """Send a transport move to hootenanny when connected (fire and forget, failures logged)."""
        link = self.link
        if link is None or not link.connected:
            return
        call: Any
        match action:
            case "play":
                call = GardenPlay()
            case "pause":
                call = GardenPause()
            case "stop":
                call = GardenStop()
            case "seek":
                call = GardenSeek(beat=float(beat or 0.0))
            case "tempo":
                call = GardenSetTempo(bpm=float(bpm or 120.0))
            case _:  # pragma: no cover
                return
        logger = self.log

        def done(reply: Any) -> None:
            if isinstance(reply, BaseException | ErrorReply):
                logger.warning("transport_forward_failed", action=action, error=_reply_error(reply))

        try:
            link.call(call, timeout=self.config.hootenanny_timeout, callback=done)
        except Exception as exc:  # noqa: BLE001 - the local clock moved regardless
            logger.warning("transport_forward_failed", action=action, error=repr(exc))

    # -- firing -----------------------------------------------------------------------------------

    def _run(self, items: Iterable[_Item], now: float) -> None:
        """Fire the rules of each event in order, including events caused by rule actions."""
        queue: deque[_Item] = deque(items)
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

    def _execute(self, rule: Rule, event: Event, now: float) -> list[_Item]:
        """Start the rule's action; returns the events a transport move made due."""
        action = rule.action
        match action:
            case CallbackAction():
                self.kernel.tell(
                    RunCallback(
                        rule_id=rule.id,
                        name=action.name,
                        source=action.source,
                        args=_callback_args(event),
                        timeout_s=self.callback_timeout_s,
                    )
                )
            case NotifyAction():
                self._note(action.message)
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
                self._generate(rule, action.space, action.prompt, action.inference)
            case SampleAndScheduleAction():
                self._generate(
                    rule,
                    action.space,
                    action.prompt,
                    action.inference,
                    schedule_at=action.at,
                    schedule_duration=action.duration,
                )
            case ScheduleAction():
                self._schedule(rule.id, action.content, action.at, action.duration)
            case AuditionAction():
                self._audition(rule, action)
        return []

    def _generate(
        self,
        rule: Rule,
        space: str,
        prompt: str | None,
        inference: tuple[tuple[str, object], ...],
        *,
        schedule_at: float | None = None,
        schedule_duration: float | None = None,
    ) -> None:
        label = (
            _call_label("sample", space, prompt)
            if schedule_at is None
            else _call_label("sample_and_schedule", space, prompt, f"at={schedule_at:g}")
        )
        generation = self.generation
        if generation is None:
            self._action_failed(rule.id, label, MISSING_GENERATION)
            return
        me, rule_id = self.me, rule.id

        def done(outcome: Any) -> None:
            ok = getattr(outcome, "state", None) == "complete"
            artifact = getattr(outcome, "artifact_id", None)
            me.tell(
                m.ActionDone(
                    rule_id=rule_id,
                    action=label,
                    ok=ok,
                    detail=artifact if ok else (getattr(outcome, "error", None) or "failed"),
                    artifact_id=artifact if ok else None,
                    schedule_at=schedule_at,
                    schedule_duration=schedule_duration,
                )
            )

        try:
            generation.start(space, prompt, inference=inference, tags=(), callback=done)
        except Exception as exc:  # noqa: BLE001 - reported, not a crash
            self._action_failed(rule.id, label, f"{type(exc).__name__}: {exc}")

    def _schedule(self, rule_id: RuleId, content: str, at: float, duration: float | None) -> None:
        label = f"schedule({content}, at={at:g})"
        link = self.link
        if link is None or not link.connected:
            self._action_failed(rule_id, label, "hootenanny is not connected")
            return
        me = self.me
        region = GardenCreateRegion(
            position=float(at),
            duration=float(duration if duration is not None else DEFAULT_REGION_BEATS),
            content_id=content,
        )

        def done(reply: Any) -> None:
            failed = isinstance(reply, BaseException | ErrorReply)
            detail = _reply_error(reply) if failed else getattr(reply, "job_id", None)
            me.tell(m.ActionDone(rule_id=rule_id, action=label, ok=not failed, detail=detail))

        try:
            link.call(region, timeout=self.config.hootenanny_timeout, callback=done)
        except Exception as exc:  # noqa: BLE001 - reported, not a crash
            self._action_failed(rule_id, label, f"{type(exc).__name__}: {exc}")

    def _audition(self, rule: Rule, action: AuditionAction) -> None:
        label = f"audition({action.content})"
        audition = getattr(self.generation, "audition", None)
        if audition is None:
            reason = (
                MISSING_GENERATION
                if self.generation is None
                else "needs audition() from the generation layer, which offers none"
            )
            self._action_failed(
                rule.id, label, f"hootenanny has no audition tool; audition {reason}"
            )
            return
        me, rule_id = self.me, rule.id

        def done(outcome: Any) -> None:
            ok = getattr(outcome, "state", "complete") == "complete" and not isinstance(
                outcome, BaseException
            )
            detail = None if ok else str(getattr(outcome, "error", outcome))
            me.tell(m.ActionDone(rule_id=rule_id, action=label, ok=ok, detail=detail))

        try:
            audition(action.content, action.duration, callback=done)
        except Exception as exc:  # noqa: BLE001 - reported, not a crash
            self._action_failed(rule.id, label, f"{type(exc).__name__}: {exc}")

    def _action_failed(self, rule_id: RuleId, label: str, error: str) -> None:
        self._history(label, error, False)
        self._note(f"{label} (rule {rule_id}) failed: {error}")

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

    def _note(self, text: str) -> None:
        self.notes.append(text)
        self.log.info("scheduler_note", note=text)

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
        """After every handler: arm the timer for the next due moment and publish."""
        self._reschedule(now)
        self._publish(now)

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
            names = {
                rule.trigger.name
                for rule in self.index.bucket(TriggerType.MARKER)
                if rule.enabled and isinstance(rule.trigger, MarkerTrigger)
            }
            for beat, name in self.markers:
                if beat > sc.marker_from and name in names and name not in sc.markers_fired:
                    candidates.append(max(now, tracker.clock.time_of(beat)))
                    break
        self.timer.wake_at(min(candidates) if candidates else None)

    def _publish(self, now: float) -> None:
        if self.session_id is None:
            return
        rules = self.index.all()
        tracker = self._sc.tracker
        summary = self.lateness.summary()
        lateness = None if summary is None else {**summary.as_dict(), "line": summary.line()}
        self.publish(
            session={"id": self.session_id, "name": self.session_name},
            rules={
                "total": len(rules),
                "enabled": sum(1 for rule in rules if rule.enabled),
                "by_trigger": dict(Counter(rule.trigger_type.value for rule in rules)),
            },
            clock={
                "state": tracker.clock.state.value,
                "beat": round(tracker.position(now), 3),
                "tempo_bpm": tracker.clock.tempo_bpm,
                "lateness": lateness,  # /admin/system shows the clock, so lateness shows there
            },
            lateness=lateness,
            notes=len(self.notes),
            clock_epoch=self._epoch(),
        )

    def _epoch(self) -> tuple[int, int]:
        """(incarnation, count) of the changes of the current clock a kernel snapshot follows:
        the session, state, tempo, and the playhead's phase (the beat it would be at at time 0;
        playing does not change it, a seek or a re-anchor beyond drift does). The kernel reads it
        from the published stats after an eval: unchanged means no snapshot needed for the clock.
        """
        anchor = self._sc.tracker.clock.anchor
        phase = anchor.beat
        if anchor.state is TransportState.PLAYING:
            phase -= anchor.time * anchor.tempo_bpm / 60.0
        fingerprint = (
            self.session_id,
            anchor.state,
            round(anchor.tempo_bpm, 6),
            round(phase, 2) if math.isfinite(phase) else 0.0,
        )
        if fingerprint != self._clock_print:
            self._clock_print = fingerprint
            self._clock_epoch += 1
        return (self.context.generation, self._clock_epoch)


def _call_label(name: str, space: str, prompt: str | None, *extra: str) -> str:
    """`sample(orpheus_loops, "kick")`, as the seed's history shows calls."""
    parts = [space]
    if prompt:
        parts.append(json.dumps(prompt, ensure_ascii=False))
    parts.extend(extra)
    return f"{name}({', '.join(parts)})"


def _callback_args(event: Event) -> tuple[object, ...]:
    """What a callback rule receives (see the DSL decorators): fn(beat), fn(name),
    fn(artifact_id, tags), fn(job_id, state), fn(state)."""
    match event:
        case BeatCrossed(beat=beat):
            return (beat,)
        case MarkerHit(name=name):
            return (name,)
        case ArtifactSeen(artifact_id=artifact_id, tags=tags):
            return (artifact_id, list(tags))
        case JobFinished(job_id=job_id, state=state):
            return (job_id, state)
        case TransportChanged(state=state):
            return (state.value,)
    return ()  # pragma: no cover


def _reply_error(reply: Any) -> str:
    if isinstance(reply, ErrorReply):
        return f"{reply.code}: {reply.message}"
    return f"{type(reply).__name__}: {reply}"
