"""The kernel channel's transport: one request/reply round trip between two processes that are
idle a few ms between calls, as the service and its kernel are between an agent's calls.

- vibeweaver's channel (`vibeweaver.channel.peer`): a Unix stream socket, signed frames, the
  codec, an IO thread on each end; the other process answers each `StatusRequest` from its IO
  thread.
- floor: the same round trip over a raw Unix socketpair (no signing, no codec, no threads).
- for the record, raw ZeroMQ PUSH/PULL over `ipc://` (the SPEC's suggested transport, which the
  channel used until v2), single-threaded like the floor: libzmq adds its own I/O thread on each
  end, four thread wake-ups per round trip, which is what the channel stopped paying. (The
  channel's own figure also pays its IO threads, signing and codec, as it did over ZeroMQ.)

Each kind takes turns in rounds of ROUND calls with GAP_S between calls, so machine noise hits the
figures and the floor alike.

Run: .venv/bin/python ops/bench/bench_channel.py [--n 300] [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import zmq

from ops.bench.benchlib import Results, header, latency_line, ratio_line
from vibeweaver.channel.messages import StatusRequest
from vibeweaver.channel.peer import Peer

ROUND = 20
GAP_S = 0.003
KEY = os.urandom(32)

PEER_ECHO = """
import sys, threading
from vibeweaver.channel.messages import StatusReply, StatusRequest
from vibeweaver.channel.peer import Peer
done = threading.Event()
peer = None
def on_message(message):
    if isinstance(message, StatusRequest):
        if message.id < 0:
            done.set()
            return
        peer.send(StatusReply(id=message.id, execution_count=1, user_names=0, callbacks=0,
                              last_outcome=None))
peer = Peer(path=sys.argv[1], key=bytes.fromhex(sys.argv[2]), bind=False,
            on_message=on_message, name="echo")
peer.start()
done.wait(600)
peer.close(linger_s=0.5)
"""

SOCKET_ECHO = """
import select, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
while True:
    select.select([sock], [], [])
    data = sock.recv(65536)
    if not data or data == b"q":
        break
    sock.sendall(data)
"""

ZMQ_ECHO = """
import sys, zmq
context = zmq.Context()
pull = context.socket(zmq.PULL)
pull.bind(sys.argv[1] + ".k")
push = context.socket(zmq.PUSH)
push.connect(sys.argv[1] + ".s")
while True:
    frames = pull.recv_multipart()
    if frames[0] == b"q":
        break
    push.send_multipart(frames)
push.close(500)
"""


@contextlib.contextmanager
def child(code: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", code, *args])  # noqa: S603 - fixed code
    try:
        yield proc
    finally:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    title = "the kernel channel's transport: a round trip between two processes idle between calls"
    header(title)
    results = Results("bench_channel", title)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run.mkdir(mode=0o700)
        # vibeweaver's channel
        service = Peer(path=str(run / "k.sock"), key=KEY, bind=True, on_message=lambda _m: None,
                       name="bench")  # fmt: skip
        service.start()
        # the raw socket floor
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(run / "raw.sock"))
        listener.listen(1)
        # raw ZeroMQ
        context = zmq.Context()
        pull = context.socket(zmq.PULL)
        pull.bind(f"ipc://{run}/z.s")
        push = context.socket(zmq.PUSH)
        push.connect(f"ipc://{run}/z.k")
        with (
            child(PEER_ECHO, str(run / "k.sock"), KEY.hex()),
            child(SOCKET_ECHO, str(run / "raw.sock")),
            child(ZMQ_ECHO, f"ipc://{run}/z"),
        ):
            raw, _ = listener.accept()
            body = b"x" * 300

            def channel_trip() -> None:
                service.request(lambda i: StatusRequest(id=i)).result(10)

            def raw_trip() -> None:
                raw.sendall(body)
                select.select([raw], [], [])
                raw.recv(65536)

            def zmq_trip() -> None:
                push.send_multipart([b"s" * 32, body])
                pull.recv_multipart()

            kinds = (channel_trip, raw_trip, zmq_trip)
            for trip in kinds:  # warm-up (the kernel end connects on the first)
                for _ in range(20):
                    trip()
            samples: list[list[float]] = [[] for _ in kinds]
            while len(samples[0]) < args.n:
                for trip, taken in zip(kinds, samples, strict=True):
                    for _ in range(min(ROUND, args.n - len(taken))):
                        taken.append(timed(trip))
                        time.sleep(GAP_S)
            service.send(StatusRequest(id=-1))
            raw.sendall(b"q")
            push.send_multipart([b"q"])
            channel = latency_line("vibeweaver channel: request → reply", samples[0])
            floor = latency_line("floor: raw Unix socketpair round trip", samples[1])
            zeromq = latency_line("raw ZeroMQ PUSH/PULL over ipc:// round trip", samples[2])
        service.close()
        push.close(0)
        pull.close(0)
        context.term()
        raw.close()
        listener.close()
    ratio_line("channel p50 vs raw socket", channel[0], floor[0])
    ratio_line("raw ZeroMQ p50 vs raw socket", zeromq[0], floor[0])
    floor_label = f"raw Unix socket round trip, {{stat}}, {GAP_S * 1000:g} ms between calls"
    results.add_latencies(
        "channel_{stat}_us", "kernel channel request → reply, {stat}", channel, floor, floor_label
    )
    results.add_latencies(
        "zeromq_{stat}_us",
        "raw ZeroMQ PUSH/PULL ipc:// round trip (the transport replaced), {stat}",
        zeromq,
        floor,
        floor_label,
    )
    results.write(args.json)


if __name__ == "__main__":
    main()
