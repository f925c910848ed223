"""`vibeweaver status [--json]` (and the console's start-up check) as real subprocesses against a
real service, and against nothing at all."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin.service import RunningService, start_service
from tests.conftest import cli_env, free_port

pytestmark = pytest.mark.slow

ACTORS = ["supervisor", "store", "planner", "scheduler", "kernel", "gateway"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(Path(tmp_path_factory.mktemp("status-service")) / "data")
    yield running
    running.stop()


def vibeweaver(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vibeweaver", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=cli_env(COLUMNS=str(columns)),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_status_json_prints_valid_json_matching_the_admin_endpoint(
    service: RunningService,
) -> None:
    result = vibeweaver("status", "--json", "--http", service.http)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    endpoint = service.get("/admin/actors")
    assert [row["name"] for row in printed] == [row["name"] for row in endpoint] == ACTORS
    for mine, theirs in zip(printed, endpoint, strict=True):
        assert set(mine) == set(theirs)
        for stable in ("name", "actor_class", "state", "restarts", "failed", "last_error"):
            assert mine[stable] == theirs[stable]
    assert result.stderr == ""


def test_status_prints_a_table_of_every_actor_that_fits_the_terminal(
    service: RunningService,
) -> None:
    result = vibeweaver("status", "--http", service.http, columns=80)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"vibeweaver http://{service.http} · up ")
    assert "session default" in lines[0]
    header = next(line for line in lines if "ACTOR" in line)
    for title in ("STATE", "MBOX", "HIGH", "OLDEST", "CURRENT", "RUN", "HANDLED", "FAIL", "RST"):
        assert title in header
    for name in ACTORS:
        assert any(line.split()[0] == name for line in lines if line.strip()), name
    assert all(len(line) <= 80 for line in lines)


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["console"]])
def test_without_a_running_service_the_client_commands_print_one_line_and_fail(
    command: list[str],
) -> None:
    port = free_port()
    result = vibeweaver(*command, "--http", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"vibeweaver: error: no vibeweaver service answering at http://127.0.0.1:{port}"
    )
    assert "Traceback" not in result.stderr
