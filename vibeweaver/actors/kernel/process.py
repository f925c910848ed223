"""KernelProcess: starts one kernel process, notices its death at once, and says why it died.

The child gets /dev/null as stdin and two pipes as stdout and stderr (read by a KernelOutput), and
its own session, so a Ctrl-C in the service's terminal does not reach it and the service can kill
it together with whatever it started. There is no `preexec_fn` (unsafe in a threaded service): the
kernel calls `vibeweaver.kernel.limits_child.limit_self(memory_limit, parent_pid)` first thing.

One waiter thread per process starts the child and then blocks until it dies. Starting it from
that thread matters: Linux delivers the kernel's parent-death signal when the thread that forked it
ends, and this thread lives exactly as long as the child.
"""

from __future__ import annotations

import contextlib
import os
import signal as signals
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

from vibeweaver.actors.kernel.output import KernelOutput
from vibeweaver.sizes import format_bytes, parse_size

__all__ = [
    "KernelExit",
    "KernelProcess",
    "KernelStopTimeout",
    "describe_exit",
    "format_bytes",
    "parse_size",
]

log = structlog.get_logger(__name__)

MEMORY_SIGNALS: Final = frozenset(
    {signals.SIGKILL, signals.SIGSEGV, signals.SIGABRT, signals.SIGBUS}
)
"""How a process at its address-space limit (or met by the OOM killer) usually dies, when it
does not die of an uncaught MemoryError."""
MEMORY_WORDS: Final = ("memoryerror", "cannot allocate memory", "out of memory")
MEMORY_TAIL_LINES: Final = 10
TAIL_WAIT_S: Final = 0.2
"""How long the waiter reads what the dead kernel left in its pipes (the last stderr lines may
name the cause) before it reports the exit."""
KILL_WAIT_S: Final = 0.5
START_TIMEOUT_S: Final = 10.0


class KernelStopTimeout(TimeoutError):
    """The kernel outlived SIGKILL by KILL_WAIT_S (a process stuck in the OS, e.g. on a dead
    network file system); it will be reaped, and `on_exit` called, whenever it finally dies."""


@dataclass(frozen=True, slots=True)
class KernelExit:
    """How a kernel process ended."""

    pid: int
    returncode: int | None
    """The exit code, or None when a signal ended it."""
    signal: int | None
    signal_name: str | None
    at: float
    """Wall-clock time the death was noticed."""
    memory_limit: int | None
    cause: str
    """"exit code 1", "signal 11 (SIGSEGV)", "signal 9 (SIGKILL); memory limit 1 GiB",
    "signal 15 (SIGTERM); stopped by the service"."""
    requested: bool = False
    """The service asked for it (stop, kill, or the very signal it sent)."""
    memory_suspected: bool = False


def describe_exit(
    pid: int,
    returncode: int | None,
    *,
    memory_limit: int | None,
    stderr_tail: str = "",
    requested: bool = False,
    at: float | None = None,
) -> KernelExit:
    """A KernelExit from a `subprocess`-style return code (negative: killed by that signal)."""
    sig: int | None = None
    name: str | None = None
    code: int | None = returncode
    if returncode is None:
        cause = "unknown (the process was reaped elsewhere)"
    elif returncode < 0:
        sig, code = -returncode, None
        with contextlib.suppress(ValueError):
            name = signals.Signals(sig).name
        cause = f"signal {sig} ({name})" if name else f"signal {sig}"
    else:
        cause = f"exit code {returncode}"
    memory = False
    if memory_limit is not None and not requested and returncode is not None:
        last_lines = "\n".join(stderr_tail.splitlines()[-MEMORY_TAIL_LINES:]).lower()
        memory = (sig is not None and sig in MEMORY_SIGNALS) or any(
            word in last_lines for word in MEMORY_WORDS
        )
    if memory and memory_limit is not None:
        cause += f"; possibly the memory limit of {format_bytes(memory_limit)}"
    if requested:
        cause += "; stopped by the service"
    return KernelExit(
        pid=pid,
        returncode=code,
        signal=sig,
        signal_name=name,
        at=time.time() if at is None else at,
        memory_limit=memory_limit,
        cause=cause,
        requested=requested,
        memory_suspected=memory,
    )


class KernelProcess:
    """One kernel child process: start it, signal it, stop it; `on_exit` is called exactly once,
    on the waiter thread, as soon as it dies (for whatever reason)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        memory_limit: int | None = None,
        on_exit: Callable[[KernelExit], None],
        output: KernelOutput,
        name: str = "kernel",
    ) -> None:
        if not argv:
            raise ValueError("argv must name a program to run")
        if memory_limit is not None and memory_limit <= 0:
            raise ValueError(f"memory_limit must be a positive number of bytes, not {memory_limit}")
        self.argv = tuple(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.memory_limit = memory_limit
        self.name = name
        self._on_exit = on_exit
        self._output = output
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._exited = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._pidfd: int | None = None
        self._dead = False
        """Set once waitid saw the death, before the pid is reaped (so it cannot be reused while
        we still signal it)."""
        self._sent: set[int] = set()
        self._stop_requested = False
        self._exit: KernelExit | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def alive(self) -> bool:
        return self._pid is not None and not self._dead

    @property
    def exit(self) -> KernelExit | None:
        return self._exit

    @property
    def output(self) -> KernelOutput:
        return self._output

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> int:
        """Start the child; its pid. Raises what starting it raised (OSError: no such program)."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this KernelProcess was already started; make a new one")
            self._thread = threading.Thread(
                target=self._run, name=f"{self.name}-process", daemon=True
            )
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S):
            raise TimeoutError(f"the kernel process did not start within {START_TIMEOUT_S} s")
        if self._start_error is not None:
            raise self._start_error
        assert self._pid is not None
        return self._pid

    def signal(self, sig: int) -> bool:
        """Send `sig` to the kernel process (not its children); False if it is already dead."""
        with self._lock:
            if self._pid is None or self._dead:
                return False
            self._sent.add(sig)
            try:
                if self._pidfd is not None:
                    signals.pidfd_send_signal(self._pidfd, sig)
                else:
                    os.kill(self._pid, sig)
            except ProcessLookupError:
                return False
            return True

    def expect_exit(self) -> None:
        """The kernel was asked to exit (a Shutdown over its channel): its end is requested, not
        a death, and is logged as such."""
        with self._lock:
            self._stop_requested = True

    def kill(self) -> None:
        """SIGKILL the kernel and everything in its session (what its cells started)."""
        with self._lock:
            if self._pid is None or self._dead:
                return
            self._stop_requested = True
            self._sent.add(signals.SIGKILL)
            # Not yet reaped (checked under the lock the waiter takes first), so this group id
            # is still ours.
            try:
                os.killpg(self._pid, signals.SIGKILL)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    if self._pidfd is not None:
                        signals.pidfd_send_signal(self._pidfd, signals.SIGKILL)
                    else:
                        os.kill(self._pid, signals.SIGKILL)

    def stop(self, grace_s: float) -> KernelExit:
        """SIGTERM, then after `grace_s` SIGKILL to its whole session; returns within
        grace_s + KILL_WAIT_S (or raises KernelStopTimeout)."""
        if self._pid is None:
            raise RuntimeError("the kernel process was never started")
        if self._exit is not None:
            return self._exit
        with self._lock:
            self._stop_requested = True
        self.signal(signals.SIGTERM)
        ended = self.wait(max(grace_s, 0.0))
        if ended is not None:
            return ended
        log.warning("kernel ignored SIGTERM, killing it", pid=self._pid, grace_s=grace_s)
        self.kill()
        ended = self.wait(KILL_WAIT_S)
        if ended is not None:
            return ended
        raise KernelStopTimeout(
            f"kernel process {self._pid} was still there {KILL_WAIT_S} s after SIGKILL"
        )

    def wait(self, timeout: float | None = None) -> KernelExit | None:
        """The KernelExit once the process died (None if it is still alive after `timeout`)."""
        self._exited.wait(timeout)
        return self._exit

    # -- the waiter thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            proc = self._spawn()
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        log.info("kernel process started", pid=proc.pid, argv0=self.argv[0])
        self._watch(proc)

    def _spawn(self) -> subprocess.Popen[bytes]:
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv comes from the service, not the agent
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout_w,
                stderr=stderr_w,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            for fd in (stdout_r, stderr_r):
                os.close(fd)
            raise
        finally:
            for fd in (stdout_w, stderr_w):
                os.close(fd)
        pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                pidfd = os.pidfd_open(proc.pid)
        try:
            self._output.attach(stdout_r, stderr_r)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signals.SIGKILL)
            proc.wait()
            for fd in (stdout_r, stderr_r, *([pidfd] if pidfd is not None else [])):
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        with self._lock:
            self._proc, self._pid, self._pidfd = proc, proc.pid, pidfd
        return proc

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        pid = proc.pid
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        noticed_at = time.time()
        with self._lock:
            self._dead = True
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
            requested = self._stop_requested
            sent = set(self._sent)
        returncode: int | None = None
        try:
            _, status = os.waitpid(pid, 0)
            returncode = os.waitstatus_to_exitcode(status)
            proc.returncode = returncode
        except ChildProcessError:
            pass
        # What its cells started would keep our pipes open; the session dies with the kernel.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signals.SIGKILL)
        self._output.process_exited(TAIL_WAIT_S)
        if returncode is not None and returncode < 0 and -returncode in sent:
            requested = True
        ended = describe_exit(
            pid,
            returncode,
            memory_limit=self.memory_limit,
            stderr_tail=self._output.stderr_tail(),
            requested=requested,
            at=noticed_at,
        )
        if ended.requested:
            log.info("kernel process ended", pid=pid, cause=ended.cause)
        else:
            log.warning("kernel process died", pid=pid, cause=ended.cause)
        self._exit = ended
        self._exited.set()
        try:
            self._on_exit(ended)
        except Exception:
            log.exception("kernel on_exit callback failed", pid=pid)
