"""Fixtures for the gateway tests: a Weaver with a real ROUTER on a free loopback port and raw
DEALER peers connected to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import free_port
from tests.gateway.peer import HOOTENANNY_IDENTITY, Peer
from vibeweaver.weaver import Weaver


@pytest.fixture
def router_endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture
def served(make_weaver: Callable[..., Weaver], router_endpoint: str) -> Weaver:
    """A running Weaver whose ROUTER is bound at `router_endpoint` (no hootenanny)."""
    return make_weaver(router=router_endpoint, eval_timeout=10.0)


@pytest.fixture
def make_peer(router_endpoint: str) -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def make(identity: bytes = HOOTENANNY_IDENTITY, **options: Any) -> Peer:
        peer = Peer(router_endpoint, identity, **options)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


@pytest.fixture
def peer(served: Weaver, make_peer: Callable[..., Peer]) -> Peer:
    """hootenanny's DEALER (identity `vibeweaver`) connected to the served Weaver."""
    return make_peer()
