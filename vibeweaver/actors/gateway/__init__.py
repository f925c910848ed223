"""The ZmqGateway actor, its IO thread, the hootenanny link and its messages.

The actor, `encode_eval_outcome` and `HootenannyLink` are imported on first use: importing the
messages (or a sibling module) must not pull in the service and the database behind the actor.
"""

from typing import TYPE_CHECKING, Any

from vibeweaver.actors.gateway import messages

if TYPE_CHECKING:
    from vibeweaver.actors.gateway.actor import ZmqGateway, encode_eval_outcome
    from vibeweaver.actors.gateway.link import HootenannyLink

__all__ = ["HootenannyLink", "ZmqGateway", "encode_eval_outcome", "messages"]


def __getattr__(name: str) -> Any:
    if name in ("ZmqGateway", "encode_eval_outcome"):
        from vibeweaver.actors.gateway import actor

        return getattr(actor, name)
    if name == "HootenannyLink":
        from vibeweaver.actors.gateway.link import HootenannyLink

        return HootenannyLink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
