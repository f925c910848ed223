"""The RuleScheduler actor and its messages.

`RuleScheduler` is imported on first use: the kernel process imports this package's messages
without the actor (and the gateway link, store and database it pulls in).
"""

from typing import TYPE_CHECKING, Any

from vibeweaver.actors.scheduler import messages

if TYPE_CHECKING:
    from vibeweaver.actors.scheduler.actor import RuleScheduler

__all__ = ["RuleScheduler", "messages"]


def __getattr__(name: str) -> Any:
    if name == "RuleScheduler":
        from vibeweaver.actors.scheduler.actor import RuleScheduler

        return RuleScheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
