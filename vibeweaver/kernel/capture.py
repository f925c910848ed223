"""Per-thread stdout/stderr routing through one shared stream proxy, a stdin that eval threads
cannot read from, and head+tail output caps."""

from __future__ import annotations

import contextvars
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO

from vibeweaver.kernel.interrupt import StdinUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterable

StreamName = Literal["stdout", "stderr"]

TASK_SINKS: contextvars.ContextVar[OutputSinks | None] = contextvars.ContextVar(
    "vibeweaver_task_sinks", default=None
)
"""The sinks of the job whose task (or a task it started) is writing; set by the eval thread."""


def cut_note(cut: int) -> str:
    """The line that replaces the middle of a capped text."""
    return f"... [cut {cut:,} characters] ...\n"


class CappedText:
    """A write-only text sink that keeps the first and last characters and counts the rest.

    Memory stays bounded by the cap however much is written: the head fills first, then a deque of
    chunks holds the tail and drops from its left. Thread-safe (a timed-out eval may still write
    while the caller renders).
    """

    __slots__ = (
        "_head",
        "_head_cap",
        "_head_len",
        "_lock",
        "_tail",
        "_tail_cap",
        "_tail_len",
        "_total",
    )

    def __init__(self, cap: int) -> None:
        cap = max(cap, 0)
        self._head_cap = cap - cap // 2
        self._tail_cap = cap // 2
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """How many characters were written in all."""
        return self._total

    def write(self, text: str) -> int:
        n = len(text)
        if not n:
            return 0
        with self._lock:
            self._total += n
            room = self._head_cap - self._head_len
            if room > 0:
                part = text[:room]
                self._head.append(part)
                self._head_len += len(part)
                if n <= room:
                    return n
                text = text[room:]
            self._push_tail(text)
        return n

    def _push_tail(self, text: str) -> None:
        cap = self._tail_cap
        if cap <= 0:
            return
        if len(text) >= cap:
            self._tail.clear()
            self._tail.append(text[-cap:])
            self._tail_len = cap
            return
        self._tail.append(text)
        self._tail_len += len(text)
        while self._tail_len > cap:
            excess = self._tail_len - cap
            first = self._tail[0]
            if len(first) <= excess:
                self._tail.popleft()
                self._tail_len -= len(first)
            else:
                self._tail[0] = first[excess:]
                self._tail_len -= excess

    def getvalue(self) -> str:
        """Head, a cut note if anything was dropped, tail."""
        with self._lock:
            head = "".join(self._head)
            tail = "".join(self._tail)
            cut = self._total - self._head_len - self._tail_len
        if cut <= 0:
            return head + tail
        sep = "\n" if head and not head.endswith("\n") else ""
        return f"{head}{sep}{cut_note(cut)}{tail}"


def cap_text(text: str, cap: int) -> str:
    """`text` if it fits in `cap` characters, else its head and tail around a cut note."""
    if len(text) <= cap:
        return text
    sink = CappedText(cap)
    sink.write(text)
    return sink.getvalue()


@dataclass(slots=True)
class OutputSinks:
    """The stdout and stderr buffers of one job."""

    stdout: CappedText
    stderr: CappedText
    open: bool = True
    """False once the job ended: later writes of tasks it started go to the idle sinks."""

    @classmethod
    def new(cls, cap: int) -> OutputSinks:
        return cls(stdout=CappedText(cap), stderr=CappedText(cap))

    def sink(self, name: StreamName) -> CappedText:
        return self.stdout if name == "stdout" else self.stderr

    @property
    def empty(self) -> bool:
        return self.stdout.total == 0 and self.stderr.total == 0


@dataclass(slots=True)
class ThreadRoute:
    """Where one eval thread's writes go right now: the running job's sinks, or the idle sinks.

    Output written on the eval thread between jobs (a background task printing) must never reach
    the real stdout (an MCP stdio transport owns it), so it is kept in the idle sinks and handed to
    the next evaluation.
    """

    cap: int
    idle: OutputSinks = field(init=False)
    current: OutputSinks = field(init=False)

    def __post_init__(self) -> None:
        self.idle = OutputSinks.new(self.cap)
        self.current = self.idle

    def attach(self, sinks: OutputSinks) -> None:
        self.current = sinks

    def detach(self, sinks: OutputSinks) -> None:
        """Back to the idle sinks, unless another job has attached since."""
        if self.current is sinks:
            self.current = self.idle

    def take_idle(self) -> OutputSinks | None:
        """The idle output collected since the last call (None when there is none)."""
        if self.idle.empty:
            return None
        taken, self.idle = self.idle, OutputSinks.new(self.cap)
        if self.current is taken:
            self.current = self.idle
        return taken


class RoutingStream:
    """Stands in for sys.stdout or sys.stderr: writes from a routed (eval) thread go to that
    thread's current sink; everything else, and every other attribute (`buffer`, `fileno`,
    `encoding`, ...), goes to the original stream."""

    def __init__(self, original: TextIO | None, name: StreamName) -> None:
        self._original = original
        self._name: StreamName = name

    @property
    def original(self) -> TextIO | None:
        return self._original

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        route = _INSTALL.routes.get(threading.get_ident())
        if route is not None:
            # the task's own job first: a callback and a cell awaiting on the same loop each
            # get their own output
            sinks = TASK_SINKS.get(None)
            if sinks is None or not sinks.open:
                sinks = route.current
            return sinks.sink(self._name).write(text)
        if self._original is None:
            return len(text)
        return self._original.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() in _INSTALL.routes or self._original is None:
            return
        self._original.flush()

    def isatty(self) -> bool:
        # A routed thread writes into a buffer: never a terminal (so pydoc never starts a pager).
        if threading.get_ident() in _INSTALL.routes or self._original is None:
            return False
        return self._original.isatty()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self._original is None:
            raise AttributeError(name)
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return f"<vibeweaver routing {self._name} over {self._original!r}>"


class GuardedStdin:
    """Stands in for sys.stdin: a routed (eval) thread that reads from it gets a
    StdinUnavailableError at once instead of blocking on the terminal (or reading the MCP
    transport's end of file); other threads read the original stream."""

    def __init__(self, original: TextIO | None) -> None:
        self._original = original

    @property
    def original(self) -> TextIO | None:
        return self._original

    def _reader(self, name: str) -> Any:
        if threading.get_ident() in _INSTALL.routes:
            raise StdinUnavailableError(
                f"sys.stdin.{name}() is not available in the vibeweaver kernel: there is no "
                "interactive stdin. Pass values in code instead."
            )
        if self._original is None:
            raise ValueError("I/O operation on closed file.")
        return getattr(self._original, name)

    def read(self, size: int = -1, /) -> str:
        return str(self._reader("read")(size))

    def readline(self, size: int = -1, /) -> str:
        return str(self._reader("readline")(size))

    def readlines(self, hint: int = -1, /) -> list[str]:
        return list(self._reader("readlines")(hint))

    def __iter__(self) -> GuardedStdin:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def isatty(self) -> bool:
        if threading.get_ident() in _INSTALL.routes or self._original is None:
            return False
        return self._original.isatty()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self._original is None:
            raise AttributeError(name)
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return f"<vibeweaver guarded stdin over {self._original!r}>"


class _Installation:
    """Reference-counted installation of the two proxies plus the table of routed threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refcount = 0
        # Read without the lock on every write (a dict lookup is atomic); mutated under the lock.
        self.routes: dict[int, ThreadRoute] = {}

    def wrap_if_displaced(self) -> None:
        # Must hold the lock.
        # a cell that set sys.stdout = None (or to something without write) gets the process's
        # own stream back underneath, so other threads' output is not lost
        if not isinstance(sys.stdout, RoutingStream):
            sys.stdout = RoutingStream(_writable(sys.stdout, sys.__stdout__), "stdout")
        if not isinstance(sys.stderr, RoutingStream):
            sys.stderr = RoutingStream(_writable(sys.stderr, sys.__stderr__), "stderr")
        if not isinstance(sys.stdin, GuardedStdin):
            sys.stdin = GuardedStdin(sys.stdin)

    def unwrap(self) -> None:
        # Must hold the lock. Restores only what is still ours: if someone replaced the stream
        # after us, their object stays.
        if isinstance(sys.stdout, RoutingStream):
            sys.stdout = sys.stdout.original
        if isinstance(sys.stderr, RoutingStream):
            sys.stderr = sys.stderr.original
        if isinstance(sys.stdin, GuardedStdin):
            sys.stdin = sys.stdin.original


def _writable(stream: Any, fallback: Any) -> Any:
    return stream if callable(getattr(stream, "write", None)) else fallback


# The one piece of module-level mutable state in vibeweaver.kernel, on purpose: sys.stdout and
# sys.stderr are process-wide, so the proxy that routes eval-thread writes must be process-wide
# too. The first Kernel to start installs it, every Kernel shares it (routes are keyed by eval
# thread ident, so two kernels never see each other's output and other threads are untouched),
# and the last Kernel to stop restores the original streams. A per-instance proxy would wrap
# another kernel's proxy and unwind in the wrong order.
_INSTALL = _Installation()


def acquire() -> None:
    """Install the proxies if this is the first user; count the user."""
    with _INSTALL.lock:
        _INSTALL.refcount += 1
        _INSTALL.wrap_if_displaced()


def release() -> None:
    """Forget one user; the last one restores the original streams."""
    with _INSTALL.lock:
        if _INSTALL.refcount == 0:
            return
        _INSTALL.refcount -= 1
        if _INSTALL.refcount == 0:
            _INSTALL.unwrap()


def ensure_installed() -> None:
    """Re-wrap sys.stdout/sys.stderr if something replaced them since `acquire` (a test runner's
    capture, a library); the streams it put there become the pass-through targets."""
    if (
        isinstance(sys.stdout, RoutingStream)
        and isinstance(sys.stderr, RoutingStream)
        and isinstance(sys.stdin, GuardedStdin)
    ):
        return
    with _INSTALL.lock:
        if _INSTALL.refcount > 0:
            _INSTALL.wrap_if_displaced()


def add_route(ident: int, route: ThreadRoute) -> None:
    """Send the writes of thread `ident` to `route`."""
    with _INSTALL.lock:
        _INSTALL.routes[ident] = route


def remove_route(ident: int, route: ThreadRoute) -> None:
    with _INSTALL.lock:
        if _INSTALL.routes.get(ident) is route:
            del _INSTALL.routes[ident]


def installed_refcount() -> int:
    """How many users hold the installation (for tests and diagnostics)."""
    return _INSTALL.refcount
