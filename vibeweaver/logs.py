"""Logging set-up: one structlog processor chain writing to stderr or a file, never to stdout.

The standard library's records (peewee, mcp, uvicorn, pykka) go through the same chain: the root
logger's handler formats them with structlog's `ProcessorFormatter` (the same timestamp, level and
renderer, plus the logger's name), so every line of the stream has one format.

Nothing is configured on import. The CLI calls `configure()`; an embedding application that has not
configured structlog itself gets it from `Weaver.start()` (stdout carries MCP on stdio, so
structlog's own default of printing to stdout must never be left in place).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

from vibeweaver.private_files import private_dir, private_file

LEVELS = ("debug", "info", "warning", "error", "critical")


class TolerantWriteLogger(structlog.WriteLogger):
    """A WriteLogger whose failing write (a full disk under the log file, a closed stderr) drops
    the line and counts it instead of raising into the code that logged: no handler may fail
    because a log line could not be written."""

    dropped = 0
    """Lines dropped by every instance (read by tests and diagnostics)."""

    def msg(self, message: str) -> None:
        try:
            super().msg(message)
        except (OSError, ValueError):  # ValueError: the stream was closed
            TolerantWriteLogger.dropped += 1

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class TolerantWriteLoggerFactory:
    """structlog logger factory for TolerantWriteLogger on one stream."""

    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> TolerantWriteLogger:
        return TolerantWriteLogger(self._file)


class _TolerantStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stdlib logging already survives a failing write (handleError), but prints a traceback to
    stderr for each: here the line is only counted, like structlog's."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib name
        TolerantWriteLogger.dropped += 1


def configure(
    level: str = "info", log_file: Path | None = None, *, json: bool | None = None
) -> None:
    """Route structlog (and stdlib logging, e.g. pykka's and peewee's) to stderr or `log_file`.

    `json` defaults to True for a file and to False for an interactive stderr.
    """
    level_name = level.lower()
    if level_name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; choose one of: {', '.join(LEVELS)}")
    numeric = getattr(logging, level_name.upper())
    stream: TextIO
    if log_file is not None:
        private_dir(log_file.parent)
        private_file(log_file)  # the log names sessions and code locations: 0600
        stream = log_file.open("a", encoding="utf-8", buffering=1)
    else:
        stream = sys.stderr
    if json is None:
        json = log_file is not None or not stream.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[Any] = []
    if json:
        rendering.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    rendering.append(renderer)
    structlog.configure(
        processors=[*shared, *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=TolerantWriteLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = _TolerantStreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))  # library debug chatter stays out unless asked
    if numeric <= logging.DEBUG:
        root.setLevel(logging.DEBUG)
    # pykka logs every failing handler itself; the actor middleware already logs each crash with
    # its context, so pykka's copies would only repeat the traceback.
    logging.getLogger("pykka").setLevel(logging.CRITICAL)


def ensure_configured() -> None:
    """Configure stderr logging unless the application already configured structlog."""
    if not structlog.is_configured():
        configure()
