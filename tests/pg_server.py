"""A throw-away PostgreSQL server for the tests (and the benchmark): Debian's binaries, a cluster
initialised into a temp dir, listening on a free 127.0.0.1 port, stopped at the end.

`PgServer.start()` installs the `postgresql` package with apt-get when no server binaries are
found and it runs as root (like ops/scripts/test installs tmux). initdb refuses to run as root, so
as root the cluster belongs to the `postgres` user (created by the package) and lives in a
directory that user can enter. Host connections need a password (scram-sha-256), so the
password paths (PGPASSWORD, --db-password-file) are exercised for real.

Loaded as a pytest plugin by tests/conftest.py: the session-scoped `pg_server` fixture starts one
server for the whole run (skipping the PostgreSQL tests, with the reason, where none can run), and
`pg_url` gives each test a fresh database on it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

USER = "vibeweaver"
PASSWORD = "vw-test-password"  # noqa: S105 - a throw-away cluster on loopback
SERVER_USER = "postgres"


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    for initdb in reversed(found):
        if (initdb.parent / "pg_ctl").exists():
            return initdb.parent
    return None


def install_postgres() -> Path | None:
    """apt-get install postgresql when running as root on a Debian-like system; the bin dir."""
    bin_dir = find_bin_dir()
    if bin_dir is not None or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return bin_dir
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = shutil.which("apt-get") or "apt-get"
    subprocess.run([apt, "update", "-qq"], check=False, env=env, capture_output=True)
    subprocess.run(
        [apt, "install", "-y", "-qq", "postgresql"],
        check=False,
        env=env,
        capture_output=True,
    )
    return find_bin_dir()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster in a temp dir; see the module docstring."""

    def __init__(self, bin_dir: Path, *, fsync: bool = False) -> None:
        self.bin_dir = bin_dir
        self.fsync = fsync
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vw-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.password_file = self.root / "password"
        self._run_as: str | None = SERVER_USER if os.geteuid() == 0 else None
        self._names = itertools.count(1)

    # -- lifecycle --------------------------------------------------------------------------------

    def init(self) -> PgServer:
        pw_for_initdb = self.root / "initdb-pw"
        pw_for_initdb.write_text(PASSWORD + "\n")
        self.password_file.write_text(PASSWORD + "\n")
        self.password_file.chmod(0o600)
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chmod(self.root, 0o755)  # noqa: S103 - the server's user must enter it
            for path in (self.root, pw_for_initdb):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--pwfile",
            str(pw_for_initdb),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        pw_for_initdb.unlink()
        return self

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c max_connections=200 "
            f"-c fsync={'on' if self.fsync else 'off'} "
            f"-c synchronous_commit={'on' if self.fsync else 'off'} -c full_page_writes=off"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- use --------------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def env(self) -> dict[str, str]:
        """libpq variables for a client (the password as PGPASSWORD)."""
        return {"PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "5"}

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.url(dbname),
                "-c",
                sql,
            ],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout.strip()

    def create_database(self, prefix: str = "vw") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def _pg(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n{log[-2000:]}"
            )


def start_server(*, fsync: bool = False) -> PgServer:
    """Install (if needed and allowed), initialise and start a server; RuntimeError if none can
    run here."""
    bin_dir = install_postgres()
    if bin_dir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries (/usr/lib/postgresql/<v>/bin) and they cannot be "
            "installed here (needs root and apt-get): apt-get install postgresql"
        )
    server = PgServer(bin_dir, fsync=fsync).init()
    deadline = time.monotonic() + 30
    while True:
        try:
            server.start()
            return server
        except RuntimeError:
            if time.monotonic() > deadline:
                server.destroy()
                raise
            server.port = free_port()  # the port was taken meanwhile


@contextlib.contextmanager
def server_or_skip() -> Iterator[PgServer]:
    """A throw-away PostgreSQL server, destroyed afterwards; the test is skipped without one."""
    try:
        server = start_server()
    except RuntimeError as exc:
        pytest.skip(f"PostgreSQL is not available: {exc}")
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the test run."""
    with server_or_skip() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database on the test run's PostgreSQL server."""
    return pg_server.create_database()


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> dict[str, object]:
    """Config overrides for the database backend under test (parametrized: the same test runs on
    sqlite and on PostgreSQL): `{}` for sqlite in the data dir, else a fresh PostgreSQL database
    and the password file that reaches it."""
    if request.param == "sqlite":
        return {}
    server: PgServer = request.getfixturevalue("pg_server")
    return {"db": server.create_database(), "db_password_file": server.password_file}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for the backend under test (parametrized: sqlite file, fresh PostgreSQL
    database); open it with `open_test_database`."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


def open_test_database(url: str) -> peewee.Database:
    """`open_database(url)` with the test server's password for a PostgreSQL URL."""
    from vibeweaver.persistence.database import open_database

    if not url.startswith("postgresql://"):
        return open_database(url)
    return open_database(url, password_file=_password_file())


def _password_file() -> Path:
    path = Path(tempfile.gettempdir()) / f"vw-test-pgpass-{os.getuid()}"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(PASSWORD + "\n")
    return path
