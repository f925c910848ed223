"""PostgreSQL with real `vibeweaver serve` processes (SPEC §4.7, issue [10] must-show 2 and 3).

* Two services on one database each own their session; the second one's `session(load=...)` of
  the first one's session fails naming the owner (host, pid, since); after the first is killed
  with SIGKILL, the second loads it with its rules, markers and history.
* PostgreSQL restarted under a running service: writes during the outage fail with a clear
  error, writes afterwards succeed without restarting vibeweaver, and every acknowledged write is
  in the database.

Cells go over the service's ROUTER as weaveEval requests from a raw DEALER (hootenanny's side of
the wire).
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServiceProcess, cli_env, free_port, wait_until
from tests.gateway.peer import Peer
from tests.pg_server import PgServer, server_or_skip
from vibeweaver.wire import ErrorReply, WeaveEvalReply, WeaveEvalRequest


def serve(
    data_dir: Path,
    url: str,
    session: str,
    *,
    password_file: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[ServiceProcess, str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    args = ["--data-dir", str(data_dir), "--db", url, "--session", session, "--router", endpoint]
    args += ["--hootenanny", "none", "--broadcasts", "none", "--http", "none"]
    if password_file is not None:
        args += ["--db-password-file", str(password_file)]
    service = ServiceProcess(*args, env=cli_env(**(env or {})))
    service.wait_for_line("vibeweaver: ready", timeout=30)
    return service, endpoint


def cell(endpoint: str, code: str, timeout: float = 20.0) -> tuple[bool, str]:
    """Run a cell; (True, its result and output) or (False, the error text)."""
    peer = Peer(endpoint)
    try:
        _, reply = peer.call(WeaveEvalRequest(code=code), timeout=timeout)
    finally:
        peer.close()
    if isinstance(reply, WeaveEvalReply):
        return True, reply.stdout + reply.result
    assert isinstance(reply, ErrorReply), reply
    return False, f"{reply.message}\n{reply.details}"


def ok(endpoint: str, code: str) -> str:
    passed, text = cell(endpoint, code)
    assert passed, text
    return text


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this test alone (it gets restarted)."""
    with server_or_skip() as server:
        yield server


def test_two_services_own_their_sessions_and_a_dead_owners_session_moves(
    tmp_path: Path, pg_server: PgServer, service_processes: list[ServiceProcess]
) -> None:
    url = pg_server.create_database()
    first, first_endpoint = serve(
        tmp_path / "one", url, "alpha", password_file=pg_server.password_file
    )
    service_processes.append(first)
    second, second_endpoint = serve(
        tmp_path / "two", url, "beta", password_file=pg_server.password_file
    )
    service_processes.append(second)

    ok(first_endpoint, 'marker("drop", 16)\nmarker("outro", 64)')
    ok(first_endpoint, "@on_beat(4)\ndef kick(beat):\n    return beat\n")
    ok(first_endpoint, 'rule(Marker("drop"), Notify("dropped"), priority="high")')
    ok(second_endpoint, 'marker("intro", 0)')
    owners = pg_server.psql(
        "SELECT s.name || ':' || o.pid FROM session_owners o JOIN sessions s "
        "ON s.id = o.session_id ORDER BY s.name",
        url.rsplit("/", 1)[1],
    ).split()
    assert owners == [f"alpha:{first.proc.pid}", f"beta:{second.proc.pid}"]

    passed, error = cell(second_endpoint, 'session(load="alpha")')
    assert not passed
    assert "session 'alpha' is owned by another vibeweaver process" in error
    assert f"pid {first.proc.pid} on host {socket.gethostname()}, since " in error
    assert json.loads(ok(second_endpoint, "import json\nprint(json.dumps(session().name))")) == (
        "beta"
    )  # the refused load left the second service in its own session
    listed = ok(second_endpoint, "print(sorted(s.name for s in sessions()))")
    assert "['alpha', 'beta']" in listed  # any process lists every session

    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)

    def loaded() -> bool:
        return cell(second_endpoint, 'session(load="alpha")')[0]

    wait_until(loaded, timeout=20, interval=0.2)
    found = json.loads(
        ok(
            second_endpoint,
            "import json\nprint(json.dumps({"
            '"session": session().name, '
            '"markers": [(m.name, m.beat) for m in timeline.markers], '
            '"rules": sorted(repr(r) for r in rules()), '
            '"history": [h.action for h in history(50)], '
            '"kick": kick(21)}))',
        ).strip()
    )
    assert found["session"] == "alpha"
    assert found["markers"] == [["drop", 16.0], ["outro", 64.0]]
    assert any("kick" in rule for rule in found["rules"])
    assert any("Notify" in rule for rule in found["rules"])
    assert "marker(drop@16)" in found["history"] and "marker(outro@64)" in found["history"]
    assert found["kick"] == 21  # the callback was re-defined from its stored source
    owner = pg_server.psql(
        "SELECT o.pid FROM session_owners o JOIN sessions s ON s.id = o.session_id "
        "WHERE s.name = 'alpha'",
        url.rsplit("/", 1)[1],
    )
    assert owner == str(second.proc.pid)


def test_postgres_restarted_under_a_running_service_loses_nothing_acknowledged(
    tmp_path: Path, own_server: PgServer, service_processes: list[ServiceProcess]
) -> None:
    url = own_server.create_database()
    service, endpoint = serve(tmp_path / "data", url, "jam", env=own_server.env())  # PGPASSWORD
    service_processes.append(service)
    acknowledged: list[str] = []
    for i in range(5):
        ok(endpoint, f'marker("before_{i}", {i})')
        acknowledged.append(f"before_{i}")

    own_server.stop()
    refusals = [cell(endpoint, f'marker("during_{i}", {i})') for i in range(3)]
    assert all(not passed for passed, _ in refusals), refusals
    for _, error in refusals:
        assert "StoreError" in error and "is lost" in error, error
        assert "reconnects by itself" in error
    assert service.proc.poll() is None

    own_server.start()
    attempt = iter(range(10_000))

    def write_after() -> bool:
        name = f"after_{next(attempt)}"
        passed, _ = cell(endpoint, f'marker("{name}", 1)')
        if passed:
            acknowledged.append(name)
        return passed

    wait_until(write_after, timeout=30, interval=0.2)
    for i in range(5):
        ok(endpoint, f'marker("later_{i}", {i})')
        acknowledged.append(f"later_{i}")
    assert service.proc.poll() is None  # the same process throughout: no restart

    stored = own_server.psql("SELECT name FROM markers ORDER BY name", url.rsplit("/", 1)[1])
    assert set(acknowledged) <= set(stored.split())
    assert not any(name.startswith("during_") for name in stored.split())
    seen = ok(endpoint, "print(sorted(m.name for m in timeline.markers))")
    assert all(name in seen for name in acknowledged)
    assert "database_connection_lost" in service.stderr_text()
    assert "database_reconnected" in service.stderr_text()
