"""Where the kernel's eval thread is now, read from another thread of the kernel process.

The admin view's kernel detail: the kernel's channel thread answers a `StackRequest` with
`eval_thread_detail` of the eval thread, even while a cell spins (it never waits for the thread).
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from vibeweaver.kernel.cell import display_filename, pseudo_token

if TYPE_CHECKING:
    from types import FrameType

EVAL_STACK_LIMIT = 200
"""How many innermost frames of the eval thread the detail view shows (deep recursion is cut)."""


def eval_thread_detail(
    ident: int | None, workspace: Path | None = None, *, limit: int = EVAL_STACK_LIMIT
) -> dict[str, Any]:
    """Where the eval thread `ident` is now, read from outside (never waits for it).

    `eval_stack`: its frames, innermost last, each `{file, line, function, code, user}`; `user` is
    true for the frames of user code (a cell or callback, shown as `<cell-3>`, or a module under
    `workspace`). `eval_where`: the innermost user frame as `<cell-3>:2 in spin: n += 1`, or None
    when no user code is running. `eval_stack_omitted`: outer frames left out beyond `limit`.
    """
    empty: dict[str, Any] = {
        "eval_thread": None,
        "eval_thread_ident": ident,
        "eval_where": None,
        "eval_stack": [],
        "eval_stack_omitted": 0,
    }
    if ident is None:
        return empty
    empty["eval_thread"] = _thread_name(ident)
    frame = sys._current_frames().get(ident)
    if frame is None:  # no such thread now (it ended; its replacement is published later)
        return empty
    depth = 0
    outer: FrameType | None = frame
    while outer is not None:
        depth += 1
        outer = outer.f_back
    prefixes = _workspace_prefixes(workspace)
    stack = [
        {
            "file": display_filename(summary.filename),
            "line": summary.lineno,
            "function": summary.name,
            "code": (summary.line or "").strip(),
            "user": _is_user_file(summary.filename, prefixes),
        }
        for summary in traceback.extract_stack(frame, limit=limit)
    ]
    where = next((entry for entry in reversed(stack) if entry["user"]), None)
    return {
        **empty,
        "eval_where": None if where is None else frame_text(where),
        "eval_stack": stack,
        "eval_stack_omitted": max(0, depth - len(stack)),
    }


def frame_text(entry: Mapping[str, Any]) -> str:
    """One `eval_stack` entry as `<cell-3>:2 in spin: n += 1` (a path shortened to its name)."""
    file = str(entry.get("file", "?"))
    code = entry.get("code")
    where = (
        f"{PurePath(file).name or file}:{entry.get('line', '?')} in {entry.get('function', '?')}"
    )
    return where + (f": {code}" if code else "")


def _thread_name(ident: int) -> str | None:
    for thread in threading.enumerate():
        if thread.ident == ident:
            return thread.name
    return None


def _workspace_prefixes(workspace: Path | None) -> tuple[str, ...]:
    if workspace is None:
        return ()
    return tuple({str(workspace.absolute()) + os.sep, str(workspace.resolve()) + os.sep})


def _is_user_file(filename: str, workspace_prefixes: tuple[str, ...]) -> bool:
    return pseudo_token(filename) is not None or filename.startswith(workspace_prefixes)
