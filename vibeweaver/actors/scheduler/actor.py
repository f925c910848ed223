"""RuleScheduler: the rule index of the current session.

State owned: the current session id and its rules (re-read from the store in `setup`, so a restart
loses nothing). Messages accepted: `SwitchSession`, `RuleSaved`, `RuleDeleted` (tells) and
`GetSchedulerStatus` (ask). Runs on its own thread; asks only the store, which never asks back.
"""

from __future__ import annotations

from collections import Counter

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.scheduler import messages as m
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.types import RuleId, SessionId


class RuleScheduler(WeaverActor):
    """Owns the session's rules; see the module docstring."""

    def __init__(self, context: ActorContext, *, config: Config) -> None:
        super().__init__(context)
        self.config = config
        self.store = StoreClient(self.system.handle("store"))
        self.session_id: SessionId | None = None
        self.rules: dict[RuleId, RuleRecord] = {}

    def setup(self) -> None:
        session = self.store.open_session(self.config.session)
        self._load(session.id)

    def _load(self, session_id: SessionId) -> None:
        self.session_id = session_id
        self.rules = {rule.id: rule for rule in self.store.list_rules(session_id)}
        self.log.info("rules_loaded", session_id=session_id, rules=len(self.rules))
        self._publish()

    def _publish(self) -> None:
        enabled = sum(1 for rule in self.rules.values() if rule.enabled)
        self.publish(
            session={"id": self.session_id},
            rules={"total": len(self.rules), "enabled": enabled},
        )

    @handles(m.SwitchSession)
    def switch_session(self, message: m.SwitchSession) -> None:
        self._load(message.session_id)

    @handles(m.RuleSaved)
    def rule_saved(self, message: m.RuleSaved) -> None:
        if message.rule.session_id == self.session_id:
            self.rules[message.rule.id] = message.rule
            self._publish()

    @handles(m.RuleDeleted)
    def rule_deleted(self, message: m.RuleDeleted) -> None:
        self.rules.pop(message.rule_id, None)
        self._publish()

    @handles(m.GetSchedulerStatus)
    def status(self, message: m.GetSchedulerStatus) -> m.SchedulerStatus:
        by_trigger = Counter(rule.trigger_type for rule in self.rules.values())
        return m.SchedulerStatus(
            session_id=self.session_id,
            rules=len(self.rules),
            enabled_rules=sum(1 for rule in self.rules.values() if rule.enabled),
            rules_by_trigger=tuple(sorted(by_trigger.items())),
        )
