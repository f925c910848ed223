"""HootenannyLink: the DSL's way to call hootenanny, stable across gateway restarts.

The DSL holds one link per system; the gateway attaches its current IO thread on start and
detaches it on stop. A call made while no IO thread is attached fails at once with NotConnected
naming the endpoint (or saying the link is disabled), never hangs.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from vibeweaver.errors import NotConnected

if TYPE_CHECKING:
    from vibeweaver.actors.gateway.io_thread import GatewayIO, ReplyCallback

CONNECT_GRACE_S = 1.0
"""How long a call waits for the DEALER's connection to hootenanny before it fails naming the
endpoint (the gateway's `connect_timeout`, capped by --hootenanny-timeout; `require_reachable` in
the DSL): a live hootenanny on the same host or LAN connects well within it."""


class HootenannyLink:
    """Thread-safe: `call` may be used from any thread (the kernel's eval thread, a rule action)."""

    def __init__(self, endpoint: str | None) -> None:
        self.endpoint = endpoint
        self._io: GatewayIO | None = None
        self._lock = threading.Lock()

    def attach(self, io: GatewayIO) -> None:
        with self._lock:
            self._io = io

    def detach(self, io: GatewayIO) -> None:
        with self._lock:
            if self._io is io:
                self._io = None

    @property
    def connected(self) -> bool:
        """True when calls can be sent (an IO thread is attached and hootenanny is configured)."""
        io = self._io
        return io is not None and io.alive and self.endpoint is not None

    def require_reachable(self, what: str, timeout: float) -> None:
        """Raise NotConnected naming the endpoint unless the gateway's DEALER is connected to
        hootenanny, or connects within `timeout` s (a connection attempt is restarted at once).
        For DSL calls that must fail fast, before doing anything, when hootenanny is down."""
        if self.endpoint is None:
            raise NotConnected(
                f"{what}: hootenanny is not configured (started with --hootenanny none)"
            )
        io = self._io
        if io is None or not io.alive:
            raise NotConnected(
                f"{what}: the ZeroMQ gateway to hootenanny at {self.endpoint} is not running"
            )
        if not io.wait_connected(timeout):
            raise NotConnected(
                f"{what}: hootenanny at {self.endpoint} is not reachable (no connection within "
                f"{timeout:g} s; is hootenanny running?)"
            )

    def call(self, call: Any, *, timeout: float, callback: ReplyCallback) -> None:
        """Send `call`; `callback` receives the decoded reply or an exception (on the IO thread)."""
        if self.endpoint is None:
            callback(NotConnected("hootenanny is not configured (started with --hootenanny none)"))
            return
        io = self._io
        if io is None or not io.alive:
            callback(
                NotConnected(f"the ZeroMQ gateway to hootenanny at {self.endpoint} is not running")
            )
            return
        io.call(call, timeout=timeout, callback=callback)
