"""The keyed RuleIndex against a brute-force reference: after any sequence of adds, removals,
enables, disables and firings, every event matches exactly the enabled rules a scan of all rules
would fire, in firing order, and the counts, divisors and marker names kept as rules change equal
the recounted ones."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.scheduling.test_scheduling_rules import make_rule
from vibeweaver.scheduling import (
    ArtifactSeen,
    ArtifactTrigger,
    BeatCrossed,
    BeatTrigger,
    DeadlineTrigger,
    JobCompleteTrigger,
    JobFinished,
    MarkerHit,
    MarkerTrigger,
    Rule,
    RuleIndex,
    SampleAction,
    TransportChanged,
    TransportTrigger,
    Trigger,
)
from vibeweaver.types import ArtifactId, JobId, Priority, RuleId, TransportState

NAMES = ["drop", "intro", "outro"]
TAGS = ["drums", "bass", "pad"]
JOBS = [JobId("j1"), JobId("j2")]

triggers = st.one_of(
    st.builds(BeatTrigger, divisor=st.sampled_from([1, 2, 3, 4, 6, 8, 12, 16, 32, 97])),
    st.builds(MarkerTrigger, name=st.sampled_from(NAMES)),
    st.builds(ArtifactTrigger, tag=st.sampled_from([None, *TAGS])),
    st.builds(JobCompleteTrigger, job_id=st.sampled_from(JOBS)),
    st.builds(TransportTrigger, state=st.sampled_from(list(TransportState))),
    st.builds(DeadlineTrigger, beat=st.sampled_from([16.0, 64.0])),
)
events = st.one_of(
    st.builds(BeatCrossed, beat=st.integers(0, 400), target_time=st.just(0.0)),
    st.builds(MarkerHit, name=st.sampled_from(NAMES), beat=st.just(1.0)),
    st.builds(
        ArtifactSeen,
        artifact_id=st.just(ArtifactId("a")),
        tags=st.lists(st.sampled_from(TAGS), max_size=3).map(tuple),
    ),
    st.builds(JobFinished, job_id=st.sampled_from(JOBS), state=st.just("complete")),
    st.builds(TransportChanged, state=st.sampled_from(list(TransportState))),
)
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "enable", "disable", "fire"]),
        st.integers(0, 39),
        triggers,
        st.sampled_from(list(Priority)),
        st.booleans(),
    ),
    max_size=80,
)


def reference_match(rules: dict[RuleId, Rule], event: object) -> list[RuleId]:
    def fires(trigger: Trigger) -> bool:
        match trigger, event:
            case BeatTrigger(divisor=d), BeatCrossed(beat=b):
                return b % d == 0
            case MarkerTrigger(name=n), MarkerHit(name=hit):
                return n == hit
            case ArtifactTrigger(tag=tag), ArtifactSeen(tags=tags):
                return tag is None or tag in tags
            case JobCompleteTrigger(job_id=j), JobFinished(job_id=done):
                return j == done
            case TransportTrigger(state=s), TransportChanged(state=now):
                return s is now
        return False

    fired = [r for r in rules.values() if r.enabled and fires(r.trigger)]
    return [r.id for r in sorted(fired, key=lambda r: r.order_key)]


@settings(max_examples=300, deadline=None)
@given(operations, st.lists(events, min_size=1, max_size=10))
def test_the_index_matches_like_a_scan_of_every_rule(
    ops: list[tuple[str, int, Trigger, Priority, bool]], probes: list[object]
) -> None:
    index = RuleIndex()
    reference: dict[RuleId, Rule] = {}
    seq = 0
    for op, number, trigger, priority, one_shot in ops:
        rule_id = RuleId(f"r{number:02d}")
        present = rule_id in reference
        if op == "add" and not present:
            seq += 1
            action = SampleAction(space="s") if isinstance(trigger, DeadlineTrigger) else None
            rule = make_rule(
                rule_id, trigger, action, priority=priority, seq=seq, one_shot=one_shot
            )
            index.add(rule)
            reference[rule_id] = rule
        elif op == "remove" and present:
            index.remove(rule_id)
            del reference[rule_id]
        elif op in ("enable", "disable") and present:
            updated = index.enable(rule_id) if op == "enable" else index.disable(rule_id)
            reference[rule_id] = updated
        elif op == "fire" and present:
            fired = index.record_fired(rule_id, datetime(2026, 1, 1, tzinfo=UTC))
            if fired.one_shot:
                del reference[rule_id]
            else:
                reference[rule_id] = fired
    for event in probes:
        assert [r.id for r in index.match(event)] == reference_match(reference, event)  # type: ignore[arg-type]
    enabled = [r for r in reference.values() if r.enabled]
    assert index.counts() == {
        "total": len(reference),
        "enabled": len(enabled),
        "by_trigger": dict(Counter(r.trigger_type.value for r in reference.values())),
    }
    assert index.beat_divisors() == {
        r.trigger.divisor for r in enabled if isinstance(r.trigger, BeatTrigger)
    }
    assert index.marker_names() == {
        r.trigger.name for r in enabled if isinstance(r.trigger, MarkerTrigger)
    }
    assert [r.id for r in index.all()] == [
        r.id for r in sorted(reference.values(), key=lambda r: r.order_key)
    ]
    assert index.next_seq() > max((r.seq for r in reference.values()), default=0)


def test_a_beat_with_many_distinct_divisors_finds_exactly_its_own() -> None:
    index = RuleIndex.of(make_rule(f"d{d}", BeatTrigger(divisor=d), seq=d) for d in range(1, 5001))
    fired = [r.trigger.divisor for r in index.match(BeatCrossed(beat=360, target_time=0.0))]  # type: ignore[union-attr]
    assert sorted(fired) == [d for d in range(1, 361) if 360 % d == 0]
