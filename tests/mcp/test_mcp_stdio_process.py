"""`vibeweaver mcp` as a process: its stdout carries nothing but JSON-RPC, and it ends with exit
code 0 when the client closes stdin or on SIGTERM.

These speak raw newline-delimited JSON-RPC (the 2025-11-25 handshake) so every byte the service
writes to stdout is seen, not only what an MCP client chooses to accept.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
from pathlib import Path
from typing import Any

from tests.conftest import ServiceProcess
from tests.mcp.helpers import isolated_flags

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


def start_mcp(data_dir: Path) -> tuple[ServiceProcess, RawSession]:
    service = ServiceProcess(*isolated_flags(data_dir), command="mcp")
    return service, RawSession(service)


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
    assert started["stdout"] == "captured by the cell\n"
    joined = session.evaluate("chatter_thread.join(5)\nchatter_thread.is_alive()")
    assert joined["result"] == "False"

    session.close_stdin()

    assert service.proc.wait(timeout=15) == 0
    session.finish_reading()
    assert len(session.lines) == 3
    for line in session.lines:
        assert json.loads(line)["jsonrpc"] == "2.0", line
    service.wait_for_line("vibeweaver: stopped")
    stderr = service.stderr_text()
    for stray in ("stray line 199", "through sys.__stdout__", "raw write to fd 1",
                  "from a child process"):
        assert stray in stderr
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
