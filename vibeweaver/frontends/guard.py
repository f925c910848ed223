"""RequestGuard: the checks every HTTP request passes before any route sees it (SPEC §3.1).

* `Host` must name the bound address (DNS-rebinding protection: a page on evil.example that
  re-points its name at 127.0.0.1 still sends `Host: evil.example`). On a loopback bind the
  loopback names are accepted (`localhost`, `127.0.0.1`, `[::1]`); on a wildcard bind (0.0.0.0,
  ::), which needs a token, any Host is accepted and the token guards.
* `Origin`, when a browser sends one, must be one of the accepted hosts too (on a wildcard bind:
  the request's own Host).
* With a token, `Authorization: Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1), compared
  in constant time.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware, which adds a task and a stream per
request); refusals are small JSON bodies.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names to recognise, nothing binds here


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, int | None] | None:
    """'name:port', '[v6]:port' or a bare name → (lower-case name without brackets, port)."""
    try:
        parts = urlsplit(f"//{value.strip()}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return host.lower(), port


class RequestGuard:
    """Refuses requests with a foreign Host or Origin, or without the bearer token."""

    def __init__(self, app: ASGIApp, *, bound_host: str, port: int, token: str | None) -> None:
        self.app = app
        self.port = port
        self.wildcard = bound_host in WILDCARDS
        names = {bound_host.lower().strip("[]")}
        if is_loopback(bound_host):
            names |= LOOPBACK_NAMES
        self.names = frozenset(names)
        self.expected_token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope.get("headers", ())}
        refusal = self.refusal(
            host=_header(headers, b"host"),
            origin=_header(headers, b"origin"),
            authorization=_header(headers, b"authorization"),
        )
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def refusal(
        self, *, host: str | None, origin: str | None, authorization: str | None
    ) -> tuple[int, str] | None:
        """(status, message) for a request to refuse, None for one to serve."""
        given = _split_host(host) if host else None
        if given is None:
            return 421, "missing or malformed Host header"
        if not self.wildcard and not self._accepts(given):
            return 421, f"Host {host!r} is not this service's address"
        if origin is not None:
            parsed = urlsplit(origin.strip())
            origin_host = _split_host(parsed.netloc) if parsed.scheme in ("http", "https") else None
            accepted = [given] if self.wildcard else None
            if origin_host is None or not self._accepts(origin_host, accepted):
                return 403, f"Origin {origin!r} is not allowed"
        if self.expected_token is not None and not self._token_ok(authorization):
            return 401, "missing or wrong bearer token"
        return None

    def _accepts(
        self, host: tuple[str, int | None], exact: Iterable[tuple[str, int | None]] | None = None
    ) -> bool:
        name, port = host
        if exact is not None:
            return any(name == n and (port is None or p is None or port == p) for n, p in exact)
        return name in self.names and (port is None or port == self.port)

    def _token_ok(self, authorization: str | None) -> bool:
        assert self.expected_token is not None
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.expected_token)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None
