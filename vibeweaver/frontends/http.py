"""HttpListener: the service's HTTP port (admin JSON at /admin, MCP streamable HTTP at /mcp).

The listening socket is bound synchronously in `start()`, so a port in use is a StartupError on
the caller's thread; uvicorn then serves it on its own thread. Every request passes the
RequestGuard (Host/Origin against the bound address; the bearer token when one is configured),
and must arrive whole within the ServiceH11Protocol's receipt timeout. At most
`MAX_MCP_SESSIONS` MCP sessions are open at once (an idle one is closed after
`MCP_SESSION_IDLE_S`); a client past the cap is refused until one closes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from vibeweaver.errors import StartupError
from vibeweaver.frontends import admin
from vibeweaver.frontends.guard import RequestGuard
from vibeweaver.frontends.http_protocol import ServiceH11Protocol

if TYPE_CHECKING:
    from vibeweaver.weaver import Weaver

log = structlog.get_logger(__name__)

MAX_MCP_SESSIONS = 32
MCP_SESSION_IDLE_S = 30 * 60.0


class HttpListener:
    """One uvicorn server on a thread of its own."""

    def __init__(self, weaver: Weaver) -> None:
        self.weaver = weaver
        host_port = weaver.config.http_host_port
        assert host_port is not None
        self.host, self.port = host_port
        self.address: tuple[str, int] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._mcp: Any = None

    def _build_app(self) -> Starlette:
        routes: list[Any] = list(admin.routes(self.weaver))
        lifespan = None
        if self.weaver.config.mcp == "http":
            from vibeweaver.frontends.mcp import build_server

            self._mcp = build_server(self.weaver)
            # `host` decides the SDK's DNS-rebinding guard: on a loopback bind only loopback Host
            # headers pass; on any other bind (which needs --token) the bearer token guards.
            mcp_app = self._mcp.streamable_http_app(
                streamable_http_path="/mcp",
                host=self.host,
                max_sessions=MAX_MCP_SESSIONS,
                session_idle_timeout=MCP_SESSION_IDLE_S,
            )
            routes.extend(mcp_app.routes)
            session_manager = self._mcp.session_manager

            @contextlib.asynccontextmanager
            async def lifespan(app: Starlette) -> AsyncIterator[None]:
                async with session_manager.run():
                    yield

        assert self.address is not None
        middleware = [
            Middleware(
                RequestGuard,
                bound_host=self.host,
                port=self.address[1],
                token=self.weaver.config.token or None,
            )
        ]
        return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise StartupError(
                f"cannot listen on --http {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self.address = sock.getsockname()[:2]
        config = uvicorn.Config(
            self._build_app(),
            http=ServiceH11Protocol,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        started = threading.Event()
        server = self._server

        def serve() -> None:
            server.run(sockets=[sock])

        self._thread = threading.Thread(target=serve, name="vibeweaver-http", daemon=True)
        self._thread.start()
        # uvicorn sets `started` once it accepts connections
        for _ in range(200):
            if server.started or not self._thread.is_alive():
                break
            started.wait(0.025)
        if not server.started:
            self.stop()
            raise StartupError(f"the HTTP listener on {self.host}:{self.port} did not start")
        log.info(
            "http_listening",
            host=self.address[0],
            port=self.address[1],
            mcp=self.weaver.config.mcp == "http",
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5.0)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
