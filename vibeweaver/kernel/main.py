"""The kernel process's entry point: limits first, then the channel, then the KernelHost.

Started by the service's KernelActor as `python -m vibeweaver.kernel --connection FILE ...`. The
connection file (mode 0600, in the service's private data directory) names the channel's socket
and its key; the key never appears on a command line. Logs of the kernel's own code go to the
service over the channel (`KernelLog`), never to this process's stdout or stderr, which the service
reads as the agent's output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from typing import Any

from vibeweaver.kernel.limits_child import limit_self

SETUP_WAIT_S = 120.0
"""How long a kernel waits for its Setup (one started early waits while the service starts)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vibeweaver.kernel")
    parser.add_argument("--connection", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--execution-count", type=int, default=0)
    parser.add_argument("--memory-limit", type=int, default=None)
    args = parser.parse_args(argv)
    limit_self(args.memory_limit, args.parent_pid)
    from vibeweaver.kernel.lean_structlog import import_structlog

    import_structlog()  # before anything imports structlog: without rich
    with open(args.connection, encoding="utf-8") as file:
        connection = json.load(file)

    from vibeweaver.channel.messages import Hello, Setup
    from vibeweaver.channel.peer import Peer

    early: list[Any] = []
    """What arrived before the host was ready (the Setup, and requests sent right after it)."""
    lock = threading.Lock()
    ready = threading.Event()
    host: Any = None

    def on_message(message: Any) -> None:
        with lock:
            if host is None:
                early.append(message)
                if isinstance(message, Setup):
                    ready.set()
                return
        host.on_message(message)

    peer = Peer(
        path=connection["path"],
        key=bytes.fromhex(connection["key"]),
        bind=False,
        on_message=on_message,
        name="kernel",
    )
    peer.start()
    _configure_logging(peer)
    peer.send(Hello(pid=os.getpid(), execution_count=args.execution_count))
    # imported while the service gets the Setup ready (a kernel started early waits here longer)
    from vibeweaver.kernel.host import KernelHost

    if not ready.wait(SETUP_WAIT_S):
        return 2

    setup = next(message for message in early if isinstance(message, Setup))
    made = KernelHost(peer, setup, execution_count=args.execution_count)
    made.start()
    with lock:  # replayed in order, before anything the channel receives from now on
        host = made
        for message in early:
            if message is not setup:
                made.on_message(message)
        early.clear()
    made.serve()
    peer.close(linger_s=0.5)  # what was sent last (logs, the final replies) still leaves
    sys.stdout.flush()
    os._exit(0)  # threads of agent code must not keep the process alive


def _configure_logging(peer: Any) -> None:
    import logging

    import structlog

    from vibeweaver.channel.messages import KernelLog

    def send(_logger: Any, method: str, event_dict: Any) -> str:
        event = str(event_dict.pop("event", ""))
        level = str(event_dict.pop("level", method))
        fields = {str(k): str(v)[:2000] for k, v in event_dict.items()}
        with contextlib.suppress(Exception):  # a log line is never worth an error
            peer.send(KernelLog(level=level, event=event, fields=fields))
        raise structlog.DropEvent

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            send,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers.clear()
    root.addHandler(logging.NullHandler())
