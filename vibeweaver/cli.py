"""The `vibeweaver` command: serve, mcp, status, console.

Every failure a user can cause (a bad flag, an unwritable data dir, a port in use, no running
service) ends as one line on stderr and a non-zero exit code, never a traceback: 2 for
configuration and start-up errors, 1 for anything else.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from vibeweaver.errors import ConfigError, StartCancelled, StartupError, VibeweaverError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_ACTOR_GIVEN_UP = 3
"""An actor exceeded its restart intensity: the process stops for its own supervisor (systemd,
the MCP client) to restart it, instead of staying up with a dead actor."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vibeweaver",
        description="A persistent Python kernel for AI agents making music.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name, help_text in (
        ("serve", "run the service in the foreground until SIGINT/SIGTERM"),
        ("mcp", "run the service with MCP on stdio (what an MCP client config launches)"),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_service_options(sub, mcp_default="stdio" if name == "mcp" else None)
    status = commands.add_parser("status", help="one-shot snapshot of a running service's actors")
    status.add_argument("--json", action="store_true", help="print the raw admin JSON")
    _add_client_options(status)
    console = commands.add_parser("console", help="live admin console of a running service")
    _add_client_options(console)
    return parser


def _add_service_options(parser: argparse.ArgumentParser, *, mcp_default: str | None) -> None:
    add = parser.add_argument
    add(
        "--config",
        type=Path,
        help="TOML config file (default: $XDG_CONFIG_HOME/vibeweaver/config.toml)",
    )
    add("--data-dir", help="database, workspace modules, logs (default: $XDG_DATA_HOME/vibeweaver)")
    add(
        "--db",
        help="database URL: sqlite:///PATH (default: sqlite:///<data-dir>/vibeweaver.db) or "
        "postgresql://USER@HOST:PORT/DBNAME (password from PGPASSWORD, ~/.pgpass or "
        "--db-password-file, never the URL)",
    )
    add(
        "--db-password-file",
        metavar="PATH",
        help="file holding the PostgreSQL password (mode 0600)",
    )
    add(
        "--session",
        help="session opened (created if missing) at start (default: the session that was "
        "current when the service last ran; default on a new database)",
    )
    add(
        "--router",
        help="ROUTER bound for hootenanny's requests, or none (default: tcp://127.0.0.1:5575)",
    )
    add(
        "--hootenanny",
        help="hootenanny's ROUTER for tool calls, or none (default: tcp://localhost:5580)",
    )
    add(
        "--router-allow",
        metavar="ADDR[,ADDR...]",
        help="peer addresses or networks allowed on the ROUTER (ZeroMQ ZAP); required for a "
        "non-loopback --router",
    )
    add("--broadcasts", help="hootenanny's PUB socket, or none (default: tcp://localhost:5581)")
    add(
        "--mcp",
        choices=("stdio", "http", "none"),
        default=mcp_default,
        help="MCP transport (default: none for serve, stdio for mcp)",
    )
    add(
        "--http",
        help="HTTP listener HOST:PORT for /mcp and /admin, or none (default: 127.0.0.1:8765)",
    )
    add("--eval-timeout", help="per-eval limit in seconds (default: 20)")
    add(
        "--hootenanny-timeout",
        metavar="SECONDS",
        help="limit of one tool call to hootenanny, in seconds (default: 10)",
    )
    add(
        "--generation-timeout",
        metavar="SECONDS",
        help="limit of one whole generation, request to outcome, in seconds (default: 900)",
    )
    add(
        "--kernel-memory",
        metavar="SIZE",
        help="address-space limit of the kernel process running agent code, e.g. 4G or 512M "
        "(default: none)",
    )
    add("--token", help="bearer token, required when binding a non-loopback address")
    add(
        "--token-file",
        metavar="PATH",
        help="read the token from this file (mode 0600) instead of the command line, "
        "where every local user can see it",
    )
    add("--log-level", help="debug, info, warning, error (default: info)")
    add("--log-file", help="write logs to this file instead of stderr")


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http", default=None, help="the service's HTTP listener (default: 127.0.0.1:8765)"
    )
    parser.add_argument(
        "--token", default=None, help="bearer token of the service, if it needs one"
    )
    parser.add_argument(
        "--token-file", default=None, metavar="PATH", help="read the bearer token from this file"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("serve", "mcp"):
            return _serve(args)
        token = _client_token(args)
        if args.command == "status":
            from vibeweaver.console.status import run_status

            return run_status(http=args.http, token=token, as_json=args.json)
        from vibeweaver.console.app import run_console

        return run_console(http=args.http, token=token)
    except (ConfigError, StartupError) as exc:
        _fail(str(exc))
        return EXIT_USAGE
    except VibeweaverError as exc:
        _fail(str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


def _client_token(args: argparse.Namespace) -> str | None:
    from pathlib import Path

    from vibeweaver.config import read_token_file

    if args.token_file is None:
        return args.token  # type: ignore[no-any-return]
    if args.token is not None:
        raise ConfigError("give either --token or --token-file, not both")
    return read_token_file(Path(args.token_file))


def _fail(message: str) -> None:
    sys.stderr.write(f"vibeweaver: error: {message}\n")
    sys.stderr.flush()


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "data_dir",
        "db",
        "db_password_file",
        "session",
        "router",
        "router_allow",
        "hootenanny",
        "broadcasts",
        "mcp",
        "http",
        "eval_timeout",
        "hootenanny_timeout",
        "generation_timeout",
        "kernel_memory",
        "token",
        "token_file",
        "log_level",
        "log_file",
    )
    return {name: getattr(args, name) for name in names}


def _serve(args: argparse.Namespace) -> int:
    from vibeweaver import logs
    from vibeweaver.config import Config
    from vibeweaver.weaver import Weaver

    config = Config.load(_flags(args), config_file=args.config)
    logs.configure(config.log_level, config.log_file)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGUSR1, _dump_threads)

    wire = None
    if config.mcp == "stdio":
        # Claimed before anything starts: nothing printed while the actors start reaches the wire.
        from vibeweaver.frontends.mcp import claim_stdio

        wire = claim_stdio()
    try:
        weaver = Weaver(config, configure_logging=False, on_failure=lambda _reason: stop.set())
        try:
            weaver.start(cancel=stop)
        except StartCancelled:  # SIGTERM/SIGINT while waiting for the database: a clean stop
            sys.stderr.write("vibeweaver: stopped before it started\n")
            return EXIT_OK
        try:
            _announce_ready(weaver)
            if wire is not None:
                from vibeweaver.frontends.mcp import run_stdio

                run_stdio(weaver, stop, wire)
            else:
                while not stop.wait(0.5):
                    pass
        finally:
            weaver.stop()
    finally:
        if wire is not None:
            wire.close()
    if weaver.failure is not None:
        _fail(f"{weaver.failure}; stopping so that the service is restarted")
        return EXIT_ACTOR_GIVEN_UP
    sys.stderr.write("vibeweaver: stopped\n")
    return EXIT_OK


def _announce_ready(weaver: Any) -> None:
    config = weaver.config
    http = weaver.http_address
    parts = [
        f"session={weaver.session.name}",
        f"data_dir={config.data_dir}",
        f"router={config.router or 'none'}",
        f"hootenanny={config.hootenanny or 'none'}",
        f"broadcasts={config.broadcasts or 'none'}",
        f"http={f'{http[0]}:{http[1]}' if http else 'none'}",
        f"mcp={config.mcp}",
    ]
    sys.stderr.write("vibeweaver: ready " + " ".join(parts) + "\n")
    sys.stderr.flush()


def _dump_threads(signum: int, frame: FrameType | None) -> None:
    import faulthandler

    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
