"""Broadcast → declarative action latency with N idle rules stored, and broadcast ingest.

For each N (default 1 / 1,000 / 10,000 / 100,000 idle `Marker(...) → Notify` rules, seeded as
rows before the start), one in-process Weaver subscribes to a PUB socket of this script:

- action latency: an `artifactCreated` broadcast tagged `go` (or `halt`) fires the rule
  `Artifact("go") → Play()` (or `Artifact("halt") → Stop()`) in the RuleScheduler, which moves the
  transport and announces it on the EventHub; measured from just before the PUB send to the hub
  event, p50/p99;
- ingest: a burst of broadcasts no rule matches, counted as they reach the hub (decoded by the
  gateway's IO thread), events/s and how many were lost.

Floor, measured in the same run and interleaved: raw pyzmq PUB → SUB on loopback, decode of the
same Cap'n Proto broadcast, and a queue hand-off to another thread (what the gateway does before
the scheduler's own work).

Run: .venv/bin/python ops/bench/bench_rules.py [--sizes 1 1000 10000 100000] [--n 300] [--json F]
"""

from __future__ import annotations

import argparse
import json
import queue
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import zmq

from ops.bench.benchlib import header, latency_line, ratio_line
from vibeweaver import logs
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.config import Config
from vibeweaver.weaver import Weaver
from vibeweaver.wire.broadcasts import (
    ArtifactCreated,
    decode_broadcast,
    encode_broadcast,
)

GO = encode_broadcast(ArtifactCreated(artifact_id="a_go", content_hash="h", tags=("go",)))
HALT = encode_broadcast(ArtifactCreated(artifact_id="a_halt", content_hash="h", tags=("halt",)))
NOISE = encode_broadcast(ArtifactCreated(artifact_id="a_noise", content_hash="h", tags=("zz",)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def floor_samples(n: int) -> list[float]:
    """PUB → SUB → decode → queue → consumer thread, µs per message."""
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    handed: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
    done: queue.SimpleQueue[float] = queue.SimpleQueue()

    def consumer() -> None:
        while True:
            sent, event = handed.get()
            if event is None:
                return
            done.put((time.perf_counter() - sent) * 1e6)

    def reader() -> None:
        while True:
            frame = sub.recv()
            if frame == b"stop":
                handed.put((0.0, None))
                return
            sent = float.fromhex(frame[:24].decode())
            handed.put((sent, decode_broadcast(frame[24:])))

    threads = [threading.Thread(target=consumer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the slow-joiner: let the subscription reach the PUB
    samples = []
    for _ in range(n):
        pub.send(time.perf_counter().hex().ljust(24).encode() + GO)
        samples.append(done.get(timeout=5))
        time.sleep(0.002)
    pub.send(b"stop")
    for thread in threads:
        thread.join(5)
    sub.close(0)
    pub.close(0)
    context.term()
    return samples


def seed_idle_rules(data_dir: Path, idle: int) -> None:
    """Start once (schema, session), then insert the idle rules as rows."""
    config = Config(data_dir=data_dir, router=None, hootenanny=None, broadcasts=None, http=None)
    with Weaver(config, configure_logging=False) as weaver:
        assert weaver.session is not None
        session_id = weaver.session.id
    rows = [
        (
            f"idle_{i}",
            session_id,
            "marker",
            json.dumps({"name": f"idle{i}"}),
            "notify",
            json.dumps({"message": f"idle {i}"}),
            1,
            "2026-01-01",
            i + 1,
        )
        for i in range(idle)
    ]
    with sqlite3.connect(data_dir / "vibeweaver.db") as raw:
        raw.executemany(
            "INSERT INTO rules (id, session_id, trigger_type, trigger_params, action_type, "
            "action_params, enabled, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def measure(idle: int, n: int, burst: int) -> dict[str, Any]:
    from vibeweaver.service import ToolService  # after the Weaver: it imports the actors

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        seed_idle_rules(data_dir, idle)
        context = zmq.Context()
        pub = context.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        config = Config(
            data_dir=data_dir,
            router=None,
            hootenanny=None,
            broadcasts=f"tcp://127.0.0.1:{port}",
            http=None,
        )
        moved: queue.SimpleQueue[float] = queue.SimpleQueue()
        ingested = [0]
        with Weaver(config, configure_logging=False) as weaver:
            service = ToolService(weaver.system, eval_timeout=60)
            code = "rule(Artifact('go'), Play())\nrule(Artifact('halt'), Stop())"
            assert service.evaluate(code, timeout_s=60).status == "ok"
            scheduler = weaver.handle("scheduler")
            deadline = time.monotonic() + 300
            while scheduler.ask(sm.GetSchedulerStatus(), timeout=30).rules < idle + 2:
                if time.monotonic() > deadline:
                    raise RuntimeError("the rules did not load")
                time.sleep(0.05)

            def sink(event: Any) -> None:
                if isinstance(event, sm.TransportMoved):
                    moved.put(time.perf_counter())
                elif isinstance(event, ArtifactCreated) and event.artifact_id == "a_noise":
                    ingested[0] += 1

            weaver.hub.subscribe("bench", sink)
            time.sleep(0.3)  # the SUB's subscription reaches our PUB
            samples = []
            for i in range(n + 20):
                sent = time.perf_counter()
                pub.send(GO if i % 2 == 0 else HALT)
                arrived = moved.get(timeout=10)
                if i >= 20:
                    samples.append((arrived - sent) * 1e6)
                time.sleep(0.002)
            started = time.perf_counter()
            for _ in range(burst):
                pub.send(NOISE)
            end = time.monotonic() + 30
            while ingested[0] < burst and time.monotonic() < end:
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            weaver.hub.unsubscribe("bench", sink)
        pub.close(0)
        context.term()
        return {
            "samples": samples,
            "ingested": ingested[0],
            "lost": burst - ingested[0],
            "rate": ingested[0] / elapsed,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 1_000, 10_000, 100_000])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logs.configure("warning")
    header("broadcast → declarative action, by idle rules stored; broadcast ingest")
    figures: dict[str, Any] = {}
    base: float | None = None
    for idle in args.sizes:
        floor = latency_line("floor: PUB→SUB + decode + hand-off", floor_samples(args.n))
        result = measure(idle, args.n, args.burst)
        p50, p99 = latency_line(
            f"vibeweaver: broadcast → Play/Stop, {idle:,} idle rules", result["samples"]
        )
        ratio_line(f"  p50 vs floor ({idle:,} idle)", p50, floor[0])
        if base is None:
            base = p50
        ratio_line(f"  p50 vs the first size ({idle:,} idle)", p50, base)
        print(
            f"{f'vibeweaver: ingest, {idle:,} idle rules':<52} {result['rate']:>10,.0f} events/s"
            f"   lost {result['lost']:,} of {args.burst:,}"
        )
        figures[str(idle)] = {
            "floor_p50_us": floor[0],
            "p50_us": p50,
            "p99_us": p99,
            "ingest_per_s": result["rate"],
            "lost": result["lost"],
        }
    if args.json is not None:
        args.json.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
