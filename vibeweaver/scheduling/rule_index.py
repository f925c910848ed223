"""RuleIndex: the current session's rules, indexed by trigger and key for matching (SPEC §4.3).

An event costs in proportion to the rules it fires, not to the rules stored (10,000 idle rules
must not slow a beat):

* Enabled rules sit in firing buckets keyed by (trigger type, key): the beat divisor, the marker
  name, the artifact tag (None: any artifact), the job id, the transport state. Each bucket is in
  firing order (priority, creation order, id). A marker, job or transport event reads one bucket;
  an artifact reads the any-artifact bucket and one per tag; a beat reads the buckets of the
  divisors that divide it (the beat's own divisors are enumerated when there are fewer of them
  than distinct divisors in use).
* Disabled rules are kept by id (and type) but in no firing bucket, so they cost nothing.
* Counts (total, enabled, per trigger type), the set of enabled beat divisors and the set of
  enabled marker names are kept as rules come and go, never recounted.
* A firing replaces the rule in place (its order key does not change), so counting the firings
  of a 10,000-rule beat costs a bisection each, not a re-sort.

Deadline rules are indexed for listing but never returned by `match`: the DeadlinePlanner decides
when their work starts. Plain and single-threaded: the RuleScheduler actor owns one.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any, TypedDict

from vibeweaver.scheduling.rules import (
    ArtifactSeen,
    ArtifactTrigger,
    BeatCrossed,
    BeatTrigger,
    DeadlineTrigger,
    Event,
    JobCompleteTrigger,
    JobFinished,
    MarkerHit,
    MarkerTrigger,
    Rule,
    TransportChanged,
    TransportTrigger,
    Trigger,
)
from vibeweaver.types import RuleId, TriggerType

BucketKey = tuple[TriggerType, Hashable]


def bucket_key(trigger: Trigger) -> BucketKey:
    """The firing bucket of a trigger: its type and the value an event must carry to fire it."""
    match trigger:
        case BeatTrigger(divisor=divisor):
            return (TriggerType.BEAT, divisor)
        case MarkerTrigger(name=name):
            return (TriggerType.MARKER, name)
        case ArtifactTrigger(tag=tag):
            return (TriggerType.ARTIFACT, tag)
        case JobCompleteTrigger(job_id=job_id):
            return (TriggerType.JOB_COMPLETE, job_id)
        case TransportTrigger(state=state):
            return (TriggerType.TRANSPORT, state)
        case DeadlineTrigger():
            return (TriggerType.DEADLINE, None)
    raise TypeError(f"not a trigger: {trigger!r}")  # pragma: no cover


class RuleCounts(TypedDict):
    total: int
    enabled: int
    by_trigger: dict[str, int]


def _order(rule: Rule) -> tuple[int, int, str]:
    return rule.order_key


class RuleIndex:
    """See the module docstring."""

    __slots__ = (
        "_buckets",
        "_by_id",
        "_by_type",
        "_divisor_counts",
        "_divisors",
        "_enabled",
        "_marker_counts",
        "_marker_names",
        "_max_seq",
    )

    def __init__(self) -> None:
        self._by_id: dict[RuleId, Rule] = {}
        self._by_type: dict[TriggerType, dict[RuleId, Rule]] = {t: {} for t in TriggerType}
        self._buckets: dict[BucketKey, list[Rule]] = {}
        """Enabled, matchable rules per firing bucket, in firing order."""
        self._enabled = 0
        self._divisor_counts: Counter[int] = Counter()
        self._divisors: frozenset[int] | None = frozenset()
        self._marker_counts: Counter[str] = Counter()
        self._marker_names: frozenset[str] | None = frozenset()
        self._max_seq = 0

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleIndex:
        index = cls()
        for rule in rules:
            index.add(rule)
        return index

    # -- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.all())

    def get(self, rule_id: RuleId) -> Rule:
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise KeyError(f"no rule {rule_id!r}") from None

    def find(self, rule_id: RuleId) -> Rule | None:
        return self._by_id.get(rule_id)

    def all(self) -> list[Rule]:
        """Every rule, in firing order across types (for listing; sorts)."""
        return sorted(self._by_id.values(), key=_order)

    def bucket(self, trigger_type: TriggerType) -> list[Rule]:
        """The rules of one trigger type (enabled or not), in firing order (for listing; sorts)."""
        return sorted(self._by_type[trigger_type].values(), key=_order)

    def counts(self) -> RuleCounts:
        """Total, enabled and per-trigger-type counts, kept as rules change (no recount)."""
        return {
            "total": len(self._by_id),
            "enabled": self._enabled,
            "by_trigger": {t.value: len(rules) for t, rules in self._by_type.items() if rules},
        }

    def next_seq(self) -> int:
        """A creation number after every indexed rule's (for rules created in memory)."""
        return self._max_seq + 1

    def beat_divisors(self) -> frozenset[int]:
        """Divisors of the enabled beat rules: what the clock must wake up for."""
        if self._divisors is None:
            self._divisors = frozenset(self._divisor_counts)
        return self._divisors

    def marker_names(self) -> frozenset[str]:
        """Names of the markers an enabled rule waits for."""
        if self._marker_names is None:
            self._marker_names = frozenset(self._marker_counts)
        return self._marker_names

    def match(self, event: Event) -> list[Rule]:
        """The enabled rules this event fires, in firing order."""
        match event:
            case BeatCrossed(beat=beat):
                lists = [
                    self._buckets[(TriggerType.BEAT, divisor)]
                    for divisor in self._divisors_of(beat)
                ]
            case MarkerHit(name=name):
                lists = [self._buckets.get((TriggerType.MARKER, name), [])]
            case ArtifactSeen(tags=tags):
                keys: list[str | None] = [None, *dict.fromkeys(tags)]
                lists = [self._buckets.get((TriggerType.ARTIFACT, key), []) for key in keys]
            case JobFinished(job_id=job_id):
                lists = [self._buckets.get((TriggerType.JOB_COMPLETE, job_id), [])]
            case TransportChanged(state=state):
                lists = [self._buckets.get((TriggerType.TRANSPORT, state), [])]
            case _:  # pragma: no cover
                return []
        lists = [rules for rules in lists if rules]
        if not lists:
            return []
        if len(lists) == 1:
            return list(lists[0])
        return list(heapq.merge(*lists, key=_order))

    def _divisors_of(self, beat: int) -> Iterable[int]:
        """The enabled divisors that divide `beat`, by whichever is fewer to try: the divisors in
        use, or the beat's own divisors (up to its square root)."""
        divisors = self.beat_divisors()
        if not divisors:
            return ()
        magnitude = abs(beat)
        if magnitude == 0:
            return divisors  # every divisor divides beat 0
        if len(divisors) <= 2 * math.isqrt(magnitude) + 2:
            return [d for d in divisors if beat % d == 0]
        found = []
        for low in range(1, math.isqrt(magnitude) + 1):
            if magnitude % low == 0:
                for d in {low, magnitude // low}:
                    if d in divisors:
                        found.append(d)
        return found

    # -- changing ---------------------------------------------------------------------------------

    def add(self, rule: Rule) -> None:
        """Insert a new rule; raises ValueError when its id is already indexed."""
        if rule.id in self._by_id:
            raise ValueError(f"rule {rule.id!r} is already indexed; use replace()")
        self._insert(rule)

    def replace(self, rule: Rule) -> Rule:
        """Swap in a new version of an indexed rule (its trigger may change); returns the old."""
        old = self.get(rule.id)
        self._discard(old)
        self._insert(rule)
        return old

    def remove(self, rule_id: RuleId) -> Rule:
        """Remove and return a rule; KeyError when it is not indexed."""
        rule = self.get(rule_id)
        self._discard(rule)
        return rule

    def enable(self, rule_id: RuleId) -> Rule:
        return self._set_enabled(rule_id, True)

    def disable(self, rule_id: RuleId) -> Rule:
        return self._set_enabled(rule_id, False)

    def record_fired(self, rule_id: RuleId, at: datetime) -> Rule:
        """Count a firing; returns the updated rule. One-shot rules leave the index (returned
        with their final counts so the caller can persist the deletion)."""
        rule = self.get(rule_id)
        fired = replace(rule, fired_count=rule.fired_count + 1, last_fired_at=at)
        if rule.one_shot:
            self._discard(rule)
            return fired
        # the order key is unchanged: swap the new version in where the old one stands
        self._by_id[rule.id] = fired
        self._by_type[rule.trigger.kind][rule.id] = fired
        if rule.enabled and rule.trigger.kind is not TriggerType.DEADLINE:
            bucket = self._buckets[bucket_key(rule.trigger)]
            bucket[self._position(bucket, rule)] = fired
        return fired

    def _set_enabled(self, rule_id: RuleId, enabled: bool) -> Rule:
        rule = self.get(rule_id)
        if rule.enabled is enabled:
            return rule
        updated = replace(rule, enabled=enabled)
        self._discard(rule)
        self._insert(updated)
        return updated

    def _insert(self, rule: Rule) -> None:
        self._by_id[rule.id] = rule
        self._by_type[rule.trigger.kind][rule.id] = rule
        self._max_seq = max(self._max_seq, rule.seq)
        if not rule.enabled:
            return
        self._enabled += 1
        trigger = rule.trigger
        if isinstance(trigger, DeadlineTrigger):
            return
        key = bucket_key(trigger)
        bisect.insort(self._buckets.setdefault(key, []), rule, key=_order)
        if isinstance(trigger, BeatTrigger):
            self._divisor_counts[trigger.divisor] += 1
            if self._divisor_counts[trigger.divisor] == 1:
                self._divisors = None
        elif isinstance(trigger, MarkerTrigger):
            self._marker_counts[trigger.name] += 1
            if self._marker_counts[trigger.name] == 1:
                self._marker_names = None

    def _discard(self, rule: Rule) -> None:
        del self._by_id[rule.id]
        del self._by_type[rule.trigger.kind][rule.id]
        if not rule.enabled:
            return
        self._enabled -= 1
        trigger = rule.trigger
        if isinstance(trigger, DeadlineTrigger):
            return
        key = bucket_key(trigger)
        bucket = self._buckets[key]
        del bucket[self._position(bucket, rule)]
        if not bucket:
            del self._buckets[key]
        if isinstance(trigger, BeatTrigger):
            _decrement(self._divisor_counts, trigger.divisor)
            if trigger.divisor not in self._divisor_counts:
                self._divisors = None
        elif isinstance(trigger, MarkerTrigger):
            _decrement(self._marker_counts, trigger.name)
            if trigger.name not in self._marker_counts:
                self._marker_names = None

    @staticmethod
    def _position(bucket: list[Rule], rule: Rule) -> int:
        position = bisect.bisect_left(bucket, rule.order_key, key=_order)
        if position < len(bucket) and bucket[position].id == rule.id:
            return position
        raise KeyError(f"rule {rule.id!r} is not in its bucket")  # pragma: no cover


def _decrement(counts: Counter[Any], key: Hashable) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]
