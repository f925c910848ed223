"""--token-file (SPEC §3.1): the token read from a private file instead of the command line, where
every local user can read it in /proc/PID/cmdline."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServiceProcess, free_port
from vibeweaver.cli import main
from vibeweaver.config import Config
from vibeweaver.errors import ConfigError

TOKEN = "tok-" + "x" * 28


def token_file(tmp_path: Path, content: str = TOKEN + "\n", mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(content)
    os.chmod(path, mode)
    return path


def test_the_token_is_read_from_the_file(tmp_path: Path) -> None:
    config = Config.load({"token_file": str(token_file(tmp_path)), "http": "0.0.0.0:0"}, env={})
    assert config.token == TOKEN


def test_the_token_file_may_come_from_the_environment(tmp_path: Path) -> None:
    env = {"VIBEWEAVER_TOKEN_FILE": str(token_file(tmp_path))}
    assert Config.load({}, env=env).token == TOKEN


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (TOKEN, 0o644, "is readable by other users (mode 0644); run: chmod 600"),
        (TOKEN, 0o640, "is readable by other users (mode 0640)"),
        ("  \n", 0o600, "is empty"),
        ("two words", 0o600, "must be one word"),
    ],
)
def test_a_bad_token_file_gives_one_readable_sentence(
    tmp_path: Path, content: str, mode: int, message: str
) -> None:
    path = token_file(tmp_path, content, mode)
    with pytest.raises(ConfigError, match="--token-file") as caught:
        Config.load({"token_file": str(path)}, env={})
    assert message in str(caught.value)


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--token-file .*missing.* cannot be read"):
        Config.load({"token_file": str(tmp_path / "missing")}, env={})


def test_token_and_token_file_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either --token or --token-file"):
        Config.load({"token_file": str(token_file(tmp_path)), "token": "other"}, env={})


def test_status_refuses_a_token_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = token_file(tmp_path, mode=0o644)
    assert main(["status", "--http", "127.0.0.1:1", "--token-file", str(path)]) == 2
    assert "is readable by other users" in capsys.readouterr().err


def test_serve_with_a_token_file_demands_it_and_keeps_it_off_the_command_line(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    port = free_port()
    service = ServiceProcess(
        "--data-dir",
        str(tmp_path / "data"),
        "--router",
        "none",
        "--hootenanny",
        "none",
        "--broadcasts",
        "none",
        "--http",
        f"0.0.0.0:{port}",
        "--token-file",
        str(token_file(tmp_path)),
    )
    service_processes.append(service)
    service.wait_for_line("vibeweaver: ready")
    cmdline = Path(f"/proc/{service.proc.pid}/cmdline").read_bytes()
    assert TOKEN.encode() not in cmdline
    url = f"http://127.0.0.1:{port}/admin/system"
    assert httpx.get(url, timeout=5).status_code == 401
    ok = httpx.get(url, headers={"Authorization": f"bearer {TOKEN}"}, timeout=5)
    assert ok.status_code == 200
