"""The KernelActor (it owns the kernel process) and its messages.

`KernelActor` is imported on first use: the kernel process imports the messages of this package
without the service's side of it.
"""

from typing import Any

from vibeweaver.actors.kernel import messages

__all__ = ["KernelActor", "messages"]


def __getattr__(name: str) -> Any:
    if name == "KernelActor":
        from vibeweaver.actors.kernel.actor import KernelActor

        return KernelActor
    raise AttributeError(name)
