"""The MCP front end: an MCPServer with the four weave_* tools, served on stdio or mounted on HTTP.

The tools are async and bridge to the blocking `ToolService` with `anyio.to_thread.run_sync`, so a
long cell never blocks the MCP event loop; concurrent calls are serialised by the kernel actor.

On stdio the JSON-RPC stream owns the process's real stdout. `claim_stdio` moves it to a private
descriptor and points fd 1 at stderr (and fd 0 at /dev/null), so nothing else in the process (a
stray print from any thread, a C library, a child process) can write into the wire or read from
it. The CLI claims it before the Weaver starts, so nothing printed while the actors start can
reach the wire either; `run_stdio` then serves on the claimed wire.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
import stat
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import anyio
import structlog
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from vibeweaver.errors import ActorTimeout, ActorUnavailable, StartupError, VibeweaverError
from vibeweaver.frontends import tools
from vibeweaver.frontends.tools import (
    ClearSession,
    Code,
    EvalResult,
    EvalTimeout,
    HelpResult,
    ResetResult,
    SessionResult,
    Topic,
)
from vibeweaver.service import ToolService

if TYPE_CHECKING:
    from vibeweaver.weaver import Weaver

log = structlog.get_logger(__name__)

T = TypeVar("T")

SERVER_NAME = "vibeweaver"
STOP_POLL_S = 0.1
"""How often the stdio server checks the CLI's stop event."""

_READ_CHUNK = 65536


def build_server(weaver: Weaver) -> MCPServer:
    """An MCPServer whose four tools act on `weaver`'s actors (one ToolService per server)."""
    service = ToolService(weaver.system, eval_timeout=weaver.config.eval_timeout)
    default_timeout = weaver.config.eval_timeout
    server: MCPServer = MCPServer(
        SERVER_NAME,
        title="vibeweaver: persistent Python kernel for music",
        instructions=tools.SERVER_INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
    )

    @server.tool(
        name="weave_eval",
        title="Run Python in the music kernel",
        description=tools.eval_description(default_timeout),
        annotations=ToolAnnotations(
            title="Run Python in the music kernel",
            read_only_hint=False,
            idempotent_hint=False,
        ),
    )
    async def weave_eval(
        code: Code, timeout_s: EvalTimeout = default_timeout
    ) -> Annotated[CallToolResult, EvalResult]:
        cell = _checked(tools.check_code, code)
        timeout = _checked(tools.check_timeout, timeout_s)
        with _tool_errors():
            outcome = await service.evaluate_async(cell, timeout, take_notifications=True)
        result = tools.eval_result(outcome, outcome.notifications)
        return _tool_result(tools.render_eval(result), result)

    @server.tool(
        name="weave_session",
        title="Current session and summary",
        description=tools.SESSION_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Current session and summary",
            read_only_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def weave_session() -> Annotated[CallToolResult, SessionResult]:
        view = await _call(service.session)
        result = tools.session_result(view.session, view.summary)
        return _tool_result(tools.render_session(result), result)

    @server.tool(
        name="weave_reset",
        title="Reset the kernel namespace",
        description=tools.RESET_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Reset the kernel namespace",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def weave_reset(
        clear_session: ClearSession = False,
    ) -> Annotated[CallToolResult, ResetResult]:
        reply = await _call(partial(service.reset, clear_session))
        result = tools.reset_result(reply.reset, reply.message)
        return _tool_result(tools.render_reset(result), result)

    @server.tool(
        name="weave_help",
        title="DSL reference",
        description=tools.HELP_DESCRIPTION,
        annotations=ToolAnnotations(
            title="DSL reference",
            read_only_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def weave_help(topic: Topic = "") -> Annotated[CallToolResult, HelpResult]:
        shown, text = service.help(topic)
        result = tools.help_result(shown, text)
        return _tool_result(tools.render_help(result), result)

    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vibeweaver")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return ""


def _checked(check: Callable[[T], T], value: T) -> T:
    try:
        return check(value)
    except tools.ArgumentError as exc:
        raise ToolError(str(exc)) from None


async def _call(fn: Callable[[], T]) -> T:
    """Run a blocking ToolService call on a worker thread; vibeweaver errors become ToolErrors.

    A cancelled call (client cancel, disconnect, shutdown) abandons the thread, which ends on its
    own when the ask is answered or times out.
    """
    with _tool_errors():
        return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)


@contextlib.contextmanager
def _tool_errors() -> Iterator[None]:
    """A ToolService call's errors as ToolErrors the agent reads."""
    try:
        yield
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    except ActorTimeout as exc:
        raise ToolError(
            f"{exc}; the kernel may still be busy with an earlier cell (try again, or weave_reset)"
        ) from None
    except ActorUnavailable as exc:
        raise ToolError(
            f"{exc}; the service is restarting or stopping; try again shortly"
        ) from None
    except VibeweaverError as exc:
        raise ToolError(str(exc)) from None
    except Exception as exc:
        # a bug or an environment failure (an OSError, say): the agent gets what it was, the log
        # the traceback, and the service goes on serving
        log.error("tool_call_failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        raise ToolError(
            f"internal error in vibeweaver: {type(exc).__name__}: {exc} "
            "(logged; the service keeps serving)"
        ) from None


def _tool_result(text: str, structured: Any) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json"),
    )


# -- stdio ----------------------------------------------------------------------------------


class StdioWire:
    """The MCP wire on private descriptors (see `claim_stdio`); `close` gives the client EOF."""

    def __init__(self, wire_in: _WireLines, wire_out: _WireWriter) -> None:
        self.wire_in = wire_in
        self.wire_out = wire_out

    def close(self) -> None:
        """Close both descriptors (idempotent)."""
        self.wire_in.close()
        self.wire_out.close()

    def __enter__(self) -> StdioWire:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def claim_stdio() -> StdioWire:
    """Move the wire to private descriptors: from now on fd 1 points at stderr and fd 0 at
    /dev/null, which covers `sys.stdout` and `sys.__stdout__` (both write to fd 1; the kernel's
    capture proxy over `sys.stdout` is left in place), C libraries and child processes alike.
    They stay there for good; the caller closes the returned wire.

    Raises StartupError when stdin or stdout is not open.
    """
    try:
        in_fd = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError as exc:
        raise StartupError(f"MCP on stdio needs an open stdin: {exc.strerror}") from None
    try:
        out_fd = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError as exc:
        os.close(in_fd)
        raise StartupError(f"MCP on stdio needs an open stdout: {exc.strerror}") from None
    wire = StdioWire(_WireLines(in_fd), _WireWriter(out_fd))
    try:
        os.dup2(2, 1)
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(devnull, 0)
        finally:
            os.close(devnull)
    except BaseException:
        wire.close()
        raise
    # Whatever Python had buffered for stdout now lands on stderr; keep later writes prompt.
    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
                reconfigure = getattr(stream, "reconfigure", None)
                if reconfigure is not None:
                    reconfigure(line_buffering=True)
    return wire


def run_stdio(weaver: Weaver, stop: threading.Event, wire: StdioWire | None = None) -> None:
    """Serve MCP on the claimed wire until the client closes stdin or `stop` is set.

    Blocks the calling thread (the CLI's main thread, so SIGTERM/SIGINT handlers still run).
    `wire` is what `claim_stdio` returned (the CLI claims it before starting the Weaver); without
    one, the wire is claimed here. Either way it is closed on return, so the client sees EOF.
    """
    with wire if wire is not None else claim_stdio() as claimed:
        server = build_server(weaver)
        log.info("mcp_stdio_serving")
        reason = anyio.run(_serve_stdio, server, claimed.wire_in, claimed.wire_out, stop)
    log.info("mcp_stdio_closed", reason=reason)


async def _serve_stdio(
    server: MCPServer, wire_in: _WireLines, wire_out: _WireWriter, stop: threading.Event
) -> str:
    reason = "stdin closed"
    # No public way to serve an MCPServer on given streams; the SDK's own Client does the same.
    lowlevel = server._lowlevel_server
    async with anyio.create_task_group() as group:

        async def watch_stop() -> None:
            nonlocal reason
            while not stop.is_set():
                await anyio.sleep(STOP_POLL_S)
            reason = "stop requested"
            group.cancel_scope.cancel()

        group.start_soon(watch_stop)
        streams = stdio_server(stdin=cast(Any, wire_in), stdout=cast(Any, wire_out))
        async with streams as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())
        group.cancel_scope.cancel()
    return reason


class _WireFd:
    """A private descriptor of the wire. Blocking calls on it run on worker threads that a
    cancellation abandons; `close` leaves the descriptor open while such a call may still use
    it (a closed number could be reused by an unrelated file), which is harmless at exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._in_flight = 0
        self._closed = False

    async def on_thread(self, fn: Callable[[], T]) -> T:
        with self._lock:
            self._in_flight += 1

        def job() -> T:
            try:
                return fn()
            finally:
                with self._lock:
                    self._in_flight -= 1

        return await anyio.to_thread.run_sync(job, abandon_on_cancel=True)

    def close(self) -> None:
        with self._lock:
            if self._in_flight or self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)


class _WireLines(_WireFd):
    """Async iterator of the JSON-RPC lines arriving on the wire's input descriptor.

    Waits for data on the event loop (cancellable, so a stop request never hangs on a blocked
    read); a descriptor the loop cannot poll (a regular file, /dev/null) is read on a worker
    thread.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        mode = os.fstat(fd).st_mode
        self.pollable = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""
        self.eof = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        while True:
            newline = self.pending.find("\n")
            if newline >= 0:
                line, self.pending = self.pending[: newline + 1], self.pending[newline + 1 :]
                if line.strip():
                    yield line
                continue
            if self.eof:
                if self.pending.strip():
                    yield self.pending
                return
            chunk = await self._read()
            if chunk:
                self.pending += self.decoder.decode(chunk)
            else:
                self.eof = True
                self.pending += self.decoder.decode(b"", final=True)

    async def _read(self) -> bytes:
        if self.pollable:
            try:
                await anyio.wait_readable(self.fd)
            except OSError:  # the loop cannot watch it after all
                self.pollable = False
            else:
                return os.read(self.fd, _READ_CHUNK)  # data is there: returns at once
        return await self.on_thread(partial(os.read, self.fd, _READ_CHUNK))


class _WireWriter(_WireFd):
    """The wire's output descriptor, each message written whole from a worker thread (a client
    slow to read never blocks the event loop)."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.broken = False

    async def write(self, text: str) -> int:
        if self.broken:
            return 0
        try:
            await self.on_thread(partial(_write_all, self.fd, text.encode("utf-8")))
        except OSError as exc:  # the client went away; the EOF on stdin ends the session
            self.broken = True
            log.info("mcp_stdio_write_failed", error=exc.strerror or str(exc))
        return len(text)

    async def flush(self) -> None:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
