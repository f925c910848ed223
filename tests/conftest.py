"""Shared test helpers: waiting on conditions, free ports, Weavers in tmp dirs, the CLI as a
subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pg_server import backend, db_url, pg_server, pg_url  # noqa: F401 - fixtures
from vibeweaver.config import Config
from vibeweaver.weaver import Weaver

REPO = Path(__file__).resolve().parent.parent
LOCAL_HTTP = "127.0.0.1:0"
"""`http=LOCAL_HTTP` gives a test Weaver its HTTP listener (admin endpoint) on a free port."""


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`. The
    first polls come quickly (1 ms, doubling up to `interval`): most conditions hold within a
    millisecond or two, and a fixed 10 ms pause per wait added up over the suite."""
    deadline = time.monotonic() + timeout
    pause = min(0.001, interval)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(pause)
        pause = min(pause * 2, interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_config(data_dir: Path, **overrides: Any) -> Config:
    """A config that touches nothing outside `data_dir` (no hootenanny, no HTTP listener: pass
    `http=LOCAL_HTTP` where a test uses it; uvicorn's shutdown alone costs ~0.2 s a stop)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "router": None,
        "hootenanny": None,
        "broadcasts": None,
        "http": None,
        "eval_timeout": 10.0,
    }
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def make_weaver(tmp_path: Path) -> Iterator[Callable[..., Weaver]]:
    """Start Weavers in tmp dirs; every one is stopped at teardown."""
    started: list[Weaver] = []

    def make(name: str = "w", **overrides: Any) -> Weaver:
        weaver = Weaver(local_config(tmp_path / name, **overrides))
        weaver.start()
        started.append(weaver)
        return weaver

    yield make
    for weaver in reversed(started):
        weaver.stop()


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no user config, no inherited VIBEWEAVER_* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBEWEAVER_")}
    env["XDG_CONFIG_HOME"] = str(REPO / "tests" / "no-such-config-dir")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class ServiceProcess:
    """`python -m vibeweaver serve ...` as a subprocess, with its stderr collected line by line."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, command: str = "serve"
    ) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vibeweaver", command, *args],
            stdin=subprocess.PIPE if command == "mcp" else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env or cli_env(),
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for_line(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no stderr line containing {needle!r}; got:\n"
                        + "\n".join(self.lines[-30:])
                    )
                self._cond.wait(min(remaining, 0.2))

    def stderr_text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            self._reader.join(5)


@pytest.fixture
def service_processes() -> Iterator[list[ServiceProcess]]:
    """Collect started service subprocesses; any still running are killed at teardown."""
    procs: list[ServiceProcess] = []
    yield procs
    for proc in procs:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait(5)
