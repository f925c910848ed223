"""RuleScheduler: which rules fire, in which order, and what is persisted about it (issue 4,
must-show 2), on a real store and simulated time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.scheduler_actor.rig import Rig
from vibeweaver.actors.messages import InjectFault, Ping
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.errors import StoreError
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.scheduling.rules import (
    Action,
    BeatTrigger,
    CallbackAction,
    NotifyAction,
    Rule,
    SeekAction,
    Trigger,
)
from vibeweaver.service import ToolService
from vibeweaver.types import Priority, RuleId, SessionId

SECONDS_PER_BEAT = 0.5  # 120 BPM


def callback(name: str) -> CallbackAction:
    return CallbackAction(name=name, source=f"def {name}(beat):\n    pass\n")


def rule(
    rig: Rig,
    rule_id: str,
    action: Action,
    *,
    trigger: Trigger | None = None,
    priority: Priority = Priority.NORMAL,
    one_shot: bool = False,
    enabled: bool = True,
) -> RuleRecord:
    return rig.add_rule(
        Rule(
            id=RuleId(rule_id),
            session_id=rig.session.id,
            trigger=trigger or BeatTrigger(divisor=4),
            action=action,
            priority=priority,
            one_shot=one_shot,
            enabled=enabled,
            created_at=datetime.now(UTC),
        )
    )


def names(rig: Rig) -> list[str]:
    return [name for name, _ in rig.calls]


def test_rules_matching_one_event_run_critical_to_idle_with_ties_in_creation_order(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    created = [
        ("low_a", Priority.LOW),
        ("crit_a", Priority.CRITICAL),
        ("idle_a", Priority.IDLE),
        ("normal_a", Priority.NORMAL),
        ("high_a", Priority.HIGH),
        ("crit_b", Priority.CRITICAL),
        ("low_b", Priority.LOW),
        ("normal_b", Priority.NORMAL),
    ]
    for name, level in created:
        rule(rig, f"rule_{name}", callback(name), priority=level)
    expected = ["crit_a", "crit_b", "high_a", "normal_a", "normal_b", "low_a", "low_b", "idle_a"]

    rig.move("play")  # playback starts on beat 0, which every divisor matches
    assert names(rig) == expected
    assert {args for _, args in rig.calls} == {(0,)}

    rig.advance(4 * SECONDS_PER_BEAT)  # beat 4
    assert names(rig) == expected * 2
    assert [args for _, args in rig.calls[len(expected) :]] == [(4,)] * len(expected)


def test_notify_messages_are_kept_in_firing_order_and_shown_in_the_session_summary(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rule(rig, "rule_later", NotifyAction(message="then the bass"), priority=Priority.LOW)
    rule(rig, "rule_first", NotifyAction(message="drop incoming"), priority=Priority.HIGH)
    rig.move("play")

    status = rig.status()
    assert status.notes == ("drop incoming", "then the bass")
    summary = ToolService(rig.system, eval_timeout=5).session().summary
    assert "Notifications:\n  - drop incoming\n  - then the bass" in summary
    history = [(h.action, h.params) for h in rig.store.recent_history(rig.session.id, limit=5)]
    assert history[-2:] == [("notify", '"drop incoming"'), ("notify", '"then the bass"')]
    assert 'notify("drop incoming") ✓' in summary


def test_one_shot_rules_are_gone_after_firing_in_memory_and_in_the_database(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rule(rig, "rule_once", callback("once"), one_shot=True)
    rule(rig, "rule_always", callback("always"))
    assert rig.status().rules == 2

    rig.move("play")
    rig.advance(8 * SECONDS_PER_BEAT)  # beats 4 and 8

    assert rig.calls == [
        ("once", (0,)),
        ("always", (0,)),
        ("always", (4,)),
        ("always", (8,)),
    ]
    status = rig.status()
    assert (status.rules, status.rules_by_trigger) == (1, (("beat", 1),))
    assert rig.store.get_rule(RuleId("rule_once")) is None  # a read flushes the batched delete
    assert [r.id for r in rig.store.list_rules(rig.session.id)] == ["rule_always"]


def test_fired_count_and_last_fired_at_survive_a_restart(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rule(rig, "rule_kick", callback("kick"), trigger=BeatTrigger(divisor=1))
    rig.move("play")
    rig.advance(4 * SECONDS_PER_BEAT)  # beats 0..4
    assert [args for _, args in rig.calls] == [(0,), (1,), (2,), (3,), (4,)]
    rig.stop()  # the store flushes its batch on the way down

    again = make_rig()
    stored = again.store.get_rule(RuleId("rule_kick"))
    assert stored is not None
    assert stored.fired_count == 5
    assert stored.last_fired_at is not None
    assert datetime.fromisoformat(stored.last_fired_at) > datetime(2026, 1, 1, tzinfo=UTC)

    again.move("play")  # a new process starts with the transport stopped at beat 0
    again.advance(SECONDS_PER_BEAT)
    assert [args for _, args in again.calls] == [(0,), (1,)]
    stored = again.store.get_rule(RuleId("rule_kick"))
    assert stored is not None and stored.fired_count == 7


def test_a_crashed_scheduler_keeps_its_clock_and_neither_repeats_nor_loses_a_beat(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rule(rig, "rule_kick", callback("kick"), trigger=BeatTrigger(divisor=1))
    rig.move("play")
    rig.advance(2.2)  # beats 0..4, position 4.4
    rig.clock.advance(0.4)  # beat 5 passes while the crash and the restart happen
    rig.scheduler.tell(InjectFault(reason="test crash"))
    assert rig.scheduler.ask(Ping(), timeout=5).generation == 1
    rig.settle()
    assert [args[0] for _, args in rig.calls][-1] == 5  # fired late by the new incarnation
    rig.advance(0.6)  # position 6.4

    assert [args[0] for _, args in rig.calls] == [0, 1, 2, 3, 4, 5, 6]
    status = rig.status()
    assert status.clock_state == "playing"
    assert abs(status.clock_beat - 6.4) < 1e-6
    stored = rig.store.get_rule(RuleId("rule_kick"))
    assert stored is not None and stored.fired_count == 7


def test_a_disabled_rule_does_not_fire_and_fires_again_once_enabled(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    saved = rule(rig, "rule_kick", callback("kick"), trigger=BeatTrigger(divisor=2))
    rig.move("play")
    disabled = rig.store.set_rule_enabled(RuleId(saved.id), False)
    rig.scheduler.tell(sm.RuleSaved(rule=disabled))
    rig.advance(4 * SECONDS_PER_BEAT)
    enabled = rig.store.set_rule_enabled(RuleId(saved.id), True)
    rig.scheduler.tell(sm.RuleSaved(rule=enabled))
    rig.advance(4 * SECONDS_PER_BEAT)

    assert [args[0] for _, args in rig.calls] == [0, 6, 8]
    status = rig.status()
    assert (status.rules, status.enabled_rules) == (1, 1)


def test_a_rule_added_or_deleted_between_beats_only_affects_later_beats(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    rig.advance(1.1)  # beats 0..2 passed with no rule
    rule(rig, "rule_kick", callback("kick"), trigger=BeatTrigger(divisor=1))
    rig.advance(1.0)  # beats 3, 4
    rig.scheduler.tell(sm.RuleDeleted(rule_id=RuleId("rule_kick")))
    rig.advance(2.0)

    assert [args[0] for _, args in rig.calls] == [3, 4]
    assert rig.status().rules == 0


def test_an_unreadable_rule_is_reported_in_the_notes_and_never_fires(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    broken = RuleRecord(
        id=RuleId("rule_broken"),
        session_id=rig.session.id,
        trigger_type="beat",
        trigger_params='{"divisor":0}',
        action_type="notify",
        action_params='{"message":"never"}',
    )
    saved = rig.store.save_rule(broken)
    rig.scheduler.tell(sm.RuleSaved(rule=saved))
    rig.move("play")
    rig.advance(2.0)

    status = rig.status()
    assert status.rules == 0
    assert any("rule_broken cannot be read" in note and "divisor" in note for note in status.notes)
    assert "never" not in status.notes


def test_a_rule_that_seeks_back_loops_the_transport_without_spinning_on_one_instant(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rule(rig, "rule_loop", SeekAction(beat=0.0), trigger=BeatTrigger(divisor=8))
    rule(rig, "rule_kick", callback("kick"), trigger=BeatTrigger(divisor=4))
    rig.move("seek", beat=1.0)
    rig.move("play")
    rig.advance(7.5 * SECONDS_PER_BEAT)  # to beat 8.5: the loop fired at beat 8, back to 0 (+0.5)
    status = rig.status()
    assert abs(status.clock_beat - 0.5) < 1e-6
    # kick on 4 and on 8 (= the loop start, the same instant as beat 0): once per instant
    assert [args[0] for _, args in rig.calls] == [4, 8]
    rig.advance(8 * SECONDS_PER_BEAT)  # beats 4 and 8 of the second pass
    assert [args[0] for _, args in rig.calls] == [4, 8, 4, 8]
    assert not any("kept moving" in note for note in rig.status().notes)


def test_switching_sessions_swaps_rules_and_clocks_and_switching_back_resumes_the_first(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rule(rig, "rule_jam", callback("jam_kick"), trigger=BeatTrigger(divisor=1))
    rig.move("play")
    rig.advance(1.0)  # jam: beats 0..2
    other = rig.store.open_session("other")
    rig.store.update_session(other.id, tempo_bpm=90.0)
    rig.scheduler.ask(sm.SwitchSession(session_id=other.id), timeout=5)
    status = rig.status()
    assert (status.session_id, status.rules, status.clock_state, status.tempo_bpm) == (
        other.id,
        0,
        "stopped",
        90.0,
    )
    rig.advance(2.0)  # the other session's clock is stopped and has no rules
    rig.scheduler.ask(sm.SwitchSession(session_id=rig.session.id), timeout=5)
    status = rig.status()
    assert (status.session_id, status.rules, status.clock_state) == (rig.session.id, 1, "playing")
    assert status.clock_beat == pytest.approx(6.0)  # jam's transport kept playing meanwhile
    rig.advance(0.5)
    # beats passed while another session was current never fire; jam resumes at beat 7
    assert [args[0] for _, args in rig.calls] == [0, 1, 2, 7]


def test_switching_to_an_unknown_session_is_an_error_reply(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    with pytest.raises(StoreError, match="no session with id 'session_nope'"):
        rig.scheduler.ask(sm.SwitchSession(session_id=SessionId("session_nope")), timeout=5)
    assert rig.status().session_id == rig.session.id
    assert rig.scheduler.stats.restarts == 0
