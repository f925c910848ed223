"""`vibeweaver serve` as a real subprocess: ready line, database, clean SIGTERM, kill -9
durability, and one-line errors for bad configuration."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ServiceProcess, cli_env, free_port, local_config
from vibeweaver.persistence.models import TABLES
from vibeweaver.weaver import Weaver

ISOLATED = ("--router", "none", "--hootenanny", "none", "--broadcasts", "none", "--http", "none")


def test_serve_starts_creates_the_database_and_stops_cleanly_on_sigterm(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    data_dir = tmp_path / "data"
    service = ServiceProcess(
        "--data-dir",
        str(data_dir),
        "--router",
        "none",
        "--hootenanny",
        "none",
        "--broadcasts",
        "none",
    )
    service_processes.append(service)
    ready = service.wait_for_line("vibeweaver: ready")
    assert "session=default" in ready

    db_path = data_dir / "vibeweaver.db"
    with sqlite3.connect(db_path) as raw:
        tables = {
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        sessions = [row[0] for row in raw.execute("SELECT name FROM sessions")]
    assert set(TABLES) <= tables
    assert version >= 1
    assert sessions == ["default"]

    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=2.0) == 0
    service.wait_for_line("vibeweaver: stopped")
    stopped = json.loads(service.wait_for_line('"weaver_stopped"'))
    assert set(stopped["actors"].values()) == {"stopped"}
    assert len(stopped["actors"]) == 6
    assert "Traceback" not in service.stderr_text()


def test_an_acknowledged_rule_survives_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    writer = textwrap.dedent(
        f"""
        import sys, threading
        from pathlib import Path
        from vibeweaver.config import Config
        from vibeweaver.persistence.records import RuleRecord
        from vibeweaver.weaver import Weaver
        weaver = Weaver(Config(data_dir=Path({str(data_dir)!r}), router=None, hootenanny=None,
                               broadcasts=None, http=None)).start()
        rule = RuleRecord(id="rule_durable", session_id=weaver.session.id, trigger_type="beat",
                          trigger_params='{{"divisor":4}}', action_type="notify",
                          action_params='{{"message":"four"}}')
        saved = weaver.store.save_rule(rule)
        print("ACK", saved.id, flush=True)
        threading.Event().wait()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", writer],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ACK rule_durable"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    with Weaver(local_config(data_dir, http=None)) as weaver:
        rules = weaver.store.list_rules(weaver.session.id)
    assert [r.id for r in rules] == ["rule_durable"]
    assert rules[0].action_params == '{"message":"four"}'


def _run_serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vibeweaver", "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vibeweaver: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_unwritable_data_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a directory")
    result = _run_serve("--data-dir", str(blocker / "data"), "--router", "none", "--http", "none")
    _assert_one_line_error(result, "cannot create data directory", str(blocker / "data"))


def test_a_malformed_db_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run_serve("--data-dir", str(tmp_path), "--db", "nonsense://x", "--router", "none")
    _assert_one_line_error(result, "--db", "is not a database URL")


@pytest.mark.parametrize("option", ["--router", "--http"])
def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path, option: str) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen(1)
        value = f"tcp://127.0.0.1:{port}" if option == "--router" else f"127.0.0.1:{port}"
        other = ["--http", "none"] if option == "--router" else ["--router", "none"]
        result = _run_serve(
            "--data-dir",
            str(tmp_path),
            option,
            value,
            *other,
            "--hootenanny",
            "none",
            "--broadcasts",
            "none",
        )
    _assert_one_line_error(result, option, str(port))


def test_a_second_service_on_the_same_data_dir_waits_then_exits_2_naming_the_first(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    data_dir = str(tmp_path / "data")
    first = ServiceProcess("--data-dir", data_dir, *ISOLATED)
    service_processes.append(first)
    first.wait_for_line("vibeweaver: ready")

    result = _run_serve("--data-dir", data_dir, *ISOLATED, "--log-level", "warning")

    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    waiting = json.loads(lines[0])
    assert waiting["event"] == "database_in_use_waiting"
    assert waiting["owner_pid"] == str(first.proc.pid)
    assert lines[-1] == (
        f"vibeweaver: error: database {Path(data_dir) / 'vibeweaver.db'} is in use by another "
        f"vibeweaver (pid {first.proc.pid}); stop it, or give this one another --data-dir or --db"
    )
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert first.proc.poll() is None
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=5) == 0


def _owner_and_waiting_service(
    data_dir: Path, service_processes: list[ServiceProcess]
) -> tuple[ServiceProcess, ServiceProcess]:
    """A running service on `data_dir`, and a second one waiting for its database."""
    owner = ServiceProcess("--data-dir", str(data_dir), *ISOLATED)
    service_processes.append(owner)
    owner.wait_for_line("vibeweaver: ready")
    waiting = ServiceProcess("--data-dir", str(data_dir), *ISOLATED)
    service_processes.append(waiting)
    waiting.wait_for_line('"database_in_use_waiting"')
    return owner, waiting


def test_a_service_restarted_while_the_old_one_still_stops_takes_over_when_it_has(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    old, new = _owner_and_waiting_service(tmp_path / "data", service_processes)

    old.proc.send_signal(signal.SIGTERM)

    # generous limits: the point is the hand-over, and the shared machine can be slow
    assert old.proc.wait(timeout=20) == 0
    new.wait_for_line("vibeweaver: ready")
    new.proc.send_signal(signal.SIGTERM)
    assert new.proc.wait(timeout=20) == 0


def test_sigterm_while_waiting_for_the_database_stops_at_once_with_exit_0(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    owner, waiting = _owner_and_waiting_service(tmp_path / "data", service_processes)

    waiting.proc.send_signal(signal.SIGTERM)

    assert waiting.proc.wait(timeout=10) == 0
    waiting.wait_for_line("vibeweaver: stopped before it started")
    assert "is in use by another vibeweaver" not in waiting.stderr_text()  # not the wait's end
    assert owner.proc.poll() is None


def test_a_bad_flag_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run_serve("--data-dir", str(tmp_path), "--eval-timeout", "soon")
    _assert_one_line_error(result, "--eval-timeout")


def test_a_database_the_disk_refuses_fails_the_start_at_once_without_restarts(
    tmp_path: Path,
) -> None:
    def refuse_file_writes() -> None:  # in the child: every write to a regular file fails
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vibeweaver",
            "serve",
            "--data-dir",
            str(tmp_path / "data"),
            *ISOLATED,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        preexec_fn=refuse_file_writes,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert lines[-1].startswith("vibeweaver: error: actor store did not start: "), lines[-1]
    assert "disk I/O error" in lines[-1]
    events = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    store_crashes = [e for e in events if e["event"] == "actor_crashed" and e["actor"] == "store"]
    assert len(store_crashes) == 1  # given up at once, not restarted into the same failure
    assert not any(e["event"] == "actor_restarted" for e in events)
    assert not any(e["event"] == "actor_stop_timed_out" for e in events)
    assert result.stdout == ""


def test_a_file_that_is_not_a_database_fails_the_start_naming_it_and_nothing_else_starts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "vibeweaver.db").write_bytes(b"these bytes are not sqlite " * 100)

    result = _run_serve("--data-dir", str(data_dir), *ISOLATED)

    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert lines[-1] == (
        "vibeweaver: error: actor store did not start: StartupError: "
        f"cannot open database {data_dir / 'vibeweaver.db'}: file is not a database"
    )
    events = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    assert {e["actor"] for e in events if e["event"] == "actor_crashed"} == {"store"}
    assert (data_dir / "vibeweaver.db").read_bytes() == b"these bytes are not sqlite " * 100
