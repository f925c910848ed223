"""EarlyKernel: the first kernel process, started while the other actors start.

A kernel process spends most of its start importing (the DSL, the kernel engine); the store
opening its database and the scheduler indexing its rules come before the KernelActor in the
start order. Started at the beginning of `Weaver.start`, the process imports meanwhile, and the
KernelActor adopts it (with its bridge) and only sends it the Setup: start → first eval is
shorter by the kernel's import time. It is handed over once; a Weaver that fails to start, or a
KernelActor that never takes it, has it closed by `discard`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from vibeweaver.actors.kernel.bridge import PortBridge
from vibeweaver.actors.kernel.connection import KernelConnection

if TYPE_CHECKING:
    from vibeweaver.actors.gateway.link import HootenannyLink
    from vibeweaver.actors.system import ActorSystem
    from vibeweaver.config import Config

log = structlog.get_logger(__name__)


class EarlyKernel:
    """See the module docstring."""

    def __init__(
        self,
        *,
        config: Config,
        system: ActorSystem,
        name: str,
        ports: Sequence[str],
        link: HootenannyLink,
    ) -> None:
        """`name`: the KernelActor's; `ports`: the actors the kernel's DSL calls (their handles
        are looked up when it starts, once every actor is defined)."""
        self._config = config
        self._system = system
        self._name = name
        self._ports = tuple(ports)
        self._link = link
        self._future: concurrent.futures.Future[KernelConnection] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._taken = False
        self._started = False
        self._thread = threading.Thread(target=self._start, name="kernel-early", daemon=True)

    @property
    def pid(self) -> int | None:
        """The process's pid once it started (diagnostics)."""
        if not self._future.done() or self._future.exception() is not None:
            return None
        return self._future.result().pid

    def start(self) -> None:
        """Start the process on a thread of its own (returns at once)."""
        with self._lock:
            self._started = True
        self._thread.start()

    def take(self, timeout: float) -> KernelConnection | None:
        """The started kernel, once (None if it was taken, never started, or failed)."""
        with self._lock:
            if self._taken or not self._started:
                return None
            self._taken = True
        try:
            connection = self._future.result(timeout)
        except Exception as exc:  # noqa: BLE001 - the actor starts one itself
            log.warning("early_kernel_not_used", error=repr(exc)[:300])
            return None
        if not connection.process.alive:
            self._close(connection)
            return None
        return connection

    def discard(self) -> None:
        """Close the kernel if nobody took it (a failed or stopped start). Idempotent."""
        with self._lock:
            if self._taken or not self._started:
                return
            self._taken = True
        with contextlib.suppress(Exception):
            self._close(self._future.result(30.0))

    def _start(self) -> None:
        try:
            handles = {port: self._system.handle(port) for port in self._ports}
            bridge = PortBridge(handles=handles, link=self._link, name=self._name)
            bridge.start()
            connection = KernelConnection(
                incarnation=1,
                actor=self._system.handle(self._name),
                config=self._config,
                bridge=bridge,
                execution_count=0,
                log=log.bind(actor=self._name),
            )
            try:
                connection.start()
            except BaseException:
                bridge.close()
                raise
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes it
            self._future.set_exception(exc)
            return
        self._future.set_result(connection)

    @staticmethod
    def _close(connection: KernelConnection) -> None:
        connection.close(reason="not used", wait=0.5)
        connection.bridge.close()
