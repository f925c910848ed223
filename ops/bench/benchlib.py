"""Helpers shared by the ops/bench scripts: environment header, percentiles, one-line reports.

Every benchmark prints its figure next to a floor measured in the same run (raw pyzmq, raw queue
hand-off, raw sqlite3), because this machine is shared and noisy: compare ratios, not absolutes.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from collections.abc import Sequence

import zmq


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (fraction in 0..1)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def header(title: str) -> None:
    """Print the benchmark's title and what it ran on."""
    load = ""
    try:
        with open("/proc/loadavg") as handle:
            load = " load " + " ".join(handle.read().split()[:3])
    except OSError:
        pass
    print(f"# {title}")
    print(f"# Python {platform.python_version()}, {os.cpu_count()} cpus,{load}")


def latency_line(name: str, samples_us: Sequence[float]) -> tuple[float, float]:
    """Print p50/p99 of latency samples in µs; return them."""
    p50, p99 = percentile(samples_us, 0.50), percentile(samples_us, 0.99)
    print(f"{name:<52} p50 {p50:>9.1f} µs   p99 {p99:>9.1f} µs   (n={len(samples_us):,})")
    return p50, p99


def rate_line(name: str, count: int, seconds: float, unit: str = "msg/s") -> float:
    """Print a throughput; return it."""
    rate = count / seconds if seconds > 0 else float("inf")
    print(f"{name:<52} {rate:>12,.0f} {unit}   (n={count:,}, {seconds:.3f} s)")
    return rate


def median_rate(runs: Sequence[float]) -> float:
    return statistics.median(runs)


def ratio_line(name: str, value: float, floor: float) -> None:
    """Print how many times the floor a figure is (>1 = slower for latencies)."""
    print(f"{name:<52} {value / floor:>9.2f} x floor")


def now_us() -> float:
    return time.perf_counter_ns() / 1000.0


def echo_router(endpoint: str, ready: threading.Event, stop: threading.Event) -> None:
    """The raw floor: a ROUTER bound at `endpoint` that sends every message straight back."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)
    ready.set()
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    while not stop.is_set():
        if poller.poll(100):
            router.send_multipart(router.recv_multipart())
    router.close()
    context.term()
