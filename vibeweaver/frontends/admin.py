"""The admin JSON: actor and system snapshots, read from published stats without asking any actor.

A stuck actor (a long eval, a deadlock) still shows up here with its current message and how long
it has been running, because nothing in this module goes through a mailbox. An actor that publishes
`eval_thread_ident` (the KernelActor) also gets that thread's live stack in its detail view: where
the running cell is, with the frames of user code (cells, callbacks, workspace modules) marked.
Ages are computed here, at request time, from the monotonic timestamps actors publish.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from vibeweaver.console.render import frame_text
from vibeweaver.kernel.cell import display_filename, pseudo_token

if TYPE_CHECKING:
    from types import FrameType

    from vibeweaver.weaver import Weaver

EVAL_STACK_LIMIT = 200
"""How many innermost frames of the eval thread the detail view shows (deep recursion is cut)."""


def actors_snapshot(weaver: Weaver) -> list[dict[str, Any]]:
    """Per actor: name, state, mailbox depth and high-water, oldest message age, current message…"""
    return weaver.system.actor_snapshots()


def system_snapshot(weaver: Weaver) -> dict[str, Any]:
    """Uptime, session, sockets, rules, dead letters, database."""
    system = weaver.system
    published = {name: dict(system.handle(name).stats.published) for name in system.names}
    db_path = weaver.db_path
    database: dict[str, Any] = {
        "url": weaver.config.db_url,
        "path": str(db_path) if db_path else None,
    }
    if db_path is not None:
        database["size_bytes"] = _size(db_path) + _size(db_path.with_name(db_path.name + "-wal"))
    database.update(published.get("store", {}))
    started = weaver.started_at
    return {
        "uptime_s": None if started is None else round(time.time() - started, 1),
        "pid": os.getpid(),
        "state": weaver.state,
        "data_dir": str(weaver.config.data_dir),
        "session": _session(weaver, published.get("scheduler", {}).get("session")),
        "sockets": socket_rows(published.get("gateway", {}).get("sockets", [])),
        "rules": published.get("scheduler", {}).get("rules", {}),
        "clock": published.get("scheduler", {}).get("clock"),
        "lateness": published.get("scheduler", {}).get("lateness"),
        "kernel": published.get("kernel", {}),
        "planner": published.get("planner", {}),
        "dead_letters": system.dead_letter_summary(),
        "database": database,
        "actors": [snapshot["name"] for snapshot in system.actor_snapshots()],
    }


def actor_detail(weaver: Weaver, name: str) -> dict[str, Any]:
    """One actor's detail view; for an actor that publishes `eval_thread_ident`, plus that
    thread's stack (see `eval_thread_detail`)."""
    system = weaver.system
    detail = system.actor_detail(name)
    published = system.handle(name).stats.published
    if "eval_thread_ident" in published:
        ident = published["eval_thread_ident"]
        workspace = weaver.config.workspace_dir
        detail.update(eval_thread_detail(ident if isinstance(ident, int) else None, workspace))
    return detail


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


def socket_rows(sockets: Any, now: float | None = None) -> list[dict[str, Any]]:
    """The gateway's published sockets with `last_seen_age_s` computed now (exact at read time)
    from the published `last_seen_monotonic`, which is left out of the JSON."""
    if not isinstance(sockets, list):
        return []
    now = time.monotonic() if now is None else now
    rows = []
    for published in sockets:
        if not isinstance(published, Mapping):
            continue
        row = {key: value for key, value in published.items() if key != "last_seen_monotonic"}
        seen = published.get("last_seen_monotonic")
        if isinstance(seen, (int, float)):
            row["last_seen_age_s"] = round(max(0.0, now - seen), 3)
        else:
            row.setdefault("last_seen_age_s", None)
        rows.append(row)
    return rows


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


def _session(weaver: Weaver, scheduled: Any) -> dict[str, Any] | None:
    """The current session: the scheduler's (it follows switches), named from the Weaver's."""
    opened = weaver.session
    if not isinstance(scheduled, dict) or scheduled.get("id") is None:
        return None if opened is None else {"id": opened.id, "name": opened.name}
    session = dict(scheduled)
    if opened is not None and session.get("name") is None and session["id"] == opened.id:
        session["name"] = opened.name
    return session


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class AdminJSON(JSONResponse):
    """JSON that never fails on a value an actor published (unknown types become strings)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def routes(weaver: Weaver) -> list[Route]:
    """The /admin routes bound to one Weaver."""

    async def get_actors(request: Request) -> JSONResponse:
        return AdminJSON(actors_snapshot(weaver))

    async def get_actor(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if name not in weaver.system.names:
            return AdminJSON({"error": f"no actor named {name!r}"}, status_code=404)
        return AdminJSON(actor_detail(weaver, name))

    async def get_system(request: Request) -> JSONResponse:
        return AdminJSON(system_snapshot(weaver))

    return [
        Route("/admin/actors", get_actors, methods=["GET"]),
        Route("/admin/actors/{name}", get_actor, methods=["GET"]),
        Route("/admin/system", get_system, methods=["GET"]),
    ]
