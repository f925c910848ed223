"""KernelConnection: one kernel process with its channel, output pipes and bridge (one incarnation).

The KernelActor owns at most one at a time. A connection starts `python -m vibeweaver.kernel`
with a connection file (socket path and key, 0600, removed once the kernel said hello), binds the
channel, reads the kernel's pipes (`output.KernelOutput`), watches the running eval (a kernel that
does not answer in time is killed), forwards the hub events the kernel's DSL follows (everything
sent to the kernel goes through its `outbox.KernelOutbox`, in one order), and tells the actor what
its threads learn: `KernelExited` (the process's waiter), `KernelFigures` (the
kernel's published figures). Calls from the kernel go to the bridge (`bridge.PortBridge`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeweaver.actors.kernel.bridge import PortBridge
from vibeweaver.actors.kernel.outbox import KernelOutbox
from vibeweaver.actors.kernel.output import KernelOutput
from vibeweaver.actors.kernel.process import KernelExit, KernelProcess
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.actors.scheduler.timer import ThreadWakeTimer
from vibeweaver.channel.messages import Call, Hello, KernelLog, Published, Shutdown
from vibeweaver.channel.peer import ChannelClosed, Peer
from vibeweaver.config import Config
from vibeweaver.log_throttle import LogThrottle
from vibeweaver.private_files import private_dir, private_file
from vibeweaver.wire import broadcasts as wire_broadcasts

START_TIMEOUT_S = 30.0
"""How long a new kernel process may take to say hello (imports on a cold, busy machine)."""
SOCKET_DIR_MAX = 80
"""Longer socket directories are not used (a Unix socket's path has at most 107 bytes)."""
CLOCK_EVENTS = (scheduler_messages.ClockChanged, scheduler_messages.TransportMoved)
"""The scheduler's events the kernel follows (its SchedulerPort answers `GetClock` from them)."""
BROADCASTS = (wire_broadcasts.ArtifactCreated, wire_broadcasts.JobStateChanged)
"""hootenanny's broadcasts the kernel follows (LiveState, its GenerationClient)."""
FORWARDED_EVENTS = (*CLOCK_EVENTS, *BROADCASTS)
"""Posted to the kernel's outbox: they reach it before anything sent to it after them (the
scheduler's answer to a later ask, an eval, a callback batch)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelExited:
    """Told by the process's waiter thread: kernel `incarnation` died."""

    incarnation: int
    exit: KernelExit


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalDone:
    """Told once the reply to eval `request_id` arrived (or the channel failed under it)."""

    request_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelFigures:
    """Told by the channel: the kernel's published figures (callbacks, lateness)."""

    values: dict[str, Any]


@dataclass(slots=True)
class PendingEval:
    request_id: int
    code: str
    timeout_s: float
    reply: concurrent.futures.Future[Any]
    """The kernel's EvalReply (or the channel's error)."""
    answer: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    """What the asker waits for (an EvalOutcome)."""
    started: float = field(default_factory=time.monotonic)
    execution_count: int = 0
    after: Any = None
    """What else the answer waits for (the KernelActor's `_AfterReply`)."""


class KernelConnection:
    """One kernel process with its channel, output pipes and bridge (one incarnation)."""

    def __init__(
        self,
        *,
        incarnation: int,
        actor: Any,
        config: Config,
        bridge: PortBridge,
        execution_count: int,
        log: Any,
    ) -> None:
        self.incarnation = incarnation
        self.actor = actor
        self.bridge = bridge
        self.log = log
        self.hello = threading.Event()
        self.closing = False
        """Set by `close`: the kernel's end is the actor's own doing."""
        self.overdue: str | None = None
        """Why the service killed this kernel itself (a cell past its timeout), if it did."""
        self.pid: int | None = None
        self.started_at = time.time()
        self._log_throttle = LogThrottle(5.0)
        run_dir = _run_dir(config.data_dir)
        token = secrets.token_hex(6)
        self.socket_path = run_dir / f"k-{token}.sock"
        self.connection_path = config.data_dir / "run" / f"k-{token}.json"
        key = secrets.token_bytes(32)
        self.peer = Peer(
            path=str(self.socket_path),
            key=key,
            bind=True,
            on_message=self._on_message,
            name=f"kernel-{incarnation}",
        )
        self.output = KernelOutput(name=f"kernel-{incarnation}")
        self.outbox = KernelOutbox(self.peer, name=f"kernel-{incarnation}")
        argv = [
            sys.executable,
            "-m",
            "vibeweaver.kernel",
            "--connection",
            str(self.connection_path),
            "--parent-pid",
            str(os.getpid()),
            "--execution-count",
            str(execution_count),
        ]
        if config.kernel_memory is not None:
            argv += ["--memory-limit", str(config.kernel_memory)]
        self.process = KernelProcess(
            argv,
            cwd=config.workspace_dir if config.workspace_dir.is_dir() else None,
            env=_kernel_env(),
            memory_limit=config.kernel_memory,
            on_exit=self._on_exit,
            output=self.output,
            name=f"kernel-{incarnation}",
        )
        self._key = key
        self._watched: tuple[PendingEval, float] | None = None
        self._watchdog = ThreadWakeTimer(
            f"kernel-{incarnation}-watchdog", time.monotonic, self._due
        )

    def start(self) -> None:
        """Bind the channel, start the process, wait for its hello (raises if it dies first)."""
        self.peer.start()
        private_file(self.connection_path)
        self.connection_path.write_text(
            json.dumps({"path": self.peer.path, "key": self._key.hex()}), encoding="utf-8"
        )
        try:
            self.pid = self.process.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            while not self.hello.wait(0.05):
                if not self.process.alive or time.monotonic() > deadline:
                    exit_ = self.process.wait(1.0)
                    cause = exit_.cause if exit_ is not None else "no hello in time"
                    tail = self.output.stderr_tail()[-2000:]
                    raise RuntimeError(f"the kernel process did not start ({cause}): {tail}")
        finally:
            with contextlib.suppress(OSError):
                self.connection_path.unlink()

    def close(self, *, reason: str, wait: float) -> KernelExit | None:
        """Ask the kernel to save and exit; kill it after `wait`. Idempotent."""
        self._watchdog.stop()
        self.outbox.close()
        self.closing = True
        exit_ = self.process.exit
        if exit_ is None and self.process.alive:
            self.process.expect_exit()
            with contextlib.suppress(ChannelClosed):
                self.outbox.send(Shutdown(reason=reason))
            exit_ = self.process.wait(wait)
            if exit_ is None:
                self.process.kill()
                exit_ = self.process.wait(1.0)
        self.peer.close()
        self.output.close()
        with contextlib.suppress(OSError):  # (the peer removes it; a failed start may not)
            self.socket_path.unlink()
        return exit_

    def watch(self, item: PendingEval, limit: float) -> None:
        """Kill this kernel if `item` (the running eval) has no reply `limit` s after it started
        (one timer thread per kernel, not one per eval). The timer's thread is woken only when
        this deadline is earlier than the one it sleeps to: at an earlier eval's deadline `_due`
        finds that eval answered and sleeps on to this one (so a stream of evals costs the
        timer one wake-up per timeout, not two per eval)."""
        self._watched = (item, limit)
        self._watchdog.start()
        deadline = item.started + limit
        armed = self._watchdog.due
        if armed is None or deadline < armed:
            self._watchdog.wake_at(deadline)

    def unwatch(self, item: PendingEval) -> None:
        """`item` was answered (the timer is left armed: `_due` then finds nothing to do)."""
        watched = self._watched
        if watched is not None and watched[0] is item:
            self._watched = None

    def send(self, message: Any) -> bool:
        try:
            self.outbox.send(message)
        except ChannelClosed:
            return False
        return True

    # -- other threads --------------------------------------------------------------------------

    def _due(self) -> None:
        """The watchdog's thread: the watched eval is overdue (unless it was answered or another
        one is watched by now)."""
        watched = self._watched
        if watched is None:
            return
        item, limit = watched
        if item.reply.done():
            return
        if time.monotonic() < item.started + limit:
            self._watchdog.wake_at(item.started + limit)
            return
        self.log.warning("kernel_overdue_killed", pid=self.pid, limit=limit)
        self.overdue = (
            f"the cell did not stop within {limit - item.timeout_s:g} s after its "
            f"{item.timeout_s:g} s timeout, and the kernel did not answer; it was killed"
        )
        self.process.kill()

    def _on_exit(self, exit_: KernelExit) -> None:
        """The waiter thread: the process died (the actor is told unless it closed this kernel
        itself: then it has the exit from `close`)."""
        if not self.closing:
            self.actor.tell(KernelExited(incarnation=self.incarnation, exit=exit_))

    def _on_message(self, message: Any) -> None:
        """The channel's IO thread."""
        if isinstance(message, Call):
            if not self.bridge.make_now(self.outbox, message):
                self.bridge.submit(self.outbox, message)
        elif isinstance(message, Published):
            self.actor.tell(KernelFigures(values=message.values))
        elif isinstance(message, KernelLog):
            if self._log_throttle.allow(message.event):
                method = getattr(self.log, message.level, self.log.info)
                method(message.event, kernel_pid=self.pid, **message.fields)
        elif isinstance(message, Hello):
            self.hello.set()

    def forward_event(self, event: Any) -> None:
        """Hub sink (the publisher's thread): the events the kernel's DSL follows."""
        if isinstance(event, FORWARDED_EVENTS):
            self.outbox.post((event,))

    __call__ = forward_event
    """The connection itself is the hub sink: the hub finds `many` on it."""

    def many(self, events: Sequence[Any]) -> None:
        """Hub sink for a burst (EventHub.publish_many, the gateway's IO thread)."""
        wanted = tuple(event for event in events if isinstance(event, FORWARDED_EVENTS))
        if wanted:
            self.outbox.post(wanted)


def _run_dir(data_dir: Path) -> Path:
    """A private directory for the channel's socket: `<data dir>/run`, or a fresh one under the
    system's temporary directory when that path is too long for a Unix socket (108 bytes)."""
    run_dir = private_dir(data_dir / "run")
    os.chmod(run_dir, 0o700)
    if len(str(run_dir)) <= SOCKET_DIR_MAX:
        return run_dir
    import tempfile

    return Path(tempfile.mkdtemp(prefix="vibeweaver-"))  # 0700


def _kernel_env() -> dict[str, str]:
    """The service's environment for the kernel, with the package importable from where the
    service imported it (a checkout run without installing)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = root if not path else f"{root}{os.pathsep}{path}"
    env.pop("PYTHONSTARTUP", None)
    return env
