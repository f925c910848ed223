"""User-frames-only tracebacks with source lines and no ANSI codes, ending with Type: message."""

from __future__ import annotations

import builtins
import difflib
import linecache
import re
import traceback
from typing import TYPE_CHECKING, Any

from vibeweaver.kernel.outcome import ErrorInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _keep_user_frames(
    te: traceback.TracebackException,
    keep: Callable[[str], bool],
    display: Callable[[str], str],
    seen: set[int],
) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    frames: list[traceback.FrameSummary] = []
    for frame in te.stack:
        if not keep(frame.filename):
            continue
        line = linecache.getline(frame.filename, frame.lineno) if frame.lineno else ""
        frames.append(
            traceback.FrameSummary(
                display(frame.filename),
                frame.lineno,
                frame.name,
                lookup_line=False,
                line=line,
                end_lineno=frame.end_lineno,
                colno=frame.colno,
                end_colno=frame.end_colno,
            )
        )
    te.stack = traceback.StackSummary.from_list(frames)
    if te.exc_type is not None and issubclass(te.exc_type, SyntaxError) and te.filename:
        te.filename = display(te.filename)
    for child in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        if child is not None:
            _keep_user_frames(child, keep, display, seen)
    # a chained exception that never passed through user code is vibeweaver's own business (the
    # database error behind a StoreError, say): the message of the exception raised says it
    if te.__cause__ is not None and not _has_user_frames(te.__cause__):
        te.__cause__ = None
    if te.__context__ is not None and not _has_user_frames(te.__context__):
        te.__context__ = None


def _has_user_frames(te: traceback.TracebackException) -> bool:
    return bool(te.stack) or (te.exc_type is not None and issubclass(te.exc_type, SyntaxError))


def format_user_traceback(
    exc: BaseException,
    *,
    keep: Callable[[str], bool],
    display: Callable[[str], str],
    summary: str | None = None,
) -> str:
    """The traceback of `exc` with only the frames `keep` accepts (chained exceptions included).

    With `summary`, the exception's own last line is replaced by it (a timeout reports where the
    code was interrupted, then `TimeoutError: ...`), and chained exceptions are left out.
    """
    te = traceback.TracebackException.from_exception(exc)
    _keep_user_frames(te, keep, display, set())
    if summary is None:
        text = "".join(te.format())
    else:
        head = "Traceback (most recent call last):\n" if te.stack else ""
        text = head + "".join(te.stack.format()) + summary
    return strip_ansi(text).rstrip("\n")


def exception_message(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.msg:
        return f"{exc.msg} (line {exc.lineno})" if exc.lineno else str(exc.msg)
    try:
        return strip_ansi(str(exc))
    except Exception:  # noqa: BLE001 - a user __str__ may raise anything
        return f"<str() of {type(exc).__name__} failed>"


def did_you_mean(exc: BaseException, namespace: Mapping[str, Any] | None = None) -> str | None:
    """The closest existing name for a NameError (the namespace and builtins) or an AttributeError
    (the object's attributes), as Python 3.12 prints it; None when nothing is close."""
    name = getattr(exc, "name", None)
    if not isinstance(name, str) or not name:
        return None
    candidates: Iterable[str]
    if isinstance(exc, NameError):
        candidates = [*(namespace or {}), *dir(builtins)]
    elif isinstance(exc, AttributeError):
        try:
            candidates = [n for n in dir(exc.obj) if isinstance(n, str)]
        except Exception:  # noqa: BLE001 - a user __dir__ may raise anything
            return None
    else:
        return None
    matches = difflib.get_close_matches(name, [c for c in candidates if c != name], n=1, cutoff=0.7)
    return matches[0] if matches else None


def error_info(
    exc: BaseException,
    *,
    keep: Callable[[str], bool],
    display: Callable[[str], str],
    namespace: Mapping[str, Any] | None = None,
) -> ErrorInfo:
    """ErrorInfo for an exception raised by user code; a misspelt name gets a "Did you mean"."""
    message = exception_message(exc)
    trace = format_user_traceback(exc, keep=keep, display=display)
    suggestion = did_you_mean(exc, namespace)
    if suggestion is not None:
        hint = f". Did you mean: {suggestion!r}?"
        if trace.endswith(message):
            trace += hint
        message += hint
    return ErrorInfo(type=type(exc).__name__, message=message, traceback=trace)
