"""The admin JSON: actor and system snapshots, read from published stats without asking any actor.

A stuck actor (a long eval, a deadlock) still shows up here with its current message and how long
it has been running, because nothing in this module goes through a mailbox.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from vibeweaver.weaver import Weaver


def actors_snapshot(weaver: Weaver) -> list[dict[str, Any]]:
    """Per actor: name, state, mailbox depth and high-water, oldest message age, current message…"""
    return weaver.system.actor_snapshots()


def system_snapshot(weaver: Weaver) -> dict[str, Any]:
    """Uptime, session, sockets, rules, dead letters, database."""
    system = weaver.system
    published = {name: dict(system.handle(name).stats.published) for name in system.names}
    db_path = weaver.db_path
    database: dict[str, Any] = {"url": weaver.config.db_url, "path": str(db_path) if db_path else None}
    if db_path is not None:
        database["size_bytes"] = _size(db_path) + _size(db_path.with_name(db_path.name + "-wal"))
    database.update(published.get("store", {}))
    started = weaver.started_at
    return {
        "uptime_s": None if started is None else round(time.time() - started, 1),
        "pid": os.getpid(),
        "state": weaver.state,
        "data_dir": str(weaver.config.data_dir),
        "session": published.get("scheduler", {}).get("session")
        or (None if weaver.session is None else {"id": weaver.session.id, "name": weaver.session.name}),
        "sockets": published.get("gateway", {}).get("sockets", []),
        "rules": published.get("scheduler", {}).get("rules", {}),
        "clock": published.get("scheduler", {}).get("clock"),
        "kernel": published.get("kernel", {}),
        "planner": published.get("planner", {}),
        "dead_letters": system.dead_letter_summary(),
        "database": database,
        "actors": [snapshot["name"] for snapshot in system.actor_snapshots()],
    }


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def routes(weaver: Weaver) -> list[Route]:
    """The /admin routes bound to one Weaver."""

    async def get_actors(request: Request) -> JSONResponse:
        return JSONResponse(actors_snapshot(weaver))

    async def get_actor(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if name not in weaver.system.names:
            return JSONResponse({"error": f"no actor named {name!r}"}, status_code=404)
        return JSONResponse(weaver.system.actor_detail(name))

    async def get_system(request: Request) -> JSONResponse:
        return JSONResponse(system_snapshot(weaver))

    return [
        Route("/admin/actors", get_actors, methods=["GET"]),
        Route("/admin/actors/{name}", get_actor, methods=["GET"]),
        Route("/admin/system", get_system, methods=["GET"]),
    ]
