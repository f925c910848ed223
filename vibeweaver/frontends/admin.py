"""The admin JSON: actor and system snapshots, read from published stats without asking any actor.

A stuck actor (a long eval, a deadlock) still shows up here with its current message and how long
it has been running, because nothing in this module goes through a mailbox. The KernelActor's
detail view also has the live stack of its kernel's eval thread: where the running cell is, with
the frames of user code (cells, callbacks, workspace modules) marked.
Ages are computed here, at request time, from the monotonic timestamps actors publish.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from vibeweaver.weaver import Weaver

KERNEL_STACK_WAIT_S = 1.0


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
    """One actor's detail view; for the KernelActor, plus the stack of its kernel process's eval
    thread (`vibeweaver.kernel.stack`), read over the kernel channel by the kernel's IO thread:
    no mailbox is asked, and a kernel that does not answer within `KERNEL_STACK_WAIT_S` (agent
    code broke its interpreter) gives an empty stack and the reason."""
    system = weaver.system
    detail = system.actor_detail(name)
    detail["published"] = dict(system.handle(name).stats.published)
    if name == weaver.kernel_probe.actor_name:
        detail.update(weaver.kernel_probe.eval_stack(KERNEL_STACK_WAIT_S))
    return detail


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
