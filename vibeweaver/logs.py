"""Logging set-up: one structlog processor chain writing to stderr or a file, never to stdout.

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
        log_file.parent.mkdir(parents=True, exist_ok=True)
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
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json:
        processors.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=TolerantWriteLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = _TolerantStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
