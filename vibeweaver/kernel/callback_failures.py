"""CallbackFailures: the consecutive failures of each callback rule, and the rules they disabled.

A callback rule whose function fails `FAILURE_LIMIT` times in a row is disabled (SPEC §4.3); a
success in between starts the count again. This object only counts and remembers: the KernelActor
records each callback's outcome here and, when `failed` says the limit is reached, disables the
rule in the store; `rules().enable(...)` (and a deletion) calls `forget`, which starts the count
again. Callbacks of a rule disabled here that were already queued behind its last failure are
skipped (`is_disabled`).

Owned by the DSL context, so it is kept with the namespace when the KernelActor restarts after an
internal crash. Used by the actor thread between cells and by the eval thread while a cell runs,
never both at once (the actor waits for the eval thread).
"""

from __future__ import annotations

from dataclasses import dataclass

from vibeweaver.kernel.outcome import CallOutcome
from vibeweaver.types import RuleId

FAILURE_LIMIT = 3
"""Failures in a row after which a callback rule is disabled."""

NOT_THE_CALLBACKS_FAULT = frozenset({"Interrupted", "KernelThreadLost"})
"""Error types of a call cut short from outside (the service stopping, a reset, a lost eval
thread): they say nothing about the callback and neither count nor reset the streak."""


@dataclass(frozen=True, slots=True)
class Disabled:
    """A rule that reached the limit: how many failures in a row and the last one's error."""

    rule_id: RuleId
    failures: int
    last_error: str

    @property
    def reason(self) -> str:
        """The reason stored with the rule and shown under Disabled Rules."""
        return f"its callback failed {self.failures} times in a row; last error: {self.last_error}"


def failure_text(outcome: CallOutcome) -> str | None:
    """`Type: message` of a failed call; None when the call succeeded."""
    if outcome.status == "ok":
        return None
    error = outcome.error
    return f"{error.type}: {error.message}" if error is not None else outcome.status


def counts_as_failure(outcome: CallOutcome) -> bool | None:
    """True for the callback's own failure (an exception, its timeout), False for a success, None
    for a call cut short from outside (see NOT_THE_CALLBACKS_FAULT)."""
    if outcome.status == "ok":
        return False
    if outcome.error is not None and outcome.error.type in NOT_THE_CALLBACKS_FAULT:
        return None
    return True


class CallbackFailures:
    """Failure streaks per callback rule; see the module docstring."""

    def __init__(self, limit: int = FAILURE_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"the failure limit must be at least 1, not {limit}")
        self.limit = limit
        self._streaks: dict[RuleId, int] = {}
        self._disabled: set[RuleId] = set()

    def streak(self, rule_id: RuleId) -> int:
        """Failures in a row so far (0 after a success or `forget`)."""
        return self._streaks.get(rule_id, 0)

    def failed(self, rule_id: RuleId, error: str) -> Disabled | None:
        """Count a failure; the `Disabled` verdict when this one reaches the limit (once: the
        rule is then disabled here until `forget`)."""
        if rule_id in self._disabled:
            return None
        count = self._streaks.get(rule_id, 0) + 1
        if count < self.limit:
            self._streaks[rule_id] = count
            return None
        self._streaks.pop(rule_id, None)
        self._disabled.add(rule_id)
        return Disabled(rule_id=rule_id, failures=count, last_error=error)

    def succeeded(self, rule_id: RuleId) -> None:
        self._streaks.pop(rule_id, None)

    def is_disabled(self, rule_id: RuleId) -> bool:
        """Disabled here after its failures, and not enabled again since."""
        return rule_id in self._disabled

    def forget(self, rule_id: RuleId) -> None:
        """The rule was enabled again (or deleted): count from zero."""
        self._streaks.pop(rule_id, None)
        self._disabled.discard(rule_id)
