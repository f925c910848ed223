"""MCP streamable HTTP at /mcp: `vibeweaver serve --mcp http --token ...` as a subprocess, reached
by a real MCP client (both the modern protocol and the legacy JSON-RPC handshake), and the bearer
token in front of it."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import ServiceProcess, free_port
from tests.mcp.helpers import (
    LONG_CELL_TIMEOUT_S,
    isolated_flags,
    spinning_cell,
    structured,
    text_of,
)
from vibeweaver.weaver import Weaver

TOKEN = "test-token-0123456789"  # noqa: S105 - a test token
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("mcp-http")
    service = ServiceProcess(
        *isolated_flags(data_dir, http=f"127.0.0.1:{port}"), "--mcp", "http", "--token", TOKEN
    )
    try:
        service.wait_for_line("vibeweaver: ready")
        yield f"http://127.0.0.1:{port}/mcp"
        assert service.stop() == 0
    finally:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(5)


@asynccontextmanager
async def connect(url: str, mode: str = "auto", token: str = TOKEN) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_eval_works_over_http_with_the_bearer_token(mcp_url: str, mode: str) -> None:
    async with connect(mcp_url, mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        await client.call_tool("weave_eval", {"code": f"http_{mode} = 41"})
        result = await client.call_tool("weave_eval", {"code": f"http_{mode} + 1"})
        failed = await client.call_tool("weave_eval", {"code": "1/0"})
        refused = await client.call_tool("weave_eval", {"code": 5})
        after = await client.call_tool("weave_eval", {"code": "print('over http')"})

    assert structured(result)["result"] == "42"
    assert "result: 42" in text_of(result)
    error = structured(failed)["error"]
    assert structured(failed)["status"] == "error"
    assert error is not None and error["type"] == "ZeroDivisionError"
    assert refused.is_error and "code" in text_of(refused)
    assert structured(after)["stdout"] == "over http\n"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}],
    ids=["no-token", "wrong-token", "no-bearer-prefix"],
)
def test_mcp_over_http_without_the_bearer_token_is_401(
    mcp_url: str, headers: dict[str, str]
) -> None:
    response = httpx.post(mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=10)

    assert response.status_code == 401


@pytest.mark.anyio
async def test_an_mcp_client_with_a_wrong_token_fails_to_connect(mcp_url: str) -> None:
    with pytest.raises(ExceptionGroup) as raised:
        async with connect(mcp_url, "legacy", token="wrong-token"):  # noqa: S106
            pass

    assert raised.group_contains(MCPError)


def test_mcp_on_a_non_loopback_bind_accepts_the_host_clients_use(
    make_weaver: Callable[..., Weaver], tmp_path: Path
) -> None:
    weaver = make_weaver(mcp="http", http="0.0.0.0:0", token=TOKEN)
    address = weaver.http_address
    assert address is not None
    port = address[1]

    response = httpx.post(
        f"http://127.0.0.1:{port}/mcp",
        json=INITIALIZE,
        headers={
            **MCP_HEADERS,
            "Authorization": f"Bearer {TOKEN}",
            "Host": f"192.0.2.10:{port}",
        },
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert "vibeweaver" in response.text


@pytest.mark.anyio
async def test_sigterm_to_serve_during_a_long_cell_exits_0_without_waiting_for_its_timeout(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    port = free_port()
    flags = isolated_flags(tmp_path / "data", http=f"127.0.0.1:{port}")
    service = ServiceProcess(*flags, "--mcp", "http", "--token", TOKEN)
    service_processes.append(service)
    await anyio.to_thread.run_sync(service.wait_for_line, "vibeweaver: ready")
    flag = tmp_path / "cell-started"
    elapsed = None

    async def long_call(client: Client) -> None:
        with contextlib.suppress(Exception):  # the service goes away under the call
            await client.call_tool(
                "weave_eval", {"code": spinning_cell(flag), "timeout_s": LONG_CELL_TIMEOUT_S}
            )

    with contextlib.suppress(Exception):  # closing a client whose server is gone may complain
        async with (
            connect(f"http://127.0.0.1:{port}/mcp") as client,
            anyio.create_task_group() as group,
        ):
            group.start_soon(long_call, client)
            with anyio.fail_after(15):
                while not flag.exists():
                    await anyio.sleep(0.05)
            await anyio.sleep(0.2)  # in the loop now
            began = time.monotonic()
            service.proc.send_signal(signal.SIGTERM)
            code = await anyio.to_thread.run_sync(service.proc.wait, LONG_CELL_TIMEOUT_S)
            elapsed = time.monotonic() - began
            group.cancel_scope.cancel()

    assert elapsed is not None, "the test did not get as far as stopping the service"
    assert code == 0
    assert elapsed < 10
    await anyio.to_thread.run_sync(service.wait_for_line, "vibeweaver: stopped")
    stderr = service.stderr_text()
    assert '"eval_interrupted"' in stderr
    # (the HTTP listener stops before the actors: uvicorn waits out its 2 s graceful shutdown for
    # the in-flight call and then cancels it, logging that; the kernel is interrupted after that)
    assert "actor_stop_timed_out" not in stderr
