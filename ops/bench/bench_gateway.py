"""Gateway round trips over real loopback sockets, next to a raw pyzmq ROUTER echo floor.

Measures, from a DEALER in this process to a real Weaver's ROUTER:
- HOOT01 ping → pong (answered on the gateway's IO thread),
- weaveEval "1 + 1" → Reply (IO thread → gateway actor → worker → KernelActor → eval thread → back),
and the floor: the same 7-frame round trip against a bare ROUTER that echoes on its own thread.

Run: .venv/bin/python ops/bench/bench_gateway.py [--n 2000] [--json F]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import Results, echo_router, header, latency_line, now_us, ratio_line
from vibeweaver.config import Config
from vibeweaver.weaver import Weaver
from vibeweaver.wire import envelope
from vibeweaver.wire.frames import build_multipart, new_request_id, request_frame


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def round_trips(endpoint: str, bodies: list[tuple[bytes, bytes]]) -> list[float]:
    """Send each (request id, body) and wait for its reply; return latencies in µs."""
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.ROUTING_ID, b"vibeweaver")
    dealer.connect(endpoint)
    samples: list[float] = []
    try:
        for request_id, body in bodies:
            started = now_us()
            dealer.send_multipart(build_multipart((), request_frame(request_id, body)))
            if not dealer.poll(30_000):
                raise SystemExit(f"no reply from {endpoint} within 30 s")
            reply = dealer.recv_multipart()
            assert reply[3] == request_id
            samples.append(now_us() - started)
    finally:
        dealer.close()
        context.term()
    return samples


def requests(n: int, make: type) -> list[tuple[bytes, bytes]]:
    out = []
    for _ in range(n):
        request_id = new_request_id()
        out.append((request_id, envelope.encode_request(request_id, make())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="round trips per measurement")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    title = "gateway round trips (DEALER → ROUTER on 127.0.0.1)"
    header(title)
    results = Results("bench_gateway", title)

    floor_endpoint = f"tcp://127.0.0.1:{free_port()}"
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=echo_router, args=(floor_endpoint, ready, stop), daemon=True)
    thread.start()
    ready.wait(5)
    warm = requests(200, envelope.PingRequest)
    round_trips(floor_endpoint, warm)
    floor = latency_line(
        "floor: raw pyzmq ROUTER echo (7 frames)",
        round_trips(floor_endpoint, requests(args.n, envelope.PingRequest)),
    )
    stop.set()
    thread.join(2)

    endpoint = f"tcp://127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as data_dir:
        config = Config(
            data_dir=Path(data_dir),
            router=endpoint,
            hootenanny=None,
            broadcasts=None,
            http=None,
            log_level="warning",
        )
        from vibeweaver import logs

        logs.configure("warning")
        with Weaver(config, configure_logging=False):
            round_trips(endpoint, warm)
            ping = latency_line(
                "vibeweaver: ping → pong (IO thread)",
                round_trips(endpoint, requests(args.n, envelope.PingRequest)),
            )

            # distinct code per request, and then one code repeated: both execute every time
            # (only a duplicate of a running or long-finished eval is joined, SPEC §3.3)
            evals = [
                (rid, envelope.encode_request(rid, envelope.WeaveEvalRequest(code=f"{i} + 1")))
                for i, rid in enumerate(new_request_id() for _ in range(args.n + 50))
            ]
            round_trips(endpoint, evals[:50])
            executed = latency_line(
                "vibeweaver: weaveEval '<i> + 1' → Reply", round_trips(endpoint, evals[50:])
            )
            repeats = [
                (rid, envelope.encode_request(rid, envelope.WeaveEvalRequest(code="7 * 6")))
                for rid in (new_request_id() for _ in range(args.n))
            ]
            repeated = latency_line(
                "vibeweaver: weaveEval '7 * 6' repeated (each executes)",
                round_trips(endpoint, repeats),
            )
    ratio_line("ping p50 vs floor", ping[0], floor[0])
    ratio_line("weaveEval p50 vs floor", executed[0], floor[0])
    floor_label = "raw pyzmq ROUTER echo (7 frames)"
    for name, label, figures in (
        ("ping", "HOOT01 ping → pong (IO thread)", ping),
        ("eval", "weaveEval '<i> + 1' → Reply", executed),
        ("eval_repeated", "weaveEval '7 * 6' repeated → Reply", repeated),
    ):
        results.add_latencies(
            f"{name}_{{stat}}_us", f"{label}, {{stat}}", figures, floor, f"{floor_label} {{stat}}"
        )
    results.write(args.json)


if __name__ == "__main__":
    main()
