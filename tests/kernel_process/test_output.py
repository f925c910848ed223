"""KernelOutput: cell attribution, background caps, UTF-8 across reads, and bounded reading of a
kernel that prints forever."""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.conftest import wait_until
from tests.kernel_process.conftest import SpawnFactory
from vibeweaver.actors.kernel.output import (
    DEFAULT_BACKGROUND_CAP,
    DEFAULT_RATE,
    READ_CHUNK,
    BackgroundOutput,
    KernelOutput,
)


class Pipes:
    """A KernelOutput reading two plain pipes the test writes to (no child process)."""

    def __init__(self, output: KernelOutput) -> None:
        self.output = output
        out_r, self.out_w = os.pipe()
        err_r, self.err_w = os.pipe()
        self.read_fds = (out_r, err_r)
        output.attach(out_r, err_r)

    def write(self, data: bytes, stream: str = "stdout") -> None:
        os.write(self.out_w if stream == "stdout" else self.err_w, data)

    def close_writers(self) -> None:
        for fd in (self.out_w, self.err_w):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    made = Pipes(KernelOutput(name="pipetest"))
    yield made
    made.close_writers()
    made.output.close()


def background_text(output: KernelOutput) -> str:
    pending = output.pending_background
    return pending.text if pending is not None else ""


class TestDecoding:
    def test_multibyte_characters_split_across_reads_decode_whole(self, pipes: Pipes) -> None:
        """A 2-, 3- and 4-byte character each arrive in pieces read separately: no U+FFFD."""
        text = "é€𝄞"
        sent = 0
        for char in text:
            for byte in char.encode():
                pipes.write(bytes([byte]))
                sent += 1
                # the reader has consumed this piece before the next is written
                wait_until(lambda: pipes.output.stats().stdout_bytes == sent)  # noqa: B023
        pipes.write(b"\n")
        wait_until(lambda: background_text(pipes.output) == text + "\n")
        assert "\ufffd" not in background_text(pipes.output)

    def test_a_character_split_between_stdout_reads_with_stderr_between(self, pipes: Pipes) -> None:
        """Each stream has its own decoder: stderr bytes between two halves do not break them."""
        pipes.write("€".encode()[:1])
        wait_until(lambda: pipes.output.stats().stdout_bytes == 1)
        pipes.write(b"!\n", "stderr")
        wait_until(lambda: background_text(pipes.output) == "!\n")
        pipes.write("€".encode()[1:] + b"\n")
        wait_until(lambda: background_text(pipes.output) == "!\n€\n")

    def test_invalid_and_truncated_bytes_are_replaced(self, pipes: Pipes) -> None:
        """Invalid UTF-8 becomes U+FFFD; an unfinished sequence at EOF too."""
        pipes.write(b"a\xffb")
        wait_until(lambda: background_text(pipes.output) == "a\ufffdb")
        pipes.write(b"\xe2\x82")
        pipes.close_writers()
        assert pipes.output.wait_eof(timeout=5)
        assert background_text(pipes.output) == "a\ufffdb\ufffd"


class TestMerging:
    def test_streams_merge_a_whole_line_at_a_time(self, pipes: Pipes) -> None:
        """stderr's "err" and its newline arrive as two writes with a stdout line between: the
        background still reads line by line."""
        pipes.write(b"err", "stderr")
        wait_until(lambda: pipes.output.stats().stderr_bytes == 3)
        pipes.write(b"one\n")
        wait_until(lambda: pipes.output.stats().stdout_bytes == 4)
        pipes.write(b"\n", "stderr")
        wait_until(lambda: background_text(pipes.output) == "one\nerr\n")

    def test_an_unfinished_line_shows_and_is_final_at_eof(self, pipes: Pipes) -> None:
        """A line without its newline is shown (after the finished ones) and kept at EOF."""
        pipes.write(b"no newline")
        wait_until(lambda: background_text(pipes.output) == "no newline")
        pipes.write(b"done\n", "stderr")
        wait_until(lambda: background_text(pipes.output) == "done\nno newline")
        pipes.close_writers()
        assert pipes.output.wait_eof(timeout=5)
        assert background_text(pipes.output) == "done\nno newline"


class TestLifecycle:
    def test_close_stops_the_readers_and_closes_the_pipes(self, pipes: Pipes) -> None:
        """close() ends both reader threads (they were blocked waiting for data) and closes the
        read ends it owned."""
        pipes.write(b"hello\n")
        wait_until(lambda: background_text(pipes.output) == "hello\n")
        readers = [t for t in threading.enumerate() if t.name.startswith("pipetest-")]
        assert sorted(t.name for t in readers) == ["pipetest-stderr", "pipetest-stdout"]
        pipes.output.close()
        for thread in readers:
            thread.join(timeout=5)
            assert not thread.is_alive()
        for fd in pipes.read_fds:
            with pytest.raises(OSError, match="Bad file descriptor"):
                os.fstat(fd)
        assert pipes.output.wait_eof(timeout=0)
        with pytest.raises(RuntimeError, match="closed"):
            pipes.output.attach(*os.pipe())

    def test_readers_end_at_eof(self, pipes: Pipes) -> None:
        """When the writer goes away (the kernel died), both readers end by themselves."""
        pipes.close_writers()
        assert pipes.output.wait_eof(timeout=5)
        wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("pipetest-")])

    def test_cell_misuse_is_refused(self) -> None:
        """end_cell without begin_cell, and two begin_cells, are errors; a KernelOutput with no
        pipes still runs cells (empty)."""
        output = KernelOutput()
        with pytest.raises(RuntimeError, match="no cell is running"):
            output.end_cell()
        output.begin_cell()
        assert output.in_cell
        with pytest.raises(RuntimeError, match="already running"):
            output.begin_cell()
        assert output.end_cell() == ("", "")
        assert not output.in_cell
        output.close()

    @pytest.mark.parametrize(
        ("option", "value"), [("rate", 0), ("cell_rate", -1), ("cell_cap", -1)]
    )
    def test_bad_options_are_refused(self, option: str, value: int) -> None:
        with pytest.raises(ValueError, match=option):
            KernelOutput(**{option: value})  # type: ignore[arg-type]


class TestBackground:
    def test_take_returns_and_clears_pending_only_peeks(self, pipes: Pipes) -> None:
        """pending_background does not clear; take_background does, and counts the bytes."""
        before = time.time()
        pipes.write("héllo\n".encode())
        wait_until(lambda: background_text(pipes.output) == "héllo\n")
        assert pipes.output.pending_background is not None
        taken = pipes.output.take_background()
        assert taken is not None
        assert (taken.text, taken.total_bytes, taken.dropped_bytes) == ("héllo\n", 7, 0)
        assert before <= taken.since <= taken.last <= time.time()
        assert pipes.output.take_background() is None
        assert pipes.output.pending_background is None

    def test_capped_to_the_last_characters_with_counts_of_the_rest(self) -> None:
        """Over the cap the oldest text goes; bytes and lines dropped are counted exactly."""
        output = KernelOutput(background_cap=100)
        pipes = Pipes(output)
        try:
            lines = [f"line {i:04}\n".encode() for i in range(50)]  # 10 bytes each
            pipes.write(b"".join(lines))
            wait_until(lambda: output.stats().stdout_bytes == 500)
            taken = output.take_background()
        finally:
            pipes.close_writers()
            output.close()
        assert taken is not None
        assert taken.text == b"".join(lines[-10:]).decode()
        assert (taken.total_bytes, taken.dropped_bytes, taken.dropped_lines) == (500, 400, 40)
        assert "400 B in 40 lines dropped, the last 100 characters kept" in taken.summary()
        assert output.stats().background_dropped_chars == 400

    def test_a_long_line_without_newline_does_not_wait_or_escape_the_cap(self) -> None:
        """A line longer than a quarter of the cap is kept without waiting for its end, and the
        cap still holds."""
        output = KernelOutput(background_cap=100)
        pipes = Pipes(output)
        try:
            pipes.write(b"y" * 60)
            wait_until(lambda: background_text(output) == "y" * 60)
            pipes.write(b"z" * 60)
            wait_until(lambda: output.stats().stdout_bytes == 120)
            taken = output.take_background()
        finally:
            pipes.close_writers()
            output.close()
        assert taken is not None
        assert taken.text == "y" * 40 + "z" * 60
        assert (taken.total_bytes, taken.dropped_bytes, taken.dropped_lines) == (120, 20, 0)

    def test_summary_without_drops(self) -> None:
        """A small background summary says how much there was and since when."""
        at = time.mktime((2026, 1, 2, 22, 41, 3, 0, 0, -1))
        summary = BackgroundOutput("x", 1536, 0, 0, at, at).summary()
        assert summary == "background output since 22:41:03: 1.5 KiB"


CELLS = 20
CELL_CHILD = """
import os, sys, time
D = {directory!r}
def wait(name):
    while not os.path.exists(os.path.join(D, name)):
        time.sleep(0.001)
def touch(name):
    open(os.path.join(D, name), "w").close()
print("bg start", flush=True)
for i in range({cells}):
    touch(f"ready{{i}}")
    wait(f"go{{i}}")
    print(f"cell {{i}}", flush=True)
    print(f"err {{i}}", file=sys.stderr, flush=True)
    touch(f"done{{i}}")
    wait(f"ended{{i}}")
    print(f"bg {{i}}", flush=True)
"""


def test_output_during_a_cell_goes_to_the_cell_before_and_after_to_the_background(
    spawn: SpawnFactory, tmp_path: Path
) -> None:
    """20 rounds with a real child: what it wrote (and flushed) between begin_cell and end_cell
    is the cell's, however recently it wrote it; what it wrote before begin_cell or after
    end_cell is background, in order."""
    child = spawn(CELL_CHILD.format(directory=str(tmp_path), cells=CELLS))
    output = child.output
    for i in range(CELLS):
        wait_until(lambda: (tmp_path / f"ready{i}").exists(), timeout=10)  # noqa: B023
        output.begin_cell()
        (tmp_path / f"go{i}").touch()
        wait_until(lambda: (tmp_path / f"done{i}").exists(), timeout=10)  # noqa: B023
        assert output.end_cell() == (f"cell {i}\n", f"err {i}\n")
        (tmp_path / f"ended{i}").touch()
    ended = child.process.wait(timeout=10)
    assert ended is not None and ended.cause == "exit code 0"
    taken = output.take_background()
    assert taken is not None
    assert taken.text == "bg start\n" + "".join(f"bg {i}\n" for i in range(CELLS))
    assert output.stderr_tail() == "".join(f"err {i}\n" for i in range(CELLS))


def test_a_cells_output_is_capped_saying_how_much_was_cut(spawn: SpawnFactory) -> None:
    """10,001 characters in a cell with cell_cap=1000: head and tail kept, the cut counted."""
    child = spawn(
        """
        import signal, sys, time
        signal.signal(signal.SIGUSR1, lambda *_: print("a" * 5000 + "b" * 5000, flush=True))
        print("ready", flush=True)
        time.sleep(60)
        """,
        cell_cap=1000,
    )
    wait_until(lambda: "ready" in background_text(child.output), timeout=10)
    child.output.begin_cell()
    child.process.signal(10)  # SIGUSR1
    wait_until(lambda: child.output.stats().stdout_bytes >= len("ready\n") + 10_001, timeout=10)
    out, err = child.output.end_cell()
    assert err == ""
    assert out.startswith("a" * 500) and out.endswith("b" * 499 + "\n"), repr(out[-600:])
    assert "[cut 9,001 characters]" in out
    assert len(out) < 1100


@pytest.fixture
def pipe_size() -> int:
    read_fd, write_fd = os.pipe()
    try:
        return int(fcntl.fcntl(read_fd, 1032))  # F_GETPIPE_SZ
    finally:
        os.close(read_fd)
        os.close(write_fd)


FLOOD_SECONDS = 5
FLOOD_CHILD = f"""
import os, threading, time
def spam():
    line = "x" * 99
    while True:
        print(line)
threading.Thread(target=spam, daemon=True).start()
time.sleep({FLOOD_SECONDS})
os._exit(0)
"""


def test_a_kernel_printing_forever_is_read_at_a_bounded_rate_and_cpu(
    spawn: SpawnFactory, pipe_size: int, capfd: pytest.CaptureFixture[str]
) -> None:
    """A child thread prints 100-byte lines as fast as it can for 5 s. The service reads at most
    rate x seconds + one pipe buffer, spends little CPU doing it (the child blocks on the full
    pipe instead), keeps only the last 16 KiB with exact drop counts, logs the drops at most once
    per interval, and nothing reaches our stdout or stderr."""
    children_cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = time.process_time()
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        child = spawn(FLOOD_CHILD, log_interval_s=2.0)
        ended = child.process.wait(timeout=FLOOD_SECONDS + 30)
        elapsed = time.monotonic() - started
        cpu = time.process_time() - cpu_before
    children_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (children_cpu.ru_utime + children_cpu.ru_stime) - (
        children_cpu_before.ru_utime + children_cpu_before.ru_stime
    )
    assert ended is not None and ended.cause == "exit code 0"
    stats = child.output.stats()
    read = stats.stdout_bytes + stats.stderr_bytes
    bound = DEFAULT_RATE * elapsed + 2 * READ_CHUNK + pipe_size
    captured = capfd.readouterr()
    assert "x" * 99 not in captured.out + captured.err
    with capfd.disabled():
        print(
            f"\nflood: {elapsed:.2f} s, read {read:,} B (bound {bound:,.0f}),"
            f" service CPU {cpu:.3f} s, child CPU {child_cpu:.3f} s,"
            f" readers throttled {stats.throttled_s:.2f} s"
        )
    assert DEFAULT_RATE <= read <= bound
    assert cpu < 1.5, f"the service spent {cpu:.2f} s of CPU reading"
    assert child_cpu < 2.5, f"the child spent {child_cpu:.2f} s of CPU (not blocked?)"

    taken = child.output.take_background()
    assert taken is not None
    assert len(taken.text) == DEFAULT_BACKGROUND_CAP
    assert set(taken.text) == {"x", "\n"}
    assert taken.total_bytes == read
    assert taken.dropped_bytes == read - DEFAULT_BACKGROUND_CAP
    assert taken.dropped_lines + taken.text.count("\n") == read // 100

    dropped_logs = [entry for entry in logs if "output over its cap" in entry["event"]]
    assert 1 <= len(dropped_logs) <= elapsed / 2.0 + 2
    assert sum(entry["held_back"] for entry in dropped_logs) > 0


def test_one_output_serves_a_restarted_kernel(spawn: SpawnFactory) -> None:
    """The KernelActor may keep one KernelOutput across kernel restarts: background output and
    byte counts carry over; the stderr tail is the new kernel's."""
    first = spawn("import sys; print('one'); print('first err', file=sys.stderr)")
    assert first.process.wait(timeout=10) is not None
    wait_until(lambda: first.output.wait_eof(timeout=0))
    second = spawn("print('two')", output=first.output)
    assert second.process.wait(timeout=10) is not None
    wait_until(lambda: second.output.wait_eof(timeout=0))
    taken = second.output.take_background()
    assert taken is not None
    assert sorted(taken.text.splitlines()) == ["first err", "one", "two"]
    stats = second.output.stats()
    assert (stats.stdout_bytes, stats.stderr_bytes) == (8, 10)
    assert second.output.stderr_tail() == ""


def test_a_real_kernel_writing_utf8_a_byte_at_a_time(spawn: SpawnFactory) -> None:
    """A child writes multi-byte characters one byte per write, pausing between them (so reads
    split them): the text arrives whole, with no replacement characters."""
    child = spawn(
        """
        import os, time
        for byte in "é€𝄞\\n".encode():
            os.write(1, bytes([byte]))
            time.sleep(0.02)
        """
    )
    assert child.process.wait(timeout=10) is not None
    wait_until(lambda: child.output.wait_eof(timeout=0))
    taken = child.output.take_background()
    assert taken is not None
    assert (taken.text, taken.total_bytes) == ("é€𝄞\n", 10)
