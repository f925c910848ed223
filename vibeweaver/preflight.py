"""Start-up checks run before any actor starts, so a bad data dir, database path or busy port is
reported as one StartupError line instead of a half-started system. Each raises StartupError for
the first problem it finds."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import zmq

from vibeweaver.errors import StartupError
from vibeweaver.persistence.database import check_writable
from vibeweaver.private_files import private_dir

if TYPE_CHECKING:
    from vibeweaver.config import Config


def check_storage(config: Config) -> None:
    """The data dir and the database's directory exist and are writable."""
    _check_data_dir(config)
    db_path = config.db_path
    if db_path is not None:
        check_writable(db_path)


def check_ports(config: Config) -> None:
    """The --router and --http addresses can be bound."""
    if config.router is not None:
        _probe_zmq_bind(config.router)
    host_port = config.http_host_port
    if host_port is not None and host_port[1] != 0:
        _probe_tcp_bind(*host_port)


def _check_data_dir(config: Config) -> None:
    data_dir = config.data_dir
    try:
        private_dir(data_dir)
        private_dir(config.workspace_dir)
    except OSError as exc:
        raise StartupError(f"cannot create data directory {data_dir}: {exc.strerror}") from None
    probe = data_dir / ".write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"data directory {data_dir} is not writable: {exc.strerror}") from None


def _probe_zmq_bind(endpoint: str) -> None:
    if not endpoint.startswith("tcp://"):
        return
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        raise StartupError(f"cannot bind --router {endpoint}: {exc.strerror}") from None
    finally:
        sock.close(linger=0)
        context.term()


def _probe_tcp_bind(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"cannot listen on --http {host}:{port}: {exc.strerror or exc}"
            ) from None
