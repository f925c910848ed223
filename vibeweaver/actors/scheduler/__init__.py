"""The RuleScheduler actor and its messages."""

from vibeweaver.actors.scheduler import messages
from vibeweaver.actors.scheduler.actor import RuleScheduler

__all__ = ["RuleScheduler", "messages"]
