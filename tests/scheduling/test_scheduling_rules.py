"""Rules as data: validation, the persisted form, descriptions and the rule index."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.persistence.records import RuleRecord
from vibeweaver.scheduling import (
    Action,
    ArtifactSeen,
    ArtifactTrigger,
    AuditionAction,
    BeatCrossed,
    BeatTrigger,
    CallbackAction,
    DeadlineTrigger,
    JobCompleteTrigger,
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
    TransportTrigger,
    Trigger,
    describe_rule,
    rule_from_record,
    rule_to_record,
)
from vibeweaver.types import (
    ActionType,
    ArtifactId,
    JobId,
    Priority,
    RuleId,
    SessionId,
    TransportState,
    TriggerType,
)

SETTINGS = settings(max_examples=150, deadline=None)

# ---- strategies ------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")
beats = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
lengths = st.none() | st.floats(min_value=0.001, max_value=1e4, allow_nan=False)
gains = st.floats(min_value=0, max_value=4, allow_nan=False)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
inference = st.dictionaries(names, scalars, max_size=4).map(lambda d: tuple(d.items()))
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)

triggers: st.SearchStrategy[Trigger] = st.one_of(
    st.builds(BeatTrigger, divisor=st.integers(1, 512)),
    st.builds(MarkerTrigger, name=names),
    st.builds(DeadlineTrigger, beat=beats),
    st.builds(ArtifactTrigger, tag=st.none() | names),
    st.builds(JobCompleteTrigger, job_id=names.map(JobId)),
    st.builds(TransportTrigger, state=st.sampled_from(TransportState)),
)
actions: st.SearchStrategy[Action] = st.one_of(
    st.builds(
        SampleAction, space=names, prompt=st.none() | st.text(max_size=20), inference=inference
    ),
    st.builds(ScheduleAction, content=names, at=beats, duration=lengths, gain=gains),
    st.builds(
        SampleAndScheduleAction,
        space=names,
        prompt=st.none() | st.text(max_size=20),
        at=beats,
        duration=lengths,
        gain=gains,
        inference=inference,
    ),
    st.builds(PlayAction),
    st.builds(PauseAction),
    st.builds(StopAction),
    st.builds(SeekAction, beat=beats),
    st.builds(AuditionAction, content=names, duration=lengths),
    st.builds(NotifyAction, message=st.text(max_size=30)),
    st.builds(
        CallbackAction, name=identifiers, source=names.map(lambda s: f"def f():\n    {s!r}\n")
    ),
)
stamps = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
rules = st.builds(
    Rule,
    id=names.map(RuleId),
    session_id=names.map(SessionId),
    trigger=triggers,
    action=actions,
    priority=st.sampled_from(Priority),
    enabled=st.booleans(),
    one_shot=st.booleans(),
    fired_count=st.integers(0, 10**9),
    last_fired_at=stamps,
    seq=st.integers(0, 10**6),
    created_at=stamps,
)


def make_rule(
    rule_id: str,
    trigger: Trigger | None = None,
    action: Action | None = None,
    *,
    priority: Priority = Priority.NORMAL,
    seq: int = 0,
    **changes: object,
) -> Rule:
    rule = Rule(
        id=RuleId(rule_id),
        session_id=SessionId("s1"),
        trigger=trigger or BeatTrigger(divisor=4),
        action=action or NotifyAction(message="hi"),
        priority=priority,
        seq=seq,
    )
    return replace(rule, **changes) if changes else rule  # type: ignore[arg-type]


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BeatTrigger(divisor=0), "divisor must be >= 1"),
        (lambda: BeatTrigger(divisor=True), "must be an integer"),
        (lambda: DeadlineTrigger(beat=float("inf")), "finite"),
        (lambda: DeadlineTrigger(beat=-1), ">= 0"),
        (lambda: MarkerTrigger(name="  "), "marker name must not be empty"),
        (lambda: ScheduleAction(content="a", at=0, gain=4.5), "gain must be between 0 and 4"),
        (lambda: ScheduleAction(content="a", at=float("nan")), "finite"),
        (lambda: ScheduleAction(content="a", at=0, duration=0), "> 0"),
        (lambda: SeekAction(beat=float("-inf")), "finite"),
        (lambda: CallbackAction(name="not valid", source="x"), "identifier"),
        (lambda: SampleAction(space="s", inference=(("t", float("nan")),)), "finite"),
        (lambda: SampleAction(space="s", inference=(("t", [1]),)), "string, number, bool"),
        (lambda: SampleAction(space="s", inference=(("t", 1), ("t", 2))), "given twice"),
        (lambda: TransportTrigger(state="dancing"), "unknown transport state"),  # type: ignore[arg-type]
    ],
)
def test_invalid_triggers_and_actions_are_refused_with_a_message_naming_the_problem(
    build: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_a_rule_accepts_a_priority_name_and_refuses_an_unknown_one() -> None:
    assert make_rule("r", priority="HIGH").priority is Priority.HIGH  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown priority"):
        make_rule("r", priority="urgent")  # type: ignore[arg-type]


def test_inference_parameters_are_kept_sorted_so_equal_settings_compare_equal() -> None:
    a = SampleAction(space="s", inference=(("top_p", 0.9), ("temperature", 1.0)))
    b = SampleAction(space="s", inference=(("temperature", 1.0), ("top_p", 0.9)))
    assert a == b
    assert hash(a) == hash(b)


# ---- persisted form --------------------------------------------------------------------------


@SETTINGS
@given(rules)
def test_every_rule_survives_the_round_trip_through_its_record(rule: Rule) -> None:
    record = rule_to_record(rule)
    assert record.trigger_type == rule.trigger.kind.value
    assert record.action_type == rule.action.kind.value
    assert isinstance(json.loads(record.trigger_params), dict)
    assert isinstance(json.loads(record.action_params), dict)
    assert rule_from_record(record) == rule


def test_record_params_are_compact_json_objects() -> None:
    rule = make_rule(
        "r1",
        BeatTrigger(divisor=32),
        SampleAndScheduleAction(space="orpheus", prompt="kick", at=16),
        priority=Priority.LOW,
        seq=7,
    )
    record = rule_to_record(rule)
    assert record.trigger_type == TriggerType.BEAT.value
    assert record.trigger_params == '{"divisor":32}'
    assert record.action_type == ActionType.SAMPLE_AND_SCHEDULE.value
    assert json.loads(record.action_params) == {
        "space": "orpheus",
        "prompt": "kick",
        "inference": {},
        "at": 16.0,
        "duration": None,
        "gain": 0.8,
    }
    assert " " not in record.action_params
    assert (record.priority, record.seq, record.created_at) == ("low", 7, "")


def _record(**changes: object) -> RuleRecord:
    base = RuleRecord(
        id=RuleId("r9"),
        session_id=SessionId("s1"),
        trigger_type="beat",
        trigger_params='{"divisor":4}',
        action_type="notify",
        action_params='{"message":"hi"}',
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trigger_type": "lunar_phase"}, r"rule 'r9': unknown trigger type 'lunar_phase'"),
        ({"action_type": "dance"}, r"rule 'r9': unknown action type 'dance' \(known: sample"),
        ({"trigger_params": "{"}, "not valid JSON"),
        ({"trigger_params": "[4]"}, "must be a JSON object"),
        ({"trigger_params": "{}"}, "missing param 'divisor'"),
        ({"trigger_params": '{"divisor":"4"}'}, "'divisor' must be an integer"),
        ({"trigger_params": '{"divisor":0}'}, "divisor must be >= 1"),
        ({"action_params": '{"message":3}'}, "'message' must be a string"),
        ({"priority": "urgent"}, "unknown priority"),
        ({"last_fired_at": "yesterday"}, "last_fired_at is not an ISO-8601 timestamp"),
    ],
)
def test_a_bad_record_raises_a_clear_error_naming_the_rule(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(RuleRecordError, match=message):
        rule_from_record(_record(**changes))


def test_a_record_timestamp_written_by_sqlite_is_read() -> None:
    rule = rule_from_record(_record(created_at="2026-01-02 03:04:05", last_fired_at=None))
    assert rule.created_at == datetime(2026, 1, 2, 3, 4, 5)
    assert rule.last_fired_at is None


# ---- descriptions ----------------------------------------------------------------------------


def test_rules_are_described_in_the_session_summary_style() -> None:
    assert (
        describe_rule(
            make_rule(
                "a",
                BeatTrigger(divisor=32),
                SampleAndScheduleAction(space="x", at=0),
                priority=Priority.LOW,
            )
        )
        == "Beat(divisor=32) → SampleAndSchedule (low priority)"
    )
    assert describe_rule(make_rule("b", MarkerTrigger(name="drop"))) == 'Marker("drop") → Notify'
    assert (
        describe_rule(
            make_rule(
                "c", DeadlineTrigger(beat=256), SampleAction(space="x"), priority=Priority.HIGH
            )
        )
        == "Deadline(beat=256) → Sample (high priority, pending)"
    )
    callback = CallbackAction(name="on_kick", source="def on_kick():\n    pass\n")
    assert describe_rule(make_rule("d", BeatTrigger(divisor=4), callback)) == (
        "Beat(divisor=4) → callback on_kick"
    )


def test_descriptions_note_disabled_one_shot_and_fired_deadline_rules() -> None:
    assert describe_rule(make_rule("a", enabled=False)) == "Beat(divisor=4) → Notify (disabled)"
    assert (
        describe_rule(make_rule("b", MarkerTrigger(name="x"), one_shot=True))
        == 'Marker("x") → Notify (once)'
    )
    fired = make_rule("c", DeadlineTrigger(beat=64.5), SampleAction(space="s"), fired_count=1)
    assert describe_rule(fired) == "Deadline(beat=64.5) → Sample (fired)"
    assert describe_rule(make_rule("d", ArtifactTrigger(tag=None), PlayAction())) == (
        "Artifact(any) → Play"
    )
    assert describe_rule(
        make_rule("e", TransportTrigger(state=TransportState.STOPPED), SeekAction(beat=0))
    ) == ("Transport(stopped) → Seek")


# ---- index -----------------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(Priority), st.integers(0, 5)), min_size=1, max_size=25),
    st.randoms(use_true_random=False),
)
def test_matching_rules_come_in_priority_order_with_ties_in_creation_order(
    specs: list[tuple[Priority, int]], rnd: object
) -> None:
    rules_ = [
        make_rule(f"r{i:02d}", BeatTrigger(divisor=1), priority=p, seq=seq)
        for i, (p, seq) in enumerate(specs)
    ]
    shuffled = list(rules_)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    index = RuleIndex.of(shuffled)
    fired = index.match(BeatCrossed(beat=8, target_time=0.0))
    assert [r.id for r in fired] == [
        r.id for r in sorted(rules_, key=lambda r: (r.priority.rank, r.seq, r.id))
    ]
    ranks = [r.priority.rank for r in fired]
    assert ranks == sorted(ranks)


def test_each_event_kind_matches_only_its_own_rules() -> None:
    index = RuleIndex.of(
        [
            make_rule("every4", BeatTrigger(divisor=4), seq=0),
            make_rule("every3", BeatTrigger(divisor=3), seq=1),
            make_rule("drop", MarkerTrigger(name="drop"), seq=2),
            make_rule("any_art", ArtifactTrigger(tag=None), seq=3),
            make_rule("drums", ArtifactTrigger(tag="drums"), seq=4),
            make_rule("job", JobCompleteTrigger(job_id=JobId("j1")), seq=5),
            make_rule("playing", TransportTrigger(state=TransportState.PLAYING), seq=6),
            make_rule("deadline", DeadlineTrigger(beat=12), SampleAction(space="s"), seq=7),
        ]
    )

    def ids(event: object) -> list[str]:
        return [r.id for r in index.match(event)]  # type: ignore[arg-type]

    assert ids(BeatCrossed(beat=12, target_time=0)) == ["every4", "every3"]
    assert ids(BeatCrossed(beat=8, target_time=0)) == ["every4"]
    assert ids(BeatCrossed(beat=7, target_time=0)) == []
    assert ids(MarkerHit(name="drop", beat=64)) == ["drop"]
    assert ids(MarkerHit(name="Drop", beat=64)) == []
    assert ids(ArtifactSeen(artifact_id=ArtifactId("a"), tags=("bass",))) == ["any_art"]
    assert ids(ArtifactSeen(artifact_id=ArtifactId("a"), tags=("drums",))) == ["any_art", "drums"]
    assert ids(JobFinished(job_id=JobId("j1"), state="complete")) == ["job"]
    assert ids(JobFinished(job_id=JobId("j2"), state="complete")) == []
    assert ids(TransportChanged(state=TransportState.PLAYING)) == ["playing"]
    assert ids(TransportChanged(state=TransportState.PAUSED)) == []
    assert [r.id for r in index.bucket(TriggerType.DEADLINE)] == ["deadline"]


def test_disabled_rules_do_not_fire_until_enabled_again() -> None:
    index = RuleIndex.of([make_rule("a"), make_rule("b", seq=1)])
    index.disable(RuleId("a"))
    assert [r.id for r in index.match(BeatCrossed(beat=4, target_time=0))] == ["b"]
    assert index.get(RuleId("a")).enabled is False
    index.enable(RuleId("a"))
    assert [r.id for r in index.match(BeatCrossed(beat=4, target_time=0))] == ["a", "b"]


def test_recording_a_firing_counts_it_and_removes_a_one_shot_rule() -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    index = RuleIndex.of([make_rule("keep"), make_rule("once", one_shot=True, seq=1)])
    kept = index.record_fired(RuleId("keep"), at)
    assert (kept.fired_count, kept.last_fired_at) == (1, at)
    assert index.get(RuleId("keep")) == kept
    gone = index.record_fired(RuleId("once"), at)
    assert gone.fired_count == 1
    assert RuleId("once") not in index
    assert [r.id for r in index.match(BeatCrossed(beat=4, target_time=0))] == ["keep"]
    with pytest.raises(KeyError, match="once"):
        index.record_fired(RuleId("once"), at)


def test_replace_moves_a_rule_to_its_new_bucket_and_position() -> None:
    index = RuleIndex.of([make_rule("a", seq=0), make_rule("b", seq=1)])
    old = index.replace(make_rule("a", MarkerTrigger(name="m"), seq=0))
    assert old.trigger == BeatTrigger(divisor=4)
    assert [r.id for r in index.bucket(TriggerType.BEAT)] == ["b"]
    assert [r.id for r in index.match(MarkerHit(name="m", beat=0))] == ["a"]
    index.replace(make_rule("b", priority=Priority.CRITICAL, seq=1))
    assert [r.id for r in index.all()] == ["b", "a"]
    with pytest.raises(ValueError, match="already indexed"):
        index.add(make_rule("a"))
    assert index.remove(RuleId("a")).id == "a"
    assert len(index) == 1
    assert index.next_seq() == 2


def test_beat_divisors_lists_the_enabled_beat_rules_only() -> None:
    index = RuleIndex.of(
        [
            make_rule("a", BeatTrigger(divisor=4)),
            make_rule("b", BeatTrigger(divisor=32)),
            make_rule("c", BeatTrigger(divisor=3), enabled=False),
            make_rule("d", MarkerTrigger(name="m")),
        ]
    )
    assert index.beat_divisors() == frozenset({4, 32})
