"""The KernelActor and its messages."""

from vibeweaver.actors.kernel import messages
from vibeweaver.actors.kernel.actor import KernelActor

__all__ = ["KernelActor", "messages"]
