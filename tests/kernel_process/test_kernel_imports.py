"""The kernel process imports only what it uses: none of the service's actors, no database driver,
no MCP SDK, no rich (structlog pulls it in unless hidden; see vibeweaver/kernel/lean_structlog.py).

A structural check in a fresh interpreter, no timing: each of these once cost the kernel's start
tens to hundreds of milliseconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO, cli_env

NOT_IN_THE_KERNEL = (
    "peewee",
    "psycopg",
    "mcp",
    "rich",
    "textual",
    "pykka",
    "starlette",
    "uvicorn",
    "vibeweaver.service",
    "vibeweaver.actors.system",
    "vibeweaver.actors.gateway.actor",
    "vibeweaver.actors.gateway.io_thread",
    "vibeweaver.actors.scheduler.actor",
    "vibeweaver.actors.store.actor",
    "vibeweaver.actors.planner.actor",
    "vibeweaver.actors.kernel.actor",
    "vibeweaver.persistence.database",
    "vibeweaver.persistence.repository",
)


def modules_after(code: str) -> set[str]:
    """The names in sys.modules after `code` ran in a fresh interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cli_env(),
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_the_kernel_host_and_its_prelude_import_none_of_the_service() -> None:
    modules = modules_after(
        """
        from vibeweaver.kernel.lean_structlog import import_structlog
        import_structlog()  # as the kernel's entry point does first
        import vibeweaver.kernel.host
        from vibeweaver.dsl import prelude
        prelude()
        """
    )
    assert "vibeweaver.kernel.host" in modules
    assert "vibeweaver.dsl.session" in modules
    assert [name for name in NOT_IN_THE_KERNEL if loaded(modules, name)] == []


def test_the_kernel_entry_point_loads_the_limits_before_anything_heavy() -> None:
    modules = modules_after("import vibeweaver.kernel.main")
    heavy = ("zmq", "capnp", "vibeweaver.kernel.engine", "vibeweaver.channel", "vibeweaver.dsl")
    assert [name for name in (*heavy, *NOT_IN_THE_KERNEL) if loaded(modules, name)] == []


def test_the_public_names_still_resolve() -> None:
    modules = modules_after(
        """
        from vibeweaver.actors.gateway import HootenannyLink, ZmqGateway, encode_eval_outcome
        from vibeweaver.actors.planner import DeadlinePlanner
        from vibeweaver.actors.scheduler import RuleScheduler
        from vibeweaver.actors.store import SessionStore, StoreClient
        from vibeweaver.kernel import CallbackDefinitionError, EvalOutcome, Kernel, extract_source
        import rich.text
        """
    )
    assert {"vibeweaver.actors.scheduler.actor", "vibeweaver.kernel.engine", "rich"} <= modules
