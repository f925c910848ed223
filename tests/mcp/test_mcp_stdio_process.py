"""`vibeweaver mcp` as a process: its stdout carries nothing but JSON-RPC (claimed before the
Weaver starts), and it ends with exit code 0 when the client closes stdin or on SIGTERM, promptly
even while a cell with a long timeout runs.

These speak raw newline-delimited JSON-RPC (the 2025-11-25 handshake) so every byte the service
writes to stdout is seen, not only what an MCP client chooses to accept.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import ServiceProcess, cli_env, wait_until
from tests.mcp.helpers import LONG_CELL_TIMEOUT_S, isolated_flags, spinning_cell

PROTOCOL = "2025-11-25"


class RawSession:
    """A JSON-RPC peer on the service's stdin/stdout; every stdout line is kept."""

    def __init__(self, service: ServiceProcess) -> None:
        self.service = service
        self.lines: list[str] = []
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0

    def _read(self) -> None:
        stdout = self.service.proc.stdout
        assert stdout is not None
        for line in stdout:
            self.lines.append(line)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and "id" in message:
                self._replies.put(message)

    def send(self, message: dict[str, Any]) -> None:
        stdin = self.service.proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        reply = self._replies.get(timeout=20)
        assert reply["id"] == self._next_id, reply
        return reply

    def handshake(self) -> dict[str, Any]:
        reply = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def start_evaluate(self, code: str, timeout_s: float) -> None:
        """Send a weave_eval call without waiting for its reply."""
        self._next_id += 1
        arguments = {"code": code, "timeout_s": timeout_s}
        self.send(
            {
                "jsonrpc": "2.0",
                "id": self._next_id,
                "method": "tools/call",
                "params": {"name": "weave_eval", "arguments": arguments},
            }
        )

    def evaluate(self, code: str) -> dict[str, Any]:
        reply = self.request("tools/call", {"name": "weave_eval", "arguments": {"code": code}})
        result = reply["result"]
        assert result["isError"] is False, result
        structured: dict[str, Any] = result["structuredContent"]
        return structured

    def close_stdin(self) -> None:
        stdin = self.service.proc.stdin
        assert stdin is not None
        stdin.close()

    def finish_reading(self) -> None:
        self._reader.join(10)
        assert not self._reader.is_alive(), "stdout did not reach EOF"


def start_mcp(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[ServiceProcess, RawSession]:
    service = ServiceProcess(*isolated_flags(data_dir), *extra, command="mcp", env=env)
    return service, RawSession(service)


NOISY_START = """\
import os
import vibeweaver.weaver as weaver_module

_start = weaver_module.Weaver.start


def start(self, *args, **kwargs):
    print("print while the weaver starts", flush=True)
    os.write(1, b"raw write while the weaver starts\\n")
    return _start(self, *args, **kwargs)


weaver_module.Weaver.start = start
"""


def test_stdout_carries_only_json_rpc_while_threads_and_children_print_and_eof_ends_the_service(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    service, session = start_mcp(tmp_path / "data")
    service_processes.append(service)

    init = session.handshake()
    assert init["result"]["protocolVersion"] == PROTOCOL
    assert init["result"]["serverInfo"]["name"] == "vibeweaver"
    started = session.evaluate(
        "import os, subprocess, sys, threading\n"
        "def chatter():\n"
        "    for i in range(200):\n"
        "        print('stray line', i)\n"
        "    sys.__stdout__.write('through sys.__stdout__\\n')\n"
        "    sys.__stdout__.flush()\n"
        "    os.write(1, b'raw write to fd 1\\n')\n"
        "chatter_thread = threading.Thread(target=chatter)\n"
        "chatter_thread.start()\n"
        "subprocess.run(['echo', 'from a child process'])\n"
        "print('captured by the cell')\n",
    )
    assert started["status"] == "ok", started
    assert "captured by the cell\n" in started["stdout"]
    joined = session.evaluate("chatter_thread.join(5)\nchatter_thread.is_alive()")
    assert joined["result"] == "False"
    # the kernel's own output (threads, children, raw fd writes) goes to the cell running at the
    # time, or is kept as background output that the next reply carries (SPEC §2.1)
    replies = "".join(reply[key] for reply in (started, joined) for key in ("stdout", "stderr"))

    session.close_stdin()

    assert service.proc.wait(timeout=15) == 0
    session.finish_reading()
    assert len(session.lines) == 3
    for line in session.lines:
        assert json.loads(line)["jsonrpc"] == "2.0", line
    service.wait_for_line("vibeweaver: stopped")
    stderr = service.stderr_text()
    for stray in (
        "stray line 199",
        "through sys.__stdout__",
        "raw write to fd 1",
        "from a child process",
    ):
        assert stray in replies
        assert stray not in stderr
    assert "Traceback" not in stderr


def test_sigterm_stops_the_mcp_service_with_exit_code_0_while_stdin_stays_open(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    service, session = start_mcp(tmp_path / "data")
    service_processes.append(service)
    session.handshake()
    assert session.evaluate("6 * 7")["result"] == "42"

    service.proc.send_signal(signal.SIGTERM)

    assert service.proc.wait(timeout=15) == 0
    service.wait_for_line("vibeweaver: stopped")
    assert '"stop requested"' in service.stderr_text()
    session.finish_reading()
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in session.lines)


def test_sigterm_during_a_long_cell_does_not_wait_for_its_timeout(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    service, session = start_mcp(tmp_path / "data")
    service_processes.append(service)
    session.handshake()
    flag = tmp_path / "cell-started"
    session.start_evaluate(spinning_cell(flag), timeout_s=LONG_CELL_TIMEOUT_S)
    wait_until(flag.exists, timeout=15)
    time.sleep(0.2)  # in the loop now

    began = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)

    assert service.proc.wait(timeout=LONG_CELL_TIMEOUT_S) == 0
    assert time.monotonic() - began < 10
    service.wait_for_line("vibeweaver: stopped")
    stderr = service.stderr_text()
    assert '"eval_interrupted"' in stderr
    assert "actor_stop_timed_out" not in stderr and "Traceback" not in stderr
    session.finish_reading()
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in session.lines)


def test_stdout_is_claimed_before_the_weaver_starts(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(NOISY_START)
    service, session = start_mcp(tmp_path / "data", env=cli_env(PYTHONPATH=str(hooks)))
    service_processes.append(service)

    session.handshake()
    assert session.evaluate("6 * 7")["result"] == "42"
    session.close_stdin()

    assert service.proc.wait(timeout=15) == 0
    session.finish_reading()
    assert len(session.lines) == 2
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in session.lines)
    stderr = service.stderr_text()
    assert "print while the weaver starts" in stderr
    assert "raw write while the weaver starts" in stderr


def test_a_failed_start_closes_the_claimed_wire_and_exits_2(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        service, session = start_mcp(tmp_path / "data", "--http", f"127.0.0.1:{port}")
        service_processes.append(service)

        assert service.proc.wait(timeout=15) == 2
    session.finish_reading()
    assert session.lines == []
    service.wait_for_line("vibeweaver: error: cannot listen on --http")
