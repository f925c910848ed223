"""Weaver: one whole vibeweaver system (actors, sockets, HTTP listener), started and stopped as one.

    with Weaver(Config(data_dir=Path("/tmp/vw"), router=None, ...)) as weaver:
        weaver.store.open_session("jam")

Start order: supervisor → store → planner → scheduler → kernel → gateway, then the frontends
(HTTP listener, MCP). `stop()` runs in reverse inside `finally`, and leaves no thread of this system
alive. Two Weavers in one process (different data dirs and ports) share nothing: every lookup goes
through this object's own `ActorSystem`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog

from vibeweaver import logs, preflight
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.actors.kernel.probe import KernelProbe
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem
from vibeweaver.config import Config
from vibeweaver.errors import StartupError
from vibeweaver.generation import GenerationClient
from vibeweaver.persistence.owner_lock import OwnerLock
from vibeweaver.persistence.records import SessionRecord

if TYPE_CHECKING:
    from vibeweaver.actors.system import ActorHandle

log = structlog.get_logger(__name__)

STORE = "store"
PLANNER = "planner"
SCHEDULER = "scheduler"
KERNEL = "kernel"
GATEWAY = "gateway"

LOCK_WAIT_S = 5.0
"""How long a start waits for the previous owner of the database to stop (a restart)."""


class Weaver:
    """The embedding entry point; see the module docstring."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        configure_logging: bool = True,
        lock_wait_s: float = LOCK_WAIT_S,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        """`lock_wait_s`: how long `start()` waits for another vibeweaver on the same database to
        stop before it fails (see `vibeweaver.persistence.owner_lock`).

        `on_failure(reason)` is called once when an actor is given up (its restart intensity
        exceeded): the system can no longer do its job, so its owner should stop it (the CLI
        exits with code 3 for its process supervisor to restart it). `failure` keeps the reason.
        """
        self.config = (config or Config()).validated()
        self._lock_wait_s = lock_wait_s
        self._configure_logging = configure_logging
        self._on_failure = on_failure
        self.failure: str | None = None
        self._failure_lock = threading.Lock()
        self.system = ActorSystem(
            name=f"vibeweaver:{self.config.data_dir}", on_given_up=self._actor_given_up
        )
        self.hub = EventHub()
        self.link = HootenannyLink(self.config.hootenanny)
        self.kernel_probe = KernelProbe(KERNEL)
        self.generation = GenerationClient(
            self.link,
            self.hub,
            timeout=self.config.generation_timeout,
            request_timeout=self.config.hootenanny_timeout,
        )
        self._lock = threading.Lock()
        self._state = "new"
        self.started_at: float | None = None
        self.session: SessionRecord | None = None
        self._frontends: list[Any] = []
        db_path = self.config.db_path
        self._owner_lock = OwnerLock(db_path) if db_path is not None else None
        self._define_actors()
        self.store = StoreClient(self.system.handle(STORE))

    def _define_actors(self) -> None:
        from vibeweaver.actors.gateway import ZmqGateway
        from vibeweaver.actors.kernel import KernelActor
        from vibeweaver.actors.kernel.early import EarlyKernel
        from vibeweaver.actors.planner import DeadlinePlanner
        from vibeweaver.actors.scheduler import RuleScheduler
        from vibeweaver.actors.scheduler.notifications import NotificationBox

        config = self.config
        self.system.define(ActorSpec(SUPERVISOR, Supervisor))
        self.system.define(
            ActorSpec(
                STORE,
                SessionStore,
                {"db_url": config.db_url, "db_password_file": config.db_password_file},
            )
        )
        ports = {"hub": self.hub, "generation": self.generation}
        self.system.define(ActorSpec(PLANNER, DeadlinePlanner, {"config": config, **ports}))
        notifications = NotificationBox()
        self.system.define(
            ActorSpec(
                SCHEDULER,
                RuleScheduler,
                {"config": config, "link": self.link, "notifications": notifications, **ports},
            )
        )
        self.early_kernel = EarlyKernel(
            config=config,
            system=self.system,
            name=KERNEL,
            ports=(STORE, SCHEDULER, PLANNER),
            link=self.link,
        )
        self.system.define(
            ActorSpec(
                KERNEL,
                KernelActor,
                {
                    "config": config,
                    "link": self.link,
                    "hub": self.hub,
                    "probe": self.kernel_probe,
                    "early": self.early_kernel,
                    "notifications": notifications,
                },
            )
        )
        self.system.define(
            ActorSpec(GATEWAY, ZmqGateway, {"config": config, "hub": self.hub, "link": self.link})
        )

    def _actor_given_up(self, actor: str, reason: str) -> None:
        with self._failure_lock:  # not self._lock: stop() holds that while actors fail
            if self.failure is not None:
                return
            self.failure = reason
        log.critical("service_failed", actor=actor, reason=reason)
        if self._on_failure is not None:
            self._on_failure(reason)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, *, cancel: threading.Event | None = None) -> Weaver:
        """Start everything; raises StartupError (with everything already stopped) on failure.

        Setting `cancel` (a signal handler's stop event) while the start waits for its database
        to be free ends it with StartCancelled."""
        with self._lock:
            if self._state != "new":
                raise StartupError(f"this Weaver was already {self._state}; create a new one")
            self._state = "starting"
        if self._configure_logging:
            logs.ensure_configured()
        try:
            preflight.check_storage(self.config)
            if self._owner_lock is not None:  # before the ports: a second service is named as such
                self._owner_lock.acquire(
                    wait_s=self._lock_wait_s, on_wait=self._log_lock_wait, cancel=cancel
                )
            preflight.check_ports(self.config)
            self.early_kernel.start()  # its imports overlap the other actors' start
            self.system.start()
            self.session = self.store.start_session(self.config.session)
            self._start_frontends()
        except BaseException:
            self._state = "failed"
            self._stop_everything()
            raise
        self.started_at = time.time()
        self._state = "running"
        log.info(
            "weaver_started",
            data_dir=str(self.config.data_dir),
            session=self.session.name,
            actors=self.system.names,
        )
        return self

    def _log_lock_wait(self, owner: str) -> None:
        log.warning(
            "database_in_use_waiting",
            database=str(self.config.db_path),
            owner_pid=owner or None,
            wait_s=self._lock_wait_s,
        )

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop frontends, then actors in reverse start order. Safe to call twice."""
        with self._lock:
            if self._state in ("stopped", "new"):
                self._state = "stopped"
                return
            self._state = "stopping"
        try:
            self._stop_everything(timeout=timeout)
        finally:
            self._state = "stopped"
            states = {s["name"]: s["state"] for s in self.system.actor_snapshots()}
            log.info("weaver_stopped", data_dir=str(self.config.data_dir), actors=states)

    def _stop_everything(self, *, timeout: float = 5.0) -> None:
        # cut a running cell short first, so a frontend waiting on it finishes its request
        self.system.interrupt_all()
        try:
            for frontend in reversed(self._frontends):
                try:
                    frontend.stop()
                except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                    log.error("frontend_stop_failed", error=f"{type(exc).__name__}: {exc}")
            self._frontends.clear()
        finally:
            try:
                self.system.stop(timeout=timeout)
            finally:
                self.early_kernel.discard()  # (only if the KernelActor never took it)
                self.generation.close()
                if self._owner_lock is not None:
                    self._owner_lock.release()

    def __enter__(self) -> Weaver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def state(self) -> str:
        """new, starting, running, stopping, stopped or failed."""
        return self._state

    # -- parts ------------------------------------------------------------------------------------

    def handle(self, name: str) -> ActorHandle:
        """The handle of one of this system's actors (supervisor, store, planner, ...)."""
        return self.system.handle(name)

    def _start_frontends(self) -> None:
        """The HTTP listener (admin, MCP over HTTP) when configured."""
        if self.config.http is None:
            return
        from vibeweaver.frontends.http import HttpListener

        listener = HttpListener(self)
        listener.start()
        self._frontends.append(listener)

    @property
    def http_address(self) -> tuple[str, int] | None:
        """Where the HTTP listener is bound (the real port when 0 was asked for)."""
        for frontend in self._frontends:
            address = getattr(frontend, "address", None)
            if address is not None:
                return address  # type: ignore[no-any-return]
        return None

    @property
    def db_path(self) -> Path | None:
        """The sqlite file of this system."""
        return self.config.db_path
