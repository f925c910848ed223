"""The service's side of the kernel's DSL ports: makes the calls the kernel process sends.

The kernel's DSL asks the store, the scheduler and the planner (`ask`/`tell` of their typed
messages) and uses the hootenanny link. Each such call arrives as a `Call` on the kernel channel;
the bridge makes it on the real object, in order, on a thread of its own (never on an actor's
thread: a store ask may wait seconds, `require_reachable` up to its grace), and replies. What a
kernel may call is an allow-list: the methods below, nothing else; the messages themselves can
only be vibeweaver's message classes (`vibeweaver.channel.codec`).

Calls on actors are made at once on the channel's thread (`make_now`): a tell is a put into the
actor's mailbox, an ask is sent with a callback that answers the kernel from the actor's thread
(`ActorHandle.ask_then`), `accepting` is a read. No thread waits, no thread hop is paid, and the
kernel's calls reach each actor in the order it sent them; a history line the kernel appended
before its eval reply is in the store's mailbox before that reply is handled, so the KernelActor's
flush includes it. A cell's own line (the last thing the kernel records before its reply) is
asked rather than told: the store writes it at once with whatever was batched before it, and its
answer, kept as `eval_line`, tells the KernelActor that the cell's history is written, usually
before the reply is even in, so no flush is needed. Hootenanny link calls (`require_reachable`
may wait its grace) are served one at a time, in order, on the bridge's own thread.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

import structlog

from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.messages import Later
from vibeweaver.actors.store.messages import EVAL_ACTION, AppendHistory
from vibeweaver.actors.system import ActorHandle
from vibeweaver.channel.codec import CodecError
from vibeweaver.channel.messages import Call, Reply
from vibeweaver.channel.peer import ChannelClosed

log = structlog.get_logger(__name__)

HANDLE_METHODS = frozenset({"ask", "tell", "accepting"})
LINK_METHODS = frozenset({"call", "connected", "require_reachable"})
MAX_ASK_TIMEOUT_S = 60.0


class Sender(Protocol):
    """Where a call's reply goes: the kernel's outbox (`KernelOutbox`), so a reply never
    overtakes the events published before it."""

    def send(self, message: Any) -> None: ...


class PortBridge:
    """Serves one kernel's `Call`s; see the module docstring."""

    def __init__(
        self, *, handles: Mapping[str, ActorHandle], link: HootenannyLink, name: str
    ) -> None:
        self._handles = dict(handles)
        self._link = link
        self._queue: queue.SimpleQueue[tuple[Sender, Call] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"{name}-bridge", daemon=True)
        self.counters: Counter[str] = Counter()
        self._counters_lock = threading.Lock()
        self._started = False
        self._eval_line: concurrent.futures.Future[None] | None = None
        """The store's answer to the kernel's last cell line, while it is the last thing the
        kernel sent the store."""
        self._eval_line_lock = threading.Lock()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def close(self) -> None:
        self._queue.put(None)

    def submit(self, sender: Sender, call: Call) -> None:
        """Any thread (the channel's): queue `call`, answered on `sender`."""
        self._queue.put((sender, call))

    def make_now(self, sender: Sender, call: Call) -> bool:
        """The channel's thread: make `call` at once if it is a call on an actor (True); link
        calls and refusals are left to `submit`."""
        handle = self._handles.get(call.target)
        if handle is None or call.method not in HANDLE_METHODS:
            return False
        self._count(f"{call.target}.{call.method}")
        if call.target == "store":
            self._set_eval_line(None)  # (a line asked below is the last again)
        try:
            if call.method == "tell":
                (message,) = call.args
                if isinstance(message, AppendHistory) and message.action == EVAL_ACTION:
                    self._set_eval_line(self._ask_written(handle, message))
                else:
                    handle.tell(message)
            elif call.method == "accepting":
                self._answer(sender, call, handle.accepting, None)
            else:
                message, _timeout = call.args  # the kernel times the call out itself
                handle.ask_then(message, partial(self._asked, sender, call))
        except Exception as exc:  # noqa: BLE001 - malformed arguments: the caller's error
            if call.id == 0:
                self._count("oneway_failed")
                log.warning(
                    "kernel_call_failed", target=call.target, method=call.method, error=repr(exc)
                )
            else:
                self._answer(sender, call, None, exc)
        return True

    def take_eval_line(self) -> concurrent.futures.Future[None] | None:
        """The channel's thread, as an eval's reply arrives: the store's answer to that cell's
        history line (its result: written with all the kernel's store calls before it; its
        error: why not), or None when the kernel sent the store anything after it (or no line):
        then only a flush says the cell's history is written."""
        with self._eval_line_lock:
            line, self._eval_line = self._eval_line, None
        return line

    def _set_eval_line(self, line: concurrent.futures.Future[None] | None) -> None:
        with self._eval_line_lock:
            self._eval_line = line

    @staticmethod
    def _ask_written(
        handle: ActorHandle, message: AppendHistory
    ) -> concurrent.futures.Future[None]:
        written: concurrent.futures.Future[None] = concurrent.futures.Future()

        def answered(_value: Any, error: BaseException | None) -> None:
            if error is None:
                written.set_result(None)
            else:
                written.set_exception(error)

        handle.ask_then(message, answered)
        return written

    def _asked(self, sender: Sender, call: Call, value: Any, error: BaseException | None) -> None:
        """The actor's thread: its reply to the kernel's ask (a `Later` is waited for)."""
        if error is None and isinstance(value, Later):
            value.when_done(partial(self._answer, sender, call))
            return
        self._answer(sender, call, value, error)

    def _count(self, key: str) -> None:
        with self._counters_lock:
            self.counters[key] += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            sender, call = item
            try:
                value, error = self._make(sender, call), None
            except Exception as exc:  # noqa: BLE001 - the kernel's caller gets the error
                value, error = None, exc
            self._count(f"{call.target}.{call.method}")
            if call.id == 0:
                if error is not None:
                    self._count("oneway_failed")
                    log.warning(
                        "kernel_call_failed",
                        target=call.target,
                        method=call.method,
                        error=repr(error)[:300],
                    )
                continue
            self._answer(sender, call, value, error)

    def _answer(self, sender: Sender, call: Call, value: Any, error: BaseException | None) -> None:
        try:
            sender.send(Reply(id=call.id, value=value, error=error))
        except CodecError as exc:
            self._count("unsendable")
            with contextlib.suppress(ChannelClosed):
                sender.send(Reply(id=call.id, error=RuntimeError(f"reply not sendable: {exc}")))
        except ChannelClosed:
            pass  # the kernel died meanwhile

    def _make(self, sender: Sender, call: Call) -> Any:
        if call.target == "link":
            return self._link_call(call)
        raise PermissionError(f"the kernel may not call {call.target}.{call.method}")

    def _link_call(self, call: Call) -> Any:
        if call.method not in LINK_METHODS:
            raise PermissionError(f"the kernel may not call link.{call.method}")
        link = self._link
        if call.method == "connected":
            return link.connected
        if call.method == "require_reachable":
            what, timeout = call.args
            link.require_reachable(str(what), min(float(timeout), MAX_ASK_TIMEOUT_S))
            return None
        (request,) = call.args
        callback = call.kwargs["callback"]
        if not callable(callback):
            raise TypeError("link.call needs a callback")
        link.call(request, timeout=float(call.kwargs["timeout"]), callback=callback)
        return None
