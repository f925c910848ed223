"""KernelOutput: reads the kernel process's stdout and stderr, and decides whose output it is.

While a cell runs (`begin_cell()` … `end_cell()`), what the kernel writes belongs to that cell
(capped, head and tail kept). Otherwise it is background output (a thread a cell started, a C
library): only its last characters are kept, with counts of what was dropped, until the next reply
takes it (`take_background()`).

A kernel may print forever, so reading is rate-limited per stream (a token bucket in bytes, plus a
minimum pause between reads so tiny writes cannot make us spin): over budget, the reader sleeps,
the pipe fills, and the kernel's writer blocks, which bounds the kernel's CPU as well as ours. The
text never reaches the service's stdout (MCP stdio) or stderr; dropping background output is
logged at most once per interval.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

import structlog

from vibeweaver.kernel.capture import CappedText
from vibeweaver.log_throttle import DEFAULT_INTERVAL_S, LogThrottle
from vibeweaver.sizes import format_bytes

log = structlog.get_logger(__name__)

StreamName = Literal["stdout", "stderr"]

DEFAULT_CELL_CAP: Final = 100_000
"""Characters kept per stream of one cell (head and tail)."""
DEFAULT_BACKGROUND_CAP: Final = 16 * 1024
"""Characters of background output kept (the last ones)."""
DEFAULT_RATE: Final = 256 * 1024
"""Bytes per second read from each stream while no cell runs."""
DEFAULT_CELL_RATE: Final = 2 * 1024 * 1024
"""Bytes per second read from each stream while a cell runs (a cell may print a lot on purpose)."""
READ_CHUNK: Final = 16 * 1024
MIN_READ_INTERVAL_S: Final = 0.005
"""At most 200 reads a second per stream, however small the kernel's writes are."""
DRAIN_MAX_BYTES: Final = 256 * 1024
"""What one begin_cell/end_cell reads at most per stream (a full pipe is 64 KiB by default)."""
AFTER_EXIT_BYTES: Final = 256 * 1024
"""After the kernel died, this much is read without the rate limit, so EOF (and the last stderr
lines that may name the cause) arrive at once."""
STDERR_TAIL_CHARS: Final = 4096


@dataclass(frozen=True, slots=True)
class BackgroundOutput:
    """Background output collected since the last take: the last characters and what was cut."""

    text: str
    """The last characters written (stdout and stderr interleaved in arrival order)."""
    total_bytes: int
    dropped_bytes: int
    dropped_lines: int
    since: float
    """Wall-clock time of the first byte."""
    last: float
    """Wall-clock time of the last byte."""

    def summary(self) -> str:
        """One line for a reply or the session summary."""
        at = time.strftime("%H:%M:%S", time.localtime(self.since))
        line = f"background output since {at}: {format_bytes(self.total_bytes)}"
        if self.dropped_bytes:
            line += (
                f" ({format_bytes(self.dropped_bytes)} in {self.dropped_lines:,} lines dropped,"
                f" the last {len(self.text):,} characters kept)"
            )
        return line


@dataclass(frozen=True, slots=True)
class OutputStats:
    """Counters for the admin view."""

    stdout_bytes: int
    stderr_bytes: int
    throttled_s: float
    """Time the readers slept because they were over budget."""
    background_dropped_chars: int
    """Background characters dropped since this object was made (take_background does not reset
    it)."""


@dataclass(slots=True)
class _Background:
    """The background text of both streams, merged a whole line at a time (stderr's "err" and "\\n"
    arrive as two writes, and stdout must not land between them); a stream's unfinished line
    waits, at most a quarter of the cap, for its end."""

    cap: int
    chunks: deque[str] = field(default_factory=deque)
    length: int = 0
    partial: dict[StreamName, str] = field(default_factory=lambda: {"stdout": "", "stderr": ""})
    total_bytes: int = 0
    dropped_chars: int = 0
    dropped_lines: int = 0
    since: float = 0.0
    last: float = 0.0

    def add(self, name: StreamName, text: str, nbytes: int, now: float) -> bool:
        """Keep `text`; True when older text had to be dropped for it."""
        if not self.total_bytes:
            self.since = now
        self.total_bytes += nbytes
        self.last = now
        if not text:
            return False
        text = self.partial[name] + text
        end = text.rfind("\n") + 1
        if len(text) - end > self.cap // 4:
            end = len(text)
        self.partial[name] = text[end:]
        if end:
            self.chunks.append(text[:end])
            self.length += end
        return self._trim()

    def flush(self, name: StreamName) -> bool:
        """The stream ended: its unfinished line is final. True when older text was dropped."""
        if not self.partial[name]:
            return False
        self.chunks.append(self.partial[name])
        self.length += len(self.partial[name])
        self.partial[name] = ""
        return self._trim()

    def _trim(self) -> bool:
        dropped = False
        budget = self.cap - len(self.partial["stdout"]) - len(self.partial["stderr"])
        while self.length > budget and self.chunks:
            excess = self.length - budget
            first = self.chunks[0]
            if len(first) <= excess:
                part = self.chunks.popleft()
            else:
                part, self.chunks[0] = first[:excess], first[excess:]
            self.length -= len(part)
            self.dropped_chars += len(part)
            self.dropped_lines += part.count("\n")
            dropped = True
        return dropped

    def snapshot(self) -> BackgroundOutput | None:
        if not self.total_bytes:
            return None
        text = "".join(self.chunks) + self.partial["stdout"] + self.partial["stderr"]
        kept_bytes = len(text.encode("utf-8", "surrogatepass"))
        return BackgroundOutput(
            text=text,
            total_bytes=self.total_bytes,
            dropped_bytes=max(self.total_bytes - kept_bytes, 0) if self.dropped_chars else 0,
            dropped_lines=self.dropped_lines,
            since=self.since,
            last=self.last,
        )


@dataclass(slots=True)
class _Cell:
    stdout: CappedText
    stderr: CappedText

    def sink(self, name: StreamName) -> CappedText:
        return self.stdout if name == "stdout" else self.stderr


class _Stream:
    """One pipe's read end, its reader thread's state and its decoder."""

    def __init__(self, name: StreamName, fd: int, burst: int) -> None:
        self.name: StreamName = name
        self.fd = fd
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(fd, False)
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.read_lock = threading.Lock()
        """Held for one read and its delivery, by the reader or by a drain; never while blocking."""
        self.wake = threading.Event()
        self.done = threading.Event()
        """Set at EOF or close: nothing more will be read."""
        self.closing = False
        self.fds_closed = False
        self.tokens = float(burst)
        self.refilled = time.monotonic()
        self.free_bytes = 0
        self.bytes_read = 0
        self.throttled_s = 0.0
        self.thread: threading.Thread | None = None

    def poke(self) -> None:
        """Wake the reader from its poll and from its budget sleep."""
        self.wake.set()
        with self.read_lock:
            if not self.fds_closed:
                with contextlib.suppress(BlockingIOError):
                    os.write(self.wake_w, b"x")

    def close_fds(self) -> None:
        """Under read_lock."""
        if not self.fds_closed:
            self.fds_closed = True
            for fd in (self.fd, self.wake_r, self.wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)


class KernelOutput:
    """Reads one kernel's stdout and stderr pipes on two reader threads (`attach`), attributing what
    it reads to the running cell or to the background. Thread-safe: the KernelActor calls
    begin/end_cell and take_background from its thread while the readers deliver."""

    def __init__(
        self,
        *,
        cell_cap: int = DEFAULT_CELL_CAP,
        background_cap: int = DEFAULT_BACKGROUND_CAP,
        rate: int = DEFAULT_RATE,
        cell_rate: int = DEFAULT_CELL_RATE,
        log_interval_s: float = DEFAULT_INTERVAL_S,
        name: str = "kernel",
    ) -> None:
        for label, value in (("cell_cap", cell_cap), ("background_cap", background_cap)):
            if value < 0:
                raise ValueError(f"{label} must be 0 or more, not {value}")
        for label, value in (("rate", rate), ("cell_rate", cell_rate)):
            if value <= 0:
                raise ValueError(
                    f"{label} must be a positive number of bytes a second, not {value}"
                )
        self.cell_cap = cell_cap
        self.background_cap = background_cap
        self.rate = rate
        self.cell_rate = cell_rate
        self.name = name
        self._lock = threading.Lock()
        self._cell: _Cell | None = None
        self._background = _Background(background_cap)
        self._background_dropped_chars = 0
        self._throttle = LogThrottle(log_interval_s)
        self._streams: tuple[_Stream, ...] = ()
        self._stderr_tail = ""
        self._closed = False
        self._old_bytes = {"stdout": 0, "stderr": 0}
        self._old_throttled_s = 0.0

    # -- pipes ---------------------------------------------------------------------------------

    def attach(self, stdout_fd: int, stderr_fd: int) -> None:
        """Take ownership of the read ends of a new kernel's pipes and start reading them.

        A previous kernel's readers are stopped first; cell and background state carry over.
        """
        if self._closed:
            raise RuntimeError("this KernelOutput is closed")
        self._stop_streams()
        streams = (
            _Stream("stdout", stdout_fd, READ_CHUNK),
            _Stream("stderr", stderr_fd, READ_CHUNK),
        )
        with self._lock:
            self._streams = streams
            self._stderr_tail = ""
        for stream in streams:
            stream.thread = threading.Thread(
                target=self._read_loop,
                args=(stream,),
                name=f"{self.name}-{stream.name}",
                daemon=True,
            )
            stream.thread.start()

    def process_exited(self, drain_timeout: float = 0.2) -> None:
        """The kernel is dead: what it wrote is all in the pipes now, so read it here and now
        (up to AFTER_EXIT_BYTES a stream, for at most `drain_timeout` seconds) rather than at the
        reader's pace: on return the last stderr lines, which may name the cause, are in
        stderr_tail() and a running cell has its output."""
        for stream in self._streams:
            with stream.read_lock:
                stream.free_bytes = AFTER_EXIT_BYTES
            stream.poke()
        self._drain(drain_timeout, AFTER_EXIT_BYTES)

    def wait_eof(self, timeout: float) -> bool:
        """True once both pipes reached EOF (or were closed) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for stream in self._streams:
            if not stream.done.wait(max(deadline - time.monotonic(), 0.0)):
                return False
        return True

    def stderr_tail(self) -> str:
        """The last characters the current kernel wrote to stderr, wherever they were attributed."""
        with self._lock:
            return self._stderr_tail

    def close(self) -> None:
        """Stop the readers and close the pipes. Idempotent."""
        self._closed = True
        self._stop_streams()

    def _stop_streams(self) -> None:
        streams = self._streams
        for stream in streams:
            stream.closing = True
            stream.poke()
        for stream in streams:
            if stream.thread is not None and stream.thread is not threading.current_thread():
                stream.thread.join(timeout=2.0)
            with stream.read_lock:
                stream.close_fds()
            stream.done.set()
        with self._lock:
            for stream in streams:
                self._background.flush(stream.name)
                self._old_bytes[stream.name] += stream.bytes_read
                self._old_throttled_s += stream.throttled_s
            if self._streams is streams:
                self._streams = ()

    # -- cells ---------------------------------------------------------------------------------

    def begin_cell(self, drain_timeout: float = 0.05) -> None:
        """From now on, output belongs to a cell. What is already in the pipes was written before,
        so it is read into the background first (for at most `drain_timeout` seconds)."""
        with self._lock:
            if self._cell is not None:
                raise RuntimeError("a cell is already running; end_cell() it first")
        self._drain(drain_timeout)
        with self._lock:
            self._cell = _Cell(CappedText(self.cell_cap), CappedText(self.cell_cap))

    def end_cell(self, drain_timeout: float = 0.05) -> tuple[str, str]:
        """The cell's (stdout, stderr), each capped at `cell_cap` characters with a note saying how
        much was cut. What the kernel wrote before this call is in it, provided the kernel flushed
        it before it answered: the pipes are read, without blocking, for at most `drain_timeout`
        seconds first."""
        with self._lock:
            if self._cell is None:
                raise RuntimeError("no cell is running; begin_cell() first")
        self._drain(drain_timeout)
        with self._lock:
            cell, self._cell = self._cell, None
        return cell.stdout.getvalue(), cell.stderr.getvalue()

    @property
    def in_cell(self) -> bool:
        return self._cell is not None

    # -- background ----------------------------------------------------------------------------

    def take_background(self) -> BackgroundOutput | None:
        """The background output since the last take (None if there was none), and clear it."""
        with self._lock:
            taken = self._background.snapshot()
            self._background = _Background(self.background_cap)
        return taken

    @property
    def pending_background(self) -> BackgroundOutput | None:
        """The background output waiting for the next reply, without clearing it."""
        with self._lock:
            return self._background.snapshot()

    def stats(self) -> OutputStats:
        with self._lock:
            read = dict(self._old_bytes)
            throttled = self._old_throttled_s
            for stream in self._streams:
                read[stream.name] += stream.bytes_read
                throttled += stream.throttled_s
            return OutputStats(
                stdout_bytes=read["stdout"],
                stderr_bytes=read["stderr"],
                throttled_s=throttled,
                background_dropped_chars=self._background_dropped_chars,
            )

    # -- reading -------------------------------------------------------------------------------

    def _read_loop(self, stream: _Stream) -> None:
        poller = select.poll()
        poller.register(stream.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        poller.register(stream.wake_r, select.POLLIN)
        try:
            while not stream.closing:
                self._await_budget(stream)
                if stream.closing:
                    break
                events = poller.poll()
                if any(fd == stream.wake_r for fd, _ in events):
                    with contextlib.suppress(BlockingIOError):
                        os.read(stream.wake_r, 4096)
                    continue
                with stream.read_lock:
                    if stream.closing or stream.fds_closed:
                        break
                    if not self._read_once(stream):
                        break
                if stream.free_bytes <= 0 and stream.wake.wait(MIN_READ_INTERVAL_S):
                    stream.wake.clear()
        except Exception:
            log.exception("kernel output reader failed", stream=stream.name)
        finally:
            with stream.read_lock:
                stream.close_fds()
            stream.done.set()

    def _read_once(self, stream: _Stream) -> bool:
        """One read under read_lock, delivered (nothing when the pipe is empty). False at EOF."""
        try:
            data = os.read(stream.fd, READ_CHUNK)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            self._deliver(stream, stream.decoder.decode(b"", True), 0, eof=True)
            stream.closing = True
            stream.done.set()
            return False
        if stream.free_bytes > 0:
            stream.free_bytes -= len(data)
        else:
            stream.tokens -= len(data)
        self._deliver(stream, stream.decoder.decode(data), len(data))
        stream.bytes_read += len(data)
        return True

    def _await_budget(self, stream: _Stream) -> None:
        while not stream.closing:
            with stream.read_lock:
                if stream.free_bytes > 0:
                    return
                rate = self.cell_rate if self._cell is not None else self.rate
                now = time.monotonic()
                stream.tokens = min(
                    float(READ_CHUNK), stream.tokens + (now - stream.refilled) * rate
                )
                stream.refilled = now
                if stream.tokens > 0:
                    return
                pause = -stream.tokens / rate + MIN_READ_INTERVAL_S
            started = time.monotonic()
            if stream.wake.wait(pause):
                stream.wake.clear()
            stream.throttled_s += time.monotonic() - started

    def _drain(self, timeout: float, max_bytes: int = DRAIN_MAX_BYTES) -> None:
        """Read what the pipes already hold, without blocking, for at most `timeout` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        waiting = _readable(self._streams)  # one poll for both pipes, usually both empty
        for stream in self._streams:
            # Blocking is safe: the reader holds this lock only for one non-blocking read and its
            # delivery; a reader preempted mid-delivery must finish before the cell is closed.
            with stream.read_lock:
                if stream.fd not in waiting:
                    continue
                drained = 0
                while not stream.fds_closed and not stream.done.is_set():
                    before = stream.bytes_read
                    if not self._read_once(stream) or stream.bytes_read == before:
                        break
                    drained += stream.bytes_read - before
                    if drained >= max_bytes or time.monotonic() >= deadline:
                        break

    def _deliver(self, stream: _Stream, text: str, nbytes: int, *, eof: bool = False) -> None:
        now = time.time()
        report: dict[str, object] | None = None
        with self._lock:
            if stream.name == "stderr" and text:
                self._stderr_tail = (self._stderr_tail + text)[-STDERR_TAIL_CHARS:]
            if self._cell is not None:
                if text:
                    self._cell.sink(stream.name).write(text)
                return
            background = self._background
            dropped_before = background.dropped_chars
            added = background.add(stream.name, text, nbytes, now) if nbytes or text else False
            if eof:
                added = background.flush(stream.name) or added
            if added:
                self._background_dropped_chars += background.dropped_chars - dropped_before
                held_back = self._throttle.allow("background_dropped")
                if held_back is not None:
                    snapshot = background.snapshot()
                    assert snapshot is not None
                    report = {
                        "total_bytes": snapshot.total_bytes,
                        "dropped_bytes": snapshot.dropped_bytes,
                        "dropped_lines": snapshot.dropped_lines,
                        "kept_chars": len(snapshot.text),
                        "held_back": held_back,
                    }
        if report is not None:
            log.warning("kernel background output over its cap, oldest dropped", **report)


def _readable(streams: tuple[_Stream, ...]) -> set[int]:
    """The pipes with data (or their end) waiting now, without blocking (all of them if the
    poll fails: the non-blocking reads then tell)."""
    open_fds = [s.fd for s in streams if not s.fds_closed and not s.done.is_set()]
    if not open_fds:
        return set()
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    try:
        return {fd for fd, _events in poller.poll(0)}
    except OSError:
        return set(open_fds)
