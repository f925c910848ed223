"""weave_eval over MCP (streamable HTTP and stdio), next to an echo tool on the same SDK and
transport.

HTTP: each server is a process of its own on loopback (`vibeweaver serve --mcp http` and a small
echo server with the same uvicorn set-up: vibeweaver's ServiceH11Protocol, so it gets
TCP_NODELAY too), as an agent's client sees them; the clients run in this process. stdio:
`vibeweaver mcp` and a small echo server, each a subprocess. One real `mcp` client per server
calls its tool `--n` times after a warm-up: vibeweaver's `weave_eval` with `1+1` (and
`weave_help` over HTTP), the echo server's `echo`, in interleaved rounds of ROUND calls each (all
clients stay connected), so that machine noise hits the figure and its floor alike. SPEC §5:
weave_eval p50 ≤ 2x the echo tool.

Run: .venv/bin/python ops/bench/bench_mcp.py [--n 200] [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from ops.bench.benchlib import Results, header, latency_line, ratio_line
from vibeweaver import logs

ECHO_HTTP = """
import sys
import uvicorn
from mcp.server.mcpserver import MCPServer
from vibeweaver.frontends.http_protocol import ServiceH11Protocol
server = MCPServer("echo")
@server.tool(name="echo")
async def echo(text: str) -> str:
    return text
app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http=ServiceH11Protocol,
            log_config=None, log_level="warning", lifespan="on")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(args: list[str], port: int) -> Iterator[str]:
    """`python args...` serving MCP at http://127.0.0.1:port/mcp until the block ends."""
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server {args[:3]} did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


ROUND = 20
"""Calls per tool per round; the tools take turns round by round."""

Call = tuple[Client, str, dict[str, Any]]


async def _interleaved(calls: list[Call], n: int) -> list[list[float]]:
    """µs per call_tool round trip of each call, `n` each after 20 warm-up calls, in rounds."""
    for client, tool, arguments in calls:
        for _ in range(20):
            await client.call_tool(tool, arguments)
    samples: list[list[float]] = [[] for _ in calls]
    while len(samples[0]) < n:
        for (client, tool, arguments), taken in zip(calls, samples, strict=True):
            for _ in range(min(ROUND, n - len(taken))):
                started = time.perf_counter()
                await client.call_tool(tool, arguments)
                taken.append((time.perf_counter() - started) * 1e6)
    return samples


async def http_times(echo_url: str, url: str, n: int) -> list[list[float]]:
    """echo, weave_eval '1+1' and weave_help over streamable HTTP, interleaved."""
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for endpoint in (echo_url, url):
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)))
            clients.append(
                await stack.enter_async_context(
                    Client(streamable_http_client(endpoint, http_client=http))
                )
            )
        echo, vibeweaver = clients
        return await _interleaved(
            [
                (echo, "echo", {"text": "hi"}),
                (vibeweaver, "weave_eval", {"code": "1+1"}),
                (vibeweaver, "weave_help", {"topic": "overview"}),
            ],
            n,
        )


ECHO_STDIO = (
    "from mcp.server.mcpserver import MCPServer\n"
    "server = MCPServer('echo')\n"
    "@server.tool(name='echo')\n"
    "async def echo(text: str) -> str:\n"
    "    return text\n"
    "server.run()\n"
)


async def stdio_times(vibeweaver_args: list[str], n: int) -> list[list[float]]:
    """echo and weave_eval '1+1' over stdio (servers started as `python args...`), interleaved."""
    async with contextlib.AsyncExitStack() as stack:
        echo, vibeweaver = [
            await stack.enter_async_context(
                Client(StdioServerParameters(command=sys.executable, args=args),
                       read_timeout_seconds=60)
            )
            for args in (["-c", ECHO_STDIO], vibeweaver_args)
        ]  # fmt: skip
        return await _interleaved(
            [(echo, "echo", {"text": "hi"}), (vibeweaver, "weave_eval", {"code": "1+1"})], n
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logs.configure("warning")
    title = "MCP streamable HTTP and stdio: weave_eval and weave_help next to an echo tool"
    header(title)
    results = Results("bench_mcp", title)
    echo_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        serve = ["-m", "vibeweaver", "serve", "--data-dir", tmp, "--mcp", "http"]
        serve += ["--http", f"127.0.0.1:{port}", "--router", "none", "--hootenanny", "none"]
        serve += ["--broadcasts", "none", "--log-level", "warning"]
        with (
            http_server(["-c", ECHO_HTTP, str(echo_port)], echo_port) as echo_url,
            http_server(serve, port) as url,
        ):
            echo_samples, eval_samples, help_samples = anyio.run(http_times, echo_url, url, args.n)
            floor = latency_line("floor: echo tool, same SDK and transport", echo_samples)
            evals = latency_line("vibeweaver: weave_eval '1+1'", eval_samples)
            helps = latency_line("vibeweaver: weave_help", help_samples)
    ratio_line("weave_eval p50 vs echo (HTTP)", evals[0], floor[0])
    ratio_line("weave_help p50 vs echo (HTTP)", helps[0], floor[0])
    with tempfile.TemporaryDirectory() as tmp:
        vibeweaver_args = ["-m", "vibeweaver", "mcp", "--data-dir", tmp, "--router", "none"]
        vibeweaver_args += ["--hootenanny", "none", "--broadcasts", "none", "--http", "none"]
        vibeweaver_args += ["--log-level", "warning"]  # as over HTTP: no log line per call
        stdio_echo, stdio_eval = anyio.run(stdio_times, vibeweaver_args, args.n)
        stdio_floor = latency_line("floor: echo tool over stdio, same SDK", stdio_echo)
        stdio_evals = latency_line("vibeweaver: weave_eval '1+1' over stdio", stdio_eval)
    ratio_line("weave_eval p50 vs echo (stdio)", stdio_evals[0], stdio_floor[0])
    rows = (
        ("http_weave_eval", "weave_eval '1+1' over streamable HTTP", evals, floor, "HTTP"),
        ("http_weave_help", "weave_help over streamable HTTP", helps, floor, "HTTP"),
        ("stdio_weave_eval", "weave_eval '1+1' over stdio", stdio_evals, stdio_floor, "stdio"),
    )
    for name, label, figures, floors, transport in rows:
        targeted = name == "http_weave_eval"
        results.add_latencies(
            f"{name}_{{stat}}_us",
            f"{label}, {{stat}}",
            figures,
            floors,
            f"echo tool over {transport}, same SDK, {{stat}}",
            p50_target="≤ 2x floor (SPEC §5)" if targeted else None,
            p50_met=figures[0] <= 2 * floors[0] if targeted else None,
        )
    results.write(args.json)


if __name__ == "__main__":
    main()
