"""Benchmark: the cost of vibeweaver's mailbox instrumentation, next to plain pykka and a raw queue.

Run: .venv/bin/python ops/bench/bench_actors.py [--runs 5] [--scale 1.0] [--json PATH]

Measured in the same run, variants interleaved within each run (this VM's vCPUs drift between a
fast and a slow mode, so back-to-back comparisons are the fair ones):

  floor        queue.Queue + a thread: round trip (put, worker echoes into a second queue) and
               one-way throughput. Nothing can hand a message between threads faster.
  pykka        a plain `pykka.ThreadingActor`: `ref.ask(msg)` round trip, `ref.tell` throughput.
  +inbox       the same actor on vibeweaver's `InstrumentedInbox` (enqueue stamps, depth,
               high-water, asks, mailbox waits).
  +inbox+recv  the same, plus the receive middleware of `WeaverActor` (`ActorStats.begin/end`:
               current message, per-type counts and durations, recent list). This is the complete
               instrumentation, on otherwise plain pykka dispatch: `+inbox+recv` minus `pykka` is
               the instrumentation's cost.
  WeaverActor  a real `WeaverActor` in an `ActorSystem`, sent to through its `ActorHandle`
               (instrumentation + typed dispatch + the handle's checks): what vibeweaver runs.

Then the read side: one `ActorStats.snapshot()` and `detail()` (what `/admin/actors` does per
actor), and the recording alone (`begin`+`end`) in a tight loop. Figures: throughput as the median
of per-run rates, latency as the median over runs of each run's p50 and p99.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pykka
from pykka import messages as pykka_messages

from ops.bench.benchlib import Results
from vibeweaver.actors.base import WeaverActor, handles
from vibeweaver.actors.mailbox import ActorStats, InstrumentedInbox
from vibeweaver.actors.system import ActorHandle, ActorSpec, ActorSystem

ns = time.perf_counter_ns
RESULTS: list[dict[str, Any]] = []

# -- reporting (the conventions of the shared floors' benchlib) -----------------------------------


def pct(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def env_line() -> str:
    parts = [
        f"Python {platform.python_version()}",
        f"pykka {version('pykka')}",
        f"cpus={os.cpu_count()}",
    ]
    try:
        with open("/proc/loadavg") as handle:
            parts.append("load " + " ".join(handle.read().split()[:3]))
    except OSError:
        pass
    return ", ".join(parts)


def calib_us() -> float:
    """CPU-speed probe: best of 5 for 10k pure-Python calls (says which CPU mode a run is in)."""

    def f(x: int) -> int:
        return x + 1

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for i in range(10_000):
            f(i)
        best = min(best, time.perf_counter() - started)
    return best * 1e6


def rate(name: str, per_run: list[float], unit: str = "msg/s") -> float:
    median = statistics.median(per_run)
    print(
        f"{name:<52} median {median:>11,.0f} {unit}  (min {min(per_run):,.0f} "
        f"max {max(per_run):,.0f}, runs={len(per_run)})"
    )
    RESULTS.append(
        {
            "name": name,
            "kind": "rate",
            "median": median,
            "unit": unit,
            "min": min(per_run),
            "max": max(per_run),
            "runs": len(per_run),
        }
    )
    return median


def latency(name: str, per_run: list[list[float]]) -> tuple[float, float]:
    p50s = [pct(samples, 0.50) for samples in per_run]
    p99s = [pct(samples, 0.99) for samples in per_run]
    m50, m99 = statistics.median(p50s), statistics.median(p99s)
    count = sum(len(samples) for samples in per_run)
    print(
        f"{name:<52} p50 {m50:>8.1f} µs  p99 {m99:>8.1f} µs  (runs={len(per_run)}, "
        f"samples={count:,})"
    )
    RESULTS.append(
        {
            "name": name,
            "kind": "latency_us",
            "p50": m50,
            "p99": m99,
            "runs": len(per_run),
            "samples": count,
        }
    )
    return m50, m99


def cost(name: str, per_run_us: list[float]) -> float:
    median = statistics.median(per_run_us)
    print(
        f"{name:<52} median {median:>9.2f} µs/op  (min {min(per_run_us):.2f} "
        f"max {max(per_run_us):.2f}, runs={len(per_run_us)})"
    )
    RESULTS.append({"name": name, "kind": "cost_us", "median": median, "runs": len(per_run_us)})
    return median


# -- the actors -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Echo:
    value: int


@dataclass(frozen=True, slots=True)
class Tick:
    value: int


@dataclass(frozen=True, slots=True)
class Gate:
    """Block the actor until `release` is set (so a mailbox can be filled first)."""

    release: threading.Event


@dataclass(frozen=True, slots=True)
class Arm:
    """Reset the tick counter: set `done` after `target` ticks."""

    target: int
    done: threading.Event


class PlainActor(pykka.ThreadingActor):
    """Echoes asks, counts tells: plain pykka."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.target = 0
        self.done: threading.Event | None = None

    def on_receive(self, message: Any) -> Any:
        if type(message) is Tick:
            self.count += 1
            if self.count == self.target and self.done is not None:
                self.done.set()
            return None
        if type(message) is Echo:
            return message.value
        if type(message) is Arm:
            self.count, self.target, self.done = 0, message.target, message.done
        elif type(message) is Gate:
            message.release.wait(60)
        return None


class InboxActor(PlainActor):
    """PlainActor on the instrumented inbox."""

    @staticmethod
    def _create_actor_inbox() -> Any:
        return InstrumentedInbox()


class RecordingActor(InboxActor):
    """PlainActor on the instrumented inbox with WeaverActor's receive middleware."""

    def __init__(self) -> None:
        super().__init__()
        inbox = self.actor_inbox
        assert isinstance(inbox, InstrumentedInbox)
        self.stats = ActorStats("bench", inbox)

    def _handle_receive(self, message: Any) -> Any:
        if isinstance(message, pykka_messages._ActorStop):
            return super()._handle_receive(message)
        stats = self.stats
        started = stats.begin(message)
        try:
            result = super()._handle_receive(message)
        except Exception:
            stats.end(started, ok=False)
            raise
        stats.end(started, ok=True)
        return result


class BenchWeaver(WeaverActor):
    """The same behaviour as a vibeweaver actor (typed dispatch, full instrumentation)."""

    def setup(self) -> None:
        self.count = 0
        self.target = 0
        self.done: threading.Event | None = None

    @handles(Tick)
    def tick(self, message: Tick) -> None:
        self.count += 1
        if self.count == self.target and self.done is not None:
            self.done.set()

    @handles(Echo)
    def echo(self, message: Echo) -> int:
        return message.value

    @handles(Arm)
    def arm(self, message: Arm) -> None:
        self.count, self.target, self.done = 0, message.target, message.done

    @handles(Gate)
    def gate(self, message: Gate) -> None:
        message.release.wait(60)


# -- a common face for pykka refs and vibeweaver handles ------------------------------------------


@dataclass
class Target:
    name: str
    ask: Callable[[Any], Any]
    tell: Callable[[Any], Any]
    stop: Callable[[], None]


def pykka_target(name: str, actor_class: type[PlainActor]) -> Target:
    ref = actor_class.start()

    def stop() -> None:
        ref.stop()

    return Target(name, lambda m: ref.ask(m, timeout=10), ref.tell, stop)


def weaver_target() -> tuple[Target, ActorHandle]:
    system = ActorSystem("bench")
    handle = system.define(ActorSpec("bench", BenchWeaver))
    system.start()
    return Target(
        "WeaverActor", lambda m: handle.ask(m, timeout=10), handle.tell, lambda: system.stop()
    ), handle


# -- measurements ---------------------------------------------------------------------------------


def ask_round_trips(target: Target, n: int) -> list[float]:
    samples = []
    ask = target.ask
    for i in range(n):
        started = ns()
        ask(Echo(i))
        samples.append((ns() - started) / 1000)
    return samples


def tell_throughput(target: Target, n: int) -> float:
    done = threading.Event()
    target.ask(Arm(n, done))
    tell = target.tell
    message = Tick(1)
    started = time.perf_counter()
    for _ in range(n):
        tell(message)
    if not done.wait(120):
        raise RuntimeError(f"{target.name}: tells were not all handled")
    return n / (time.perf_counter() - started)


def drain_rate(target: Target, n: int) -> float:
    """Fill the mailbox with `n` tells while the actor is held, then time handling them all:
    the actor thread's own cost per message, without the sender competing for the GIL."""
    done, release = threading.Event(), threading.Event()
    target.ask(Arm(n, done))
    target.tell(Gate(release))
    tell = target.tell
    message = Tick(1)
    for _ in range(n):
        tell(message)
    started = time.perf_counter()
    release.set()
    if not done.wait(120):
        raise RuntimeError(f"{target.name}: queued tells were not all handled")
    return n / (time.perf_counter() - started)


def queue_drain_rate(n: int) -> float:
    inbox: queue.Queue[Any] = queue.Queue()
    for i in range(n):
        inbox.put(i)
    release, done = threading.Event(), threading.Event()

    def worker() -> None:
        release.wait()
        for _ in range(n):
            inbox.get()
        done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started = time.perf_counter()
    release.set()
    done.wait()
    elapsed = time.perf_counter() - started
    thread.join()
    return n / elapsed


def queue_round_trips(n: int) -> list[float]:
    inbox: queue.Queue[Any] = queue.Queue()
    outbox: queue.Queue[Any] = queue.Queue()

    def worker() -> None:
        while True:
            item = inbox.get()
            if item is None:
                return
            outbox.put(item)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    samples = []
    for i in range(n):
        started = ns()
        inbox.put(i)
        outbox.get()
        samples.append((ns() - started) / 1000)
    inbox.put(None)
    thread.join()
    return samples


def queue_throughput(n: int) -> float:
    inbox: queue.Queue[Any] = queue.Queue()
    done = threading.Event()

    def worker() -> None:
        for _ in range(n):
            inbox.get()
        done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started = time.perf_counter()
    for i in range(n):
        inbox.put(i)
    done.wait()
    rate_ = n / (time.perf_counter() - started)
    thread.join()
    return rate_


def recording_cost_us(n: int) -> float:
    stats = ActorStats("bench", InstrumentedInbox())
    message = Tick(1)
    started = time.perf_counter()
    for _ in range(n):
        stats.end(stats.begin(message), ok=True)
    return (time.perf_counter() - started) / n * 1e6


def read_cost_us(handle: ActorHandle, n: int, what: str) -> float:
    read = handle.stats.snapshot if what == "snapshot" else handle.stats.detail
    started = time.perf_counter()
    for _ in range(n):
        read()
    return (time.perf_counter() - started) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    runs, n_ask, n_tell = args.runs, int(3000 * args.scale), int(100_000 * args.scale)
    results = Results("bench_actors", "actor instrumentation vs plain pykka vs queue.Queue")

    print("# vibeweaver actor instrumentation vs plain pykka vs queue.Queue floor")
    print(f"# {env_line()}, calib {calib_us():.0f} µs")
    print(f"# {runs} runs, {n_ask:,} asks and {n_tell:,} tells per variant per run")

    weaver, handle = weaver_target()
    targets = [
        pykka_target("pykka", PlainActor),
        pykka_target("+inbox", InboxActor),
        pykka_target("+inbox+recv", RecordingActor),
        weaver,
    ]
    asks: dict[str, list[list[float]]] = {t.name: [] for t in targets}
    tells: dict[str, list[float]] = {t.name: [] for t in targets}
    floor_asks: list[list[float]] = []
    floor_tells: list[float] = []
    drains: dict[str, list[float]] = {t.name: [] for t in targets}
    floor_drains: list[float] = []
    try:
        for target in targets:  # warm up
            ask_round_trips(target, 200)
        for _ in range(runs):
            floor_asks.append(queue_round_trips(n_ask))
            floor_tells.append(queue_throughput(n_tell))
            floor_drains.append(queue_drain_rate(n_tell))
            for target in targets:
                asks[target.name].append(ask_round_trips(target, n_ask))
                tells[target.name].append(tell_throughput(target, n_tell))
                drains[target.name].append(drain_rate(target, n_tell))
        snapshot_us = [read_cost_us(handle, 2000, "snapshot") for _ in range(runs)]
        detail_us = [read_cost_us(handle, 200, "detail") for _ in range(runs)]
    finally:
        for target in targets:
            target.stop()
    recording_us = [recording_cost_us(100_000) for _ in range(runs)]

    print("\n## ask round trip (one in flight)")
    floor_ask = latency("floor: queue.Queue + thread round trip", floor_asks)
    floor_p50 = floor_ask[0]
    ask = {t.name: latency(f"{t.name}: ask round trip", asks[t.name]) for t in targets}
    ask_p50 = {name: figures[0] for name, figures in ask.items()}
    print("\n## tell throughput into one actor, sender and actor running together")
    print("#  (bimodal on 2 vCPUs: the actor either sleeps per message or drains in batches)")
    rate("floor: queue.Queue one-way to 1 thread", floor_tells)
    tell_rate = {t.name: rate(f"{t.name}: tell throughput", tells[t.name]) for t in targets}
    print("\n## drain rate: mailbox filled first, then handled (the actor thread's own cost)")
    floor_drain = rate("floor: queue.Queue get loop on a filled queue", floor_drains)
    drain = {t.name: rate(f"{t.name}: drain rate", drains[t.name]) for t in targets}
    print("\n## recording and reading")
    record = cost("ActorStats.begin+end (the receive middleware)", recording_us)
    cost("ActorStats.snapshot() (one /admin/actors row)", snapshot_us)
    cost("ActorStats.detail() (/admin/actors/<name>)", detail_us)

    plain, full = "pykka", "+inbox+recv"
    ask_cost = ask_p50[full] - ask_p50[plain]
    drain_cost = 1e6 / drain[full] - 1e6 / drain[plain]
    print("\n## instrumentation cost (+inbox+recv vs plain pykka, same run)")
    print(
        f"ask round trip p50: +{ask_cost:.1f} µs ({ask_cost / ask_p50[plain] * 100:+.0f}%); "
        f"floor {floor_p50:.1f} µs"
    )
    print(
        f"per message on the actor thread (drain): +{drain_cost:.2f} µs "
        f"({(drain[full] / drain[plain] - 1) * 100:+.0f}% drain rate); "
        f"recording alone {record:.2f} µs"
    )
    print(
        f"tell throughput: {(tell_rate[full] / tell_rate[plain] - 1) * 100:+.0f}% "
        "(noisy, see above)"
    )
    weaver_ask = ask_p50["WeaverActor"] - ask_p50[plain]
    print(
        f"WeaverActor through its handle vs plain pykka: ask p50 +{weaver_ask:.1f} µs, "
        f"drain rate {(drain['WeaverActor'] / drain[plain] - 1) * 100:+.0f}%, "
        f"tell throughput {(tell_rate['WeaverActor'] / tell_rate[plain] - 1) * 100:+.0f}%"
    )
    for name in ask:
        results.add_latencies(
            f"ask_{{stat}}_us.{name}",
            f"ask round trip {{stat}} (median of {runs} runs), {name}",
            ask[name],
            floor_ask,
            "queue.Queue + thread round trip {stat}",
        )
        results.add(
            f"drain_per_s.{name}",
            drain[name],
            "msg/s",
            f"drain rate (mailbox filled, then handled), {name}",
            floor=floor_drain,
            floor_label="queue.Queue get loop on a filled queue",
        )
    results.add(
        "instrumentation_ask_us",
        ask_cost,
        "µs",
        "instrumentation's cost on an ask round trip p50 (+inbox+recv minus pykka)",
    )
    results.add(
        "instrumentation_drain_us",
        drain_cost,
        "µs",
        "instrumentation's cost per message on the actor thread (drain)",
    )
    results.details.update(env=env_line(), results=RESULTS)
    results.write(Path(args.json) if args.json else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
