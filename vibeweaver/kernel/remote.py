"""The DSL's ports inside the kernel process: stand-ins that turn calls into channel messages.

The DSL was written against the service's actor handles (`ask`/`tell` of typed messages), the
`StoreClient` (which wraps the store's handle) and the `HootenannyLink`. In the kernel process the
same code gets `RemoteHandle`s and a `RemoteLink`: each call becomes a `Call` to the service's
bridge (`vibeweaver.actors.kernel.bridge`), which makes it on the real object and replies. Errors
come back as the same exception classes (see `vibeweaver.channel.codec`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vibeweaver.channel.peer import Peer

CALL_MARGIN_S = 2.0
"""How much longer than the service's own timeout the kernel waits for a port's answer."""
STORE_TIMEOUT_S = 30.0
"""The longest a store call may take (the service's store client has its own, shorter, limit)."""


class RemoteStats:
    """What the service publishes about an actor that the DSL reads (`clock_epoch`)."""

    def __init__(self) -> None:
        self.published: dict[str, Any] = {}


class RemoteHandle:
    """Stands in for an `ActorHandle` of the service: `ask` waits for the actor's reply."""

    def __init__(self, peer: Peer, target: str) -> None:
        self._peer = peer
        self.name = target
        self.stats = RemoteStats()

    def __repr__(self) -> str:
        return f"<RemoteHandle {self.name}>"

    @property
    def accepting(self) -> bool:
        return bool(self._peer.call(self.name, "accepting", timeout=CALL_MARGIN_S * 2))

    def ask(self, message: Any, *, timeout: float) -> Any:
        timeout = min(float(timeout), STORE_TIMEOUT_S)
        return self._peer.call(self.name, "ask", message, timeout, timeout=timeout + CALL_MARGIN_S)

    def tell(self, message: Any) -> bool:
        """Sent without waiting; True (the service counts a dead letter if it cannot deliver)."""
        self._peer.tell(self.name, "tell", message)
        return True


class RemoteLink:
    """Stands in for the service's `HootenannyLink` (same methods)."""

    def __init__(self, peer: Peer, endpoint: str | None) -> None:
        self._peer = peer
        self.endpoint = endpoint

    @property
    def connected(self) -> bool:
        return bool(self._peer.call("link", "connected", timeout=CALL_MARGIN_S * 2))

    def require_reachable(self, what: str, timeout: float) -> None:
        self._peer.call("link", "require_reachable", what, timeout, timeout=timeout + CALL_MARGIN_S)

    def call(self, call: Any, *, timeout: float, callback: Callable[[Any], None]) -> None:
        """`callback` receives the reply (or the exception) on the channel's thread, as the real
        link's callback does on the gateway's IO thread."""
        self._peer.tell("link", "call", call, timeout=timeout, callback=callback)
