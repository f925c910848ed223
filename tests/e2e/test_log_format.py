"""One log format: the standard library's records (peewee, uvicorn, mcp) come out through
structlog's renderer like vibeweaver's own lines, on stderr or in the log file, never on stdout."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import ServiceProcess, cli_env, free_port, wait_until

ISOLATED = ("--router", "none", "--hootenanny", "none", "--broadcasts", "none")
CLI_ANNOUNCEMENT = "vibeweaver: "
"""The CLI's own human-readable ready/stopped lines on stderr (not log records)."""


def _bad_http_request(port: int) -> None:
    """Garbage on the HTTP port: uvicorn logs a warning through stdlib logging."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.settimeout(5)
        while sock.recv(4096):
            pass


def _records(lines: list[str]) -> list[dict[str, Any]]:
    """Every line parsed as one JSON object with an event, a level and a timestamp."""
    records = []
    for line in lines:
        record = json.loads(line)  # fails the test on any line in another format
        assert isinstance(record, dict), line
        assert {"event", "level", "timestamp"} <= record.keys(), line
        records.append(record)
    return records


def test_stdlib_records_are_rendered_like_structlog_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "vibeweaver.log"
    script = textwrap.dedent(
        f"""
        import logging
        import structlog
        from pathlib import Path
        from vibeweaver.logs import configure

        configure("info", Path({str(log_file)!r}))
        structlog.get_logger().info("own_line", answer=42)
        logging.getLogger("peewee.migrations").info("up: %s", "0001_initial")
        logging.getLogger("mcp.server.lowlevel").warning("odd request %d", 7)
        logging.getLogger("uvicorn.error").debug("below the level: not written")
        try:
            1 / 0
        except ZeroDivisionError:
            logging.getLogger("peewee").exception("query failed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=cli_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    own, peewee, mcp, failed = _records(log_file.read_text().splitlines())
    assert own["event"] == "own_line" and own["answer"] == 42 and own["level"] == "info"
    assert peewee == {
        "event": "up: 0001_initial",
        "level": "info",
        "logger": "peewee.migrations",
        "timestamp": peewee["timestamp"],
    }
    assert mcp["event"] == "odd request 7" and mcp["level"] == "warning"
    assert mcp["logger"] == "mcp.server.lowlevel"
    assert peewee["timestamp"].endswith("Z") and peewee["timestamp"][:4] == own["timestamp"][:4]
    assert failed["event"] == "query failed" and failed["level"] == "error"
    assert failed["exception"][0]["exc_type"] == "ZeroDivisionError"  # structured, not a dump


def test_serve_writes_only_structlog_lines_to_stderr_and_nothing_to_stdout(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    # a fresh data dir makes peewee's migrations log, a bad request uvicorn
    port = free_port()
    service = ServiceProcess(
        "--data-dir", str(tmp_path / "data"), *ISOLATED, "--http", f"127.0.0.1:{port}"
    )
    service_processes.append(service)
    service.wait_for_line("vibeweaver: ready")
    _bad_http_request(port)
    service.wait_for_line('"logger": "uvicorn.error"')
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=10) == 0
    service.wait_for_line("vibeweaver: stopped")
    assert service.proc.stdout is not None and service.proc.stdout.read() == ""
    lines = [line for line in service.stderr_text().splitlines() if line]
    records = _records([line for line in lines if not line.startswith(CLI_ANNOUNCEMENT)])
    loggers = {record.get("logger") for record in records}
    assert "peewee.migrations" in loggers
    assert "uvicorn.error" in loggers
    assert any(record["event"] == "weaver_started" for record in records)


def test_with_a_log_file_every_line_of_it_is_a_structlog_line(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    log_file = tmp_path / "vibeweaver.log"
    port = free_port()
    service = ServiceProcess(
        "--data-dir",
        str(tmp_path / "data"),
        *ISOLATED,
        "--http",
        f"127.0.0.1:{port}",
        "--log-file",
        str(log_file),
    )
    service_processes.append(service)
    service.wait_for_line("vibeweaver: ready")
    _bad_http_request(port)
    wait_until(lambda: '"logger": "uvicorn.error"' in log_file.read_text(), timeout=10)
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=10) == 0
    records = _records(log_file.read_text().splitlines())
    assert {"peewee.migrations", "uvicorn.error"} <= {record.get("logger") for record in records}
    assert records[-1]["event"] == "weaver_stopped"
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600  # SPEC §3.1: private files
    # stderr keeps only the CLI's announcements
    assert all(line.startswith(CLI_ANNOUNCEMENT) for line in service.stderr_text().splitlines())
