"""stop(), kill() and signal() on real children: bounded stop times, the whole session killed."""

from __future__ import annotations

import signal
import time

from tests.conftest import wait_until
from tests.kernel_process.conftest import Spawned, SpawnFactory, process_gone
from vibeweaver.actors.kernel.process import KILL_WAIT_S


def background_text(child: Spawned) -> str:
    pending = child.output.pending_background
    return pending.text if pending is not None else ""


IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def test_stop_of_a_child_that_ignores_sigterm_returns_within_grace_plus_margin(
    spawn: SpawnFactory,
) -> None:
    """SIGTERM is ignored, so after the grace SIGKILL ends it; stop() returns in about
    grace + KILL_WAIT_S, and the cause says the service stopped it (not memory)."""
    child = spawn(IGNORES_SIGTERM, memory_limit=1024**3)
    wait_until(lambda: "ready" in background_text(child), timeout=10)
    grace = 1.0
    started = time.monotonic()
    ended = child.process.stop(grace_s=grace)
    took = time.monotonic() - started
    assert grace <= took < grace + KILL_WAIT_S + 1.0, f"stop took {took:.2f} s"
    assert ended.cause == "signal 9 (SIGKILL); stopped by the service"
    assert ended.requested and not ended.memory_suspected
    wait_until(lambda: child.exits, timeout=5)
    assert child.exits == [ended]


def test_stop_of_a_cooperative_child_is_quick(spawn: SpawnFactory) -> None:
    """A child that dies of SIGTERM is stopped without waiting out the grace."""
    child = spawn("import time; print('ready', flush=True); time.sleep(60)")
    wait_until(lambda: "ready" in background_text(child), timeout=10)
    started = time.monotonic()
    ended = child.process.stop(grace_s=10.0)
    assert time.monotonic() - started < 5.0
    assert ended.cause == "signal 15 (SIGTERM); stopped by the service"


def test_a_child_that_exits_cleanly_on_sigterm_is_still_stopped_by_the_service(
    spawn: SpawnFactory,
) -> None:
    """A kernel that handles SIGTERM and exits 0 reads as stopped by the service."""
    child = spawn(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    wait_until(lambda: "ready" in background_text(child), timeout=10)
    ended = child.process.stop(grace_s=5.0)
    assert ended.cause == "exit code 0; stopped by the service"


SPAWNS_A_SLEEPER = """
import subprocess, sys, time
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(sleeper.pid, flush=True)
EXIT
time.sleep(60)
"""


def test_kill_takes_what_the_kernel_started_with_it(spawn: SpawnFactory) -> None:
    """kill() SIGKILLs the kernel's whole session, so processes its cells started go too."""
    child = spawn(SPAWNS_A_SLEEPER.replace("EXIT", ""))
    wait_until(lambda: background_text(child).strip().isdigit(), timeout=10)
    sleeper = int(background_text(child))
    assert not process_gone(sleeper)
    child.process.kill()
    ended = child.process.wait(timeout=10)
    assert ended is not None and ended.cause == "signal 9 (SIGKILL); stopped by the service"
    wait_until(lambda: process_gone(sleeper), timeout=10)


def test_after_an_unexpected_death_its_leftovers_are_killed_and_the_pipes_close(
    spawn: SpawnFactory,
) -> None:
    """A kernel that dies leaving a child holding its pipes: the leftover is killed, so the
    readers reach EOF at once."""
    child = spawn(SPAWNS_A_SLEEPER.replace("EXIT", "import os; os._exit(5)"))
    ended = child.process.wait(timeout=10)
    assert ended is not None and ended.cause == "exit code 5"
    wait_until(lambda: background_text(child).strip().isdigit(), timeout=10)
    sleeper = int(background_text(child))
    wait_until(lambda: process_gone(sleeper), timeout=10)
    assert child.output.wait_eof(timeout=5)


def test_signal_reaches_the_kernel_and_reports_a_dead_one(spawn: SpawnFactory) -> None:
    """signal() delivers to the live kernel (True) and answers False once it is dead; a death by
    the signal the service sent reads as requested."""
    child = spawn(
        """
        import signal, time
        signal.signal(signal.SIGUSR1, lambda *_: print("usr1", flush=True))
        print("ready", flush=True)
        while True:
            time.sleep(0.01)
        """
    )
    wait_until(lambda: "ready" in background_text(child), timeout=10)
    assert child.process.signal(signal.SIGUSR1) is True
    wait_until(lambda: "usr1" in background_text(child), timeout=10)
    assert child.process.signal(signal.SIGUSR2) is True  # default action: terminate
    ended = child.process.wait(timeout=10)
    assert ended is not None
    assert ended.cause == "signal 12 (SIGUSR2); stopped by the service" and ended.requested
    assert child.process.signal(signal.SIGUSR1) is False
