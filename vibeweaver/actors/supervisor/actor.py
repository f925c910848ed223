"""Supervisor: receives ChildFailed reports and restarts the failed actor (one-for-one).

State owned: nothing beyond what the ActorSystem keeps per actor (restart times, generations);
the supervisor is the thread on which restarts happen, so a crashing actor never rebuilds itself.
Messages accepted: `ChildFailed` (tell). Runs entirely in its own thread.
"""

from __future__ import annotations

from vibeweaver.actors.base import WeaverActor, handles
from vibeweaver.actors.messages import ChildFailed


class Supervisor(WeaverActor):
    """One-for-one restarts with a per-actor budget (`ActorSpec.max_restarts` per window)."""

    @handles(ChildFailed)
    def on_child_failed(self, message: ChildFailed) -> None:
        self.log.info("child_failed", child=message.name, error=message.error)
        self.system.restart(message.name, message.generation, message.error)
