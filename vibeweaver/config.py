"""Config: the service's settings and how they are loaded (defaults < TOML file < env < flags).

Every value is validated here, so a bad flag, variable or file becomes one `ConfigError` with a
sentence that names the setting; the CLI prints that sentence and exits 2.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from vibeweaver.errors import ConfigError

ENV_PREFIX = "VIBEWEAVER_"
MCP_MODES = ("stdio", "http", "none")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
MAX_GENERATION_TIMEOUT_S = 86400.0
_ENDPOINT = re.compile(r"^(tcp://[^:/\s]+:\d{1,5}|ipc://\S+|inproc://\S+)$")


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_DATA_HOME/vibeweaver`, else `~/.local/share/vibeweaver`."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vibeweaver"


def default_config_file(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/vibeweaver/config.toml`, else `~/.config/vibeweaver/config.toml`."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vibeweaver" / "config.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """All settings of one vibeweaver system. Build with `Config.load(...)` or directly."""

    data_dir: Path = field(default_factory=default_data_dir)
    db: str | None = None
    """Database URL; None means `sqlite:///<data_dir>/vibeweaver.db`. A PostgreSQL URL
    (`postgresql://user@host:port/dbname`) carries no password (see `db_password_file`)."""
    db_password_file: Path | None = None
    """A file holding the PostgreSQL password (mode 0600 or stricter); without it libpq reads
    `PGPASSWORD` or `~/.pgpass`. Never on the command line."""
    session: str | None = None
    """The session opened at start; None: the one current when the service last ran (`default`
    on a new database)."""
    router: str | None = "tcp://127.0.0.1:5575"
    router_allow: tuple[str, ...] | None = None
    """Addresses or networks allowed to connect to the ROUTER (ZAP); required for a non-loopback
    --router, whose wire carries no credentials."""
    hootenanny: str | None = "tcp://localhost:5580"
    broadcasts: str | None = "tcp://localhost:5581"
    mcp: Literal["stdio", "http", "none"] = "none"
    http: str | None = "127.0.0.1:8765"
    """HOST:PORT of the HTTP listener (MCP at /mcp, admin at /admin); None disables it."""
    eval_timeout: float = 20.0
    log_level: str = "info"
    log_file: Path | None = None
    token: str | None = None
    token_file: Path | None = None
    """A file holding the token (mode 0600 or stricter), so that it is not on the command line
    where every local user can read it (/proc/PID/cmdline); read by `Config.load`."""
    hootenanny_timeout: float = 10.0
    """Seconds a tool call to hootenanny may take before the DSL call fails."""
    generation_timeout: float = 900.0
    """Seconds one generation may take, from its request to its outcome (sample(), latent())."""
    snapshot_debounce_s: float = 2.0
    """Between evals, a change of jobs/artifacts is snapshotted at most this long after it."""
    kernel_memory: int | None = None
    """The kernel process's address-space limit in bytes (`--kernel-memory 4G`); None: none."""

    # -- derived values ---------------------------------------------------------------------------

    @property
    def db_url(self) -> str:
        """The database URL in effect."""
        return self.db or f"sqlite:///{self.data_dir / 'vibeweaver.db'}"

    @property
    def db_path(self) -> Path | None:
        """The sqlite file, or None for a non-file database (`:memory:`, PostgreSQL)."""
        return sqlite_path(self.db_url)

    @property
    def is_postgres(self) -> bool:
        """Whether the database is a PostgreSQL server (ownership per session, not per file)."""
        return is_postgres_url(self.db_url)

    @property
    def workspace_dir(self) -> Path:
        """Where hot-reloadable user modules live."""
        return self.data_dir / "workspace"

    @property
    def http_host_port(self) -> tuple[str, int] | None:
        """The HTTP listener's host and port, or None when disabled."""
        return None if self.http is None else parse_host_port(self.http, "--http")

    # -- loading ----------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        flags: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
        base: Config | None = None,
    ) -> Config:
        """Merge defaults < TOML file < `VIBEWEAVER_*` env < flags, then validate.

        `flags` holds only the options given on the command line (None values are ignored). The
        TOML file is `config_file`, else `$VIBEWEAVER_CONFIG`, else the XDG default if it exists.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        explicit_file = config_file or (
            Path(env["VIBEWEAVER_CONFIG"]) if env.get("VIBEWEAVER_CONFIG") else None
        )
        file_path = explicit_file or default_config_file(env)
        if explicit_file is not None or file_path.exists():
            values.update(_read_toml(file_path))
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
        for key, value in (flags or {}).items():
            if value is not None:
                values[key] = value
        if base is None and "data_dir" not in values:
            values["data_dir"] = default_data_dir(env)
        config = base or cls()
        coerced = _coerce_all(values)
        token_file = coerced.get("token_file")
        if token_file is not None:
            if coerced.get("token"):
                raise ConfigError("give either --token or --token-file, not both")
            coerced["token"] = read_token_file(token_file)
        loaded = replace(config, **coerced).validated()
        if loaded.db_password_file is not None:  # fail at start, not at the first connection
            read_secret_file(loaded.db_password_file, "--db-password-file", "password")
        return loaded

    def validated(self) -> Config:
        """Check every value; return self or raise ConfigError with a readable sentence."""
        if self.session is not None and not self.session.strip():
            raise ConfigError("--session must not be empty")
        sqlite_path(self.db_url)  # raises for malformed URLs
        if self.db_password_file is not None and not self.is_postgres:
            raise ConfigError("--db-password-file is for a PostgreSQL --db (postgresql://...)")
        for name in ("router", "hootenanny", "broadcasts"):
            endpoint = getattr(self, name)
            if endpoint is not None and not _ENDPOINT.match(endpoint):
                raise ConfigError(
                    f"--{name} {endpoint!r} is not a ZeroMQ endpoint "
                    "(expected tcp://HOST:PORT, ipc://PATH or none)"
                )
        if self.mcp not in MCP_MODES:
            raise ConfigError(f"--mcp must be one of {', '.join(MCP_MODES)}, not {self.mcp!r}")
        if self.mcp == "http" and self.http is None:
            raise ConfigError("--mcp http needs an HTTP listener (--http HOST:PORT)")
        host_port = self.http_host_port
        if not (math.isfinite(self.eval_timeout) and 0 < self.eval_timeout <= 3600):
            raise ConfigError(
                f"--eval-timeout must be between 0 and 3600 seconds, not {self.eval_timeout}"
            )
        if not (math.isfinite(self.hootenanny_timeout) and self.hootenanny_timeout > 0):
            raise ConfigError("--hootenanny-timeout must be a positive number of seconds")
        if not (
            math.isfinite(self.generation_timeout)
            and 0 < self.generation_timeout <= MAX_GENERATION_TIMEOUT_S
        ):
            raise ConfigError(
                f"--generation-timeout must be between 0 and {MAX_GENERATION_TIMEOUT_S:g} seconds, "
                f"not {self.generation_timeout}"
            )
        if self.log_level.lower() not in LOG_LEVELS:
            raise ConfigError(
                f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}"
            )
        if self.router_allow is not None:
            from vibeweaver.actors.gateway.zap import parse_allow_list

            try:
                if not parse_allow_list(self.router_allow):
                    raise ValueError("it names no address")
            except ValueError as exc:
                raise ConfigError(f"--router-allow: {exc}") from None
        needs_token = [
            f"--{name} {value}"
            for name, value in (("router", self.router),)
            if value is not None and not _is_loopback_endpoint(value)
        ]
        if host_port is not None and not _is_loopback_host(host_port[0]):
            needs_token.append(f"--http {self.http}")
        if needs_token and not self.token:
            raise ConfigError(
                f"binding a non-loopback address ({', '.join(needs_token)}) requires --token "
                "or VIBEWEAVER_TOKEN"
            )
        public_router = self.router is not None and not _is_loopback_endpoint(self.router)
        if public_router and self.router_allow is None:
            raise ConfigError(
                f"a non-loopback --router ({self.router}) needs ZeroMQ authentication: "
                "hootenanny's wire carries no credentials, so anyone reaching the port could run "
                "code; give --router-allow with hootenanny's address (e.g. --router-allow "
                "10.0.0.5), or bind loopback"
            )
        return self


def read_token_file(path: Path) -> str:
    """The token in `path` (surrounding white space dropped); ConfigError if the file is missing,
    readable by other users, or empty."""
    return read_secret_file(path, "--token-file", "token")


def read_secret_file(path: Path, option: str, what: str) -> str:
    """The secret (`what`: token, password) in `path`, surrounding white space dropped;
    ConfigError naming `option` if the file is missing, readable by other users, or empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"{option} {path} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{option} {path} is readable by other users (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        raw = handle.read(65536)
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{option} {path} is not UTF-8 text") from None
    if not secret:
        raise ConfigError(f"{option} {path} is empty")
    if any(ch.isspace() for ch in secret):
        raise ConfigError(f"{option} {path}: the {what} must be one word (no white space)")
    return secret


POSTGRES_SCHEMES = ("postgres", "postgresql")


def is_postgres_url(url: str) -> bool:
    """Whether `url` names a PostgreSQL database (validated by `postgres_url`)."""
    return urlparse(url).scheme in POSTGRES_SCHEMES


def postgres_url(url: str) -> str:
    """`url` as a libpq connection URI (`postgresql://user@host:port/dbname`); ConfigError if it
    names no database or carries a password (a command line is readable by every local user)."""
    parsed = urlparse(url)
    if parsed.scheme not in POSTGRES_SCHEMES:
        raise ConfigError(f"--db {url!r} is not a PostgreSQL URL")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"--db {url!r}: the port is not a number between 0 and 65535") from None
    secret = "password=" in parsed.query.lower()
    if parsed.password is not None or secret:
        raise ConfigError(
            "--db must not carry the PostgreSQL password (it would be readable in the process "
            "list): give it in PGPASSWORD, ~/.pgpass or --db-password-file"
        )
    if not parsed.path.strip("/"):
        raise ConfigError(
            f"--db {url!r} names no database (expected postgresql://user@host:port/dbname)"
        )
    return "postgresql://" + url.split("://", 1)[1]


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL (None for `:memory:` and for a PostgreSQL URL, which
    names no file); ConfigError for anything else."""
    parsed = urlparse(url)
    if parsed.scheme in POSTGRES_SCHEMES:
        postgres_url(url)
        return None
    if parsed.scheme != "sqlite" or not url.startswith("sqlite:///"):
        raise ConfigError(
            f"--db {url!r} is not a database URL (expected sqlite:///PATH or "
            "postgresql://user@host:port/dbname)"
        )
    path = url[len("sqlite:///") :]
    if not path:
        raise ConfigError(f"--db {url!r} names no file (expected sqlite:///PATH)")
    if path == ":memory:":
        return None
    return Path(path)


MIN_KERNEL_MEMORY = 256 * 1024 * 1024


def parse_host_port(value: str, option: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 as [::1]:PORT) and validate the port."""
    match = re.fullmatch(r"\[?([^\[\]]*?)\]?:(\d{1,5})", value.strip())
    if match is None or not match.group(1):
        raise ConfigError(f"{option} {value!r} is not HOST:PORT")
    port = int(match.group(2))
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option} {value!r}: port must be between 0 and 65535")
    return match.group(1), port


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_loopback_endpoint(endpoint: str) -> bool:
    if not endpoint.startswith("tcp://"):
        return True  # ipc:// and inproc:// never leave the machine
    host = endpoint[len("tcp://") :].rsplit(":", 1)[0]
    return _is_loopback_host(host)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("vibeweaver", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [vibeweaver] must be a table")
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return dict(section)


def _coerce_all(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _coerce(key, value) for key, value in values.items()}


def _coerce(key: str, value: Any) -> Any:
    option = "--" + key.replace("_", "-")
    if key in ("router", "hootenanny", "broadcasts", "http", "token", "db"):
        text = str(value).strip()
        return None if text.lower() in ("none", "") and key != "db" else text
    if key == "router_allow":
        items = value.split(",") if isinstance(value, str) else list(value)
        cleaned = tuple(str(item).strip() for item in items if str(item).strip())
        return cleaned or None
    if key in ("data_dir", "log_file", "token_file", "db_password_file"):
        return Path(str(value)).expanduser()
    if key in ("eval_timeout", "hootenanny_timeout", "generation_timeout"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{option} must be a number of seconds, not {value!r}") from None
    if key == "kernel_memory":
        if value is None or isinstance(value, int):
            return value
        from vibeweaver.sizes import parse_size

        text = str(value).strip()
        if text.lower() in ("", "none"):
            return None
        try:
            size = parse_size(text)
        except ValueError as exc:
            raise ConfigError(f"{option}: {exc}") from None
        if size < MIN_KERNEL_MEMORY:
            raise ConfigError(
                f"{option} {text!r} is too small: a kernel needs at least 256M of address space"
            )
        return size
    if key in ("session", "mcp", "log_level"):
        return str(value).strip().lower() if key != "session" else str(value).strip()
    raise ConfigError(f"unknown setting {key!r}")
