"""Broadcast → declarative action and → Python callback latency with N idle rules stored, and
broadcast ingest.

For each N (default 1 / 1,000 / 10,000 / 100,000 idle `Marker(...) → Notify` rules, seeded as
rows before the start), one in-process Weaver (its kernel in its own process) subscribes to a PUB
socket of this script. All of them run at once, and every round takes one sample of each size and
of the floor, in rotating order, so that the machine's noise hits every size and the floor alike
(the sizes are compared with each other):

- action latency: an `artifactCreated` broadcast tagged `go` (or `halt`) fires the rule
  `Artifact("go") → Play()` (or `Artifact("halt") → Stop()`) in the RuleScheduler, which moves the
  transport and announces it on the EventHub; measured from just before the PUB send to the hub
  event, p50/p99;
- callback latency, interleaved with the action (one of each per round): a broadcast tagged `cb`
  fires an `@on_artifact("cb")` callback, which the kernel process runs; its first statement
  sends `time.monotonic()` in a UDP datagram to this script; measured from just before the PUB
  send to that timestamp (publish → callback start; CLOCK_MONOTONIC is one clock for every
  process of the machine), p50/p99. Also printed: the kernel's own `callback_lateness_ms` (the
  scheduler firing the rule → the callback starting, published by the kernel process);
- ingest: a burst of broadcasts no rule matches, counted as they reach the hub (decoded by the
  gateway's IO thread) and timed until the scheduler has matched them all, events/s and how many
  were lost; its floor: a bare SUB thread receiving and decoding the same burst.

Floor, measured in the same rounds: raw pyzmq PUB → SUB on loopback, decode of the
same Cap'n Proto broadcast, and a queue hand-off to another thread (what the gateway does before
the scheduler's own work).

Targets (SPEC §5, at 10,000 idle rules): action p50 ≤ 3x the floor and within 1.25x of the
first size's (1 rule); ≥ 20,000 broadcasts/s ingested, none lost.

Run: .venv/bin/python ops/bench/bench_rules.py [--sizes 1 1000 10000 100000] [--n 300] [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
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

from ops.bench.benchlib import Results, header, latency_line, ratio_line
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
CALL = encode_broadcast(ArtifactCreated(artifact_id="a_cb", content_hash="h", tags=("cb",)))
WARM = 20
TARGET_SIZE = 10_000
"""SPEC §5 states its targets at 10,000 idle rules."""

CALLBACK_CELL = """
import socket as _bench_socket, time as _bench_time
_bench_udp = _bench_socket.socket(_bench_socket.AF_INET, _bench_socket.SOCK_DGRAM)
_bench_to = ("127.0.0.1", {port})

@on_artifact("cb")
def bench_hit(artifact_id, tags):
    _bench_udp.sendto(repr(_bench_time.monotonic()).encode(), _bench_to)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Floor:
    """PUB → SUB → decode → queue → consumer thread: one sample (µs) per `sample()`."""

    def __init__(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.pub = self.context.socket(zmq.PUB)
        port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(f"tcp://127.0.0.1:{port}")
        self.handed: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[float] = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self._consumer),
            threading.Thread(target=self._reader),
        ]
        for thread in self.threads:
            thread.start()
        time.sleep(0.3)  # the slow-joiner: let the subscription reach the PUB

    def _consumer(self) -> None:
        while True:
            sent, event = self.handed.get()
            if event is None:
                return
            self.done.put((time.perf_counter() - sent) * 1e6)

    def _reader(self) -> None:
        while True:
            frame = self.sub.recv()
            if frame == b"stop":
                self.handed.put((0.0, None))
                return
            sent = float.fromhex(frame[:24].decode())
            self.handed.put((sent, decode_broadcast(frame[24:])))

    def sample(self) -> float:
        self.pub.send(time.perf_counter().hex().ljust(24).encode() + GO)
        return self.done.get(timeout=5)

    def close(self) -> None:
        self.pub.send(b"stop")
        for thread in self.threads:
            thread.join(5)
        self.sub.close(0)
        self.pub.close(0)
        self.context.term()


def ingest_floor(burst: int) -> float:
    """Broadcasts/s of a bare pyzmq SUB thread that receives (NOBLOCK, drained per poll wake-up)
    and decodes the same burst, sent by the same loop as the ingest's (the ingest's ceiling)."""
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    decoded = [0]
    stop = threading.Event()

    def reader() -> None:
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        while not stop.is_set():
            if not poller.poll(100):
                continue
            while True:
                try:
                    frame = sub.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                decode_broadcast(frame)
                decoded[0] += 1

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.3)  # the slow-joiner: let the subscription reach the PUB
    started = time.perf_counter()
    for _ in range(burst):
        pub.send(NOISE)
    end = time.monotonic() + 30
    while decoded[0] < burst and time.monotonic() < end:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(5)
    sub.close(0)
    pub.close(0)
    context.term()
    return decoded[0] / elapsed


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


def call_callback(pub: zmq.Socket[bytes], udp: socket.socket) -> float:
    """Publish a `cb` broadcast; µs from just before the send to the callback's first statement
    (the monotonic time it sends back)."""
    sent = time.monotonic()
    pub.send(CALL)
    started = float(udp.recv(64))
    return (started - sent) * 1e6


def kernel_callback_lateness(
    weaver: Weaver, pub: zmq.Socket[bytes], udp: socket.socket, ran: int
) -> dict[str, Any]:
    """The kernel's published callback_lateness_ms (scheduler firing → callback start). The
    kernel publishes at most once a second: one more callback after a second makes it publish
    the window that holds this run's callbacks."""
    kernel = weaver.handle("kernel")
    time.sleep(1.1)
    call_callback(pub, udp)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        published = dict(kernel.stats.published)
        if int(published.get("callbacks_run", 0)) > ran:
            return dict(published.get("callback_lateness_ms") or {})
        time.sleep(0.05)
    return {}


class Rig:
    """One in-process Weaver (its kernel in its own process) with `idle` idle rules, subscribed
    to a PUB socket of this script; `round` takes one action and one callback sample."""

    def __init__(self, idle: int, tmp: Path) -> None:
        from vibeweaver.service import ToolService  # after the Weaver: it imports the actors

        self.idle = idle
        data_dir = tmp / f"rules-{idle}"
        data_dir.mkdir()
        seed_idle_rules(data_dir, idle)
        self.context: zmq.Context[Any] = zmq.Context()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.setsockopt(zmq.SNDHWM, 0)
        port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        config = Config(
            data_dir=data_dir,
            router=None,
            hootenanny=None,
            broadcasts=f"tcp://127.0.0.1:{port}",
            http=None,
        )
        self.moved: queue.SimpleQueue[float] = queue.SimpleQueue()
        self.ingested = 0
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(10)
        self.weaver = Weaver(config, configure_logging=False)
        self.weaver.start()
        service = ToolService(self.weaver.system, eval_timeout=60)
        code = "rule(Artifact('go'), Play())\nrule(Artifact('halt'), Stop())"
        code += CALLBACK_CELL.format(port=self.udp.getsockname()[1])
        outcome = service.evaluate(code, timeout_s=60)
        if outcome.status != "ok":
            raise RuntimeError(f"the set-up cell failed: {outcome.error}")
        self.scheduler = self.weaver.handle("scheduler")
        deadline = time.monotonic() + 300
        while self.scheduler.ask(sm.GetSchedulerStatus(), timeout=30).rules < idle + 3:
            if time.monotonic() > deadline:
                raise RuntimeError("the rules did not load")
            time.sleep(0.05)
        self.weaver.hub.subscribe("bench", self._sink)
        time.sleep(0.3)  # the SUB's subscription reaches our PUB
        self.samples: list[float] = []
        self.callback_samples: list[float] = []
        self.rounds = 0

    def _sink(self, event: Any) -> None:
        if isinstance(event, sm.TransportMoved):
            self.moved.put(time.perf_counter())
        elif isinstance(event, ArtifactCreated) and event.artifact_id == "a_noise":
            self.ingested += 1

    def round(self, *, keep: bool) -> None:
        sent = time.perf_counter()
        self.pub.send(GO if self.rounds % 2 == 0 else HALT)
        arrived = self.moved.get(timeout=10)
        time.sleep(0.002)
        started_at = call_callback(self.pub, self.udp)
        time.sleep(0.002)
        self.rounds += 1
        if keep:
            self.samples.append((arrived - sent) * 1e6)
            self.callback_samples.append(started_at)

    def ingest(self, burst: int) -> dict[str, Any]:
        """A burst no rule matches: events/s until the scheduler matched them all, and losses."""
        kernel_lateness = kernel_callback_lateness(self.weaver, self.pub, self.udp, self.rounds)
        floor_rate = ingest_floor(burst)
        started = time.perf_counter()
        for _ in range(burst):
            self.pub.send(NOISE)
        end = time.monotonic() + 30
        while self.ingested < burst and time.monotonic() < end:
            time.sleep(0.002)
        # every broadcast reached the hub; the scheduler's answer to an ask sent now comes
        # after it matched them all against the rules (its mailbox is in order)
        self.scheduler.ask(sm.GetSchedulerStatus(), timeout=30)
        elapsed = time.perf_counter() - started
        return {
            "samples": self.samples,
            "callback_samples": self.callback_samples,
            "kernel_lateness": kernel_lateness,
            "ingested": self.ingested,
            "lost": burst - self.ingested,
            "rate": self.ingested / elapsed,
            "floor_rate": floor_rate,
        }

    def close(self) -> None:
        self.weaver.hub.unsubscribe("bench", self._sink)
        self.weaver.stop()
        self.pub.close(0)
        self.context.term()
        self.udp.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 1_000, 10_000, 100_000])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logs.configure("warning")
    title = "broadcast → declarative action and → callback, by idle rules stored; broadcast ingest"
    header(title)
    results = Results("bench_rules", title)
    base: float | None = None
    floor_samples: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        rigs = []
        for idle in args.sizes:
            rig = Rig(idle, Path(tmp))
            stack.callback(rig.close)
            rigs.append(rig)
        floor_rig = Floor()
        stack.callback(floor_rig.close)
        # every size and the floor in each round, in rotating order: the machine's noise hits
        # all of them alike
        for i in range(args.n + WARM):
            order = [*rigs, floor_rig]
            order = order[i % len(order) :] + order[: i % len(order)]
            for item in order:
                if isinstance(item, Floor):
                    sample = item.sample()
                    if i >= WARM:
                        floor_samples.append(sample)
                else:
                    item.round(keep=i >= WARM)
        results_by_size = {rig.idle: rig.ingest(args.burst) for rig in rigs}
    floor = latency_line("floor: PUB→SUB + decode + hand-off", floor_samples)
    for idle in args.sizes:
        result = results_by_size[idle]
        p50, p99 = latency_line(
            f"vibeweaver: broadcast → Play/Stop, {rules(idle)}", result["samples"]
        )
        cb50, cb99 = latency_line(
            f"vibeweaver: broadcast → callback start, {idle:,} idle", result["callback_samples"]
        )
        kernel = result["kernel_lateness"]
        if kernel:
            label = f"  kernel: scheduler → callback start, {idle:,} idle"
            print(
                f"{label:<52} p50 {kernel['p50'] * 1000:>9.1f} µs   "
                f"p99 {kernel['p99'] * 1000:>9.1f} µs   (n={kernel['n']:,}, the last ones)"
            )
        ratio_line(f"  action p50 vs floor ({idle:,} idle)", p50, floor[0])
        ratio_line(f"  callback p50 vs floor ({idle:,} idle)", cb50, floor[0])
        if base is None:
            base = p50
        ratio_line(f"  action p50 vs the first size ({idle:,} idle)", p50, base)
        print(
            f"{'floor: PUB→SUB + decode, same burst':<52} {result['floor_rate']:>10,.0f} events/s"
        )
        print(
            f"{f'vibeweaver: ingest, {rules(idle)}':<52} {result['rate']:>10,.0f} events/s"
            f"   lost {result['lost']:,} of {args.burst:,}"
            f"   ({result['rate'] / result['floor_rate']:.2f} of the floor)"
        )
        record(results, idle, args.sizes[0], floor, base, result, (p50, p99), (cb50, cb99))
    results.details["n"] = args.n
    results.details["burst"] = args.burst
    results.write(args.json)


def rules(count: int) -> str:
    return f"{count:,} idle rule{'' if count == 1 else 's'}"


def record(
    results: Results,
    idle: int,
    first: int,
    floor: tuple[float, float],
    base: float,
    result: dict[str, Any],
    action: tuple[float, float],
    callback: tuple[float, float],
) -> None:
    """Add one size's figures; SPEC §5's targets go on the 10,000-rule ones."""
    targeted = idle == TARGET_SIZE
    floor_label = "PUB→SUB + decode + hand-off p50"
    add = results.add
    add(
        f"action_p50_us.{idle}",
        action[0],
        "µs",
        f"broadcast → declarative action p50, {rules(idle)}",
        floor=floor[0],
        floor_label=floor_label,
        target="≤ 3x floor (SPEC §5)" if targeted else None,
        met=action[0] <= 3 * floor[0] if targeted else None,
    )
    if idle != first:
        add(
            f"action_p50_vs_first.{idle}",
            action[0],
            "µs",
            f"broadcast → declarative action p50, {idle:,} vs {first:,} idle rules",
            floor=base,
            floor_label=f"the {first:,}-rule p50",
            target="≤ 1.25x (SPEC §5)" if targeted else None,
            met=action[0] <= 1.25 * base if targeted else None,
        )
    add(
        f"action_p99_us.{idle}",
        action[1],
        "µs",
        f"broadcast → declarative action p99, {rules(idle)}",
        floor=floor[1],
        floor_label="PUB→SUB + decode + hand-off p99",
    )
    for stat, value, floor_value in (
        ("p50", callback[0], floor[0]),
        ("p99", callback[1], floor[1]),
    ):
        add(
            f"callback_{stat}_us.{idle}",
            value,
            "µs",
            f"broadcast → callback start (kernel process) {stat}, {rules(idle)}",
            floor=floor_value,
            floor_label=f"PUB→SUB + decode + hand-off {stat}",
        )
    kernel = result["kernel_lateness"]
    if kernel:
        add(
            f"kernel_callback_lateness_p50_us.{idle}",
            kernel["p50"] * 1000,
            "µs",
            f"scheduler firing → callback start p50 (kernel's figure), {rules(idle)}",
        )
    add(
        f"ingest_per_s.{idle}",
        result["rate"],
        "events/s",
        f"broadcasts ingested, {rules(idle)}",
        floor=result["floor_rate"],
        floor_label="PUB→SUB + decode of the same burst, events/s",
        target="≥ 20,000/s (SPEC §5)" if targeted else None,
        met=result["rate"] >= 20_000 if targeted else None,
    )
    add(
        f"ingest_lost.{idle}",
        result["lost"],
        "events",
        f"broadcasts lost of {result['ingested'] + result['lost']:,}, {rules(idle)}",
        target="0 (SPEC §5)" if targeted else None,
        met=result["lost"] == 0 if targeted else None,
    )


if __name__ == "__main__":
    main()
