"""KernelProcess notices a real child's death at once and names the cause."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import structlog

from tests.conftest import wait_until
from tests.kernel_process.conftest import LOAD_LIMITS, SpawnFactory, child_argv
from vibeweaver.actors.kernel.output import KernelOutput
from vibeweaver.actors.kernel.process import KernelProcess, describe_exit

GIB = 1024**3


def test_exit_code_is_the_cause_and_on_exit_runs_once_on_the_waiter(spawn: SpawnFactory) -> None:
    """`sys.exit(1)` → "exit code 1"; on_exit is called once, from the waiter thread."""
    child = spawn("import sys; sys.exit(1)")
    ended = child.process.wait(timeout=10)
    assert ended is not None
    assert ended.cause == "exit code 1"
    assert (ended.returncode, ended.signal, ended.signal_name) == (1, None, None)
    assert ended.pid == child.process.pid
    assert not ended.requested and not ended.memory_suspected
    wait_until(lambda: child.exits, timeout=5)
    assert child.exits == [ended]
    assert child.exit_threads == ["kernel-process"]
    assert not child.process.alive
    assert child.process.exit is ended
    assert child.process.stop(grace_s=1.0) is ended  # stopping a dead kernel just answers
    assert child.process.signal(signal.SIGTERM) is False
    assert child.exits == [ended]


def test_os_exit_is_noticed_at_once(spawn: SpawnFactory) -> None:
    """`os._exit(3)` after printing the time: the death is noticed at once (loose bound: 2 s)."""
    child = spawn(
        """
        import os, sys, time
        time.sleep(0.2)
        sys.stdout.write(f"{time.time()!r}\\n"); sys.stdout.flush()
        os._exit(3)
        """
    )
    ended = child.process.wait(timeout=10)
    assert ended is not None and ended.cause == "exit code 3"
    background = child.output.take_background()
    assert background is not None
    died_at = float(background.text)
    assert 0 <= ended.at - died_at < 2.0, f"noticed {ended.at - died_at:.3f} s after the death"


def test_segfault_is_signal_11(spawn: SpawnFactory) -> None:
    """`ctypes.string_at(0)` → "signal 11 (SIGSEGV)", with no memory limit to blame."""
    child = spawn("import ctypes; ctypes.string_at(0)")
    ended = child.process.wait(timeout=10)
    assert ended is not None
    assert ended.cause == "signal 11 (SIGSEGV)"
    assert (ended.returncode, ended.signal, ended.signal_name) == (None, 11, "SIGSEGV")
    assert not ended.memory_suspected and not ended.requested


def test_segfault_under_a_memory_limit_names_the_limit(spawn: SpawnFactory) -> None:
    """With a memory limit set, a SIGSEGV death is reported as possibly the limit."""
    child = spawn("import ctypes; ctypes.string_at(0)", memory_limit=GIB)
    ended = child.process.wait(timeout=10)
    assert ended is not None
    assert ended.cause == "signal 11 (SIGSEGV); possibly the memory limit of 1 GiB"
    assert ended.memory_suspected and ended.memory_limit == GIB


def test_child_gets_dev_null_stdin_its_own_session_and_no_extra_fds(spawn: SpawnFactory) -> None:
    """stdin reads EOF; the child leads its own session (a Ctrl-C of ours misses it); only
    0, 1 and 2 are inherited."""
    leaked_r, leaked_w = os.pipe()
    os.set_inheritable(leaked_w, True)
    try:
        child = spawn(
            """
            import os, sys
            fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
            print(repr(sys.stdin.read()), os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid())
            print(fds)
            """
        )
        ended = child.process.wait(timeout=10)
    finally:
        os.close(leaked_r)
        os.close(leaked_w)
    assert ended is not None and ended.cause == "exit code 0"
    background = child.output.take_background()
    assert background is not None
    first, fds = background.text.splitlines()
    assert first == "'' True True"
    assert os.getsid(0) != ended.pid
    # 0, 1, 2 and the descriptor listdir itself opened: nothing else
    assert eval(fds)[:3] == [0, 1, 2] and len(eval(fds)) <= 4  # noqa: S307 - our own list


def test_a_program_that_cannot_start_raises_from_start() -> None:
    """A missing program is a FileNotFoundError from start(), and nothing is left running."""
    output = KernelOutput()
    process = KernelProcess(
        ["/nonexistent/kernel"], on_exit=lambda ended: None, output=output, name="nokernel"
    )
    with pytest.raises(FileNotFoundError):
        process.start()
    assert process.pid is None and not process.alive
    with pytest.raises(RuntimeError, match="already started"):
        process.start()
    wait_until(lambda: not any(t.name.startswith("nokernel") for t in threading.enumerate()))
    output.close()


def _our_children() -> set[int]:
    children: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            children.update(int(pid) for pid in (task / "children").read_text().split())
    return children


def test_start_with_a_closed_output_raises_and_leaves_no_child() -> None:
    """If the output cannot take the pipes, the child just started is killed and reaped."""
    output = KernelOutput()
    output.close()
    before = _our_children()
    process = KernelProcess(
        child_argv("import time; time.sleep(60)"), on_exit=lambda ended: None, output=output
    )
    with pytest.raises(RuntimeError, match="closed"):
        process.start()
    assert process.pid is None
    wait_until(lambda: _our_children() <= before)


def test_bad_arguments_are_refused() -> None:
    """Empty argv and a non-positive memory limit are clear errors."""
    with pytest.raises(ValueError, match="argv"):
        KernelProcess([], on_exit=lambda ended: None, output=KernelOutput())
    with pytest.raises(ValueError, match="memory_limit"):
        KernelProcess(["true"], memory_limit=0, on_exit=lambda ended: None, output=KernelOutput())


def test_on_exit_failure_is_logged_not_raised() -> None:
    """A failing on_exit does not hide the exit from wait()."""
    output = KernelOutput()

    def on_exit(ended: object) -> None:
        raise RuntimeError("callback broke")

    process = KernelProcess(
        ["/bin/sh", "-c", "exit 4"], on_exit=on_exit, output=output, name="badcallback"
    )
    with structlog.testing.capture_logs() as logs:
        process.start()
        ended = process.wait(timeout=10)
        wait_until(lambda: any("on_exit callback failed" in entry["event"] for entry in logs))
    assert ended is not None and ended.cause == "exit code 4"
    output.close()


PDEATHSIG_CHILD = (
    LOAD_LIMITS
    + """
import os, signal, sys, time
signal.signal(signal.SIGUSR1, lambda *_: print("alive", flush=True))
limits_child.limit_self(None, int(os.environ["PARENT"]))
print("ready", flush=True)
time.sleep(60)
"""
)


def _text(output: KernelOutput) -> str:
    pending = output.pending_background
    return pending.text if pending is not None else ""


def test_started_from_a_short_lived_thread_the_kernel_outlives_that_thread() -> None:
    """Linux sends PDEATHSIG when the *thread* that forked ends: a kernel started by start() on
    a thread that then ends is not killed, because the waiter thread forks it."""
    output = KernelOutput()
    process = KernelProcess(
        child_argv(PDEATHSIG_CHILD),
        env={**os.environ, "PARENT": str(os.getpid())},
        on_exit=lambda ended: None,
        output=output,
    )

    def start_and_wait_ready() -> None:
        process.start()
        wait_until(lambda: "ready" in _text(output), timeout=10)

    starter = threading.Thread(target=start_and_wait_ready)
    starter.start()
    starter.join(timeout=15)
    assert not starter.is_alive()
    process.signal(signal.SIGUSR1)
    wait_until(lambda: "alive" in _text(output), timeout=10)
    assert process.alive
    ended = process.stop(grace_s=2.0)
    assert ended.cause == "signal 15 (SIGTERM); stopped by the service"
    output.close()


def test_control_a_child_forked_by_a_thread_that_ends_is_killed() -> None:
    """The control for the test above: forked directly by a thread that then ends, the same
    child dies of SIGKILL (so the test above would catch a wrong design)."""
    procs: list[subprocess.Popen[bytes]] = []

    def fork_and_wait_ready() -> None:
        proc = subprocess.Popen(
            child_argv(PDEATHSIG_CHILD),
            env={**os.environ, "PARENT": str(os.getpid())},
            stdout=subprocess.PIPE,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"

    forker = threading.Thread(target=fork_and_wait_ready)
    forker.start()
    forker.join(timeout=15)
    (proc,) = procs
    try:
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


class TestDescribeExit:
    """The cause text from a return code, a memory limit and the last stderr lines."""

    def test_exit_code_with_memory_error_in_stderr_names_the_limit(self) -> None:
        tail = 'Traceback (most recent call last):\n  File "<string>", line 1\nMemoryError\n'
        ended = describe_exit(7, 1, memory_limit=GIB, stderr_tail=tail)
        assert ended.cause == "exit code 1; possibly the memory limit of 1 GiB"
        assert ended.memory_suspected

    @pytest.mark.parametrize("words", ["Cannot allocate memory", "fatal: out of memory"])
    def test_other_memory_words_count(self, words: str) -> None:
        ended = describe_exit(7, 1, memory_limit=4 * GIB, stderr_tail=f"x\n{words}\n")
        assert ended.cause == "exit code 1; possibly the memory limit of 4 GiB"

    def test_memory_words_long_before_the_end_do_not_count(self) -> None:
        tail = "MemoryError\n" + "".join(f"line {i}\n" for i in range(20))
        assert describe_exit(7, 1, memory_limit=GIB, stderr_tail=tail).cause == "exit code 1"

    def test_no_limit_no_blame(self) -> None:
        ended = describe_exit(7, -9, memory_limit=None, stderr_tail="MemoryError\n")
        assert ended.cause == "signal 9 (SIGKILL)"
        assert not ended.memory_suspected

    @pytest.mark.parametrize(("sig", "name"), [(9, "SIGKILL"), (6, "SIGABRT"), (7, "SIGBUS")])
    def test_memory_signals_under_a_limit(self, sig: int, name: str) -> None:
        ended = describe_exit(7, -sig, memory_limit=512 * 1024**2)
        assert ended.cause == f"signal {sig} ({name}); possibly the memory limit of 512 MiB"

    def test_a_kill_the_service_asked_for_is_not_blamed_on_memory(self) -> None:
        ended = describe_exit(7, -9, memory_limit=GIB, requested=True)
        assert ended.cause == "signal 9 (SIGKILL); stopped by the service"
        assert ended.requested and not ended.memory_suspected

    def test_other_signals_and_unknown_ones(self) -> None:
        assert describe_exit(7, -15, memory_limit=GIB).cause == "signal 15 (SIGTERM)"
        assert describe_exit(7, -200, memory_limit=None).cause == "signal 200"
        assert describe_exit(7, None, memory_limit=None).returncode is None
