"""KernelProbe: reading the kernel process from outside the actor system (the admin view).

The KernelActor tells the probe which kernel connection is current; the admin endpoint asks the
kernel's channel thread where the eval thread is (`StackRequest`), without going through any
mailbox, so a busy or broken kernel never holds the admin view up for longer than the wait.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from vibeweaver.channel.messages import StackReply, StackRequest
from vibeweaver.channel.peer import Peer

EMPTY: dict[str, Any] = {
    "eval_thread": None,
    "eval_thread_ident": None,
    "eval_where": None,
    "eval_stack": [],
    "eval_stack_omitted": 0,
}


class KernelProbe:
    """Thread-safe: the KernelActor sets `peer`, any thread calls `eval_stack`."""

    def __init__(self, actor_name: str = "kernel") -> None:
        self.actor_name = actor_name
        self.peer: Peer | None = None

    def eval_stack(self, wait: float) -> dict[str, Any]:
        """The kernel's eval stack (see `vibeweaver.kernel.stack`), or the empty view with
        `eval_stack_error` saying why there is none."""
        peer = self.peer
        if peer is None or peer.closed:
            return {**EMPTY, "eval_stack_error": "no kernel process is running"}
        try:
            future = peer.request(lambda i: StackRequest(id=i))
            reply = future.result(wait)
        except concurrent.futures.TimeoutError:
            peer.forget(future)
            return {**EMPTY, "eval_stack_error": f"the kernel did not answer within {wait:g} s"}
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the admin view
            return {**EMPTY, "eval_stack_error": f"{type(exc).__name__}: {exc}"}
        if not isinstance(reply, StackReply):
            return {**EMPTY, "eval_stack_error": "unexpected reply"}
        return {**EMPTY, **reply.detail}
