"""AdminClient: fetches a running service's admin JSON over HTTP (stdlib only), one clear error.

`vibeweaver status` and `vibeweaver console` only ever talk to the service through this client,
never through actor internals. Every failure (nothing listening, a timeout, a wrong token, a
response that is not the admin JSON) becomes one `AdminError` whose message is a single
readable line, suitable for `vibeweaver: error: <message>`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from vibeweaver.errors import VibeweaverError

DEFAULT_HTTP = "127.0.0.1:8765"
DEFAULT_TIMEOUT_S = 2.0
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "[::1]", "": "127.0.0.1"}  # noqa: S104


class AdminError(VibeweaverError):
    """The admin endpoint could not be read; the message says where and why, in one line."""

    def __init__(self, message: str, *, short: str | None = None) -> None:
        super().__init__(message)
        self.short = short or message
        """A terser form for a status line (where and why, without the advice)."""


def base_url(http: str | None) -> str:
    """`http://HOST:PORT` for a `--http` value (HOST:PORT or a URL); wildcard hosts mean loopback.

    None falls back to `$VIBEWEAVER_HTTP`, then to the service's default listener.
    """
    value = (http or os.environ.get("VIBEWEAVER_HTTP") or DEFAULT_HTTP).strip()
    if "://" in value:
        return value.rstrip("/")
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise AdminError(f"--http must be HOST:PORT or a URL, not {value!r}")
    host = _WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class AdminClient:
    """Reads `/admin/actors`, `/admin/actors/<name>` and `/admin/system` of one service."""

    def __init__(
        self,
        http: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url(http)
        self.token = token if token is not None else os.environ.get("VIBEWEAVER_TOKEN") or None
        self.timeout = timeout

    def actors(self) -> list[dict[str, Any]]:
        """One row per actor (GET /admin/actors)."""
        data = self.get_json("/admin/actors")
        if not isinstance(data, list):
            raise AdminError(f"{self.base_url}/admin/actors did not return a list of actors")
        return data

    def actor(self, name: str) -> dict[str, Any]:
        """The detail view of one actor (GET /admin/actors/<name>)."""
        data = self.get_json("/admin/actors/" + urllib.parse.quote(name, safe=""))
        if not isinstance(data, dict):
            raise AdminError(f"{self.base_url}/admin/actors/{name} did not return an object")
        return data

    def system(self) -> dict[str, Any]:
        """Uptime, session, sockets, rules, dead letters, database (GET /admin/system)."""
        data = self.get_json("/admin/system")
        if not isinstance(data, dict):
            raise AdminError(f"{self.base_url}/admin/system did not return an object")
        return data

    def get_json(self, path: str) -> Any:
        """GET `path` and decode its JSON body; every failure is an AdminError."""
        url = self.base_url + path
        # base_url() only ever builds http:// URLs or takes the user's own URL
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(self._http_error(url, exc)) from None
        except urllib.error.URLError as exc:
            raise self._unreachable(exc.reason) from None
        except TimeoutError as exc:
            raise self._unreachable(exc) from None
        except OSError as exc:
            raise self._unreachable(exc) from None
        try:
            return json.loads(body)
        except ValueError:
            raise AdminError(
                f"{url} did not answer with JSON; is it a vibeweaver service?"
            ) from None

    def _unreachable(self, reason: object) -> AdminError:
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        return AdminError(
            f"no vibeweaver service answering at {self.base_url} ({reason}); "
            "start one with `vibeweaver serve`, or pass --http HOST:PORT",
            short=f"{self.base_url}: {reason}",
        )

    def _http_error(self, url: str, exc: urllib.error.HTTPError) -> str:
        if exc.code == 401:
            hint = "a wrong token" if self.token else "no token"
            return (
                f"{self.base_url} refused the request with {hint} "
                "(pass --token or set VIBEWEAVER_TOKEN)"
            )
        if exc.code == 404:
            detail = _error_text(exc)
            return f"{url}: not found" + (f" ({detail})" if detail else "")
        return f"{url} answered HTTP {exc.code} {exc.reason}"


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read())
    except (ValueError, OSError):
        return ""
    return str(data.get("error", "")) if isinstance(data, dict) else ""
