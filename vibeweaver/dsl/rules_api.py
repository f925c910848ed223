"""rules(): list the session's rules and disable, enable or delete them.

A rule vibeweaver disabled itself (a callback that kept failing, or whose source no longer
defines) is listed with the stored reason; enabling it removes the reason and starts its failure
count from zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.context import DslError, current
from vibeweaver.errors import StoreError
from vibeweaver.persistence.disabled_reason import disabled_reason, with_disabled_reason
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.scheduling.rules import RuleRecordError, describe_rule, rule_from_record
from vibeweaver.types import RuleId


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """One rule as the agent sees it."""

    id: str
    description: str
    enabled: bool
    fired_count: int
    last_fired_at: str | None
    disabled_reason: str | None = None
    """Why vibeweaver disabled it (e.g. its callback's last error), if it did."""

    def __repr__(self) -> str:
        state = "" if self.enabled else " [disabled]"
        fired = f", fired {self.fired_count}x" if self.fired_count else ""
        why = f" — {self.disabled_reason}" if self.disabled_reason else ""
        return f"<{self.id}: {self.description}{state}{fired}{why}>"


def rule_info(record: RuleRecord) -> RuleInfo:
    """How `rules()` shows one stored rule."""
    try:
        description = describe_rule(rule_from_record(record))
    except RuleRecordError as exc:
        description = f"{record.trigger_type} → {record.action_type} (unreadable: {exc})"
    return RuleInfo(
        id=record.id,
        description=description,
        enabled=record.enabled,
        fired_count=record.fired_count,
        last_fired_at=record.last_fired_at,
        disabled_reason=None if record.enabled else disabled_reason(record),
    )


def _rule_id(rule: str | RuleInfo | Callable[..., Any]) -> RuleId:
    if isinstance(rule, RuleInfo):
        return RuleId(rule.id)
    if isinstance(rule, str):
        return RuleId(rule)
    rule_id = getattr(rule, "rule_id", None)
    if isinstance(rule_id, str):
        return RuleId(rule_id)
    raise DslError(
        f"expected a rule id, a rule from rules(), or a decorated function, not {rule!r}"
    )


class RuleList:
    """The session's rules at the time of the call; methods act on the database right away."""

    def __init__(self, records: tuple[RuleRecord, ...]) -> None:
        self._rules = [rule_info(record) for record in records]

    def __iter__(self) -> Iterator[RuleInfo]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __getitem__(self, index: int) -> RuleInfo:
        return self._rules[index]

    def __repr__(self) -> str:
        if not self._rules:
            return "No rules. Create one with @on_beat(4), @on_marker('drop'), ..."
        lines = [f"{len(self._rules)} rule(s):"]
        lines.extend(f"  {rule!r}" for rule in self._rules)
        return "\n".join(lines)

    def disable(self, rule: str | RuleInfo | Callable[..., Any]) -> RuleInfo:
        """Stop the rule from firing (it stays stored)."""
        return _set_enabled(_rule_id(rule), False)

    def enable(self, rule: str | RuleInfo | Callable[..., Any]) -> RuleInfo:
        """Let a disabled rule fire again."""
        return _set_enabled(_rule_id(rule), True)

    def delete(self, rule: str | RuleInfo | Callable[..., Any]) -> bool:
        """Delete the rule for good."""
        ctx = current()
        rule_id = _rule_id(rule)
        _own(rule_id)
        deleted = ctx.store.delete_rule(rule_id)
        ctx.callbacks.pop(rule_id, None)
        ctx.callback_failures.forget(rule_id)
        ctx.scheduler.tell(scheduler_messages.RuleDeleted(rule_id=rule_id))
        ctx.record("delete_rule", rule_id, "deleted" if deleted else "not found", success=deleted)
        return deleted


def _own(rule_id: RuleId) -> RuleRecord:
    ctx = current()
    record = ctx.store.get_rule(rule_id)
    if record is None or record.session_id != ctx.session.id:
        raise DslError(f"no rule {rule_id!r} in session {ctx.session.name!r}")
    return record


def _set_enabled(rule_id: RuleId, enabled: bool) -> RuleInfo:
    ctx = current()
    record = _own(rule_id)
    try:
        if enabled and disabled_reason(record) is not None:
            record = ctx.store.save_rule(with_disabled_reason(replace(record, enabled=True), None))
        else:
            record = ctx.store.set_rule_enabled(rule_id, enabled)
    except StoreError as exc:
        raise DslError(str(exc)) from None
    ctx.callback_failures.forget(rule_id)
    ctx.scheduler.tell(scheduler_messages.RuleSaved(rule=record))
    ctx.record("enable_rule" if enabled else "disable_rule", rule_id)
    return rule_info(record)


def rules() -> RuleList:
    """The current session's rules (each with id, description, enabled, fired count)."""
    ctx = current()
    return RuleList(ctx.store.list_rules(ctx.session.id))
