"""The DeadlinePlanner actor and its messages.

`DeadlinePlanner` is imported on first use: the kernel process imports this package's messages
without the actor.
"""

from typing import TYPE_CHECKING, Any

from vibeweaver.actors.planner import messages

if TYPE_CHECKING:
    from vibeweaver.actors.planner.actor import DeadlinePlanner

__all__ = ["DeadlinePlanner", "messages"]


def __getattr__(name: str) -> Any:
    if name == "DeadlinePlanner":
        from vibeweaver.actors.planner.actor import DeadlinePlanner

        return DeadlinePlanner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
