"""ZapAllowList: ZeroMQ authentication (ZAP, RFC 27) of the ROUTER's peers by address.

hootenanny's wire carries no credentials, so a token cannot protect the ROUTER: anyone who can
reach its port could run Python. A non-loopback `--router` therefore needs `--router-allow`, a
list of peer addresses and networks (`10.0.0.5`, `10.0.0.0/24`, `::1`). libzmq asks the ZAP
handler about every new connection before the handshake completes; a peer whose address is not
on the list is refused there: its connection is closed, none of its messages is ever delivered,
it gets no reply and runs nothing.

The handler is a REP socket bound at ZAP's well-known inproc endpoint of the IO thread's own
context (so two gateways in one process each have theirs) and polled by the IO thread; answering
is a set lookup, so no thread of its own is needed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import zmq

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_DOMAIN = b"vibeweaver"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_list(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks; ValueError naming the first entry that is neither."""
    networks: list[Network] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return tuple(networks)


@dataclass(slots=True)
class ZapAllowList:
    """Answers ZAP requests: 200 for peers on the list, 400 for the others."""

    networks: tuple[Network, ...]
    allowed: int = 0
    denied: int = 0
    last_denied: str | None = None
    _socket: zmq.Socket[bytes] | None = field(default=None, repr=False)

    def bind(self, context: zmq.Context[Any]) -> zmq.Socket[bytes]:
        """Bind the handler in `context` (before the ROUTER binds) and return its socket."""
        sock: zmq.Socket[bytes] = context.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(ZAP_ENDPOINT)
        self._socket = sock
        return sock

    @staticmethod
    def protect(router: zmq.Socket[bytes]) -> None:
        """Make libzmq consult the handler for the ROUTER's NULL-mechanism peers."""
        router.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)

    def handle_one(self) -> None:
        """Answer one pending ZAP request (the socket was readable)."""
        assert self._socket is not None
        frames = self._socket.recv_multipart()
        if len(frames) < 6:  # not a ZAP request: answer something so REP stays in step
            self._socket.send_multipart([b"1.0", b"", b"400", b"malformed ZAP request", b"", b""])
            return
        version, request_id, _domain, address = frames[:4]
        peer = address.decode("ascii", "replace")
        if self.permits(peer):
            self.allowed += 1
            reply = [version, request_id, b"200", b"OK", b"", b""]
        else:
            self.denied += 1
            self.last_denied = peer
            reply = [version, request_id, b"400", b"address not allowed", b"", b""]
        self._socket.send_multipart(reply)

    def permits(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
