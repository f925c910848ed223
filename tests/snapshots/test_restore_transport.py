"""The RuleScheduler's side of kernel snapshots, on simulated time: `RestoreTransport` puts a
session's clock where a snapshot left it, only while nothing else set it in this process, and
`GetClock(session_id=...)` reads the clock of a session left by a switch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.scheduler_actor.rig import Rig, build_rig
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.actors.scheduler.actor import TransportError
from vibeweaver.scheduling.rules import BeatTrigger, CallbackAction, Rule, TransportTrigger
from vibeweaver.types import RuleId, SessionId, TransportState
from vibeweaver.wire.broadcasts import TransportStateChanged

ASK_S = 5.0


@pytest.fixture
def hub() -> EventHub:
    return EventHub()


@pytest.fixture
def rig(tmp_path: Path, hub: EventHub) -> Iterator[Rig]:
    rig = build_rig(tmp_path / "vw.db", hub=hub)
    yield rig
    rig.stop()


def restore(rig: Rig, session_id: str, state: str, beat: float, bpm: float) -> sm.TransportRestored:
    ask = sm.RestoreTransport(
        session_id=SessionId(session_id), state=state, beat=beat, tempo_bpm=bpm
    )
    reply = rig.scheduler.ask(ask, timeout=ASK_S)
    assert isinstance(reply, sm.TransportRestored)
    rig.settle()
    return reply


def callback_rule(rig: Rig, rule_id: str, trigger: BeatTrigger | TransportTrigger) -> None:
    rig.add_rule(
        Rule(
            id=RuleId(rule_id),
            session_id=rig.session.id,
            trigger=trigger,
            action=CallbackAction(name=rule_id, source=f"def {rule_id}(*a):\n    pass\n"),
            created_at=datetime.now(UTC),
        )
    )


def test_a_fresh_clock_takes_the_snapshots_position_and_tempo_without_firing_rules(
    rig: Rig,
) -> None:
    callback_rule(rig, "every", BeatTrigger(divisor=1))
    callback_rule(rig, "moved", TransportTrigger(state=TransportState.PAUSED))
    reply = restore(rig, rig.session.id, "paused", 12.0, 140.0)
    assert reply.applied and reply.reason is None
    assert reply.clock is not None
    assert (reply.clock.state, reply.clock.position, reply.clock.tempo_bpm) == (
        "paused",
        12.0,
        140.0,
    )
    rig.advance(10.0)
    assert rig.calls == []  # a state load: no transport change, no beats while paused
    rig.move("play")
    rig.advance(60 / 140 * 1.5)  # 1.5 beats at 140 BPM
    assert [args[0] for name, args in rig.calls if name == "every"] == [12, 13]  # from there on


def test_a_clock_set_in_this_process_is_not_overwritten_by_a_snapshot(rig: Rig) -> None:
    rig.move("seek", beat=3.0)
    reply = restore(rig, rig.session.id, "paused", 40.0, 90.0)
    assert not reply.applied
    assert reply.reason is not None and "already set in this process" in reply.reason
    assert reply.clock is not None and reply.clock.position == 3.0
    # a restore counts as setting it: a second snapshot (a switch back) does not apply either
    rig.scheduler.ask(sm.SwitchSession(session_id=other_session(rig)), timeout=ASK_S)
    assert restore(rig, other_session(rig), "stopped", 5.0, 100.0).applied
    assert not restore(rig, other_session(rig), "paused", 9.0, 100.0).applied


def test_a_hootenanny_broadcast_wins_over_the_snapshot(rig: Rig, hub: EventHub) -> None:
    hub.publish(TransportStateChanged(state="playing", position_beats=64.0, tempo_bpm=120.0))
    rig.settle()
    reply = restore(rig, rig.session.id, "paused", 12.0, 90.0)
    assert not reply.applied
    clock = rig.scheduler.ask(sm.GetClock(), timeout=ASK_S)
    assert clock.state == "playing" and clock.position >= 64.0


def test_bad_restore_values_are_error_replies_and_unknown_sessions_are_skipped(rig: Rig) -> None:
    for state, beat, bpm, message in (
        ("playing", 1.0, 120.0, "never playing"),
        ("sideways", 1.0, 120.0, "unknown transport state"),
        ("paused", -1.0, 120.0, "beat >= 0"),
        ("paused", float("nan"), 120.0, "beat >= 0"),
        ("paused", 1.0, 5000.0, "between"),
    ):
        with pytest.raises(TransportError, match=message):
            rig.scheduler.ask(
                sm.RestoreTransport(
                    session_id=rig.session.id, state=state, beat=beat, tempo_bpm=bpm
                ),
                timeout=ASK_S,
            )
    reply = restore(rig, "session_unknown", "paused", 1.0, 120.0)
    assert (reply.applied, reply.clock) == (False, None)
    assert reply.reason == "the session's clock is not loaded"
    assert restore(rig, rig.session.id, "stopped", 8.0, 100.0).applied  # still fresh


def test_get_clock_reads_the_clock_of_a_session_left_by_a_switch(rig: Rig) -> None:
    rig.move("seek", beat=16.0)
    rig.move("tempo", bpm=100.0)
    rig.scheduler.ask(sm.SwitchSession(session_id=other_session(rig)), timeout=ASK_S)
    current = rig.scheduler.ask(sm.GetClock(), timeout=ASK_S)
    left = rig.scheduler.ask(sm.GetClock(session_id=rig.session.id), timeout=ASK_S)
    assert (current.position, current.tempo_bpm) == (0.0, 120.0)
    assert (left.position, left.tempo_bpm) == (16.0, 100.0)


def other_session(rig: Rig) -> SessionId:
    return rig.store.open_session("other").id
