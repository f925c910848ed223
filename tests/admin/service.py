"""Helpers for tests that run `vibeweaver serve` as a subprocess and drive its ZeroMQ ROUTER with a
raw DEALER (HOOT01 weaveEval/weaveHelp requests), then read its admin endpoint over HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zmq

from tests.conftest import ServiceProcess, free_port
from vibeweaver.wire.envelope import WeaveEvalRequest, WeaveHelpRequest, encode_request
from vibeweaver.wire.frames import build_multipart, new_request_id, parse_multipart, request_frame


@dataclass
class RunningService:
    """A `vibeweaver serve` subprocess with its admin address (HOST:PORT) and ROUTER endpoint."""

    process: ServiceProcess
    http: str
    router: str

    def get(self, path: str, timeout: float = 5.0) -> Any:
        response = httpx.get(f"http://{self.http}{path}", timeout=timeout)
        response.raise_for_status()
        return response.json()

    def actor(self, name: str) -> dict[str, Any]:
        rows = self.get("/admin/actors")
        return next(row for row in rows if row["name"] == name)

    def stop(self) -> None:
        self.process.stop()


def start_service(data_dir: Path) -> RunningService:
    """Start the service with a ROUTER on a free loopback port and HTTP on an OS-chosen port."""
    router = f"tcp://127.0.0.1:{free_port()}"
    process = ServiceProcess(
        "--data-dir",
        str(data_dir),
        "--router",
        router,
        "--hootenanny",
        "none",
        "--broadcasts",
        "none",
        "--http",
        "127.0.0.1:0",
        "--log-level",
        "warning",
    )
    try:
        ready = process.wait_for_line("vibeweaver: ready")
    except BaseException:
        process.stop()
        raise
    match = re.search(r"http=(\S+)", ready)
    assert match is not None, ready
    return RunningService(process=process, http=match.group(1), router=router)


@dataclass
class Peer:
    """A raw zmq DEALER speaking HOOT01 to the service's ROUTER (what hootenanny would do)."""

    endpoint: str
    context: zmq.Context[Any] = field(default_factory=zmq.Context)
    replies: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.endpoint)

    def send(self, request: WeaveEvalRequest | WeaveHelpRequest) -> bytes:
        request_id = new_request_id()
        body = encode_request(request_id, request)
        self.socket.send_multipart(build_multipart((), request_frame(request_id, body)))
        return request_id

    def send_eval(self, code: str) -> bytes:
        return self.send(WeaveEvalRequest(code=code))

    def receive(self, count: int, timeout: float = 20.0) -> list[bytes]:
        """Wait for `count` replies; returns their request ids."""
        ids: list[bytes] = []
        for _ in range(count):
            if not self.socket.poll(int(timeout * 1000)):
                raise AssertionError(f"no reply within {timeout} s ({len(ids)}/{count} received)")
            _, frame = parse_multipart(self.socket.recv_multipart())
            ids.append(frame.request_id)
        self.replies.extend(ids)
        return ids

    def close(self) -> None:
        self.socket.close(0)
        self.context.term()
