"""weave_eval over MCP (streamable HTTP and stdio), next to an echo tool on the same SDK and
transport.

HTTP: both servers run in this process on loopback with the same uvicorn set-up (vibeweaver's
ServiceH11Protocol, so the echo server gets TCP_NODELAY too). stdio: `vibeweaver mcp` and a small
echo server, each a subprocess. One real `mcp` client per server calls its tool `--n` times after
a warm-up: vibeweaver's `weave_eval` with `1+1` (and `weave_help` over HTTP), the echo server's
`echo`. SPEC §5: weave_eval p50 ≤ 2x the echo tool.

Run: .venv/bin/python ops/bench/bench_mcp.py [--n 200] [--json F]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import anyio
import httpx2
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from ops.bench.benchlib import Results, header, latency_line, ratio_line
from vibeweaver import logs
from vibeweaver.config import Config
from vibeweaver.frontends.http_protocol import ServiceH11Protocol
from vibeweaver.weaver import Weaver


def echo_server() -> tuple[uvicorn.Server, str]:
    server = MCPServer("echo")

    @server.tool(name="echo")
    async def echo(text: str) -> str:
        return text

    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, http=ServiceH11Protocol, log_config=None, log_level="warning", lifespan="on"
    )
    uv = uvicorn.Server(config)
    threading.Thread(target=lambda: uv.run(sockets=[sock]), daemon=True).start()
    while not uv.started:
        time.sleep(0.01)
    return uv, f"http://127.0.0.1:{port}/mcp"


async def _timed(client: Client, tool: str, arguments: dict[str, Any], n: int) -> list[float]:
    for _ in range(20):
        await client.call_tool(tool, arguments)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await client.call_tool(tool, arguments)
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


async def call_times(url: str, tool: str, arguments: dict[str, Any], n: int) -> list[float]:
    """µs per call_tool round trip over streamable HTTP, after 20 warm-up calls."""
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await _timed(client, tool, arguments, n)


ECHO_STDIO = (
    "from mcp.server.mcpserver import MCPServer\n"
    "server = MCPServer('echo')\n"
    "@server.tool(name='echo')\n"
    "async def echo(text: str) -> str:\n"
    "    return text\n"
    "server.run()\n"
)


async def stdio_times(args: list[str], tool: str, arguments: dict[str, Any], n: int) -> list[float]:
    """µs per call_tool round trip to a stdio server started as `python args...`."""
    params = StdioServerParameters(command=sys.executable, args=args)
    async with Client(params, read_timeout_seconds=60) as client:
        return await _timed(client, tool, arguments, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logs.configure("warning")
    title = "MCP streamable HTTP and stdio: weave_eval and weave_help next to an echo tool"
    header(title)
    results = Results("bench_mcp", title)
    echo, echo_url = echo_server()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            data_dir=Path(tmp),
            router=None,
            hootenanny=None,
            broadcasts=None,
            http="127.0.0.1:0",
            mcp="http",
        )
        with Weaver(config, configure_logging=False) as weaver:
            bound = weaver.http_address
            assert bound is not None
            url = f"http://{bound[0]}:{bound[1]}/mcp"
            floor = latency_line(
                "floor: echo tool, same SDK and transport",
                anyio.run(call_times, echo_url, "echo", {"text": "hi"}, args.n),
            )
            evals = latency_line(
                "vibeweaver: weave_eval '1+1'",
                anyio.run(call_times, url, "weave_eval", {"code": "1+1"}, args.n),
            )
            helps = latency_line(
                "vibeweaver: weave_help",
                anyio.run(call_times, url, "weave_help", {"topic": "overview"}, args.n),
            )
    echo.should_exit = True
    ratio_line("weave_eval p50 vs echo (HTTP)", evals[0], floor[0])
    ratio_line("weave_help p50 vs echo (HTTP)", helps[0], floor[0])
    with tempfile.TemporaryDirectory() as tmp:
        stdio_floor = latency_line(
            "floor: echo tool over stdio, same SDK",
            anyio.run(stdio_times, ["-c", ECHO_STDIO], "echo", {"text": "hi"}, args.n),
        )
        vibeweaver_args = ["-m", "vibeweaver", "mcp", "--data-dir", tmp, "--router", "none"]
        vibeweaver_args += ["--hootenanny", "none", "--broadcasts", "none", "--http", "none"]
        stdio_evals = latency_line(
            "vibeweaver: weave_eval '1+1' over stdio",
            anyio.run(stdio_times, vibeweaver_args, "weave_eval", {"code": "1+1"}, args.n),
        )
    ratio_line("weave_eval p50 vs echo (stdio)", stdio_evals[0], stdio_floor[0])
    rows = (
        ("http_weave_eval", "weave_eval '1+1' over streamable HTTP", evals, floor, "HTTP"),
        ("http_weave_help", "weave_help over streamable HTTP", helps, floor, "HTTP"),
        ("stdio_weave_eval", "weave_eval '1+1' over stdio", stdio_evals, stdio_floor, "stdio"),
    )
    for name, label, figures, floors, transport in rows:
        for stat, value, floor_value in zip(("p50", "p99"), figures, floors, strict=True):
            targeted = name == "http_weave_eval" and stat == "p50"
            results.add(
                f"{name}_{stat}_us",
                value,
                "µs",
                f"{label}, {stat}",
                floor=floor_value,
                floor_label=f"echo tool over {transport}, same SDK, {stat}",
                target="≤ 2x floor (SPEC §5)" if targeted else None,
                met=value <= 2 * floor_value if targeted else None,
            )
    results.write(args.json)


if __name__ == "__main__":
    main()
