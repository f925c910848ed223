"""RuleScheduler: the logical clock (SPEC 4.4) behind MoveTransport/GetClock, its wake timer, the
hub's broadcasts, lateness, and the seed's actions, on simulated time."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scheduler_actor.rig import FakeLink, Rig, build_rig
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.scheduler import actor as scheduler_actor
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.actors.scheduler.actor import DEFAULT_REGION_BEATS, TransportError
from vibeweaver.errors import VibeweaverError
from vibeweaver.scheduling.rules import (
    Action,
    ArtifactTrigger,
    AuditionAction,
    BeatTrigger,
    CallbackAction,
    JobCompleteTrigger,
    MarkerTrigger,
    NotifyAction,
    Rule,
    SampleAction,
    SampleAndScheduleAction,
    ScheduleAction,
    TransportTrigger,
    Trigger,
)
from vibeweaver.types import JobId, Priority, RuleId, TransportState
from vibeweaver.wire.broadcasts import (
    ArtifactCreated,
    BeatTick,
    JobStateChanged,
    MarkerReached,
    TransportStateChanged,
)
from vibeweaver.wire.tools import GardenCreateRegion, GardenPlay, GardenSeek, GardenSetTempo

SPB = 0.5  # seconds per beat at 120 BPM


def add(
    rig: Rig,
    rule_id: str,
    trigger: Trigger,
    action: Action | None = None,
    priority: Priority = Priority.NORMAL,
) -> None:
    rig.add_rule(
        Rule(
            id=RuleId(rule_id),
            session_id=rig.session.id,
            trigger=trigger,
            action=action or CallbackAction(name=rule_id, source=f"def {rule_id}(*a):\n    pass\n"),
            priority=priority,
            created_at=datetime.now(UTC),
        )
    )


def beats(rig: Rig, name: str | None = None) -> list[object]:
    return [args[0] for called, args in rig.calls if name is None or called == name]


# -- MoveTransport / GetClock ---------------------------------------------------------------------


def test_transport_moves_reply_with_the_clock_snapshot(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    t0 = rig.clock()
    stopped = rig.scheduler.ask(sm.GetClock(), timeout=5)
    assert (stopped.state, stopped.tempo_bpm, stopped.position) == ("stopped", 120.0, 0.0)

    playing = rig.move("play")
    assert (playing.state, playing.anchor_time, playing.anchor_beat) == ("playing", t0, 0.0)
    rig.clock.advance(3.0)
    assert rig.scheduler.ask(sm.GetClock(), timeout=5).position == pytest.approx(6.0)

    faster = rig.move("tempo", bpm=180.0)
    assert (faster.tempo_bpm, faster.anchor_beat) == (180.0, pytest.approx(6.0))  # type: ignore[comparison-overlap]  # approx() == float
    rig.clock.advance(1.0)  # 3 beats per second now
    paused = rig.move("pause")
    assert (paused.state, paused.position) == ("paused", pytest.approx(9.0))  # type: ignore[comparison-overlap]  # approx() == float
    rig.clock.advance(5.0)
    assert rig.scheduler.ask(sm.GetClock(), timeout=5).position == pytest.approx(9.0)

    sought = rig.move("seek", beat=64)
    assert (sought.state, sought.position) == ("paused", 64.0)
    done = rig.move("stop")
    assert (done.state, done.position, done.tempo_bpm) == ("stopped", 0.0, 180.0)
    status = rig.status()
    assert (status.clock_state, status.clock_beat, status.tempo_bpm) == ("stopped", 0.0, 180.0)


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (sm.MoveTransport(action="rewind"), "unknown transport action 'rewind'"),
        (sm.MoveTransport(action="seek"), "seek needs a beat >= 0, got None"),
        (sm.MoveTransport(action="seek", beat=-1.0), "got -1.0"),
        (sm.MoveTransport(action="tempo", bpm=0.0), "tempo needs a BPM between 1 and 999, got 0.0"),
        (sm.MoveTransport(action="tempo", bpm=float("nan")), "got nan"),
    ],
)
def test_a_bad_transport_move_is_an_error_reply_not_a_crash(
    make_rig: Callable[..., Rig], message: sm.MoveTransport, needle: str
) -> None:
    rig = make_rig()
    with pytest.raises(TransportError) as raised:
        rig.scheduler.ask(message, timeout=5)
    assert needle in str(raised.value)
    assert isinstance(raised.value, VibeweaverError)
    assert rig.scheduler.stats.restarts == 0


# -- beats from the clock -------------------------------------------------------------------------


def test_beat_rules_fire_once_per_qualifying_beat_in_order_whatever_the_tick_spacing(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    add(rig, "every", BeatTrigger(divisor=1))
    add(rig, "thirds", BeatTrigger(divisor=3))
    rig.move("play")
    # irregular, coarse wake-ups (no timer fired in between): 3.7 s, then 0.01 s, then 5.3 s
    for step in (3.7, 0.01, 5.3):
        rig.clock.advance(step)
        rig.scheduler.tell(sm.Tick())
        rig.settle()
    assert beats(rig, "every") == list(range(19))  # position 18.02
    assert beats(rig, "thirds") == [0, 3, 6, 9, 12, 15, 18]
    # and with the timer driving, each beat at its own moment
    rig.advance(10 * SPB)
    assert beats(rig, "every") == list(range(29))
    assert beats(rig, "thirds") == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.floats(min_value=0.0, max_value=3.0)),
        st.tuples(st.just("fire"), st.just(0.0)),  # the timer's own wake-up
        st.tuples(st.just("pause"), st.just(0.0)),
        st.tuples(st.just("play"), st.just(0.0)),
        st.tuples(st.just("tempo"), st.floats(min_value=30.0, max_value=400.0)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(divisor=st.integers(min_value=1, max_value=5), steps=_STEPS)
def test_property_through_the_actor_every_qualifying_beat_fires_once_in_order(
    divisor: int, steps: list[tuple[str, float]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = build_rig(Path(tmp) / "vw.db")
        try:
            add(rig, "r", BeatTrigger(divisor=divisor))
            rig.move("play")
            for action, value in steps:
                if action == "wait":
                    rig.clock.advance(value)
                    rig.scheduler.tell(sm.Tick())
                elif action == "fire":
                    due = rig.timer("scheduler").due
                    if due is not None:
                        rig.clock.set(max(due, rig.clock()))
                        rig.timer("scheduler").fire()
                elif action == "tempo":
                    rig.move("tempo", bpm=value)
                else:
                    rig.move(action)
            position = rig.status().clock_beat  # asking catches up: all passed beats fired
            expected = list(range(0, math.floor(position + 1e-9) + 1, divisor))
            assert beats(rig) == expected
        finally:
            rig.stop()


def test_the_timer_sleeps_until_the_next_due_beat_and_is_disarmed_when_nothing_can_fire(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    # every change published at once: no held-back publish arms the timer here (its own test is
    # test_a_burst_of_events_is_published_once_and_the_last_state_shortly_after)
    monkeypatch.setattr(scheduler_actor, "PUBLISH_INTERVAL_S", 0.0)
    rig = make_rig()
    timer = rig.timer("scheduler")
    assert timer.due is None  # no beat rule: nothing to wake up for
    t0 = rig.clock()
    rig.move("play")
    assert timer.due is None  # playing, but still no beat rule
    add(rig, "bar", BeatTrigger(divisor=4))
    assert timer.due == pytest.approx(t0 + 4 * SPB)
    add(rig, "half", BeatTrigger(divisor=2))
    assert timer.due == pytest.approx(t0 + 2 * SPB)  # woken early by the new rule
    rig.move("tempo", bpm=60.0)
    assert timer.due == pytest.approx(t0 + 2.0)  # still beat 2, now 1 s per beat from t0
    rig.move("pause")
    assert timer.due is None  # paused: no beat comes by itself
    assert len(timer.armed) < 20  # armed per change, never polled


def test_each_firing_records_its_lateness_and_p50_p99_are_published_and_summarised(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    add(rig, "kick", BeatTrigger(divisor=1))
    rig.move("play")
    rig.advance(98 * SPB)  # beats 0..98, each handled exactly at its ideal time
    rig.clock.advance(SPB + 0.25)  # beat 99 handled 250 ms late (a slow wake-up)
    rig.scheduler.tell(sm.Tick())
    status = rig.status()

    assert status.lateness_count == 100
    assert status.lateness_p50_ms == pytest.approx(0.0, abs=1e-6)
    assert status.lateness_p99_ms == pytest.approx(0.0, abs=1e-6)
    assert status.lateness == "beat lateness p50 0.00 ms, p99 0.00 ms, max 250.0 ms (100 firings)"
    published = rig.scheduler.stats.published
    assert published["lateness"]["count"] == 100
    assert published["lateness"]["max_ms"] == pytest.approx(250.0)
    assert set(published["lateness"]) >= {"p50_ms", "p99_ms", "line"}
    assert published["rules"] == {"total": 1, "enabled": 1, "by_trigger": {"beat": 1}}
    assert published["clock"]["state"] == "playing"


# -- hub broadcasts -------------------------------------------------------------------------------


def test_broadcasts_reanchor_the_clock_and_each_beat_still_fires_once(
    make_rig: Callable[..., Rig],
) -> None:
    hub = EventHub()
    rig = make_rig(hub=hub)
    assert "scheduler" in hub.subscribers
    add(rig, "kick", BeatTrigger(divisor=1))
    hub.publish(TransportStateChanged(state="playing", position_beats=8.0, tempo_bpm=120.0))
    rig.settle()
    assert rig.scheduler.ask(sm.GetClock(), timeout=5).position == 8.0
    assert beats(rig) == [8]  # playback starts on beat 8

    rig.advance(1.0)  # local clock: beats 9, 10
    # hootenanny ticks slightly behind (drift): no beat fires twice
    hub.publish(BeatTick(timestamp_nanos=0, beat=9, position_beats=9.9, tempo_bpm=120.0))
    rig.advance(0.6)  # 10.1 -> 11.1 after the correction
    assert beats(rig) == [8, 9, 10, 11]
    # a jump (hootenanny looped to 32): skipped beats never fire, the landing beat does
    hub.publish(BeatTick(timestamp_nanos=0, beat=32, position_beats=32.0, tempo_bpm=120.0))
    rig.advance(SPB)
    assert beats(rig) == [8, 9, 10, 11, 32, 33]
    hub.publish(TransportStateChanged(state="paused", position_beats=33.2, tempo_bpm=120.0))
    rig.advance(5.0)
    assert beats(rig) == [8, 9, 10, 11, 32, 33]
    assert rig.status().clock_state == "paused"


def test_marker_artifact_job_and_transport_broadcasts_fire_their_rules_with_their_arguments(
    make_rig: Callable[..., Rig],
) -> None:
    hub = EventHub()
    rig = make_rig(hub=hub)
    add(rig, "on_drop", MarkerTrigger(name="drop"))
    add(rig, "on_kick_artifact", ArtifactTrigger(tag="kick"))
    add(rig, "on_any_artifact", ArtifactTrigger(tag=None))
    add(rig, "on_job", JobCompleteTrigger(job_id=JobId("job_7")))
    add(rig, "on_play", TransportTrigger(state=TransportState.PLAYING))

    hub.publish(MarkerReached(position_beats=16.0, marker_type="drop"))
    hub.publish(MarkerReached(position_beats=16.0, marker_type="drop"))  # same pass: once
    hub.publish(ArtifactCreated(artifact_id="artifact_1", content_hash="h", tags=("kick", "dark")))
    hub.publish(ArtifactCreated(artifact_id="artifact_2", content_hash="h", tags=("pad",)))
    hub.publish(JobStateChanged(job_id="job_7", state="running"))
    hub.publish(JobStateChanged(job_id="job_7", state="complete"))
    hub.publish(TransportStateChanged(state="playing", position_beats=0.0, tempo_bpm=120.0))
    hub.publish(TransportStateChanged(state="playing", position_beats=0.0, tempo_bpm=120.0))
    rig.settle()

    assert rig.calls == [
        ("on_drop", ("drop",)),
        ("on_kick_artifact", ("artifact_1", ["kick", "dark"])),
        ("on_any_artifact", ("artifact_1", ["kick", "dark"])),
        ("on_any_artifact", ("artifact_2", ["pad"])),
        ("on_job", ("job_7", "complete")),
        ("on_play", ("playing",)),
    ]


def test_local_markers_fire_marker_rules_once_per_pass_of_the_playhead(
    make_rig: Callable[..., Rig],
) -> None:
    hub = EventHub()
    rig = make_rig(hub=hub)
    rig.store.save_marker(rig.session.id, "drop", 6.0)
    rig.scheduler.tell(sm.MarkersChanged(session_id=rig.session.id))
    add(rig, "on_drop", MarkerTrigger(name="drop"))
    t0 = rig.clock()
    rig.move("play")
    assert rig.timer("scheduler").due == pytest.approx(t0 + 6 * SPB)  # woken for the marker
    rig.advance(4.0)  # to beat 8: passes the marker at 6
    hub.publish(MarkerReached(position_beats=6.0, marker_type="drop"))  # hootenanny agrees
    rig.settle()
    assert rig.calls == [("on_drop", ("drop",))]
    rig.move("seek", beat=6.0)  # a new pass that lands on the marker
    rig.advance(1.0)
    assert rig.calls == [("on_drop", ("drop",))] * 2
    assert rig.status().lateness_count == 2


# -- the seed's actions and forwarding to hootenanny ----------------------------------------------


def test_transport_moves_are_forwarded_to_a_connected_hootenanny_and_broadcasts_are_not_echoed(
    make_rig: Callable[..., Rig],
) -> None:
    hub = EventHub()
    link = FakeLink()
    rig = make_rig(hub=hub, link=link)
    rig.move("play")
    rig.move("seek", beat=32.0)
    rig.move("tempo", bpm=90.0)
    assert link.calls == [GardenPlay(), GardenSeek(beat=32.0), GardenSetTempo(bpm=90.0)]
    hub.publish(TransportStateChanged(state="paused", position_beats=40.0, tempo_bpm=90.0))
    rig.settle()
    assert len(link.calls) == 3
    link.connected = False
    rig.move("play")  # not connected: only the local clock moves
    assert len(link.calls) == 3
    assert rig.scheduler.ask(sm.GetClock(), timeout=5).state == "playing"


def test_generation_actions_go_to_the_generation_layer_and_their_results_to_history(
    make_rig: Callable[..., Rig],
) -> None:
    link = FakeLink()
    rig = make_rig(link=link)
    assert rig.generation is not None
    add(rig, "rule_sample", BeatTrigger(divisor=4), SampleAction(space="orpheus_loops", prompt="x"))
    add(
        rig,
        "rule_sas",
        BeatTrigger(divisor=8),
        SampleAndScheduleAction(space="musicgen", prompt="pad", at=32.0, duration=8.0),
        priority=Priority.HIGH,
    )
    rig.move("play")  # beat 0: both
    started = rig.generation.wait_started(2)
    assert [(s.space, s.prompt) for s in started] == [("musicgen", "pad"), ("orpheus_loops", "x")]
    rig.generation.complete(started[0], "artifact_pad")
    rig.generation.fail(started[1], "GPU on fire")
    rig.settle()

    assert link.calls == [
        GardenPlay(),
        GardenCreateRegion(position=32.0, duration=8.0, content_id="artifact_pad"),
    ]
    history = {
        (h.action, h.params, h.result, h.success) for h in rig.store.recent_history(rig.session.id)
    }
    assert history == {
        ("sample_and_schedule", 'musicgen, "pad", at=32', "artifact_pad", True),
        ("sample", 'orpheus_loops, "x"', "GPU on fire", False),
        ("schedule", "artifact_pad, at=32", None, True),
    }
    assert any("GPU on fire" in note for note in rig.status().notes)


def test_schedule_audition_and_sample_without_their_layer_fail_clearly_in_history_and_notes(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(with_generation=False)  # no generation layer, no hootenanny link
    add(rig, "rule_s", BeatTrigger(divisor=4), SampleAction(space="orpheus_loops"))
    add(rig, "rule_c", BeatTrigger(divisor=4), ScheduleAction(content="artifact_1", at=16.0))
    add(rig, "rule_a", BeatTrigger(divisor=4), AuditionAction(content="artifact_1"))
    add(rig, "rule_n", BeatTrigger(divisor=4), NotifyAction(message="still here"))
    rig.move("play")

    notes = rig.status().notes
    assert notes[-1] == "still here"
    assert any(
        "sample(orpheus_loops)" in n and "needs the hootenanny generation layer" in n for n in notes
    )
    assert any("schedule(artifact_1, at=16)" in n and "not connected" in n for n in notes)
    assert any("audition(artifact_1)" in n and "no audition tool" in n for n in notes)
    failures = [h for h in rig.store.recent_history(rig.session.id) if not h.success]
    assert {(h.action, h.params) for h in failures} == {
        ("sample", "orpheus_loops"),
        ("schedule", "artifact_1, at=16"),
        ("audition", "artifact_1"),
    }
    for rule_id in ("rule_s", "rule_c", "rule_a", "rule_n"):  # attempted = fired
        stored = rig.store.get_rule(RuleId(rule_id))
        assert stored is not None and stored.fired_count == 1


def test_a_schedule_without_duration_uses_the_default_region_length(
    make_rig: Callable[..., Rig],
) -> None:
    link = FakeLink()
    rig = make_rig(link=link)
    add(rig, "rule_c", BeatTrigger(divisor=4), ScheduleAction(content="artifact_1", at=16.0))
    rig.move("play")
    assert link.calls == [
        GardenPlay(),
        GardenCreateRegion(position=16.0, duration=DEFAULT_REGION_BEATS, content_id="artifact_1"),
    ]


def test_a_burst_of_events_is_published_once_and_the_last_state_shortly_after(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    stats = rig.system.handle("scheduler").stats
    published_rules = lambda: stats.published.get("rules", {}).get("total")  # noqa: E731
    timer = rig.timer("scheduler")
    rig.clock.advance(scheduler_actor.PUBLISH_INTERVAL_S)  # the start's publish is long past
    add(rig, "first", BeatTrigger(divisor=4))
    assert published_rules() == 1
    add(rig, "second", BeatTrigger(divisor=8))  # within the interval: held back...
    assert published_rules() == 1
    assert timer.due == pytest.approx(rig.clock() + scheduler_actor.PUBLISH_INTERVAL_S, abs=0.01)
    rig.clock.advance(scheduler_actor.PUBLISH_INTERVAL_S)
    rig.scheduler.tell(sm.Tick())  # ...and published when the timer wakes
    rig.status()
    assert published_rules() == 2


def test_a_batch_of_broadcasts_fires_its_rules_in_order_in_one_message(
    make_rig: Callable[..., Rig],
) -> None:
    from vibeweaver.scheduling.rules import ArtifactTrigger, NotifyAction
    from vibeweaver.wire.broadcasts import ArtifactCreated

    rig = make_rig()
    add(rig, "drums", ArtifactTrigger(tag="drums"), NotifyAction(message="drums"))
    add(rig, "bass", ArtifactTrigger(tag="bass"), NotifyAction(message="bass"))
    burst = tuple(
        ArtifactCreated(artifact_id=f"a{i}", content_hash="h", tags=(tag,))
        for i, tag in enumerate(["drums", "bass", "drums", "zz"])
    )
    rig.scheduler.tell(sm.HubEvents(events=burst, received_at=rig.clock()))
    taken = rig.scheduler.ask(sm.TakeNotifications(), timeout=5)
    assert taken == ("drums", "bass", "drums")
