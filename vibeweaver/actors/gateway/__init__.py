"""The ZmqGateway actor, its IO thread, the hootenanny link and its messages."""

from vibeweaver.actors.gateway import messages
from vibeweaver.actors.gateway.actor import ZmqGateway, encode_eval_outcome
from vibeweaver.actors.gateway.link import HootenannyLink

__all__ = ["HootenannyLink", "ZmqGateway", "encode_eval_outcome", "messages"]
