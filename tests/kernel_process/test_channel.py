"""The kernel channel (`vibeweaver.channel.peer`): two real peers over a Unix socket in a tmp dir.

Signed messages only (strangers' connections are refused), replies resolving requests, calls
answered with values or errors, callables crossing as references, large messages, a private socket
file, and a closed or vanished end failing clearly.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from vibeweaver.channel import codec
from vibeweaver.channel.messages import Call, Hello, Invoke, Reply, StatusReply, StatusRequest
from vibeweaver.channel.peer import HANDSHAKE, MAX_MESSAGE_BYTES, ChannelClosed, Peer

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
def path(tmp_path: Path) -> str:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    return f"{run}/k-test.sock"


@pytest.fixture
def pair(path: str) -> Iterator[tuple[Peer, Inbox, Peer, Inbox]]:
    service_inbox, kernel_inbox = Inbox(), Inbox()
    service = Peer(path=path, key=KEY, bind=True, on_message=service_inbox, name="svc")
    kernel = Peer(path=path, key=KEY, bind=False, on_message=kernel_inbox, name="kernel")
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


def frame(body: bytes, key: bytes = KEY) -> bytes:
    """A frame as the channel writes it: length, signature, body."""
    return len(body).to_bytes(4, "big") + hmac.digest(key, body, hashlib.sha256) + body


def stranger(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def closed_by_the_other_end(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_connections_without_a_valid_handshake_are_refused_counted_and_closed(
    pair: tuple[Peer, Inbox, Peer, Inbox], path: str
) -> None:
    service, service_inbox, kernel, kernel_inbox = pair
    body = codec.encode(Hello(pid=666, execution_count=0), None)
    wrong_key, unsigned_message, message_first = stranger(path), stranger(path), stranger(path)
    wrong_key.sendall(frame(HANDSHAKE, b"x" * 32))
    unsigned_message.sendall(len(body).to_bytes(4, "big") + bytes(32) + body)
    message_first.sendall(frame(body))  # signed, but not a handshake: a replay, say
    wait_until(lambda: service.counters["refused_unsigned"] == 3, timeout=10)
    for sock in (wrong_key, unsigned_message, message_first):
        assert closed_by_the_other_end(sock)
        sock.close()
    # the kernel's connection is untouched: both ways still work, and nothing else arrived
    kernel.send(Hello(pid=1, execution_count=0))
    service.send(StatusRequest(id=2))
    wait_until(lambda: service_inbox.items and kernel_inbox.items, timeout=10)
    assert service_inbox.items == [Hello(pid=1, execution_count=0)]
    assert kernel_inbox.items == [StatusRequest(id=2)]


def test_a_wrongly_signed_frame_on_the_kernels_connection_is_dropped_and_counted(
    path: str,
) -> None:
    inbox = Inbox()
    service = Peer(path=path, key=KEY, bind=True, on_message=inbox, name="svc")
    service.start()
    try:
        kernel = stranger(path)
        kernel.sendall(frame(HANDSHAKE))
        hello = codec.encode(Hello(pid=2, execution_count=0), None)
        kernel.sendall(frame(hello, b"y" * 32) + frame(hello))
        wait_until(lambda: inbox.items, timeout=10)
        assert inbox.items == [Hello(pid=2, execution_count=0)]
        assert service.counters["refused_unsigned"] == 1
        kernel.close()
    finally:
        service.close()


def test_a_frame_longer_than_the_limit_ends_its_connection(path: str) -> None:
    service = Peer(path=path, key=KEY, bind=True, on_message=lambda _m: None, name="svc")
    service.start()
    try:
        sock = stranger(path)
        sock.sendall((MAX_MESSAGE_BYTES + 1).to_bytes(4, "big") + bytes(32))
        wait_until(lambda: service.counters["refused_oversized"] == 1, timeout=10)
        assert closed_by_the_other_end(sock)
        sock.close()
    finally:
        service.close()


def test_large_messages_cross_whole_both_ways(pair: tuple[Peer, Inbox, Peer, Inbox]) -> None:
    """Larger than a socket buffer: the rest waits in the out-buffer for the IO thread."""
    service, service_inbox, kernel, kernel_inbox = pair
    text = "♪" * 3_000_000
    for _ in range(3):
        kernel.send(Call(id=0, target="t", method="m", args=(text,), kwargs={}))
        service.send(Call(id=0, target="t", method="m", args=(text,), kwargs={}))
    service.send(StatusRequest(id=9))
    wait_until(lambda: len(service_inbox.items) == 3 and len(kernel_inbox.items) == 4, timeout=30)
    assert all(m.args == (text,) for m in service_inbox.items)
    assert all(m.args == (text,) for m in kernel_inbox.items[:3])
    assert kernel_inbox.items[3] == StatusRequest(id=9)


def test_the_socket_file_is_private_and_removed_on_close(path: str) -> None:
    peer = Peer(path=path, key=KEY, bind=True, on_message=lambda _m: None, name="svc")
    peer.start()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    peer.close()
    assert not os.path.exists(path)


def test_when_the_other_end_goes_away_the_channel_closes_and_waiting_requests_fail(
    pair: tuple[Peer, Inbox, Peer, Inbox],
) -> None:
    service, _, kernel, kernel_inbox = pair
    future = service.request(lambda i: StatusRequest(id=i))
    wait_until(lambda: kernel_inbox.items, timeout=10)
    kernel.close()
    with pytest.raises(ChannelClosed):
        future.result(10)
    wait_until(lambda: service.closed, timeout=10)
    with pytest.raises(ChannelClosed):
        service.send(StatusRequest(id=1))


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


def test_a_send_to_an_end_not_connected_yet_is_delivered_once_it_is(path: str) -> None:
    """The service may send before the kernel connected, and the kernel before the service
    listens: each end keeps what it sent, in order, until the connection is up."""
    service_inbox, kernel_inbox = Inbox(), Inbox()
    kernel = Peer(path=path, key=KEY, bind=False, on_message=kernel_inbox, name="kernel")
    kernel.start()
    try:
        for pid in range(3):
            kernel.send(Hello(pid=pid, execution_count=0))
        service = Peer(path=path, key=KEY, bind=True, on_message=service_inbox, name="svc")
        service.start()
        try:
            service.send(StatusRequest(id=1))
            wait_until(lambda: kernel_inbox.items == [StatusRequest(id=1)], timeout=10)
            wait_until(lambda: len(service_inbox.items) == 3, timeout=10)
            assert [m.pid for m in service_inbox.items] == [0, 1, 2]
        finally:
            service.close()
    finally:
        kernel.close()


def test_invoke_of_an_unknown_reference_is_ignored(pair: tuple[Peer, Inbox, Peer, Inbox]) -> None:
    _, service_inbox, kernel, _ = pair
    kernel.send(Invoke(ref=12345, args=()))
    kernel.send(Hello(pid=1, execution_count=0))
    wait_until(lambda: service_inbox.items, timeout=10)
    assert service_inbox.items == [Hello(pid=1, execution_count=0)]
