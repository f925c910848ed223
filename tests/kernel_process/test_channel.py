"""The kernel channel (`vibeweaver.channel.peer`): two real peers over `ipc://` in a tmp dir.

Signed messages only, replies resolving requests, calls answered with values or errors,
callables crossing as references, private socket files, and a closed end failing clearly.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from tests.conftest import wait_until
from vibeweaver.channel import codec
from vibeweaver.channel.messages import Call, Hello, Invoke, Reply, StatusReply, StatusRequest
from vibeweaver.channel.peer import ChannelClosed, Peer

KEY = bytes(range(32))


class Inbox:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        with self.lock:
            self.items.append(message)
            self.threads.add(threading.current_thread().name)


@pytest.fixture
def endpoint(tmp_path: Path) -> str:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    return f"ipc://{run}/k-test.sock"


@pytest.fixture
def pair(endpoint: str) -> Iterator[tuple[Peer, Inbox, Peer, Inbox]]:
    service_inbox, kernel_inbox = Inbox(), Inbox()
    service = Peer(endpoint=endpoint, key=KEY, bind=True, on_message=service_inbox, name="svc")
    kernel = Peer(endpoint=endpoint, key=KEY, bind=False, on_message=kernel_inbox, name="kernel")
    service.start()
    kernel.start()
    yield service, service_inbox, kernel, kernel_inbox
    kernel.close()
    service.close()


def test_messages_cross_both_ways_in_order_and_reach_on_message_on_the_io_thread(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    service, service_inbox, kernel, kernel_inbox = pair
    for pid in range(50):
        kernel.send(Hello(pid=pid, execution_count=0))
    service.send(StatusRequest(id=7))
    wait_until(lambda: len(service_inbox.items) == 50 and kernel_inbox.items, timeout=10)
    assert [m.pid for m in service_inbox.items] == list(range(50))
    assert kernel_inbox.items == [StatusRequest(id=7)]
    assert service_inbox.threads == {"svc-channel"}


def test_a_request_is_resolved_by_the_reply_with_its_id(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    service, _, kernel, kernel_inbox = pair
    future = service.request(lambda i: StatusRequest(id=i))
    wait_until(lambda: kernel_inbox.items, timeout=10)
    (request,) = kernel_inbox.items
    kernel.send(
        StatusReply(id=request.id, execution_count=3, user_names=1, callbacks=0, last_outcome=None)
    )
    assert future.result(10).execution_count == 3


def test_a_call_returns_the_value_or_raises_the_remote_error(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    service, service_inbox, kernel, _ = pair

    def answer() -> None:
        for seen in range(2):
            wait_until(lambda n=seen: len(service_inbox.items) > n, timeout=10)  # type: ignore[misc]
            call = service_inbox.items[seen]
            assert isinstance(call, Call)
            if call.method == "ok":
                service.send(Reply(id=call.id, value=call.args[0] * 2))
            else:
                service.send(Reply(id=call.id, error=PermissionError("not allowed")))

    server = threading.Thread(target=answer)
    server.start()
    assert kernel.call("store", "ok", 21, timeout=10) == 42
    with pytest.raises(PermissionError, match="not allowed"):
        kernel.call("store", "no", timeout=10)
    server.join(10)


def test_an_unanswered_call_times_out_with_a_clear_error(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    _, _, kernel, _ = pair
    with pytest.raises(TimeoutError, match=r"did not answer store\.get within 0\.2 s"):
        kernel.call("store", "get", timeout=0.2)


def test_a_callable_crosses_as_a_reference_and_calls_back(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    _, service_inbox, kernel, _ = pair
    got: list[Any] = []
    kernel.send(Call(id=0, target="link", method="call", args=(), kwargs={"callback": got.append}))
    wait_until(lambda: service_inbox.items, timeout=10)
    stub = service_inbox.items[0].kwargs["callback"]
    stub("done")  # the service calls it: an Invoke back to the kernel
    wait_until(lambda: got == ["done"], timeout=10)


def test_unsigned_and_wrongly_signed_messages_are_dropped_and_counted(
    pair: tuple[Peer, Inbox, Peer, Inbox], endpoint: str
) -> None:
    service, service_inbox, _, _ = pair
    context = zmq.Context.instance()
    intruder = context.socket(zmq.PUSH)
    intruder.setsockopt(zmq.LINGER, 0)
    intruder.connect(endpoint + ".s")
    body = codec.encode(Hello(pid=666, execution_count=0), None)
    intruder.send_multipart([hmac.digest(b"x" * 32, body, hashlib.sha256), body])
    intruder.send_multipart([body])
    wait_until(lambda: service.counters["refused_unsigned"] == 2, timeout=10)
    intruder.close(0)
    assert service_inbox.items == []


def test_socket_files_are_private_and_removed_on_close(endpoint: str) -> None:
    peer = Peer(endpoint=endpoint, key=KEY, bind=True, on_message=lambda _m: None, name="svc")
    peer.start()
    path = endpoint.removeprefix("ipc://") + ".s"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    peer.close()
    assert not os.path.exists(path)


def test_a_closed_peer_refuses_sends_and_fails_waiting_requests(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    service, _, _, _ = pair
    future = service.request(lambda i: StatusRequest(id=i))
    service.close()
    with pytest.raises(ChannelClosed):
        future.result(5)
    with pytest.raises(ChannelClosed):
        service.send(StatusRequest(id=1))


def test_a_send_to_an_end_not_listening_yet_is_delivered_once_it_is(endpoint: str) -> None:
    """The service may send its Setup before the kernel's socket exists: the PUSH keeps it."""
    inbox = Inbox()
    service = Peer(endpoint=endpoint, key=KEY, bind=True, on_message=lambda _m: None, name="svc")
    service.start()
    try:
        service.send(StatusRequest(id=1))
        kernel = Peer(endpoint=endpoint, key=KEY, bind=False, on_message=inbox, name="kernel")
        kernel.start()
        try:
            wait_until(lambda: inbox.items == [StatusRequest(id=1)], timeout=10)
        finally:
            kernel.close()
    finally:
        service.close()


def test_invoke_of_an_unknown_reference_is_ignored(pair: tuple[Peer, Inbox, Peer, Inbox]) -> None:
    _, service_inbox, kernel, _ = pair
    kernel.send(Invoke(ref=12345, args=()))
    kernel.send(Hello(pid=1, execution_count=0))
    wait_until(lambda: service_inbox.items, timeout=10)
    assert service_inbox.items == [Hello(pid=1, execution_count=0)]
