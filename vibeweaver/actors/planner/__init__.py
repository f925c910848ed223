"""The DeadlinePlanner actor and its messages."""

from vibeweaver.actors.planner import messages
from vibeweaver.actors.planner.actor import DeadlinePlanner

__all__ = ["DeadlinePlanner", "messages"]
