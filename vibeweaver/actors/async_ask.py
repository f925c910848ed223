"""Asking an actor from an asyncio event loop, without a worker thread waiting for the reply.

The MCP front end serves on an event loop; `anyio.to_thread` costs a thread hop there and back
per ask (~0.3 ms each on this kind of machine). `ask` sends with `ActorHandle.ask_then`, whose
callback settles an asyncio future through `call_soon_threadsafe`; for a `Later` reply (the
kernel's eval) the callback chains on to its concurrent future instead, so the loop is woken once,
with the final value. Same errors as `ActorHandle.ask`: ActorTimeout after
`timeout`, ActorUnavailable, or the handler's own exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from vibeweaver.actors.mailbox import message_label
from vibeweaver.actors.messages import Later
from vibeweaver.errors import ActorTimeout

if TYPE_CHECKING:
    from vibeweaver.actors.system import ActorHandle


async def ask(handle: ActorHandle, message: Any, *, timeout: float) -> Any:
    """See the module docstring."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_settle, reply, value, error)

    def then(value: Any, error: BaseException | None) -> None:  # the actor's thread
        if error is None and isinstance(value, Later):
            value.when_done(settle)
        else:
            settle(value, error)

    handle.ask_then(message, then)
    try:
        value = await asyncio.wait_for(reply, timeout)
    except TimeoutError:
        raise ActorTimeout(
            f"{handle.name} did not answer {message_label(message)} within {timeout:g} s"
        ) from None
    return value


def _settle(reply: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if reply.done():  # cancelled or timed out
        return
    if error is not None:
        reply.set_exception(error)
    else:
        reply.set_result(value)
