"""The HTTP listener's guard (SPEC §3.1): Host and Origin checked on every path (DNS rebinding),
the bearer scheme case-insensitive, and a request that never finishes arriving is dropped."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import LOCAL_HTTP
from vibeweaver.frontends.guard import RequestGuard
from vibeweaver.frontends.http_protocol import ServiceH11Protocol
from vibeweaver.weaver import Weaver


@pytest.fixture
def make_weaver(make_weaver: Callable[..., Weaver]) -> Callable[..., Weaver]:
    """Weavers with their HTTP listener: these tests read the admin endpoint."""
    return functools.partial(make_weaver, http=LOCAL_HTTP)


def url(weaver: Weaver, path: str) -> str:
    bound = weaver.http_address
    assert bound is not None
    return f"http://{bound[0]}:{bound[1]}{path}"


@pytest.mark.parametrize("path", ["/admin/actors", "/admin/system", "/admin/actors/kernel"])
def test_a_foreign_host_is_refused_on_every_admin_path(
    make_weaver: Callable[..., Weaver], path: str
) -> None:
    weaver = make_weaver()
    response = httpx.get(url(weaver, path), headers={"Host": "evil.example"}, timeout=5)
    assert response.status_code == 421
    assert "evil.example" in response.json()["error"]
    assert httpx.get(url(weaver, path), timeout=5).status_code == 200


def test_a_foreign_origin_is_refused_and_a_local_one_served(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    bound = weaver.http_address
    assert bound is not None
    evil = httpx.get(
        url(weaver, "/admin/actors"), headers={"Origin": "http://evil.example"}, timeout=5
    )
    assert evil.status_code == 403
    local = httpx.get(
        url(weaver, "/admin/actors"),
        headers={"Origin": f"http://localhost:{bound[1]}"},
        timeout=5,
    )
    assert local.status_code == 200


def test_the_bearer_scheme_is_case_insensitive(make_weaver: Callable[..., Weaver]) -> None:
    weaver = make_weaver(token="s3cret-token")  # noqa: S106 - a test token
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = httpx.get(
            url(weaver, "/admin/system"),
            headers={"Authorization": f"{scheme} s3cret-token"},
            timeout=5,
        )
        assert response.status_code == 200, scheme
    for value in ("Bearer wrong", "Basic s3cret-token", "s3cret-token", ""):
        response = httpx.get(
            url(weaver, "/admin/system"), headers={"Authorization": value}, timeout=5
        )
        assert response.status_code == 401, value


@pytest.mark.parametrize(
    ("bound", "host", "origin", "status"),
    [
        ("127.0.0.1", "127.0.0.1:8765", None, None),
        ("127.0.0.1", "localhost:8765", "http://localhost:8765", None),
        ("127.0.0.1", "[::1]:8765", None, None),
        ("127.0.0.1", "localhost:9999", None, 421),
        ("127.0.0.1", "attacker.example:8765", None, 421),
        ("127.0.0.1", None, None, 421),
        ("127.0.0.1", "localhost:8765", "null", 403),
        ("127.0.0.1", "localhost:8765", "https://attacker.example", 403),
        ("0.0.0.0", "studio.lan:8765", None, None),
        ("0.0.0.0", "studio.lan:8765", "http://studio.lan:8765", None),
        ("0.0.0.0", "studio.lan:8765", "http://attacker.example", 403),
        ("10.1.2.3", "10.1.2.3:8765", None, None),
        ("10.1.2.3", "localhost:8765", None, 421),
    ],
)
def test_host_and_origin_rules(
    bound: str, host: str | None, origin: str | None, status: int | None
) -> None:
    guard = RequestGuard(lambda *a: None, bound_host=bound, port=8765, token=None)  # type: ignore[arg-type]
    refusal = guard.refusal(host=host, origin=origin, authorization=None)
    assert (refusal[0] if refusal else None) == status


def test_half_sent_headers_are_dropped_at_the_receipt_deadline(
    make_weaver: Callable[..., Weaver], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ServiceH11Protocol, "receipt_timeout_s", 0.5)
    weaver = make_weaver()
    bound = weaver.http_address
    assert bound is not None
    with socket.create_connection(bound, timeout=30) as slow:
        slow.sendall(b"GET /admin/actors HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        assert slow.recv(1024) == b""  # closed by the server (a socket timeout would raise)
    with socket.create_connection(bound, timeout=30) as idle:
        assert idle.recv(1024) == b""  # connected and sent nothing: closed too
    assert httpx.get(url(weaver, "/admin/actors"), timeout=5).status_code == 200


def test_accepted_connections_have_nagle_off() -> None:
    """Without TCP_NODELAY each MCP call over HTTP waited ~40 ms for a delayed ACK."""
    import asyncio

    import uvicorn
    from uvicorn.server import ServerState

    async def app(scope: object, receive: object, send: object) -> None:  # never called
        raise AssertionError

    seen: list[int] = []

    class Probe(ServiceH11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async def main() -> None:
        config = uvicorn.Config(app, http=Probe, log_config=None)
        config.load()
        state = ServerState()
        # bound as HttpListener binds it: a socket made with proto 0, on whose connections
        # asyncio does not turn Nagle off by itself
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        server = await asyncio.get_running_loop().create_server(
            lambda: Probe(config=config, server_state=state, app_state={}), sock=listener
        )
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(500):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    asyncio.run(main())
    assert seen == [1]
