"""A peer that reconnects with its identity while its old connection is still open is served.

hootenanny's DEALER has a fixed identity; after a restart it connects again before the ROUTER
has noticed the old TCP connection die. Without ROUTER_HANDOVER the ROUTER ignores the new
connection and every request on it goes unanswered.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.gateway.peer import Peer
from vibeweaver.weaver import Weaver
from vibeweaver.wire import WeaveEvalReply, WeaveEvalRequest


def test_a_second_connection_with_the_same_identity_takes_it_over(
    served: Weaver, make_peer: Callable[..., Peer]
) -> None:
    first = make_peer()
    _, reply = first.call(WeaveEvalRequest(code="1 + 1"))
    assert isinstance(reply, WeaveEvalReply) and reply.result == "2"
    second = make_peer()  # the same identity; the first is still connected
    for n in range(5):
        _, reply = second.call(WeaveEvalRequest(code=f"{n} * 10"), timeout=10)
        assert isinstance(reply, WeaveEvalReply) and reply.result == str(n * 10)
